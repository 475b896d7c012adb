"""tools/infer.py with a semantic change model: PNG and GeoTIFF outputs.

The model is ``CDStubSCDHead`` in ``SCDSiamEncoderDecoder``
(``tests/apis/cd_stub_models.py``); expected maps and transitions are
computed from the input arrays with numpy (``test_scd_inference``).
"""
import importlib.util
import json
import os.path as osp
from collections import Counter

import mmcv
import numpy as np
import rasterio
from cd_stub_models import save_checkpoint, stub_config
from rasterio.transform import from_origin
from test_scd_inference import (NAMES, PALETTE, as_counter, counted,
                                expected_maps, scd_pair, write_tif)

from mmcd_ext.apis.transitions import TransitionSummary

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool_scd', osp.join(ROOT, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INFER = load_tool()


def model_files(tmp_path):
    cfg = stub_config('scd_head')
    cfg_path = str(tmp_path / 'scd_cfg.py')
    cfg.dump(cfg_path)
    ckpt = str(tmp_path / 'scd.pth')
    save_checkpoint(cfg, ckpt, dict(classes=NAMES, palette=PALETTE))
    return cfg_path, ckpt


def test_folder_of_pngs_gives_class_maps_colours_and_transitions(
        tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    pairs = {}
    for seed, name in enumerate(['0001', '0002']):
        a, b = scd_pair(h=40 + seed, w=52, seed=seed)
        mmcv.imwrite(a, str(tmp_path / 'A' / f'{name}.png'))
        mmcv.imwrite(b, str(tmp_path / 'B' / f'{name}.png'))
        pairs[name] = (a, b)
    out = tmp_path / 'out'
    assert INFER.main([
        cfg, ckpt, '--a-dir',
        str(tmp_path / 'A'), '--b-dir',
        str(tmp_path / 'B'), '--out',
        str(out)
    ]) == 0
    lut = np.array(PALETTE, np.uint8)
    total = Counter()
    for name, (a, b) in pairs.items():
        change, sem_a, sem_b = expected_maps(a, b)
        for key, sem in (('semantic_a', sem_a), ('semantic_b', sem_b)):
            index = mmcv.imread(
                str(out / f'{name}_{key}.png'), flag='unchanged')
            np.testing.assert_array_equal(index, sem)
            color = mmcv.imread(
                str(out / f'{name}_{key}_color.png'), channel_order='rgb')
            np.testing.assert_array_equal(color, lut[sem])
        np.testing.assert_array_equal(
            mmcv.imread(str(out / f'{name}.png'), flag='unchanged'),
            change * 255)
        scene = TransitionSummary.read_csv(
            str(out / f'{name}_transitions.csv'), NAMES)
        assert as_counter(scene) == counted(sem_a, sem_b)
        assert scene.pixel_area_m2 is None  # plain images: pixels only
        total += counted(sem_a, sem_b)
    run_total = TransitionSummary.read_csv(str(out / 'transitions.csv'))
    assert as_counter(run_total) == total
    assert run_total.class_names == NAMES
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 2
    assert all('transitions' in r for r in records)
    table = captured.err.splitlines()
    assert any(
        line.startswith('total')
        and line.split()[-1] == str(sum(total.values())) for line in table)


def test_geotiff_pair_keeps_the_grid_and_writes_colour_tables(tmp_path):
    cfg, ckpt = model_files(tmp_path)
    a, b = scd_pair(h=45, w=70, seed=5)  # non-square
    a[:5, 60:] = 0  # no-data in date A
    transform = from_origin(300000.0, 5000000.0, 10.0, 10.0)
    crs = 'EPSG:32631'
    write_tif(str(tmp_path / 'a.tif'), a, transform, crs=crs, nodata=0)
    write_tif(str(tmp_path / 'b.tif'), b, transform, crs=crs, nodata=0)
    valid = ~(a == 0).any(axis=2)
    _, sem_a, sem_b = expected_maps(a, b)
    out = tmp_path / 'out'
    assert INFER.main([
        cfg, ckpt, '--a',
        str(tmp_path / 'a.tif'), '--b',
        str(tmp_path / 'b.tif'), '--out',
        str(out), '--tile', '32', '--overlap', '8', '--vector', '--no-progress'
    ]) == 0
    with rasterio.open(tmp_path / 'a.tif') as src:
        src_crs, src_transform = src.crs, src.transform
    for key, sem in (('a_semantic_a.tif', sem_a), ('a_semantic_b.tif', sem_b)):
        with rasterio.open(out / key) as ds:
            assert ds.crs == src_crs and ds.transform == src_transform
            assert (ds.height, ds.width) == (45, 70)
            cmap = ds.colormap(1)
            assert [list(cmap[k][:3]) for k in range(len(PALETTE))] == PALETTE
            data = ds.read(1)
        np.testing.assert_array_equal(data[valid], sem[valid])
        assert (data[~valid] == 255).all()
    with rasterio.open(out / 'a_change.tif') as ds:
        assert ds.crs == src_crs and ds.transform == src_transform
        np.testing.assert_array_equal(ds.read(2)[valid], sem_a[valid])
    summary = TransitionSummary.read_csv(str(out / 'a_transitions.csv'))
    expected = counted(sem_a, sem_b, valid)
    assert as_counter(summary) == expected
    rows = {(r['class_from'], r['class_to']): r for r in summary.rows()}
    for key, n in expected.items():
        assert rows[key]['area_m2'] == 100.0 * n
        assert rows[key]['area_ha'] == n / 100.0
    with open(out / 'a_change.geojson') as f:
        features = json.load(f)['features']
    area = Counter()
    for feature in features:
        props = feature['properties']
        area[(props['class_from'], props['class_to'])] += props['area']
    assert area == Counter({k: 100.0 * n for k, n in expected.items()})
    assert not (out / 'transitions.csv').exists()  # one pair: no run total


def test_existing_class_geotiff_is_refused_before_writing(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b = scd_pair()
    transform = from_origin(0.0, 0.0, 1.0, 1.0)
    write_tif(str(tmp_path / 'a.tif'), a, transform)
    write_tif(str(tmp_path / 'b.tif'), b, transform)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a_semantic_b.tif').write_bytes(b'mine')
    assert INFER.main([
        cfg, ckpt, '--a',
        str(tmp_path / 'a.tif'), '--b',
        str(tmp_path / 'b.tif'), '--out',
        str(out), '--no-progress'
    ]) == 2
    assert 'a_semantic_b.tif' in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ['a_semantic_b.tif']
