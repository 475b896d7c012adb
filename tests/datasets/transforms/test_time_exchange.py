import copy

import numpy as np
import pytest

from mmcd_ext.datasets.transforms import TimeExchange


def _scd_results(aligned_results):
    res = aligned_results(h=16, w=20, scd=True)
    res.update(seg_map_path_a='l1.png', seg_map_path_b='l2.png')
    return res


def test_swaps_dates_labels_and_paths(aligned_results):
    src = _scd_results(aligned_results)
    res = TimeExchange(prob=1.0)(copy.deepcopy(src))
    assert res['time_exchanged'] is True
    assert np.array_equal(res['img'][..., :3], src['img'][..., 3:])
    assert np.array_equal(res['img'][..., 3:], src['img'][..., :3])
    assert np.array_equal(res['gt_seg_map_a'], src['gt_seg_map_b'])
    assert np.array_equal(res['gt_seg_map_b'], src['gt_seg_map_a'])
    assert np.array_equal(res['gt_seg_map'], src['gt_seg_map'])
    assert (res['img_path'], res['img_path2']) == ('b.png', 'a.png')
    assert (res['seg_map_path_a'], res['seg_map_path_b']) == ('l2.png',
                                                              'l1.png')


def test_twice_is_identity_and_prob_zero_keeps(aligned_results):
    src = _scd_results(aligned_results)
    twice = TimeExchange(prob=1.0)(TimeExchange(prob=1.0)(copy.deepcopy(src)))
    kept = TimeExchange(prob=0.0)(copy.deepcopy(src))
    for res in (twice, kept):
        for key in ('img', 'gt_seg_map', 'gt_seg_map_a', 'gt_seg_map_b'):
            assert np.array_equal(res[key], src[key])
    assert kept['time_exchanged'] is False


def test_binary_sample_and_probability(aligned_results):
    swaps = 0
    for seed in range(200):
        np.random.seed(seed)
        res = TimeExchange(prob=0.3)(aligned_results(h=4, w=4))
        swaps += res['time_exchanged']
    assert 40 <= swaps <= 80  # 200 * 0.3 = 60


def test_errors(aligned_results):
    res = aligned_results(scd=True)
    del res['gt_seg_map_b']
    with pytest.raises(KeyError, match='only one'):
        TimeExchange(prob=1.0)(res)
    with pytest.raises(ValueError, match='bitemporal'):
        TimeExchange(prob=1.0)(dict(img=np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match='prob'):
        TimeExchange(prob=-0.1)
