"""Large-scene GeoTIFF inference: georeferencing, exact planted change
without seams, no-data, tiled == whole, grid checks, vectors, SCD, progress,
and the change GeoTIFF writer on its own."""
import ast
import glob
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import rasterio
from cd_stub_models import stub_config
from rasterio.transform import from_origin

from mmcd_ext.apis import ChangeDetector, ChangeResult, infer_geotiff
from mmcd_ext.apis.geo_export import polygon_area
from mmcd_ext.apis.geo_inference import NoValidDataError
from mmcd_ext.apis.geo_writer import (OUT_NODATA, ChangeRasterWriter,
                                      require_rasterio)
from mmcd_ext.apis.tiling import TileGrid, tile_starts

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CRS = 'EPSG:32633'
RES = 0.5  # metres per pixel
ORIGIN = (500000.0, 5800000.0)
H, W = 1300, 1500  # non-square scene


def write_raster(path, data, crs=CRS, origin=ORIGIN, res=RES, nodata=None):
    """Write ``(C, H, W)`` data as a GeoTIFF."""
    count, height, width = data.shape
    with rasterio.open(
            path,
            'w',
            driver='GTiff',
            width=width,
            height=height,
            count=count,
            dtype=data.dtype,
            crs=crs,
            transform=from_origin(origin[0], origin[1], res, res),
            nodata=nodata) as dst:
        dst.write(data)
    return str(path)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy)**2 + (xx - cx)**2 <= r * r


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """The 1500x1300 pair: planted changes across tile borders, no-data."""
    root = tmp_path_factory.mktemp('scene')
    rng = np.random.default_rng(0)
    a = rng.integers(1, 190, (3, H, W), dtype=np.uint8)  # 0 is no-data
    change = np.zeros((H, W), bool)
    change[200:290, 210:300] = True  # across a row and a column overlap
    change |= disc(H, W, 464, 688, 40)  # on a corner of four tiles
    change[700, 400:1000] = True  # a 1-pixel line over three borders
    change[1250:1300, 1420:1500] = True  # bottom-right scene corner
    change[1150:1180, 780:830] = True  # partly in B's no-data block
    b = a.copy()
    b[:, change] += 60
    nodata_a = np.zeros((H, W), bool)
    nodata_a[600:700, 0:150] = True
    nodata_a[0:300, 1200:1500] = True  # holds a whole tile: skipped
    nodata_b = np.zeros((H, W), bool)
    nodata_b[1100:1200, 700:800] = True
    a[:, nodata_a] = 0
    b[:, nodata_b] = 0
    path_a = write_raster(root / 'a.tif', a, nodata=0)
    path_b = write_raster(root / 'b.tif', b, nodata=0)
    invalid = nodata_a | nodata_b
    return dict(
        root=root,
        a=a,
        b=b,
        change=change,
        invalid=invalid,
        path_a=path_a,
        path_b=path_b)


@pytest.fixture(scope='module')
def diff_detector():
    return ChangeDetector(stub_config('diff'))


@pytest.fixture(scope='module')
def scene_run(scene, diff_detector):
    root = scene['root']
    summary = infer_geotiff(
        diff_detector,
        scene['path_a'],
        scene['path_b'],
        str(root / 'out' / 'change.tif'),
        tile=256,
        overlap=32,
        batch_size=4,
        probs=True,
        vector_path=str(root / 'out' / 'v.geojson'),
        quicklook_path=str(root / 'out' / 'quick.png'),
        progress=False)
    return summary


def test_output_keeps_crs_transform_and_size(scene, scene_run):
    with rasterio.open(scene['path_a']) as src, \
            rasterio.open(scene_run.out_path) as out:
        assert out.crs == src.crs and out.crs.to_epsg() == 32633
        assert out.transform == src.transform
        assert (out.height, out.width) == (H, W) == (src.height, src.width)
        assert out.count == 2 and out.dtypes == ('uint8', 'uint8')
        assert out.nodata == OUT_NODATA
        assert out.profile['tiled'] and out.compression.name == 'deflate'
        assert out.scales == (1.0, 0.01)
    assert not glob.glob(scene_run.out_path + '.partial')


