"""The base dataset configs load real folders: every split, every sample."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmcd_ext.datasets.synthetic import (generate_levir_like,
                                         generate_second_like)
from mmcd_ext.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def levir_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('levir'))
    generate_levir_like(
        root,
        num_train=2,
        num_val=1,
        num_test=1,
        size=64,
        seed=1,
        overwrite=True)
    return root


@pytest.fixture(scope='module')
def second_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('second'))
    generate_second_like(
        root,
        num_train=2,
        num_val=1,
        num_test=1,
        size=64,
        seed=1,
        overwrite=True)
    return root


def build(cfg_file, loader, data_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets', cfg_file))
    dataset_cfg = cfg[loader].dataset
    dataset_cfg.data_root = data_root
    return DATASETS.build(dataset_cfg)


@pytest.mark.parametrize('loader,count', [('train_dataloader', 2),
                                          ('val_dataloader', 1),
                                          ('test_dataloader', 1)])
def test_levir_base_config(levir_root, loader, count):
    dataset = build('levir_cd-256.py', loader, levir_root)
    assert len(dataset) == count
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (6, 64, 64)
    gt = sample['data_samples'].gt_sem_seg.data
    assert set(np.unique(gt.numpy())) <= {0, 1}


@pytest.mark.parametrize('cfg_file', ['second.py'])
@pytest.mark.parametrize('loader', ['train_dataloader', 'test_dataloader'])
def test_scd_base_config(second_root, cfg_file, loader):
    dataset = build(cfg_file, loader, second_root)
    sample = dataset[0]
    ds = sample['data_samples']
    a = ds.gt_sem_seg_a.data.numpy()
    b = ds.gt_sem_seg_b.data.numpy()
    change = ds.gt_sem_seg.data.numpy()
    n_classes = len(dataset.metainfo['classes'])
    assert n_classes == 7
    assert a.max() < n_classes and b.max() < n_classes
    # the binary change label is derived from the semantic labels
    np.testing.assert_array_equal(change == 1, a != 0)
    np.testing.assert_array_equal(a == 0, b == 0)
    assert (change == 1).any()


def test_landsat_base_config_uses_its_own_palette(second_root):
    dataset = build('landsat_scd.py', 'test_dataloader', second_root)
    assert type(dataset).__name__ == 'LandsatSCDDataset'
    assert len(dataset.metainfo['classes']) == 5
    # SECOND's colours are not Landsat-SCD's: decoding must refuse them
    with pytest.raises(ValueError, match='label1.*not in the palette'):
        dataset[0]
