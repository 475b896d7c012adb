"""The base dataset configs load real folders: every split, every sample."""
import os
import os.path as osp

import cv2
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


def write_binary_layout(root: str, folders: tuple, splits: dict,
                        suffixes: dict, size: int, seed: int) -> None:
    """Write a tiny binary change-detection set in a released layout.

    Args:
        root (str): Data-set root.
        folders (tuple): Names of the date-A, date-B and label folders.
        splits (dict): Split name to number of pairs.
        suffixes (dict): Split name to ``(image suffix, label suffix)``.
        size (int): Image side in pixels.
        seed (int): Seed of the image content.
    """
    rng = np.random.default_rng(seed)
    for split, count in splits.items():
        img_suffix, label_suffix = suffixes[split]
        for folder in folders:
            os.makedirs(osp.join(root, split, folder), exist_ok=True)
        for i in range(count):
            name = f'{split}_{i}'
            for folder in folders[:2]:
                img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                cv2.imwrite(
                    osp.join(root, split, folder, name + img_suffix), img)
            label = np.zeros((size, size), np.uint8)
            y, x = rng.integers(0, size // 2, 2)
            label[y:y + size // 4, x:x + size // 4] = 255
            cv2.imwrite(
                osp.join(root, split, folders[2], name + label_suffix), label)


PNG = ('.png', '.png')
RELEASED_LAYOUTS = {
    'sysu_cd.py': (('time1', 'time2', 'label'), dict(train=2, val=1, test=1),
                   dict(train=PNG, val=PNG, test=PNG)),
    'levir_cd_plus.py':
    (('A', 'B', 'label'), dict(train=2, test=1), dict(train=PNG, test=PNG)),
    's2looking.py': (('Image1', 'Image2', 'label'),
                     dict(train=2, val=1,
                          test=1), dict(train=PNG, val=PNG, test=PNG)),
    'dsifn_cd.py':
    (('t1', 't2', 'mask'), dict(train=2, val=1, test=1),
     dict(train=('.jpg', '.png'), val=('.jpg', '.png'),
          test=('.jpg', '.tif'))),
}


@pytest.mark.parametrize('cfg_file', sorted(RELEASED_LAYOUTS))
def test_binary_base_configs_read_the_released_layout(tmp_path, cfg_file):
    folders, splits, suffixes = RELEASED_LAYOUTS[cfg_file]
    write_binary_layout(
        str(tmp_path), folders, splits, suffixes, size=32, seed=3)
    val_split = 'val' if 'val' in splits else 'test'
    counts = dict(
        train_dataloader=splits['train'],
        val_dataloader=splits[val_split],
        test_dataloader=splits['test'])
    for loader, count in counts.items():
        dataset = build(cfg_file, loader, str(tmp_path))
        assert len(dataset) == count, loader
        for idx in range(count):
            sample = dataset.get_data_info(idx)
            split = osp.basename(osp.dirname(osp.dirname(sample['img_path'])))
            assert split == (val_split if loader == 'val_dataloader' else
                             loader.split('_')[0]), loader
        sample = dataset[0]
        assert tuple(sample['inputs'].shape) == (6, 32, 32)
        gt = sample['data_samples'].gt_sem_seg.data.numpy()
        assert set(np.unique(gt)) == {0, 1}, loader
