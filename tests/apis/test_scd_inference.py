"""Semantic change models through the API: maps, probabilities, GeoTIFFs.

The model is ``CDStubSCDHead`` in mmcd_ext's ``SCDSiamEncoderDecoder``
(``tests/apis/cd_stub_models.py``): change where the dates differ by more
than 30 (sum over channels), classes ``stub_classes`` of each date there.
Every expectation below is computed from the input arrays with numpy.
"""
import json
from collections import Counter

import numpy as np
import pytest
import rasterio
from cd_stub_models import save_checkpoint, stub_classes, stub_config
from rasterio.transform import from_origin

from mmcd_ext.apis import ChangeDetector, infer_geotiff
from mmcd_ext.apis.transitions import (TransitionSummary,
                                       merge_transition_csvs, pixel_area_m2)
from mmcd_ext.datasets.palettes import SECOND_CLASSES, SECOND_PALETTE

K = 5
NAMES = ['no change', 'water', 'ground', 'tree', 'building']
PALETTE = [[255, 255, 255], [0, 0, 255], [128, 128, 128], [0, 128, 0],
           [255, 0, 0]]


def scd_pair(h=45, w=70, seed=0):
    """Random date A (1..255); date B inverted in a rectangle.

    Inside the rectangle ``d = sum_c |2 a_c - 255|`` is odd, so never the
    threshold 30 itself; outside ``d = 0``.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 256, (h, w, 3), dtype=np.uint8)
    b = a.copy()
    b[6:30, 9:50] = 255 - b[6:30, 9:50]
    b[b == 0] = 1  # keep 0 free for a nodata value
    return a, b


def expected_maps(a, b, num_classes=K):
    d = np.abs(a.astype(np.int64) - b).sum(axis=2)
    change = (d > 30).astype(np.uint8)
    return (change, stub_classes(a, num_classes) * change,
            stub_classes(b, num_classes) * change)


def counted(sem_a, sem_b, valid=None):
    """Transitions counted pixel by pixel (independent of bincount)."""
    valid = np.ones(sem_a.shape, bool) if valid is None else valid
    return Counter(
        (int(x), int(y))
        for x, y, ok in zip(sem_a.ravel(), sem_b.ravel(), valid.ravel())
        if ok and (x or y))


def as_counter(summary):
    return Counter({
        (i, j): int(summary.matrix[i, j])
        for i, j in zip(*np.nonzero(summary.matrix))
    })


@pytest.fixture(scope='module')
def detector(tmp_path_factory):
    cfg = stub_config('scd_head')
    ckpt = str(tmp_path_factory.mktemp('scd') / 'scd.pth')
    save_checkpoint(cfg, ckpt, dict(classes=NAMES, palette=PALETTE))
    return ChangeDetector(cfg, ckpt)


def test_predict_gives_exact_class_maps_and_class_probabilities(detector):
    a, b = scd_pair()
    result = detector.predict(a, b, return_probs=True, return_class_probs=True)
    change, sem_a, sem_b = expected_maps(a, b)
    assert change.sum() > 100 and len(np.unique(sem_a)) == K
    np.testing.assert_array_equal(result.change, change)
    np.testing.assert_array_equal(result.semantic_a, sem_a)
    np.testing.assert_array_equal(result.semantic_b, sem_b)
    d = np.abs(a.astype(np.float64) - b).sum(axis=2)
    p_change = 1 / (1 + np.exp(-0.1 * (d - 30)))
    np.testing.assert_allclose(result.change_prob, p_change, atol=1e-5)
    for probs, img in ((result.semantic_prob_a, a), (result.semantic_prob_b,
                                                     b)):
        assert probs.shape == (K, ) + a.shape[:2]
        # softmax of 10 * one-hot over K - 1 classes
        top = np.exp(10) / (np.exp(10) + K - 2)
        expected = np.empty_like(probs, dtype=np.float64)
        expected[0] = 1 - p_change
        cls = stub_classes(img, K)
        for k in range(1, K):
            expected[k] = p_change * np.where(cls == k, top,
                                              (1 - top) / (K - 2))
        np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert set(result.keys()) >= {'semantic_prob_a', 'semantic_prob_b'}
    assert detector.class_names == NAMES
    assert detector.class_palette == PALETTE
    assert detector.is_semantic and detector.num_classes == K


def test_class_names_and_palette_from_the_config_or_defaults():
    second = ChangeDetector(
        stub_config('scd_head', num_classes=7, dataset_type='SECONDDataset'))
    assert second.class_names == list(SECOND_CLASSES)
    assert second.class_palette == [list(c) for c in SECOND_PALETTE]
    bare = ChangeDetector(stub_config('scd_head'))
    assert bare.class_names == ['no change'
                                ] + [f'class {k}' for k in range(1, K)]
    palette = bare.class_palette
    assert len(palette) == K and len({tuple(c) for c in palette}) == K
    binary = ChangeDetector(stub_config('diff'))
    assert not binary.is_semantic and binary.class_names is None


def test_class_probabilities_need_stacked_logits():
    detector = ChangeDetector(stub_config('scd'))
    a, b = scd_pair()
    with pytest.raises(ValueError, match='split_logits'):
        detector.predict(a, b, return_class_probs=True)
    with pytest.raises(ValueError, match='not a semantic change model'):
        ChangeDetector(stub_config('diff')).predict(
            a, b, return_class_probs=True)


def test_transition_summary_counts_merges_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    maps = [(rng.integers(0, 4, (20, 30)), rng.integers(0, 6, (20, 30)))
            for _ in range(3)]
    summaries = []
    for sem_a, sem_b in maps:
        summary = TransitionSummary(NAMES[:3], pixel_area_m2=4.0)
        summary.add_maps(sem_a, sem_b)
        assert as_counter(summary) == counted(sem_a, sem_b)
        summaries.append(summary)
    assert summaries[0].num_classes == 6  # grew past the names
    assert summaries[0].class_names[3:] == ['class 3', 'class 4', 'class 5']
    total = TransitionSummary.merge(summaries)
    expected = sum((counted(*m) for m in maps), Counter())
    assert as_counter(total) == expected
    np.testing.assert_allclose(total.area_ha(), total.matrix * 4.0 / 1e4)
    paths = [
        s.write_csv(str(tmp_path / f'scene{k}.csv'))
        for k, s in enumerate(summaries)
    ]
    merged = merge_transition_csvs(paths)
    np.testing.assert_array_equal(merged.matrix, total.matrix)
    assert merged.pixel_area_m2 == pytest.approx(4.0)
    assert merged.class_names == total.class_names
    again = TransitionSummary.from_dict(
        json.loads(json.dumps(total.to_dict())))
    np.testing.assert_array_equal(again.matrix, total.matrix)
    table = total.to_table()
    assert f'{total.changed_pixels}' in table.splitlines()[-1]
    assert 'ha' in table.splitlines()[0]
    # different pixel sizes: no common area
    other = TransitionSummary(NAMES[:3], pixel_area_m2=1.0)
    assert TransitionSummary.merge([summaries[0], other]).area_m2() is None
    (tmp_path / 'bad.csv').write_text('a,b\n1,2\n')
    with pytest.raises(ValueError, match='bad.csv'):
        TransitionSummary.read_csv(str(tmp_path / 'bad.csv'))


def test_pixel_area_needs_a_metric_crs():
    from rasterio.crs import CRS
    assert pixel_area_m2(CRS.from_epsg(32633), from_origin(0, 0, 2, 3)) == 6.0
    assert pixel_area_m2(CRS.from_epsg(4326), from_origin(0, 0, 1, 1)) is None
    assert pixel_area_m2(None, from_origin(0, 0, 1, 1)) is None


def write_tif(path, img, transform, crs='EPSG:32633', nodata=None):
    with rasterio.open(
            path,
            'w',
            driver='GTiff',
            dtype='uint8',
            count=3,
            height=img.shape[0],
            width=img.shape[1],
            crs=crs,
            transform=transform,
            nodata=nodata) as dst:
        dst.write(img.transpose(2, 0, 1))


def test_geotiff_scene_class_rasters_vector_and_transitions(
        detector, tmp_path):
    a, b = scd_pair()
    a[40:, :20] = 0  # no-data in date A
    transform = from_origin(500000.0, 4000000.0, 2.0, 2.0)
    write_tif(str(tmp_path / 'a.tif'), a, transform, nodata=0)
    write_tif(str(tmp_path / 'b.tif'), b, transform, nodata=0)
    valid = ~(a == 0).any(axis=2)
    change, sem_a, sem_b = expected_maps(a, b)
    out = tmp_path / 'out'
    summary = infer_geotiff(
        detector,
        str(tmp_path / 'a.tif'),
        str(tmp_path / 'b.tif'),
        str(out / 'x_change.tif'),
        tile=32,
        overlap=8,
        progress=False,
        vector_path=str(out / 'x.geojson'),
        semantic_paths=[str(out / 'x_sem_a.tif'),
                        str(out / 'x_sem_b.tif')],
        transitions_path=str(out / 'x.csv'))
    assert summary.semantic
    for path, sem in (('x_sem_a.tif', sem_a), ('x_sem_b.tif', sem_b)):
        with rasterio.open(out / path) as ds:
            assert ds.count == 1 and ds.shape == a.shape[:2]
            assert ds.crs == rasterio.crs.CRS.from_epsg(32633)
            assert ds.transform == transform
            assert ds.nodata == 255
            cmap = ds.colormap(1)
            for k, color in enumerate(PALETTE):
                assert cmap[k][:3] == tuple(color)
            data = ds.read(1)
        np.testing.assert_array_equal(data[valid], sem[valid])
        assert (data[~valid] == 255).all()
    expected = counted(sem_a, sem_b, valid)
    got = TransitionSummary.read_csv(str(out / 'x.csv'), NAMES)
    assert as_counter(got) == expected
    assert got.pixel_area_m2 == pytest.approx(4.0)
    assert summary.transitions['matrix'] == got.matrix.tolist()
    with open(out / 'x.geojson') as f:
        features = json.load(f)['features']
    area = Counter()
    for feature in features:
        props = feature['properties']
        assert props['name_from'] == NAMES[props['class_from']]
        assert props['name_to'] == NAMES[props['class_to']]
        area[(props['class_from'], props['class_to'])] += props['area']
    assert area == Counter({key: 4.0 * n for key, n in expected.items()})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ['x_change.tif', 'x.geojson', 'x_sem_a.tif', 'x_sem_b.tif', 'x.csv'])
