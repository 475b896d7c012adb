import copy

import numpy as np
import pytest
import torch
from mmseg.datasets.transforms import PackSegInputs

from mmcd_ext.datasets.transforms import PackCDInputs


def _results(aligned_results, scd):
    res = aligned_results(h=16, w=20, scd=scd)
    res.update(
        seg_map_path='l.png',
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        reduce_zero_label=False)
    return res


@pytest.mark.parametrize('scd', [False, True])
def test_pack_matches_mmseg_and_adds_dates(aligned_results, scd):
    res = _results(aligned_results, scd)
    packed = PackCDInputs()(copy.deepcopy(res))
    ref = PackSegInputs()(copy.deepcopy(res))
    # the image and change label are packed exactly as mmseg does
    assert torch.equal(packed['inputs'], ref['inputs'])
    assert packed['inputs'].shape == (6, 16, 20)
    assert torch.equal(packed['inputs'],
                       torch.from_numpy(res['img']).permute(2, 0, 1))
    sample = packed['data_samples']
    assert torch.equal(sample.gt_sem_seg.data,
                       ref['data_samples'].gt_sem_seg.data)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    for key in ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label'):
        assert sample.metainfo[key] == ref['data_samples'].metainfo[key]
    assert sample.metainfo['img_path2'] == 'b.png'
    if scd:
        for key, field in (('gt_seg_map_a', 'gt_sem_seg_a'), ('gt_seg_map_b',
                                                              'gt_sem_seg_b')):
            data = sample.get(field).data
            assert data.shape == (1, 16, 20) and data.dtype == torch.int64
            assert np.array_equal(data[0].numpy(), res[key])
    else:
        assert 'gt_sem_seg_a' not in sample


def test_pack_non_contiguous_image(aligned_results):
    res = _results(aligned_results, False)
    res['img'] = res['img'][:, ::-1]
    packed = PackCDInputs()(copy.deepcopy(res))
    assert torch.equal(packed['inputs'],
                       torch.from_numpy(res['img'].copy()).permute(2, 0, 1))


def test_pack_errors(aligned_results):
    res = _results(aligned_results, True)
    res['gt_seg_map_a'] = res['gt_seg_map_a'][..., None]
    with pytest.raises(ValueError, match='gt_seg_map_a must be'):
        PackCDInputs()(res)
    res = _results(aligned_results, False)
    res['img'] = res['img'][..., :5]
    with pytest.raises(ValueError, match='bitemporal'):
        PackCDInputs()(res)
