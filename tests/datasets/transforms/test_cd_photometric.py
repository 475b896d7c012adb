"""BitemporalPhotoMetricDistortion against mmseg's PhotoMetricDistortion."""
import numpy as np
import pytest
from mmseg.datasets.transforms import PhotoMetricDistortion

from mmcd_ext.datasets.transforms import BitemporalPhotoMetricDistortion


def _pair(rng, h=32, w=32, same=False):
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = a.copy() if same else rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return a, b


@pytest.mark.parametrize('seed', range(8))
def test_shared_matches_mmseg_on_each_date(rng, seed):
    a, b = _pair(rng)
    np.random.seed(seed)
    out = BitemporalPhotoMetricDistortion(shared=True)(
        dict(img=np.concatenate([a, b], 2)))['img']
    ref = PhotoMetricDistortion()
    np.random.seed(seed)
    ref_a = ref(dict(img=a.copy()))['img']
    np.random.seed(seed)
    ref_b = ref(dict(img=b.copy()))['img']
    assert out.dtype == np.uint8 and out.shape == (32, 32, 6)
    assert np.array_equal(out[..., :3], ref_a)
    assert np.array_equal(out[..., 3:], ref_b)


@pytest.mark.parametrize('seed', range(8))
def test_independent_matches_mmseg_stream(rng, seed):
    a, b = _pair(rng)
    np.random.seed(seed)
    out = BitemporalPhotoMetricDistortion(shared=False)(
        dict(img=np.concatenate([a, b], 2)))['img']
    # date A takes the first draws, date B the next ones of the same stream
    ref = PhotoMetricDistortion()
    np.random.seed(seed)
    ref_a = ref(dict(img=a.copy()))['img']
    ref_b = ref(dict(img=b.copy()))['img']
    assert np.array_equal(out[..., :3], ref_a)
    assert np.array_equal(out[..., 3:], ref_b)


def test_shared_keeps_identical_dates_identical(rng):
    a, _ = _pair(rng)
    img = np.concatenate([a, a], 2)
    changed = 0
    for seed in range(10):
        np.random.seed(seed)
        out = BitemporalPhotoMetricDistortion(shared=True)(
            dict(img=img.copy()))['img']
        assert np.array_equal(out[..., :3], out[..., 3:])
        changed += not np.array_equal(out[..., :3], a)
    assert changed > 0


def test_independent_changes_dates_differently(rng):
    a, _ = _pair(rng)
    img = np.concatenate([a, a], 2)
    differ = 0
    for seed in range(10):
        np.random.seed(seed)
        out = BitemporalPhotoMetricDistortion(shared=False)(
            dict(img=img.copy()))['img']
        differ += not np.array_equal(out[..., :3], out[..., 3:])
    assert differ >= 5


def test_brightness_only_is_a_per_date_offset():
    # mid-grey image: no clipping, so each date moves by its offset exactly
    img = np.full((8, 8, 6), 128, dtype=np.uint8)
    t = BitemporalPhotoMetricDistortion(
        brightness_delta=20,
        contrast_range=(1.0, 1.0),
        saturation_range=(1.0, 1.0),
        hue_delta=0,
        shared=False)
    np.random.seed(0)
    params_a, params_b = t.draw_params(), t.draw_params()
    np.random.seed(0)
    out = t(dict(img=img.copy()))['img'].astype(int)
    for half, params in ((out[..., :3], params_a), (out[..., 3:], params_b)):
        beta = params['brightness'] or 0.0
        assert np.all(half == int(np.float32(128) + np.float32(beta)))


def test_bad_inputs():
    t = BitemporalPhotoMetricDistortion()
    with pytest.raises(ValueError, match='3-channel'):
        t(dict(img=np.zeros((8, 8, 8), np.uint8)))
    with pytest.raises(ValueError, match='bitemporal'):
        t(dict(img=np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(TypeError, match='uint8'):
        t(dict(img=np.zeros((8, 8, 6), np.float32)))
