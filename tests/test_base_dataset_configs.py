"""The base dataset configs load real folders: every split, every sample."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmcd_ext.datasets.converters import (CDD, DSIFN_CD, S2LOOKING,
                                          convert_binary_cd, convert_whu_cd)
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


def test_whu_cd_converter_output_loads_with_its_base(tmp_path):
    # the released layout: one scene pair and its label, 0/255 TIFs
    rng = np.random.default_rng(5)
    h, w = 40, 100  # 2 x 6 tiles of 16 px, border strips dropped
    src = tmp_path / 'whu'
    src.mkdir()
    for name in ('before', 'after'):
        cv2.imwrite(
            str(src / f'{name}.tif'),
            rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    label = np.zeros((h, w), np.uint8)
    label[:, ::7] = 255
    cv2.imwrite(str(src / 'change_label.tif'), label)
    dst = str(tmp_path / 'whu-cd-16')
    counts = convert_whu_cd(
        str(src / 'before.tif'),
        str(src / 'after.tif'),
        str(src / 'change_label.tif'),
        dst,
        patch_size=16,
        val_ratio=0.2,
        test_ratio=0.3,
        progress=False)
    # 6 columns: 2 test (rightmost), 1 val, 3 train; 2 rows each
    assert counts == dict(train=6, val=2, test=4)
    assert sorted(os.listdir(dst)) == ['test', 'train', 'val']
    tile = cv2.imread(osp.join(dst, 'test/label/whu_1_5.png'), -1)
    np.testing.assert_array_equal(tile, label[16:32, 80:96])
    tile = cv2.imread(osp.join(dst, 'val/A/whu_0_3.png'))
    before = cv2.imread(str(src / 'before.tif'))
    np.testing.assert_array_equal(tile, before[:16, 48:64])
    for loader, count in (('train_dataloader', 6), ('val_dataloader', 2),
                          ('test_dataloader', 4)):
        dataset = build('whu_cd-256.py', loader, dst)
        assert len(dataset) == count, loader
        gt = dataset[0]['data_samples'].gt_sem_seg.data.numpy()
        assert set(np.unique(gt)) == {0, 1}, loader


def test_whu_cd_converter_maps_0_1_labels_and_refuses_others(tmp_path):
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)
    for name in ('a', 'b'):
        cv2.imwrite(str(tmp_path / f'{name}.png'), img)
    label = np.zeros((16, 32), np.uint8)
    label[4:8, 4:8] = 1
    cv2.imwrite(str(tmp_path / 'l.png'), label)
    args = [str(tmp_path / n) for n in ('a.png', 'b.png', 'l.png')]
    convert_whu_cd(
        *args,
        str(tmp_path / 'out'),
        patch_size=16,
        val_ratio=0,
        test_ratio=0.5,
        progress=False)
    out = cv2.imread(str(tmp_path / 'out/train/label/whu_0_0.png'), -1)
    np.testing.assert_array_equal(out, label[:, :16] * 255)
    label[0, 0] = 7
    cv2.imwrite(str(tmp_path / 'l.png'), label)
    with pytest.raises(ValueError, match=r'l\.png has values \[0, 1, 7\]'):
        convert_whu_cd(
            *args, str(tmp_path / 'out2'), patch_size=16, progress=False)
    assert not (tmp_path / 'out2').exists()


def test_whu_cd_script_refuses_existing_output_in_one_line(tmp_path):
    img = np.zeros((16, 16, 3), np.uint8)
    for name in ('a.png', 'b.png', 'l.png'):
        cv2.imwrite(
            str(tmp_path / name), img[..., 0] if name == 'l.png' else img)
    (tmp_path / 'out/train/A').mkdir(parents=True)
    (tmp_path / 'out/train/A/x.png').write_bytes(b'')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools/dataset_converters/whu_cd.py'),
        *(str(tmp_path / n) for n in ('a.png', 'b.png', 'l.png')),
        str(tmp_path / 'out'), '--patch-size', '16', '--test-ratio', '0',
        '--val-ratio', '0', '--quiet'
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('tools/dataset_converters/whu_cd.py: error: '
                               'FileExistsError:')
    assert 'out/train' in lines[0]
    proc = subprocess.run(cmd + ['--force'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'out/train/label/whu_0_0.png').is_file()
    assert not (tmp_path / 'out/train/A/x.png').exists()


# Releases that a converter brings into {A,B,label}: the fixture is written
# in the released folders, converted, then loaded through the base config.
CONVERTED = {
    's2looking.py': (S2LOOKING, None, ('.png', '.png'), 32),
    'dsifn_cd-256.py': (DSIFN_CD, 16, ('.jpg', '.tif'), 32),
    'cdd.py': (CDD, None, ('.jpg', '.jpg'), 32),
}


@pytest.mark.parametrize('cfg_file', sorted(CONVERTED))
def test_converted_release_loads_with_its_base(tmp_path, cfg_file):
    layout, patch, (img_sfx, test_label_sfx), size = CONVERTED[cfg_file]
    src, dst = str(tmp_path / 'raw'), str(tmp_path / 'converted')
    splits = dict(train=2, val=1, test=1)
    suffixes = {s: (img_sfx, layout.label_suffixes[0]) for s in splits}
    suffixes['test'] = (img_sfx, test_label_sfx)
    write_binary_layout(src, layout.folders, splits, suffixes, size, seed=4)
    convert_binary_cd(src, dst, layout, patch_size=patch, progress=False)
    per_tile = 1 if patch is None else (size // patch)**2
    side = size if patch is None else patch
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'), ('test_dataloader',
                                                      'test')):
        dataset = build(cfg_file, loader, dst)
        assert len(dataset) == splits[split] * per_tile, loader
        info = dataset.get_data_info(0)
        assert info['img_path'].startswith(osp.join(dst, split, 'A')), loader
        sample = dataset[0]
        assert tuple(sample['inputs'].shape) == (6, side, side), loader
        gt = sample['data_samples'].gt_sem_seg.data.numpy()
        assert set(np.unique(gt)) <= {0, 1}, loader
        # the label loaded is the converted one, 0/255 -> 0/1
        label = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(gt[0] == 1, label == 255)


def test_every_dataset_base_is_tested():
    tested = {
        'levir_cd-256.py', 'levir_cd-1024.py', 'second.py', 'landsat_scd.py',
        'whu_cd-256.py'
    }
    tested |= set(RELEASED_LAYOUTS) | set(CONVERTED)
    present = set(os.listdir(osp.join(ROOT, 'configs/_base_/datasets')))
    assert present == tested


def test_levir_1024_base_crops_the_tiles(levir_root):
    dataset = build('levir_cd-1024.py', 'train_dataloader', levir_root)
    crops = [
        t for t in dataset.pipeline.transforms
        if type(t).__name__ == 'RandomCrop'
    ]
    assert len(crops) == 1 and crops[0].crop_size == (512, 512)
    # 64 px tiles are smaller than the crop: RandomCrop keeps them whole
    assert tuple(dataset[0]['inputs'].shape) == (6, 64, 64)
    assert build('levir_cd-1024.py', 'test_dataloader',
                 levir_root).data_root == levir_root


def test_documented_new_dataset_base_loads(tmp_path):
    # the example of docs/configs.md, "A new data set", as written there
    with open(osp.join(ROOT, 'docs/configs.md')) as f:
        doc = f.read()
    start = doc.index('# configs/_base_/datasets/mycd.py')
    block = doc[start:doc.index('```', start)]
    base = osp.join(ROOT, 'configs/_base_/datasets/levir_cd-256.py')
    assert "_base_ = './levir_cd-256.py'" in block
    cfg_file = tmp_path / 'mycd.py'
    cfg_file.write_text(block.replace("'./levir_cd-256.py'", repr(base)))
    root = tmp_path / 'mycd'
    rng = np.random.default_rng(7)
    for split, n in (('train', 2), ('val', 1), ('test', 1)):
        for folder in ('before', 'after', 'change'):
            (root / split / folder).mkdir(parents=True)
        for i in range(n):
            for folder in ('before', 'after'):
                cv2.imwrite(
                    str(root / split / folder / f'{i}.tif'),
                    rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
            label = np.zeros((16, 16), np.uint8)
            label[i:i + 5, 2:9] = 255
            cv2.imwrite(str(root / split / 'change' / f'{i}.png'), label)
    cfg = Config.fromfile(str(cfg_file))
    for loader, n in (('train_dataloader', 2), ('val_dataloader', 1),
                      ('test_dataloader', 1)):
        dataset_cfg = cfg[loader].dataset
        assert dataset_cfg.data_root == 'data/mycd'
        dataset_cfg.data_root = str(root)
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == n, loader
        gt = dataset[0]['data_samples'].gt_sem_seg.data.numpy()[0]
        np.testing.assert_array_equal(gt[0:5, 2:9], 1)
        assert gt.sum() == 35, loader
