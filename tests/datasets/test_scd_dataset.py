"""SECOND / Landsat-SCD folder datasets on tiny fixtures."""
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmcd_ext.datasets import (LandsatSCDDataset, SCDFolderDataset,
                               SECONDDataset)
from mmcd_ext.datasets.palettes import (LANDSAT_SCD_CLASSES,
                                        LANDSAT_SCD_PALETTE, SECOND_CLASSES,
                                        SECOND_PALETTE)
from mmcd_ext.registry import DATASETS

PIPELINE = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadSCDAnnotations'),
    dict(type='PackCDInputs'),
]


@pytest.mark.parametrize(
    'cls,classes,palette',
    [(SECONDDataset, SECOND_CLASSES, SECOND_PALETTE),
     (LandsatSCDDataset, LANDSAT_SCD_CLASSES, LANDSAT_SCD_PALETTE)])
@pytest.mark.parametrize('colour', [True, False])
def test_scd_datasets_load(make_scd_tree, cls, classes, palette, colour):
    root, truth = make_scd_tree(palette=palette, colour=colour)
    ds = cls(data_root=root, pipeline=PIPELINE)
    assert len(ds) == 2
    assert ds.metainfo['classes'] == classes
    assert ds.metainfo['palette'] == palette
    info = ds.get_data_info(0)
    assert info['seg_map_path_a'] == osp.join(root, 'label1', 's0.png')
    assert info['seg_map_path_b'] == osp.join(root, 'label2', 's0.png')
    assert info['label_palette'] == [list(c) for c in palette]
    for i, name in enumerate(('s0', 's1')):
        img_a, img_b, sem_a, sem_b = truth[name]
        sample = ds[i]
        assert np.array_equal(sample['inputs'][3:].permute(1, 2, 0).numpy(),
                              img_b)
        ds_sample = sample['data_samples']
        assert torch.equal(ds_sample.gt_sem_seg_a.data[0],
                           torch.from_numpy(sem_a).long())
        assert torch.equal(ds_sample.gt_sem_seg_b.data[0],
                           torch.from_numpy(sem_b).long())
        assert torch.equal(ds_sample.gt_sem_seg.data[0],
                           torch.from_numpy((sem_a != 0)).long())


def test_registry_and_custom_folder_names(make_scd_tree, tmp_path):
    root, _ = make_scd_tree()
    for old, new in (('im1', 'A'), ('im2', 'B'), ('label1', 'LA'), ('label2',
                                                                    'LB')):
        os.rename(osp.join(root, old), osp.join(root, new))
    ds = DATASETS.build(
        dict(
            type='SECONDDataset',
            data_root=root,
            data_prefix=dict(
                img_path='A',
                img_path2='B',
                seg_map_path_a='LA',
                seg_map_path_b='LB'),
            pipeline=PIPELINE))
    assert len(ds) == 2 and ds[0]['data_samples'].gt_sem_seg_a is not None


def test_missing_label_partner_is_named(make_scd_tree):
    root, _ = make_scd_tree()
    os.remove(osp.join(root, 'label2', 's1.png'))
    with pytest.raises(
            FileNotFoundError, match='date-B semantic label .*label2/s1.png'):
        SECONDDataset(data_root=root, serialize_data=False)


def test_unknown_colour_fails_on_load(make_scd_tree):
    root, _ = make_scd_tree(palette=SECOND_PALETTE)
    # Landsat colours are unknown to SECOND (except white)
    ds = LandsatSCDDataset(
        data_root=root, pipeline=PIPELINE, serialize_data=False)
    with pytest.raises(ValueError, match='s0.png: .* not in the palette'):
        ds[0]


def test_generic_dataset_needs_palette(make_scd_tree):
    root, _ = make_scd_tree(palette=LANDSAT_SCD_PALETTE, colour=False)
    with pytest.raises(ValueError, match='metainfo'):
        SCDFolderDataset(data_root=root)
    with pytest.raises(ValueError, match='2 classes but 1'):
        SCDFolderDataset(
            serialize_data=False,
            data_root=root,
            metainfo=dict(classes=('a', 'b'), palette=[[0, 0, 0]]))
    ds = SCDFolderDataset(
        serialize_data=False,
        data_root=root,
        metainfo=dict(
            classes=LANDSAT_SCD_CLASSES, palette=LANDSAT_SCD_PALETTE),
        pipeline=PIPELINE)
    assert ds[0]['data_samples'].gt_sem_seg_b.shape == (32, 32)


def test_unlabelled_and_bad_prefix(make_scd_tree):
    root, _ = make_scd_tree()
    ds = SECONDDataset(
        serialize_data=False,
        data_root=root,
        data_prefix=dict(img_path='im1', img_path2='im2'))
    assert 'seg_map_path_a' not in ds.get_data_info(0)
    with pytest.raises(KeyError, match='both or neither'):
        SECONDDataset(
            serialize_data=False,
            data_root=root,
            data_prefix=dict(
                img_path='im1', img_path2='im2', seg_map_path_a='label1'))
    with pytest.raises(ValueError, match='not supported'):
        SECONDDataset(
            serialize_data=False,
            data_root=root,
            metainfo=dict(classes=('unchanged', 'water')))


def test_full_training_pipeline_keeps_labels_consistent(make_scd_tree):
    """Dataset -> every bitemporal augmentation -> PackCDInputs -> the data
    preprocessor: the derived change label stays ``label_a != 0``."""
    from mmengine.dataset import pseudo_collate

    from mmcd_ext.models.data_preprocessor import DualInputSegDataPreProcessor

    root, _ = make_scd_tree(names=('s0', 's1', 's2'), size=(32, 32))
    pipeline = [
        dict(type='LoadBitemporalImages'),
        dict(type='LoadSCDAnnotations'),
        dict(type='RandomCrop', crop_size=(24, 24)),
        dict(type='BitemporalRandomRotate', prob=1.0, degree=30),
        dict(type='RandomRotate90', prob=0.5),
        dict(
            type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
        dict(type='BitemporalPhotoMetricDistortion'),
        dict(type='TimeExchange', prob=0.5),
        dict(type='PackCDInputs'),
    ]
    ds = SECONDDataset(data_root=root, pipeline=pipeline, serialize_data=False)
    batch = pseudo_collate([ds[i] for i in range(3)])
    out = DualInputSegDataPreProcessor(
        mean=[0, 0, 0], std=[1, 1, 1], size_divisor=32)(
            batch, training=True)
    assert out['inputs'].shape == (3, 6, 32, 32)
    for sample in out['data_samples']:
        a = sample.gt_sem_seg_a.data
        b = sample.gt_sem_seg_b.data
        change = sample.gt_sem_seg.data
        valid = change != 255
        assert torch.equal(valid, a != 255) and torch.equal(valid, b != 255)
        assert torch.equal(change[valid], (a[valid] != 0).long())
        assert torch.equal(a[valid] == 0, b[valid] == 0)