def test_planted_change_is_reproduced_exactly_without_seams(scene, scene_run):
    with rasterio.open(scene_run.out_path) as out:
        change = out.read(1)
    expected = scene['change'].astype(np.uint8)
    expected[scene['invalid']] = OUT_NODATA
    # exact everywhere, so also on every tile border and overlap
    np.testing.assert_array_equal(change, expected)
    # the scene really crosses tile borders
    assert len(tile_starts(H, 256, 32)) == 6
    assert len(tile_starts(W, 256, 32)) == 7
    assert scene_run.tiles == 42
    assert scene_run.tiles_predicted < 42  # the all-no-data tile
    assert scene_run.valid_pixels == int((~scene['invalid']).sum())
    assert scene_run.changed_pixels == int(
        (scene['change'] & ~scene['invalid']).sum())


def test_probability_band_matches_the_model_formula(scene, scene_run):
    with rasterio.open(scene_run.out_path) as out:
        prob = out.read(2)
    d = np.abs(scene['a'].astype(np.float64) - scene['b']).sum(axis=0)
    expected = np.rint(100 * sigmoid(0.1 * (d - 30.0)))
    valid = ~scene['invalid']
    assert (prob[~valid] == OUT_NODATA).all()
    diff = np.abs(prob[valid].astype(np.float64) - expected[valid])
    # blending a per-pixel model must not change it: only percent rounding
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3


def test_vector_output_polygons_and_areas(scene, scene_run):
    with open(scene_run.vector_path) as f:
        collection = json.load(f)
    assert collection['crs']['properties']['name'] == \
        'urn:ogc:def:crs:EPSG::32633'
    assert collection['area_unit'] == 'metre^2'
    feats = collection['features']
    assert scene_run.polygons == len(feats) == 5
    pixels = sorted(f['properties']['pixels'] for f in feats)
    expected = sorted(
        [90 * 90,
         int(disc(H, W, 464, 688, 40).sum()), 600, 50 * 80, 30 * 30])
    assert pixels == expected
    for f in feats:
        assert f['properties']['area'] == pytest.approx(
            f['properties']['pixels'] * RES * RES)
    # the square's corners in map coordinates
    square = [f for f in feats if f['properties']['pixels'] == 8100][0]
    xs = [p[0] for p in square['geometry']['coordinates'][0]]
    ys = [p[1] for p in square['geometry']['coordinates'][0]]
    assert (min(xs), max(xs)) == (ORIGIN[0] + 210 * RES, ORIGIN[0] + 300 * RES)
    assert (min(ys), max(ys)) == (ORIGIN[1] - 290 * RES, ORIGIN[1] - 200 * RES)


def test_quicklook(scene, scene_run):
    img = mmcv.imread(scene_run.quicklook_path)[..., ::-1]  # RGB
    assert img.shape == (H, W, 3)
    assert tuple(img[250, 250]) == (255, 255, 255)  # changed
    assert tuple(img[50, 50]) == (0, 0, 0)  # unchanged
    assert tuple(img[650, 50]) == (128, 128, 128)  # no-data


def test_polygon_area_hand_worked():
    square = [[0, 0], [4, 0], [4, 3], [0, 3], [0, 0]]
    hole = [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]
    assert polygon_area([square]) == 12.0
    assert polygon_area([square, hole]) == 11.0


