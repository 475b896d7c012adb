"""tools/infer.py: image pairs, folders (unmatched files), GeoTIFF scenes.

Most tests call the tool's ``main()`` in-process (fast); one runs the script
as a subprocess. The models are the stubs of ``tests/apis/cd_stub_models``.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUBS = osp.join(ROOT, 'tests', 'apis')
sys.path.insert(0, STUBS)

from cd_stub_models import save_checkpoint, stub_config  # noqa: E402


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool', osp.join(ROOT, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INFER = load_tool()


def model_files(tmp_path, kind='diff'):
    cfg = stub_config(kind)
    cfg_path = str(tmp_path / f'{kind}_cfg.py')
    cfg.dump(cfg_path)
    ckpt = str(tmp_path / f'{kind}.pth')
    save_checkpoint(cfg, ckpt)
    return cfg_path, ckpt


def planted_pair(seed=0, h=36, w=44):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 190, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[5 + seed:15 + seed, 10:25] = 1
    b = a.copy()
    b[mask == 1] += 60
    return a, b, mask


def test_pair_mode_writes_change_probs_and_overlay(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b, mask = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'in' / 'A.png'))
    mmcv.imwrite(b, str(tmp_path / 'in' / 'B.png'))
    out = tmp_path / 'out'
    code = INFER.main([
        cfg, ckpt, '--a',
        str(tmp_path / 'in' / 'A.png'), '--b',
        str(tmp_path / 'in' / 'B.png'), '--out',
        str(out), '--probs', '--overlay'
    ])
    assert code == 0
    change = mmcv.imread(str(out / 'A.png'), flag='unchanged')
    np.testing.assert_array_equal(change, mask * 255)
    prob = mmcv.imread(str(out / 'A_prob.png'), flag='unchanged')
    d = np.abs(a.astype(np.float64) - b).sum(axis=2)
    expected = np.rint(255 / (1 + np.exp(-0.1 * (d - 30))))
    assert np.abs(prob - expected).max() <= 1
    overlay = mmcv.imread(str(out / 'A_overlay.png'))[..., ::-1]  # RGB
    rgb_b = b[..., ::-1].astype(np.float64)
    y, x = 7, 12  # changed: half date B, half red
    np.testing.assert_allclose(
        overlay[y, x], np.rint(0.5 * rgb_b[y, x] + [127.5, 0, 0]), atol=1)
    np.testing.assert_array_equal(overlay[0, 0], b[0, 0, ::-1])
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record['changed_pixels'] == int(mask.sum())


def test_pair_mode_semantic_change_model(tmp_path):
    cfg, ckpt = model_files(tmp_path, 'scd')
    a, b, mask = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'a.png'))
    mmcv.imwrite(b, str(tmp_path / 'b.png'))
    assert INFER.main([
        cfg, ckpt, '--a',
        str(tmp_path / 'a.png'), '--b',
        str(tmp_path / 'b.png'), '--out',
        str(tmp_path / 'out')
    ]) == 0
    sem_a = mmcv.imread(
        str(tmp_path / 'out' / 'a_semantic_a.png'), flag='unchanged')
    expected = (1 + (a.astype(np.float64).mean(axis=2) > 127)) * mask
    np.testing.assert_array_equal(sem_a, expected)
    assert osp.isfile(tmp_path / 'out' / 'a_semantic_b.png')


def test_folder_mode_reports_unmatched_files(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    masks = {}
    for seed, name in enumerate(['0001', '0002', 'sub/0005']):
        a, b, masks[name] = planted_pair(seed)
        mmcv.imwrite(a, str(tmp_path / 'A' / f'{name}.png'))
        mmcv.imwrite(b, str(tmp_path / 'B' / f'{name}.png'))
    mmcv.imwrite(a, str(tmp_path / 'A' / '0003.png'))  # no date B
    mmcv.imwrite(b, str(tmp_path / 'B' / '0004.png'))  # no date A
    (tmp_path / 'B' / 'readme.txt').write_text('not an image')
    out = tmp_path / 'out'
    code = INFER.main([
        cfg, ckpt, '--a-dir',
        str(tmp_path / 'A'), '--b-dir',
        str(tmp_path / 'B'), '--out',
        str(out)
    ])
    assert code == INFER.EXIT_UNMATCHED == 3
    err = capsys.readouterr().err
    assert f'unmatched: {tmp_path / "A" / "0003.png"} has no date-B' in err
    assert f'unmatched: {tmp_path / "B" / "0004.png"} has no date-A' in err
    assert 'readme.txt' in err
    assert '2 image(s) without a partner' in err
    # every matched pair was processed, sub-folders kept
    for name, mask in masks.items():
        change = mmcv.imread(str(out / f'{name}.png'), flag='unchanged')
        np.testing.assert_array_equal(change, mask * 255)
    assert not osp.exists(out / '0003.png')
    assert sorted(os.listdir(out)) == ['0001.png', '0002.png', 'sub']


def test_folder_mode_without_any_pair_is_an_error(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b, _ = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'A' / 'x.png'))
    mmcv.imwrite(b, str(tmp_path / 'B' / 'y.png'))
    code = INFER.main([
        cfg, ckpt, '--a-dir',
        str(tmp_path / 'A'), '--b-dir',
        str(tmp_path / 'B'), '--out',
        str(tmp_path / 'out')
    ])
    assert code == 1
    assert 'has a partner of the same name' in capsys.readouterr().err


def write_geotiff(path, data, crs='EPSG:32633', x0=500000.0):
    with rasterio.open(
            path,
            'w',
            driver='GTiff',
            width=data.shape[2],
            height=data.shape[1],
            count=data.shape[0],
            dtype=data.dtype,
            crs=crs,
            transform=from_origin(x0, 5800000.0, 2.0, 2.0)) as dst:
        dst.write(data)
    return str(path)


def test_geo_mode_writes_geotiff_vector_and_quicklook(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    rng = np.random.default_rng(0)
    a = rng.integers(1, 190, (3, 70, 90), dtype=np.uint8)
    b = a.copy()
    b[:, 20:40, 30:60] += 60
    pa = write_geotiff(tmp_path / 'scene_a.tif', a)
    pb = write_geotiff(tmp_path / 'scene_b.tif', b)
    out = tmp_path / 'out'
    code = INFER.main([
        cfg, ckpt, '--a', pa, '--b', pb, '--out',
        str(out), '--tile', '32', '--overlap', '8', '--batch-size', '2',
        '--probs', '--vector', '--quicklook', '--no-progress'
    ])
    assert code == 0
    tif = out / 'scene_a_change.tif'
    with rasterio.open(tif) as ds, rasterio.open(pa) as src:
        assert ds.crs == src.crs and ds.transform == src.transform
        assert ds.count == 2
        change = ds.read(1)
    expected = np.zeros((70, 90), np.uint8)
    expected[20:40, 30:60] = 1
    np.testing.assert_array_equal(change, expected)
    with open(out / 'scene_a_change.geojson') as f:
        feats = json.load(f)['features']
    assert len(feats) == 1
    assert feats[0]['properties']['area'] == pytest.approx(20 * 30 * 4.0)
    assert osp.isfile(out / 'scene_a_change_quicklook.png')
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record['polygons'] == 1 and record['tiles'] == 12

    # --out naming a .tif file, and --vector with a path
    code = INFER.main([
        cfg, ckpt, '--a', pa, '--b', pb, '--out',
        str(tmp_path / 'named.tif'), '--vector',
        str(tmp_path / 'v' / 'named.geojson'), '--no-progress'
    ])
    assert code == 0
    assert osp.isfile(tmp_path / 'named.tif')
    assert osp.isfile(tmp_path / 'v' / 'named.geojson')


def test_geo_mode_mismatched_crs_is_a_clear_error(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a = np.full((3, 40, 40), 7, np.uint8)
    pa = write_geotiff(tmp_path / 'a.tif', a)
    pb = write_geotiff(tmp_path / 'b.tif', a, crs='EPSG:32634')
    code = INFER.main([
        cfg, ckpt, '--a', pa, '--b', pb, '--out',
        str(tmp_path / 'out'), '--no-progress'
    ])
    assert code == 1
    err = capsys.readouterr().err
    assert 'CRS' in err and '--resample-b' in err
    assert not osp.exists(tmp_path / 'out' / 'a_change.tif')


def test_argument_errors(tmp_path):
    with pytest.raises(SystemExit) as exc:
        INFER.main(['c.py', 'k.pth', '--a', 'x.png', '--out', 'o'])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        INFER.main([
            'c.py', 'k.pth', '--a', 'x.png', '--b', 'y.png', '--a-dir', 'A',
            '--b-dir', 'B', '--out', 'o'
        ])
    code = INFER.main([
        'c.py', 'k.pth', '--a',
        str(tmp_path / 'missing.png'), '--b',
        str(tmp_path / 'missing_b.png'), '--out',
        str(tmp_path)
    ])
    assert code == 1


@pytest.mark.slow
def test_script_runs_as_a_subprocess(tmp_path):
    cfg, ckpt = model_files(tmp_path)
    a, b, mask = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'a.png'))
    mmcv.imwrite(b, str(tmp_path / 'b.png'))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([ROOT, STUBS]),
        OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable, 'tools/infer.py', cfg, ckpt, '--a',
        str(tmp_path / 'a.png'), '--b',
        str(tmp_path / 'b.png'), '--out',
        str(tmp_path / 'out')
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    change = mmcv.imread(str(tmp_path / 'out' / 'a.png'), flag='unchanged')
    np.testing.assert_array_equal(change, mask * 255)
