"""Reading configs for the tools: overrides, data roots, work dirs."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmcd_ext.utils.config_utils import (load_tool_config, propagate_data_root,
                                         read_config)


def test_data_root_reaches_every_loader():
    cfg = Config(
        dict(
            data_root='old',
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset', dataset=dict(data_root='old'))),
            val_dataloader=dict(dataset=dict(data_root='old')),
            test_dataloader=dict(
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[dict(data_root='old'),
                              dict(data_root='old2')]))))
    options = dict(data_root='/new')
    cfg.merge_from_dict(options)
    propagate_data_root(cfg, options)
    assert cfg.train_dataloader.dataset.dataset.data_root == '/new'
    assert cfg.val_dataloader.dataset.data_root == '/new'
    assert [d.data_root for d in cfg.test_dataloader.dataset.datasets] == \
        ['/new', '/new']


def test_without_the_option_nothing_changes():
    cfg = Config(dict(val_dataloader=dict(dataset=dict(data_root='old'))))
    propagate_data_root(cfg, dict(other=1))
    propagate_data_root(cfg, None)
    assert cfg.val_dataloader.dataset.data_root == 'old'


def test_read_config_applies_options_and_names_a_missing_file(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text('a = 1\nmodel = dict(depth=18)\n')
    cfg = read_config(str(path), {'model.depth': 34})
    assert cfg.a == 1 and cfg.model.depth == 34
    with pytest.raises(FileNotFoundError, match='absent_cfg.py'):
        read_config(str(tmp_path / 'absent_cfg.py'))


def test_load_tool_config_work_dir(tmp_path):
    path = tmp_path / 'my_cfg.py'
    path.write_text("data_root = 'old'\n"
                    "val_dataloader = dict(dataset=dict(data_root='old'))\n")
    cfg = load_tool_config(str(path), dict(data_root='/new'))
    assert cfg.work_dir == osp.join('./work_dirs', 'my_cfg')
    assert cfg.val_dataloader.dataset.data_root == '/new'
    assert load_tool_config(str(path), work_dir='w').work_dir == 'w'