def test_tiled_equals_whole_image_for_a_convolutional_model(tmp_path):
    detector = ChangeDetector(stub_config('fcn'))
    rng = np.random.default_rng(1)
    h, w, tile, overlap = 260, 300, 96, 48
    a = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
    b = a.copy()
    b[:, 100:180, 50:200] = rng.integers(0, 256, (3, 80, 150), dtype=np.uint8)
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', b)
    out = str(tmp_path / 'out.tif')
    infer_geotiff(
        detector,
        pa,
        pb,
        out,
        tile=tile,
        overlap=overlap,
        batch_size=8,
        probs=True,
        progress=False)
    whole = detector.predict(
        a.transpose(1, 2, 0),
        b.transpose(1, 2, 0),
        return_probs=True,
        channel_order='rgb')  # bands 1-3 are read as R, G, B
    with rasterio.open(out) as ds:
        change, prob = ds.read(1), ds.read(2).astype(np.float64)
    err = np.abs(prob - whole.change_prob * 100)
    # Three 3x3 convolutions: a tile differs from the whole image only
    # within r = 3 pixels of its inner borders, where its raised-cosine
    # weight is at most sin^2(pi (r - 0.5) / (2 L)) for an overlap L >= 48.
    # The error is at most that weight (in percent) plus the rounding to
    # whole percent; plain averaging of the tiles would allow 50.
    r = 3
    bound = 100 * np.sin(np.pi * (r - 0.5) / (2 * overlap))**2 + 0.5 + 1e-3
    assert err.max() <= bound
    # away from every inner tile border only the rounding is left
    near = np.zeros((h, w), bool)
    for starts, axis, size in ((tile_starts(h, tile, overlap), 0, h),
                               (tile_starts(w, tile, overlap), 1, w)):
        for s in starts:
            for edge in (s, s + tile):
                if 0 < edge < size:
                    lo, hi = max(edge - r, 0), min(edge + r, size)
                    if axis == 0:
                        near[lo:hi] = True
                    else:
                        near[:, lo:hi] = True
    assert err[~near].max() <= 0.5 + 1e-3
    clear = np.abs(whole.change_prob - 0.5) > 0.01
    np.testing.assert_array_equal(change[clear], whole.change[clear])
    assert 0.05 < whole.change.mean() < 0.95  # a non-trivial map


def test_mismatched_grids_are_refused(tmp_path, diff_detector):
    rng = np.random.default_rng(2)
    a = rng.integers(1, 255, (3, 64, 80), dtype=np.uint8)
    pa = write_raster(tmp_path / 'a.tif', a)
    cases = {
        'CRS':
        write_raster(tmp_path / 'crs.tif', a, crs='EPSG:32634'),
        'size':
        write_raster(tmp_path / 'size.tif', a[:, :, :72]),
        'transform':
        write_raster(
            tmp_path / 'shift.tif', a, origin=(ORIGIN[0] + 1.0, ORIGIN[1])),
    }
    for what, pb in cases.items():
        with pytest.raises(ValueError, match=rf'(?s){what}.*resample-b'):
            infer_geotiff(
                diff_detector,
                pa,
                pb,
                str(tmp_path / 'o.tif'),
                tile=32,
                overlap=8,
                progress=False)
        assert not osp.exists(tmp_path / 'o.tif')


@pytest.mark.parametrize('nodata_b', [None, 0])
def test_resample_b_onto_the_grid_of_a(tmp_path, diff_detector, nodata_b):
    rng = np.random.default_rng(3)
    h, w, shift = 64, 80, 8
    a = rng.integers(1, 190, (3, h, w), dtype=np.uint8)
    planted = np.zeros((h, w), bool)
    planted[20:40, 30:50] = True
    b_on_a = a.copy()
    b_on_a[:, planted] += 60
    # date B's file starts `shift` pixels further east
    b = np.full((3, h, w), 9, np.uint8)
    b[:, :, :w - shift] = b_on_a[:, :, shift:]
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(
        tmp_path / 'b.tif',
        b,
        origin=(ORIGIN[0] + shift * RES, ORIGIN[1]),
        nodata=nodata_b)
    out = str(tmp_path / 'out.tif')
    with pytest.raises(ValueError, match='transform'):
        infer_geotiff(
            diff_detector, pa, pb, out, tile=32, overlap=8, progress=False)
    infer_geotiff(
        diff_detector,
        pa,
        pb,
        out,
        tile=32,
        overlap=8,
        resample_b=True,
        progress=False)
    with rasterio.open(out) as ds:
        change = ds.read(1)
    expected = planted.astype(np.uint8)
    expected[:, :shift] = OUT_NODATA  # outside date B's footprint
    np.testing.assert_array_equal(change, expected)


def test_semantic_change_model_bands(tmp_path):
    detector = ChangeDetector(stub_config('scd'))
    rng = np.random.default_rng(4)
    h, w = 90, 110
    a = rng.integers(1, 250, (3, h, w), dtype=np.uint8)
    planted = disc(h, w, 45, 55, 25)
    b = a.copy()
    b[:, planted] = 255 - a[:, planted]
    b[b == 0] = 1
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', b)
    out = str(tmp_path / 'out.tif')
    summary = infer_geotiff(
        detector,
        pa,
        pb,
        out,
        tile=40,
        overlap=10,
        band_order='bgr',
        progress=False)
    d = np.abs(a.astype(np.float64) - b).sum(axis=0)
    change = (d > 30).astype(np.uint8)
    sem_a = (1 + (a.mean(axis=0) > 127)) * change
    sem_b = (3 + (b.mean(axis=0) > 127)) * change
    with rasterio.open(out) as ds:
        assert ds.count == 3
        np.testing.assert_array_equal(ds.read(1), change)
        np.testing.assert_array_equal(ds.read(2), sem_a)
        np.testing.assert_array_equal(ds.read(3), sem_b)
    assert summary.bands[1].startswith('semantic')


