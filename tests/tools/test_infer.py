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
import torch
from cd_stub_models import save_checkpoint, stub_config
from cd_testing import snapshot
from rasterio.transform import from_origin

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUBS = osp.join(ROOT, 'tests', 'apis')  # on pytest's pythonpath too


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


def test_argument_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        INFER.main(['c.py', 'k.pth', '--a', 'x.png', '--out', 'o'])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        INFER.main([
            'c.py', 'k.pth', '--a', 'x.png', '--b', 'y.png', '--a-dir', 'A',
            '--b-dir', 'B', '--out', 'o'
        ])
    cfg, ckpt = model_files(tmp_path)
    capsys.readouterr()
    missing = str(tmp_path / 'missing.png')
    code = INFER.main([
        cfg, ckpt, '--a', missing, '--b',
        str(tmp_path / 'missing_b.png'), '--out',
        str(tmp_path / 'out')
    ])
    assert code == INFER.EXIT_ARGS == 2
    assert_one_line(capsys.readouterr().err, missing)
    assert not osp.exists(tmp_path / 'out')


def assert_one_line(err, *culprits):
    """stderr holds one error line naming every culprit, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if 'error' in line]
    assert len(errors) == 1, err
    assert errors[0].startswith('tools/infer.py: error: ')
    assert 'Traceback' not in err
    for culprit in culprits:
        assert str(culprit) in errors[0], (culprit, errors[0])


def refused(args, root, capsys, code, *culprits):
    """Run the tool, expect ``code`` and no file below ``root`` changed
    (an output folder it created may stay, empty)."""

    def files():
        return {k: v for k, v in snapshot(root).items() if v[0] == 'file'}

    before = files()
    capsys.readouterr()
    assert INFER.main([str(a) for a in args]) == code
    assert_one_line(capsys.readouterr().err, *culprits)
    assert files() == before
    return before


def two_folders(tmp_path, names=('0001.png', '0002.png')):
    for seed, name in enumerate(names):
        a, b, _ = planted_pair(seed)
        mmcv.imwrite(a, str(tmp_path / 'A' / name))
        mmcv.imwrite(b, str(tmp_path / 'B' / name))
    return tmp_path / 'A', tmp_path / 'B'


def test_out_equal_to_the_a_folder_is_refused(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    dir_a, dir_b = two_folders(tmp_path)
    refused([cfg, ckpt, '--a-dir', dir_a, '--b-dir', dir_b, '--out', dir_a],
            tmp_path, capsys, 2, dir_a)
    # a sub-folder of an input folder too (read as inputs next time)
    refused([
        cfg, ckpt, '--a-dir', dir_a, '--b-dir', dir_b, '--out', dir_b / 'res'
    ], tmp_path, capsys, 2, dir_b)


def test_out_equal_to_the_b_folder_through_a_symlink(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    dir_a, dir_b = two_folders(tmp_path)
    link = tmp_path / 'link_to_b'
    os.symlink(dir_b, link)
    refused([cfg, ckpt, '--a-dir', dir_a, '--b-dir', dir_b, '--out', link],
            tmp_path, capsys, 2, dir_b)
    # one pair: --out a symlink to the folder holding the inputs, so that
    # <out>/a.png is date A itself
    a, b, _ = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'in' / 'a.png'))
    mmcv.imwrite(b, str(tmp_path / 'in' / 'b.png'))
    os.symlink(tmp_path / 'in', tmp_path / 'in_link')
    refused([
        cfg, ckpt, '--a', tmp_path / 'in' / 'a.png', '--b',
        tmp_path / 'in' / 'b.png', '--out', tmp_path / 'in_link'
    ], tmp_path, capsys, 2, 'would overwrite the input')


def geo_pair(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(1, 190, (3, 40, 50), dtype=np.uint8)
    b = a.copy()
    b[:, 10:20, 10:30] += 60
    return (write_geotiff(tmp_path / 'scene_a.tif',
                          a), write_geotiff(tmp_path / 'scene_b.tif', b))


def test_vector_equal_to_an_input_or_to_the_change_tif(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    pa, pb = geo_pair(tmp_path)
    common = [cfg, ckpt, '--a', pa, '--b', pb, '--no-progress']
    refused(common + ['--out', tmp_path / 'out', '--vector', pb], tmp_path,
            capsys, 2, pb, 'would overwrite the input')
    named = tmp_path / 'named.tif'
    refused(common + ['--out', named, '--vector', named], tmp_path, capsys, 2,
            named, 'vector', 'change GeoTIFF')
    # --out naming date A itself
    refused(common + ['--out', pa], tmp_path, capsys, 2, pa)


def test_existing_outputs_need_overwrite(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b, mask = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'in' / 'a.png'))
    mmcv.imwrite(b, str(tmp_path / 'in' / 'b.png'))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a_prob.png').write_bytes(b'the user\'s own file')
    args = [
        cfg, ckpt, '--a', tmp_path / 'in' / 'a.png', '--b',
        tmp_path / 'in' / 'b.png', '--out', out, '--probs'
    ]
    refused(args, tmp_path, capsys, 2, out / 'a_prob.png', '--overwrite')
    assert not osp.exists(out / 'a.png')  # nothing written at all
    before = snapshot(tmp_path / 'in')
    assert INFER.main([str(x) for x in args] + ['--overwrite']) == 0
    assert snapshot(tmp_path / 'in') == before  # inputs untouched
    assert mmcv.imread(str(out / 'a_prob.png')).shape[:2] == mask.shape
    np.testing.assert_array_equal(
        mmcv.imread(str(out / 'a.png'), flag='unchanged'), mask * 255)
    assert sorted(os.listdir(out)) == ['a.png', 'a_prob.png']  # no temp
    # --overwrite never allows writing over an input
    refused([
        cfg, ckpt, '--a', tmp_path / 'in' / 'a.png', '--b',
        tmp_path / 'in' / 'b.png', '--out', tmp_path / 'in', '--overwrite'
    ], tmp_path, capsys, 2, 'would overwrite the input')


def test_existing_geo_outputs_need_overwrite(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    pa, pb = geo_pair(tmp_path)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'scene_a_change.geojson').write_text('{"mine": true}')
    args = [
        cfg, ckpt, '--a', pa, '--b', pb, '--out', out, '--vector',
        '--quicklook', '--no-progress'
    ]
    refused(args, tmp_path, capsys, 2, out / 'scene_a_change.geojson')
    assert INFER.main([str(x) for x in args] + ['--overwrite']) == 0
    with open(out / 'scene_a_change.geojson') as f:
        assert len(json.load(f)['features']) == 1
    assert sorted(os.listdir(out)) == [
        'scene_a_change.geojson', 'scene_a_change.tif',
        'scene_a_change_quicklook.png'
    ]


def test_same_file_for_both_dates_and_a_file_as_out(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    dir_a, dir_b = two_folders(tmp_path)
    a = dir_a / '0001.png'
    refused([cfg, ckpt, '--a', a, '--b', a, '--out', tmp_path / 'o'], tmp_path,
            capsys, 2, a, 'same file')
    refused([
        cfg, ckpt, '--a-dir', dir_a, '--b-dir', tmp_path / 'A' / '.', '--out',
        tmp_path / 'o'
    ], tmp_path, capsys, 2, dir_a, 'same file or folder')
    refused([cfg, ckpt, '--a', a, '--b', dir_b / '0001.png', '--out', cfg],
            tmp_path, capsys, 2, cfg, 'is a file')


def test_two_inputs_mapping_to_one_output_name(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    dir_a, dir_b = two_folders(tmp_path, ('x.png', 'x.jpg'))
    refused([
        cfg, ckpt, '--a-dir', dir_a, '--b-dir', dir_b, '--out',
        tmp_path / 'out'
    ], tmp_path, capsys, 2, dir_a / 'x.png', dir_a / 'x.jpg',
            tmp_path / 'out' / 'x.png')


def test_a_fifo_as_input_is_refused_without_hanging(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b, _ = planted_pair()
    mmcv.imwrite(b, str(tmp_path / 'b.png'))
    fifo = tmp_path / 'a.png'
    os.mkfifo(fifo)
    refused([
        cfg, ckpt, '--a', fifo, '--b', tmp_path / 'b.png', '--out',
        tmp_path / 'out'
    ], tmp_path, capsys, 2, fifo, 'FIFO')


def test_semantic_outputs_are_checked_before_writing(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path, 'scd')
    dir_a, dir_b = two_folders(tmp_path)
    out = tmp_path / 'out'
    out.mkdir()
    (out / '0002_semantic_b.png').write_bytes(b'mine')
    # known only from the first prediction, still before any file is written
    refused([cfg, ckpt, '--a-dir', dir_a, '--b-dir', dir_b, '--out', out],
            tmp_path, capsys, 2, out / '0002_semantic_b.png', '--overwrite')
    assert os.listdir(out) == ['0002_semantic_b.png']


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    from mmcd_ext.apis import image_outputs
    from mmcd_ext.utils import atomic_files
    out = tmp_path / 'x.png'
    out.write_bytes(b'previous')

    def failing_open(*args, **kwargs):
        raise OSError('disk full')

    # the bytes are written by the shared atomic writer
    monkeypatch.setattr(atomic_files, 'open', failing_open, raising=False)
    with pytest.raises(OSError, match='disk full'):
        image_outputs.write_image_atomic(np.zeros((4, 4), np.uint8), str(out))
    assert out.read_bytes() == b'previous'
    assert os.listdir(tmp_path) == ['x.png']  # no temporary file left


class NotAllowed:
    """A pickled object torch's ``weights_only`` loader refuses."""


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'text', 'pickle'])
def test_unusable_checkpoint_is_one_line(tmp_path, capsys, damage):
    cfg, ckpt = model_files(tmp_path)
    a, b, _ = planted_pair()
    mmcv.imwrite(a, str(tmp_path / 'a.png'))
    mmcv.imwrite(b, str(tmp_path / 'b.png'))
    bad = tmp_path / f'{damage}.pth'
    raw = open(ckpt, 'rb').read()
    if damage == 'truncated':
        bad.write_bytes(raw[:len(raw) // 2])
    elif damage == 'empty':
        bad.write_bytes(b'')
    elif damage == 'text':
        bad.write_text('this is not a checkpoint\n')
    else:
        state = torch.load(ckpt, weights_only=False)
        state['meta'] = {'extra': NotAllowed()}
        torch.save(state, bad)
    what = dict(
        truncated='truncated',
        empty='empty',
        text='not a torch checkpoint',
        pickle='refused for safety')[damage]
    # cheap checks refuse the file before the model is built: exit 2; the
    # pickle is refused while loading: exit 1
    code = 1 if damage == 'pickle' else 2
    refused([
        cfg, bad, '--a', tmp_path / 'a.png', '--b', tmp_path / 'b.png',
        '--out', tmp_path / 'out'
    ], tmp_path, capsys, code, bad, what)
    if damage == 'pickle':  # --debug shows the traceback instead
        with pytest.raises(ValueError, match='refused for safety'):
            INFER.main([
                cfg,
                str(bad), '--a',
                str(tmp_path / 'a.png'), '--b',
                str(tmp_path / 'b.png'), '--out',
                str(tmp_path / 'out'), '--debug'
            ])


def test_bad_config_and_bad_image_are_one_line(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a, b, _ = planted_pair()
    mmcv.imwrite(b, str(tmp_path / 'b.png'))
    (tmp_path / 'a.png').write_bytes(b'not a png')
    broken = tmp_path / 'broken_cfg.py'
    broken.write_text('model = dict(\n')
    args = ['--b', tmp_path / 'b.png', '--out', tmp_path / 'out']
    refused([broken, ckpt, '--a', tmp_path / 'a.png'] + args, tmp_path, capsys,
            2, broken)
    wrong = tmp_path / 'wrong_cfg.py'
    wrong.write_text(
        open(cfg).read().replace('CDStubDifferenceHead', 'NoSuchHead'))
    refused([wrong, ckpt, '--a', tmp_path / 'a.png'] + args, tmp_path, capsys,
            1, wrong, 'NoSuchHead')
    refused([cfg, ckpt, '--a', tmp_path / 'a.png'] + args, tmp_path, capsys, 1,
            tmp_path / 'a.png')


@pytest.mark.parametrize('option,value,message', [
    ('--tile', '0', '--tile must be > 0'),
    ('--overlap', '512', '--overlap must be >= 0 and < --tile'),
    ('--overlap', '-1', '--overlap must be >= 0'),
    ('--batch-size', '0', '--batch-size must be >= 1'),
    ('--bands', '0', '--bands are 1-based'),
    ('--gdal-cache-mb', '0', '--gdal-cache-mb must be > 0'),
])
def test_numbers_out_of_range(tmp_path, capsys, option, value, message):
    cfg, ckpt = model_files(tmp_path)
    pa, pb = geo_pair(tmp_path)
    refused([
        cfg, ckpt, '--a', pa, '--b', pb, '--out', tmp_path / 'out', option,
        value
    ], tmp_path, capsys, 2, message)


def test_no_overlap_with_resample_b(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    a = np.full((3, 40, 50), 9, np.uint8)
    pa = write_geotiff(tmp_path / 'a.tif', a)
    pb = write_geotiff(tmp_path / 'b.tif', a, x0=900000.0)  # 400 km east
    refused([
        cfg, ckpt, '--a', pa, '--b', pb, '--out', tmp_path / 'out',
        '--resample-b', '--vector', '--quicklook', '--no-progress'
    ], tmp_path, capsys, INFER.EXIT_NO_DATA, pa, pb, 'does not overlap')
    assert not osp.exists(tmp_path / 'out' / 'a_change.tif')


def test_all_nan_scene_writes_nothing_and_exits_4(tmp_path, capsys):
    cfg, ckpt = model_files(tmp_path)
    nan = np.full((3, 40, 50), np.nan, np.float32)
    pa = write_geotiff(tmp_path / 'a.tif', nan)
    pb = write_geotiff(tmp_path / 'b.tif', np.ones_like(nan))
    refused([
        cfg, ckpt, '--a', pa, '--b', pb, '--out', tmp_path / 'out', '--tile',
        '32', '--overlap', '8', '--vector', '--no-progress'
    ], tmp_path, capsys, 4, pa, 'no pixel is valid')
    assert os.listdir(tmp_path / 'out') == []  # no partial file left
    # folder mode: the other scenes are written, the exit code says 4
    for root in ('A', 'B'):
        (tmp_path / root).mkdir()
    ok_a, ok_b = geo_pair(tmp_path / 'A')
    os.replace(ok_b, tmp_path / 'B' / 'scene_a.tif')
    os.replace(pa, tmp_path / 'A' / 'empty.tif')
    os.replace(pb, tmp_path / 'B' / 'empty.tif')
    capsys.readouterr()
    code = INFER.main([
        cfg, ckpt, '--a-dir',
        str(tmp_path / 'A'), '--b-dir',
        str(tmp_path / 'B'), '--out',
        str(tmp_path / 'out'), '--no-progress'
    ])
    assert code == 4
    assert 'empty.tif' in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / 'out')) == ['scene_a_change.tif']


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

    # errors in a real process: exit code, one line, no traceback
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(ckpt, 'rb').read()[:300])
    state = torch.load(ckpt, weights_only=False)
    state['meta'] = {'extra': NotAllowed()}
    torch.save(state, tmp_path / 'pickle.pth')
    for bad, code in ((truncated, 2), (tmp_path / 'pickle.pth', 1)):
        proc = subprocess.run([
            sys.executable, 'tools/infer.py', cfg,
            str(bad), '--a',
            str(tmp_path / 'a.png'), '--b',
            str(tmp_path / 'b.png'), '--out',
            str(tmp_path / 'out2')
        ],
                              cwd=ROOT,
                              env=env,
                              capture_output=True,
                              text=True,
                              timeout=300)
        assert proc.returncode == code, proc.stderr[-3000:]
        assert_one_line(proc.stderr, bad)
        assert not osp.exists(tmp_path / 'out2')
