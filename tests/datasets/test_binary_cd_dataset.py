"""Binary change-detection folder datasets on tiny fixtures."""
import logging
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from mmcd_ext.datasets import (BaseFolderCDDataset, BinaryCDFolderDataset,
                               LEVIRCDDataset)
from mmcd_ext.registry import DATASETS

PIPELINE = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadCDAnnotations'),
    dict(type='PackCDInputs'),
]


def _levir(root, **kwargs):
    # serialisation (mmengine's default) costs a gc.collect(): only where
    # it is under test
    kwargs.setdefault('serialize_data', False)
    return LEVIRCDDataset(
        data_root=root,
        data_prefix=dict(img_path='A', img_path2='B', seg_map_path='label'),
        **kwargs)


def test_levir_loads_and_pairs(make_binary_cd_tree):
    root, truth = make_binary_cd_tree(names=('t1', 't0', 't2'))
    ds = _levir(root, pipeline=PIPELINE, serialize_data=True)
    assert len(ds) == 3 and isinstance(ds, BaseFolderCDDataset)
    assert ds.metainfo['classes'] == ('unchanged', 'changed')
    assert ds.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]
    names = [osp.basename(ds.get_data_info(i)['img_path']) for i in range(3)]
    assert names == ['t0.png', 't1.png', 't2.png']
    for i, name in enumerate(('t0', 't1', 't2')):
        info = ds.get_data_info(i)
        assert info['img_path2'] == osp.join(root, 'B', name + '.png')
        assert info['seg_map_path'] == osp.join(root, 'label', name + '.png')
        assert info['label_encoding'] == '0/255'
        sample = ds[i]
        img_a, img_b, label = truth[name]
        inputs = sample['inputs']
        assert inputs.shape == (6, 32, 40)
        assert np.array_equal(inputs[:3].permute(1, 2, 0).numpy(), img_a)
        assert np.array_equal(inputs[3:].permute(1, 2, 0).numpy(), img_b)
        gt = sample['data_samples'].gt_sem_seg.data
        assert torch.equal(gt[0], torch.from_numpy(label).long())


def test_generic_folder_names_suffixes_and_01_labels(make_binary_cd_tree):
    root, truth = make_binary_cd_tree(
        names=('a', 'b'),
        folders=('Image1', 'Image2', 'gt'),
        suffixes=('_t1.png', '_t2.png', '_mask.png'),
        encoding='0/1')
    ds = DATASETS.build(
        dict(
            type='BinaryCDFolderDataset',
            data_root=root,
            data_prefix=dict(
                img_path='Image1', img_path2='Image2', seg_map_path='gt'),
            img_suffix='_t1.png',
            img_suffix2='_t2.png',
            seg_map_suffix='_mask.png',
            label_encoding='0/1',
            pipeline=PIPELINE))
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path2'].endswith('Image2/a_t2.png')
    gt = ds[1]['data_samples'].gt_sem_seg.data[0].numpy()
    assert np.array_equal(gt, truth['b'][2])


def test_nested_folders_are_paired_by_relative_path(make_binary_cd_tree):
    root, _ = make_binary_cd_tree(names=('x/p', 'y/p'))
    ds = _levir(root)
    assert [ds.get_data_info(i)['img_path2'] for i in range(2)] == [
        osp.join(root, 'B', 'x', 'p.png'),
        osp.join(root, 'B', 'y', 'p.png')
    ]


def test_missing_partner_is_named(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    os.remove(osp.join(root, 'B', 't1.png'))
    with pytest.raises(FileNotFoundError) as err:
        _levir(root)
    msg = str(err.value)
    assert osp.join(root, 'A', 't1.png') in msg
    assert 'date-B image ' + osp.join(root, 'B', 't1.png') in msg


def test_missing_label_is_named(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    os.remove(osp.join(root, 'label', 't2.png'))
    with pytest.raises(
            FileNotFoundError, match='no change label .*label/t2.png'):
        _levir(root)


def test_orphan_files_are_errors(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    os.remove(osp.join(root, 'A', 't0.png'))
    with pytest.raises(ValueError) as err:
        _levir(root)
    msg = str(err.value)
    assert '2 file(s) without a partner' in msg
    assert osp.join(root, 'B', 't0.png') in msg
    assert osp.join(root, 'label', 't0.png') in msg


def test_missing_or_empty_folder(make_binary_cd_tree, tmp_path):
    root, _ = make_binary_cd_tree()
    with pytest.raises(FileNotFoundError, match='folder .*nope'):
        LEVIRCDDataset(
            data_root=root,
            data_prefix=dict(
                img_path='A', img_path2='nope', seg_map_path='label'))
    for folder in ('A', 'B', 'label'):
        os.makedirs(tmp_path / 'empty' / folder)
    with pytest.raises(FileNotFoundError, match='no date-A image'):
        _levir(str(tmp_path / 'empty'))


def test_unlabelled_data(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    ds = LEVIRCDDataset(
        data_root=root,
        data_prefix=dict(img_path='A', img_path2='B'),
        pipeline=[
            dict(type='LoadBitemporalImages'),
            dict(type='PackCDInputs')
        ])
    assert len(ds) == 3 and 'seg_map_path' not in ds.get_data_info(0)
    assert 'gt_sem_seg' not in ds[0]['data_samples']


def test_ann_file(make_binary_cd_tree, tmp_path):
    root, _ = make_binary_cd_tree()
    ann = tmp_path / 'split.txt'
    ann.write_text('t2\n\nt0.png\n')
    ds = _levir(root, ann_file=str(ann))
    assert [
        osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))
    ] == ['t2.png', 't0.png']
    ann.write_text('t0\nt9\n')
    with pytest.raises(FileNotFoundError, match='t9.png'):
        _levir(root, ann_file=str(ann))
    ann.write_text('t0\nt0.png\n')
    with pytest.raises(ValueError, match='twice'):
        _levir(root, ann_file=str(ann))
    with pytest.raises(FileNotFoundError, match='ann_file'):
        _levir(root, ann_file=str(tmp_path / 'missing.txt'))


def test_label_values_outside_encoding_fail_on_load(make_binary_cd_tree):
    root, _ = make_binary_cd_tree(encoding='0/1')
    ds = _levir(root, pipeline=PIPELINE)  # declares 0/255, files are 0/1
    with pytest.raises(ValueError, match=r't0.png has values \[1\]'):
        ds[0]


def test_bad_arguments(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    with pytest.raises(ValueError, match='label_encoding'):
        _levir(root, label_encoding='0/128')
    with pytest.raises(ValueError, match='reduce_zero_label'):
        _levir(root, reduce_zero_label=True)
    with pytest.raises(ValueError, match='not supported'):
        _levir(root, metainfo=dict(classes=('changed', )))
    with pytest.raises(KeyError, match='img_path2'):
        BinaryCDFolderDataset(data_root=root, data_prefix=dict(img_path='A'))
    with pytest.raises(
            ValueError, match='suffix of the date-A image folder .* empty'):
        _levir(root, img_suffix='')


class _Collect(logging.Handler):
    """Keeps the messages logged while attached."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_files_with_other_suffixes_are_reported(make_binary_cd_tree):
    root, _ = make_binary_cd_tree()
    with open(osp.join(root, 'B', 'notes.txt'), 'w') as f:
        f.write('x')
    logger = MMLogger.get_current_instance()
    handler = _Collect()
    logger.addHandler(handler)
    try:
        assert len(_levir(root)) == 3
    finally:
        logger.removeHandler(handler)
    assert any('notes.txt' in m and 'not used' in m for m in handler.messages)