def test_band_selection_and_errors(tmp_path, diff_detector):
    rng = np.random.default_rng(5)
    a = rng.integers(1, 190, (5, 40, 48), dtype=np.uint8)
    b = a.copy()
    b[3, 10:20, 10:20] += 60  # change only in band 4
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', b)
    out = str(tmp_path / 'out.tif')
    infer_geotiff(
        diff_detector, pa, pb, out, tile=32, overlap=8,
        progress=False)  # bands 1-3: no change visible
    with rasterio.open(out) as ds:
        assert ds.read(1).sum() == 0
    infer_geotiff(
        diff_detector,
        pa,
        pb,
        out,
        tile=32,
        overlap=8,
        bands=[4, 2, 1],
        progress=False)
    with rasterio.open(out) as ds:
        assert ds.read(1).sum() == 100
    with pytest.raises(ValueError, match='bands \\[6\\] do not exist'):
        infer_geotiff(diff_detector, pa, pb, out, bands=[1, 6], progress=False)
    with pytest.raises(ValueError, match='needs 3 bands'):
        infer_geotiff(
            diff_detector,
            pa,
            pb,
            out,
            bands=[1, 2],
            band_order='rgb',
            progress=False)
    with pytest.raises(FileNotFoundError, match='nothing.tif'):
        infer_geotiff(
            diff_detector,
            str(tmp_path / 'nothing.tif'),
            pb,
            out,
            progress=False)


def test_a_failed_run_leaves_no_output(tmp_path, monkeypatch):
    detector = ChangeDetector(stub_config('diff'))
    a = np.full((3, 100, 100), 9, np.uint8)
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', a)
    calls = []
    original = detector.predict

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError('model failed')
        return original(*args, **kwargs)

    monkeypatch.setattr(detector, 'predict', failing)
    out = str(tmp_path / 'out.tif')
    with pytest.raises(RuntimeError, match='model failed'):
        infer_geotiff(
            detector,
            pa,
            pb,
            out,
            tile=32,
            overlap=8,
            batch_size=1,
            progress=False)
    assert len(calls) == 3  # it failed in the middle of the scene
    assert not osp.exists(out) and not osp.exists(out + '.partial')
    with pytest.raises(ValueError, match='would overwrite the input'):
        infer_geotiff(detector, pa, pb, pa, progress=False)


def test_outputs_never_replace_an_input_or_each_other(tmp_path, diff_detector):
    a = np.full((3, 40, 40), 9, np.uint8)
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', a)
    out = str(tmp_path / 'out.tif')
    os.symlink(pb, tmp_path / 'link.tif')
    digests = {p: sha256(p) for p in (pa, pb)}
    for kwargs, message in (
        (dict(out_path=str(tmp_path / 'link.tif')), 'overwrite the input'),
        (dict(vector_path=pa), 'overwrite the input'),
        (dict(quicklook_path=pb), 'overwrite the input'),
        (dict(vector_path=out), 'vector and the change GeoTIFF'),
    ):
        args = dict(out_path=out, progress=False, tile=32, overlap=8)
        args.update(kwargs)
        with pytest.raises(ValueError, match=message):
            infer_geotiff(diff_detector, pa, pb, **args)
        assert {p: sha256(p) for p in (pa, pb)} == digests
        assert not osp.exists(out)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_nan_and_inf_pixels_are_no_data(tmp_path, diff_detector):
    rng = np.random.default_rng(8)
    a = rng.integers(1, 190, (3, 48, 64)).astype(np.float32)
    b = a.copy()
    b[:, 10:30, 20:40] += 60  # planted change, partly under the NaNs
    a[1, 5:15, 5:25] = np.nan  # one band only is enough
    b[:, 40:44, 50:60] = np.inf
    b[0, 0:48, 62] = -np.inf
    pa = write_raster(tmp_path / 'a.tif', a)  # float32, no nodata value
    pb = write_raster(tmp_path / 'b.tif', b)
    out = str(tmp_path / 'out.tif')
    summary = infer_geotiff(
        diff_detector,
        pa,
        pb,
        out,
        tile=32,
        overlap=8,
        probs=True,
        progress=False)
    invalid = ~(np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0))
    expected = np.zeros((48, 64), np.uint8)
    expected[10:30, 20:40] = 1
    expected[invalid] = OUT_NODATA
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), expected)
        assert (ds.read(2)[invalid] == OUT_NODATA).all()
    assert summary.valid_pixels == int((~invalid).sum())
    assert summary.changed_pixels == int((expected == 1).sum())


