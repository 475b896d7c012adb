"""LSAFNet end to end on synthetic SECOND-layout scenes with the tools."""
import glob
import json
import os
import os.path as osp
import sys

import pytest
import torch
from cd_testing import run_tool, shrink_config
from mmengine.config import Config

from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'lsafnet':
    'configs/lsafnet/lsafnet_r34_synthetic-second-128.py',
    'baseline':
    'configs/lsafnet/lsafnet_r34_synthetic-second-128_siam-baseline.py',
}
PAPER = 'configs/lsafnet/lsafnet_r34_second.py'
SIZE = 64


def tiny_config(name, data_root=None, work_dir=None, max_iters=3):
    """The synthetic config, shrunk, with an 8-64 channel ResNet-18."""
    cfg = shrink_config(
        Config.fromfile(osp.join(ROOT, CONFIGS[name])),
        data_root=data_root,
        work_dir=work_dir,
        crop=(32, 32),
        max_iters=max_iters)
    cfg.model.backbone.update(depth=18, stem_channels=8, base_channels=8)
    cfg.model.decode_head.update(
        in_channels=[8, 8, 16, 32, 64], channels=8, cd_channels=8)
    return cfg


def test_paper_config_schedule_and_losses():
    cfg = Config.fromfile(osp.join(ROOT, PAPER))
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.07, momentum=0.9, weight_decay=5e-4)
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == 50
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.param_scheduler[0].type == 'PolyLR'
    head = cfg.model.decode_head
    assert head.num_classes == 7
    assert Config.fromfile(
        osp.join(ROOT, 'configs/lsafnet/lsafnet_r34_landsat.py')
    ).model.decode_head.num_classes == 5
    # eq. 18: L_BCD + 0.5 (L_SS1 + L_SS2) + L_SC
    assert head.loss_change.loss_weight == 1.0
    assert head.loss_semantic.loss_weight == 0.5
    assert head.loss_consistency.loss_weight == 1.0
    assert cfg.model.backbone.depth == 34
    assert cfg.model.backbone.strides == (1, 2, 1, 1)
    # Kaiming (the paper): the weights key is there, empty
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=None)


@pytest.mark.parametrize('variant,lgaa,lgce', [('second', True, True),
                                               ('second_base', False, False),
                                               ('second_lgaa', True, False),
                                               ('second_lgce', False, True)])
def test_ablation_configs_switch_one_module(variant, lgaa, lgce):
    cfg = Config.fromfile(
        osp.join(ROOT, f'configs/lsafnet/lsafnet_r34_{variant}.py'))
    model = MODELS.build(cfg.model)
    head = model.decode_head
    assert (type(head.sfm.fuse1).__name__ == 'LGAA') == lgaa
    assert (type(head.cd_fusion).__name__ == 'LGAA') == lgaa
    assert (type(head.lgce).__name__ == 'LGCE') == lgce
    assert head.change_from == 'decoder'


def run(args, **kwargs):
    return run_tool(args, ROOT, **kwargs)


@pytest.fixture(scope='module')
def data_root(tiny_second_root):
    return tiny_second_root


@pytest.mark.slow
def test_train_then_test_with_tools(tmp_path, data_root):
    cfg = tiny_config(
        'lsafnet', data_root=data_root, work_dir=str(tmp_path / 'work'))
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    run([sys.executable, 'tools/train.py', path])
    ckpt = tmp_path / 'work' / 'iter_3.pth'
    assert ckpt.is_file()
    state = torch.load(ckpt, weights_only=True)['state_dict']
    assert 'decode_head.cd_fusion.local_att.0.conv.weight' in state
    proc = run([
        sys.executable, 'tools/test.py', path,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test'), '--show-dir',
        str(tmp_path / 'vis')
    ])
    log = proc.stdout + proc.stderr
    for key in ('OA', 'mIoU', 'SeK', 'Fscd'):
        assert key in log
    files = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        metrics = json.load(f)
    for key in ('OA', 'mIoU', 'Fscd'):
        assert 0.0 <= metrics[key] <= 100.0
    # SeK scales a kappa, negative for a model worse than chance (3 iters)
    assert -100.0 <= metrics['SeK'] <= 100.0
    # --show-dir: one [date | pred | gt] x 2 colour drawing per test pair,
    # named after the pair's date-A file
    drawn = sorted(os.listdir(tmp_path / 'vis'))
    assert drawn == sorted(
        n for n in os.listdir(osp.join(data_root, 'test', 'im1')))
