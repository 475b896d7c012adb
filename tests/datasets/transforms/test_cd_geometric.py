"""Geometric transforms keep both dates and all labels aligned.

mmseg's RandomCrop / Resize / RandomFlip are checked here on bitemporal
samples (they are the ones docs/datasets.md calls safe), alongside ours.
"""
import copy

import cv2
import numpy as np
import pytest
from mmseg.datasets.transforms import (RandomCrop, RandomFlip, RandomRotate,
                                       Resize)

from mmcd_ext.datasets.transforms import BitemporalRandomRotate, RandomRotate90
from mmcd_ext.registry import TRANSFORMS


@pytest.mark.parametrize('scd', [False, True])
def test_mmseg_random_crop_is_bitemporal_safe(aligned_results, check_aligned,
                                              scd):
    for seed in range(5):
        np.random.seed(seed)
        res = RandomCrop(
            crop_size=(16, 24), cat_max_ratio=0.75)(
                aligned_results(scd=scd))
        assert res['img'].shape == (16, 24, 6)
        check_aligned(res)
        # a crop is a translation: row/col codes are consecutive
        rows, cols = res['img'][:, 0, 0], res['img'][0, :, 1]
        assert np.array_equal(np.diff(rows.astype(int)), np.ones(15))
        assert np.array_equal(np.diff(cols.astype(int)), np.ones(23))


@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
@pytest.mark.parametrize('scd', [False, True])
def test_mmseg_random_flip_is_bitemporal_safe(aligned_results, check_aligned,
                                              direction, scd):
    res = RandomFlip(prob=1.0, direction=direction)(aligned_results(scd=scd))
    check_aligned(res)
    h, w = res['img'].shape[:2]
    if direction == 'horizontal':
        assert res['img'][0, 0, :2].tolist() == [0, w - 1]
    else:
        assert res['img'][0, 0, :2].tolist() == [h - 1, 0]
    assert res['flip'] and res['flip_direction'] == direction


def test_mmseg_random_flip_direction_list(aligned_results, check_aligned):
    seen = set()
    for seed in range(20):
        np.random.seed(seed)
        res = RandomFlip(
            prob=1.0, direction=['horizontal', 'vertical'])(
                aligned_results(scd=True))
        check_aligned(res)
        seen.add(res['flip_direction'])
    assert seen == {'horizontal', 'vertical'}


@pytest.mark.parametrize('scd', [False, True])
def test_mmseg_resize_is_bitemporal_safe(aligned_results, check_aligned, scd):
    # nearest image interpolation: exact relation everywhere
    res = Resize(
        scale=(24, 20), interpolation='nearest')(
            aligned_results(scd=scd))
    assert res['img'].shape == (20, 24, 6)
    check_aligned(res)
    # bilinear: B = 255 - A is affine, so it survives up to rounding
    res = Resize(scale=(96, 80))(aligned_results(scd=scd))
    assert res['img'].shape == (80, 96, 6)
    check_aligned(res, tol=1)
    for key in res['seg_fields']:
        assert res[key].shape == (80, 96)


@pytest.mark.parametrize('scd', [False, True])
def test_random_rotate90(aligned_results, check_aligned, scd):
    seen = set()
    for seed in range(30):
        np.random.seed(seed)
        src = aligned_results(scd=scd)
        res = RandomRotate90(prob=0.75)(copy.deepcopy(src))
        k = res['rotate90_k']
        seen.add(k)
        check_aligned(res)
        # counter-clockwise: where the top-left output pixel comes from
        h, w = src['img'].shape[:2]
        corner = {0: [0, 0], 1: [0, w - 1], 2: [h - 1, w - 1], 3: [h - 1, 0]}
        assert res['img'][0, 0, :2].tolist() == corner[k]
        assert res['img_shape'] == res['img'].shape[:2]
    assert seen == {0, 1, 2, 3}


def test_random_rotate90_prob_zero(aligned_results):
    src = aligned_results()
    res = RandomRotate90(prob=0.0)(copy.deepcopy(src))
    assert res['rotate90_k'] == 0
    assert np.array_equal(res['img'], src['img'])
    with pytest.raises(ValueError, match='prob'):
        RandomRotate90(prob=1.5)


@pytest.mark.parametrize('scd', [False, True])
def test_bitemporal_random_rotate_nearest_exact(aligned_results, check_aligned,
                                                scd):
    for seed in range(5):
        np.random.seed(seed)
        res = BitemporalRandomRotate(
            prob=1.0, degree=(20, 70), pad_val=0, interpolation='nearest')(
                aligned_results(scd=scd))
        valid = check_aligned(res, pad_val=0)
        assert (~valid).any(), 'a 20-70 degree rotation pads the corners'
        assert valid.sum() > 0.3 * valid.size


def test_bitemporal_random_rotate_pads_every_channel(aligned_results,
                                                     check_aligned):
    pad = (10, 20, 30, 40, 50, 60)
    np.random.seed(0)
    res = BitemporalRandomRotate(
        prob=1.0, degree=45, pad_val=pad, interpolation='nearest')(
            aligned_results(scd=True))
    check_aligned(res, pad_val=pad)
    # mmseg's RandomRotate hands all 6 channels to cv2 at once and cannot
    # pad beyond the 4th: the reason for BitemporalRandomRotate
    np.random.seed(0)
    ref = RandomRotate(prob=1.0, degree=45, pad_val=7)(aligned_results())
    corner = ref['img'][0, 0]
    assert not np.array_equal(corner, np.full(6, 7))


def test_bitemporal_random_rotate_bilinear(aligned_results, check_aligned):
    np.random.seed(3)
    res = BitemporalRandomRotate(
        prob=1.0, degree=30, pad_val=0)(
            aligned_results())
    valid = res['gt_seg_map'] != 255
    img = res['img'].astype(int)
    # away from the border, where bilinear mixes in padding
    inner = cv2.erode(
        valid.astype(np.uint8), np.ones((5, 5), np.uint8),
        borderValue=0).astype(bool)
    assert inner.sum() > 100
    np.testing.assert_allclose(
        img[..., 3:][inner], 255 - img[..., :3][inner], atol=1)


def test_bitemporal_random_rotate_prob_zero_and_auto_bound(
        aligned_results, check_aligned):
    src = aligned_results()
    res = BitemporalRandomRotate(prob=0.0, degree=30)(copy.deepcopy(src))
    assert np.array_equal(res['img'], src['img'])
    res = BitemporalRandomRotate(
        prob=1.0, degree=(90, 90), auto_bound=True, interpolation='nearest')(
            aligned_results(h=40, w=48, scd=True))
    assert res['img'].shape[:2] == (48, 40)
    check_aligned(res, pad_val=0)


def test_bitemporal_random_rotate_bad_args(aligned_results):
    with pytest.raises(ValueError, match='degree'):
        BitemporalRandomRotate(prob=0.5, degree=-3)
    with pytest.raises(ValueError, match='prob'):
        BitemporalRandomRotate(prob=2, degree=3)
    with pytest.raises(ValueError, match='6 channels'):
        BitemporalRandomRotate(
            prob=1, degree=3, pad_val=(1, 2, 3))(
                aligned_results())


def test_registered_in_mmcd_ext_scope():
    for name in ('RandomRotate90', 'BitemporalRandomRotate'):
        assert TRANSFORMS.get(name).__module__.startswith('mmcd_ext')