def test_a_scene_without_valid_pixels_writes_nothing(tmp_path, diff_detector):
    nan = np.full((3, 40, 50), np.nan, np.float32)
    pa = write_raster(tmp_path / 'a.tif', nan)
    pb = write_raster(tmp_path / 'b.tif', np.zeros_like(nan))
    out = tmp_path / 'out' / 'c.tif'
    with pytest.raises(NoValidDataError, match=r'no pixel is valid in both'):
        infer_geotiff(
            diff_detector,
            pa,
            pb,
            str(out),
            tile=32,
            overlap=8,
            vector_path=str(tmp_path / 'out' / 'c.geojson'),
            quicklook_path=str(tmp_path / 'out' / 'c.png'),
            progress=False)
    assert os.listdir(tmp_path / 'out') == []  # partial file removed too
    # date B entirely outside date A: refused before any tile is read
    u8 = np.full((3, 40, 50), 9, np.uint8)
    pa = write_raster(tmp_path / 'a8.tif', u8)
    pb = write_raster(tmp_path / 'far.tif', u8, origin=(600000.0, ORIGIN[1]))
    with pytest.raises(NoValidDataError, match=r'far\.tif.*does not overlap'):
        infer_geotiff(
            diff_detector, pa, pb, str(out), resample_b=True, progress=False)
    assert os.listdir(tmp_path / 'out') == []


def test_missing_rasterio_gives_the_install_hint(monkeypatch, tmp_path,
                                                 diff_detector):
    monkeypatch.setitem(sys.modules, 'rasterio', None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[geo\]"'):
        require_rasterio()
    with pytest.raises(ImportError, match='rasterio'):
        infer_geotiff(diff_detector, 'a.tif', 'b.tif', str(tmp_path / 'o.tif'))


def _top_level_imports(path):
    tree = ast.parse(open(path).read())
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_package_does_not_import_rasterio_at_module_level():
    files = glob.glob(osp.join(ROOT, 'mmcd_ext', '**', '*.py'), recursive=True)
    assert files
    for path in files:
        for name in _top_level_imports(path):
            assert name.split('.')[0] != 'rasterio', path


@pytest.mark.slow
def test_package_imports_without_rasterio():
    code = ('import sys; sys.modules["rasterio"] = None; import mmcd_ext, '
            'mmcd_ext.apis; from mmcd_ext.apis.geo_writer import '
            'require_rasterio\n'
            'try:\n    require_rasterio()\nexcept ImportError as e:\n'
            '    print(e)\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'pip install -e ".[geo]"' in proc.stdout


def test_progress_bar_on_stderr_and_off(tmp_path, diff_detector, capsys):
    a = np.full((3, 40, 56), 9, np.uint8)
    pa = write_raster(tmp_path / 'a.tif', a)
    pb = write_raster(tmp_path / 'b.tif', a)
    out = str(tmp_path / 'out.tif')
    summary = infer_geotiff(
        diff_detector, pa, pb, out, tile=32, overlap=8, progress=True)
    captured = capsys.readouterr()
    assert summary.tiles == 4 and captured.out == ''
    # mmengine's bar: redrawn with '\r', ends at 4/4 and a new line
    last = captured.err.split('\r')[-1]
    assert last.startswith('[>>') and ' 4/4, ' in last
    assert last.endswith('\n')
    infer_geotiff(
        diff_detector, pa, pb, out, tile=32, overlap=8, progress=False)
    assert capsys.readouterr().err == ''


def _writer(path, grid, valid, probs=True, threshold=0.5):
    """A ChangeRasterWriter whose validity comes from a full-scene map."""
    return ChangeRasterWriter(
        str(path),
        grid,
        rasterio.crs.CRS.from_string(CRS),
        from_origin(ORIGIN[0], ORIGIN[1], RES, RES),
        threshold,
        lambda y0, n: valid[y0:y0 + n],
        probs=probs)


def _tile_results(grid, field, row):
    """Tiles of one row of ``grid`` cut from a ``(H, W)`` probability."""
    y0 = grid.row_starts[row]
    results = []
    for x0 in grid.col_starts:
        prob = field[y0:y0 + grid.tile_h, x0:x0 + grid.tile_w]
        results.append(
            ChangeResult(
                change=(prob > 0.5).astype(np.uint8), change_prob=prob))
    return list(range(len(results))), results


def test_writer_blends_thresholds_and_masks_no_data(tmp_path):
    grid = TileGrid(height=70, width=50, tile=32, overlap=8)
    field = np.random.default_rng(6).random((70, 50)).astype(np.float32)
    valid = np.ones((70, 50), bool)
    valid[10:20, 5:15] = False
    out = tmp_path / 'sub' / 'w.tif'
    with _writer(out, grid, valid) as writer:
        for row in range(len(grid.row_starts)):
            writer.add_tiles(*_tile_results(grid, field, row))
            writer.end_row()
        with pytest.raises(RuntimeError, match='closed already'):
            writer.end_row()
        writer.finish()
    with rasterio.open(out) as ds:
        change, prob = ds.read(1), ds.read(2)
        assert ds.descriptions[1].startswith('probability')
    expected = (field > 0.5).astype(np.uint8)
    expected[~valid] = OUT_NODATA
    np.testing.assert_array_equal(change, expected)
    assert (prob[~valid] == OUT_NODATA).all()
    # a consistent field blends to itself: only the rounding to percent
    err = np.abs(prob[valid] - field[valid] * 100)
    assert err.max() <= 0.5 + 1e-3
    assert writer.tiles_predicted == len(grid)
    assert writer.valid_pixels == int(valid.sum())
    assert writer.changed_pixels == int((field > 0.5)[valid].sum())
    assert not osp.exists(str(out) + '.partial')


def test_writer_all_no_data_scene(tmp_path):
    grid = TileGrid(height=40, width=40, tile=32, overlap=8)
    out = tmp_path / 'w.tif'
    with _writer(out, grid, np.zeros((40, 40), bool), probs=False) as writer:
        for _ in grid.row_starts:
            writer.end_row()  # every tile was no-data: none added
        writer.finish()
    with rasterio.open(out) as ds:
        assert ds.count == 1
        assert (ds.read(1) == OUT_NODATA).all()
    assert writer.band_names == ['change (1 changed, 0 unchanged)']
    assert writer.tiles_predicted == writer.valid_pixels == 0


def test_writer_error_closes_and_removes_the_partial_output(tmp_path):
    grid = TileGrid(height=600, width=40, tile=32, overlap=8)
    field = np.full((600, 40), 0.9, np.float32)
    out = tmp_path / 'w.tif'
    partial = str(out) + '.partial'
    with pytest.raises(KeyboardInterrupt):
        with _writer(out, grid, np.ones((600, 40), bool)) as writer:
            for row in range(12):  # 288 rows: one 256-row block written
                writer.add_tiles(*_tile_results(grid, field, row))
                writer.end_row()
            assert osp.getsize(partial) > 0
            raise KeyboardInterrupt
    assert writer._dst.closed
    assert not osp.exists(partial) and not osp.exists(out)


def test_writer_refuses_an_unfinished_scene_and_bad_calls(tmp_path):
    grid = TileGrid(height=70, width=50, tile=32, overlap=8)
    field = np.zeros((70, 50), np.float32)
    out = tmp_path / 'w.tif'
    with pytest.raises(RuntimeError, match=r'after 1 of 3 rows of tiles'):
        with _writer(out, grid, np.ones((70, 50), bool)) as writer:
            cols, results = _tile_results(grid, field, 0)
            with pytest.raises(ValueError, match='2 tile columns but 1'):
                writer.add_tiles(cols, results[:1])
            writer.add_tiles(cols, results)
            writer.end_row()
            writer.finish()
    assert not osp.exists(out) and not osp.exists(str(out) + '.partial')
