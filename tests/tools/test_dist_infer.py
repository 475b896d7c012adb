"""tools/dist_infer.sh: 2 CPU processes (torchrun, gloo) on a folder of pairs.

Checks files and completion records only, never the interleaved output of
the ranks. The single-process reference runs in-process.
"""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import mmcv
import numpy as np
import pytest
from cd_stub_models import save_checkpoint, stub_config

from mmcd_ext.apis import distributed_infer as di

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUBS = osp.join(ROOT, 'tests', 'apis')


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'infer_tool_dist', osp.join(ROOT, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_geotiff(path, data, x0):
    import rasterio
    from rasterio.transform import from_origin
    with rasterio.open(
            path,
            'w',
            driver='GTiff',
            width=data.shape[2],
            height=data.shape[1],
            count=data.shape[0],
            dtype=data.dtype,
            crs='EPSG:32633',
            transform=from_origin(x0, 5800000.0, 2.0, 2.0)) as dst:
        dst.write(data)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """Model files, 5 PNG pairs (one in a sub-folder), 2 GeoTIFF pairs and
    the outputs of single-process inference on them."""
    root = tmp_path_factory.mktemp('dist_infer')
    cfg = stub_config('diff')
    cfg_path = str(root / 'cfg.py')
    cfg.dump(cfg_path)
    ckpt = str(root / 'model.pth')
    save_checkpoint(cfg, ckpt)
    for i, name in enumerate(['p0', 'p1', 'p2', 'p3', 'sub/p4']):
        rng = np.random.default_rng(i)
        a = rng.integers(0, 190, (36, 44, 3), dtype=np.uint8)
        b = a.copy()
        b[3 + i:14 + i, 8:20 + i] += 60
        mmcv.imwrite(a, str(root / 'A' / f'{name}.png'))
        mmcv.imwrite(b, str(root / 'B' / f'{name}.png'))
    for i in range(2):
        rng = np.random.default_rng(10 + i)
        a = rng.integers(1, 190, (3, 40, 56), dtype=np.uint8)
        b = a.copy()
        b[:, 5:20 + i, 10:30] += 60
        b[:, 30:35, 40:50 + i] += 60
        write_geotiff(root / 'A' / f'scene{i}.tif', a, 500000.0 + 200 * i)
        write_geotiff(root / 'B' / f'scene{i}.tif', b, 500000.0 + 200 * i)
    files = dict(
        cfg=cfg_path,
        ckpt=ckpt,
        a_dir=str(root / 'A'),
        b_dir=str(root / 'B'),
        root=root)
    ref = str(root / 'single')
    code = load_tool().main(
        [cfg_path, ckpt, *tool_args(files, ref), '--no-progress'])
    assert code == 0
    files['ref'] = ref
    return files


def tool_args(files, out, *extra):
    """tools/infer.py options on the fixture's folders (after CFG CKPT)."""
    return [
        '--a-dir', files['a_dir'], '--b-dir', files['b_dir'], '--out', out,
        '--probs', '--vector', '--tile', '32', '--overlap', '8', *extra
    ]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def launch_dist_infer(files, args, env=None):
    """``tools/dist_infer.sh CFG CKPT 2 ARGS``: 2 CPU processes."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([ROOT, STUBS]),
        PYTHON=sys.executable,
        PORT=free_port(),
        OMP_NUM_THREADS='1',
        **(env or {}))
    return subprocess.run([
        'bash',
        osp.join(ROOT, 'tools', 'dist_infer.sh'), files['cfg'], files['ckpt'],
        '2', *args
    ],
                          cwd=ROOT,
                          env=env,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE,
                          text=True,
                          timeout=300)


def run_dist(files, out, *extra, env=None):
    return launch_dist_infer(
        files, tool_args(files, out, *extra, '--no-progress'), env=env)


def tree(folder):
    """Relative path -> bytes of every file, records left out."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != di.RECORD_DIR]
        for name in filenames:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                found[osp.relpath(path, folder)] = f.read()
    return found


SCENES = [
    'p0.png', 'p1.png', 'p2.png', 'p3.png', 'sub/p4.png', 'scene0.tif',
    'scene1.tif'
]


@pytest.mark.slow
def test_two_processes_write_the_same_files_as_one(inputs, tmp_path):
    ref = tree(inputs['ref'])
    # 5 x (change, prob) + 2 x (GeoTIFF, GeoJSON) + merged polygons
    assert len(ref) == 15 and di.MERGED_VECTOR in ref
    assert b'"scene": "scene1.tif"' in ref[di.MERGED_VECTOR]
    out = str(tmp_path / 'dist')
    proc = run_dist(inputs, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = tree(out)
    assert sorted(got) == sorted(ref)
    for name in ref:
        assert got[name] == ref[name], name
    for name in SCENES:  # every scene recorded complete
        assert di.read_record(out, name)['name'] == name


@pytest.mark.slow
def test_interrupted_run_resumes_without_redoing_finished_scenes(
        inputs, tmp_path):
    out = str(tmp_path / 'dist')
    # rank 1 dies hard while recording its second scene (its outputs are
    # written, its record is not); torchrun then stops rank 0
    proc = run_dist(
        inputs,
        out,
        '--resume',
        env={
            di.STOP_AFTER_ENV: '1',
            di.STOP_RANK_ENV: '1'
        })
    assert proc.returncode != 0
    ref = tree(inputs['ref'])
    done = {n: di.read_record(out, n) for n in SCENES}
    done = {n: r for n, r in done.items() if r is not None}
    assert 1 <= len(done) < len(SCENES)
    assert not osp.exists(osp.join(out, di.MERGED_VECTOR))
    stamps = {}
    for name, record in done.items():  # recorded => complete and right
        assert record['outputs']
        for path in record['outputs']:
            assert tree_file(path) == ref[osp.relpath(path, out)]
            stamps[path] = os.stat(path).st_mtime_ns
        stamps[di.record_path(out, name)] = os.stat(di.record_path(
            out, name)).st_mtime_ns

    proc = run_dist(inputs, out, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = tree(out)
    assert sorted(got) == sorted(ref)  # no temporary file left
    for name in ref:
        assert got[name] == ref[name], name
    for path, stamp in stamps.items():  # finished scenes were not redone
        assert os.stat(path).st_mtime_ns == stamp, path
    for name in SCENES:
        assert di.read_record(out, name) is not None


def tree_file(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.slow
def test_semantic_model_transition_total_merged_by_rank0(tmp_path):
    """SCD stub: per-scene class maps and transition CSVs, and rank 0's
    transitions.csv summed from the records, equal one process's files."""
    cfg = stub_config('scd')
    files = dict(
        cfg=str(tmp_path / 'scd.py'),
        ckpt=str(tmp_path / 'scd.pth'),
        a_dir=str(tmp_path / 'A'),
        b_dir=str(tmp_path / 'B'))
    cfg.dump(files['cfg'])
    save_checkpoint(cfg, files['ckpt'])
    for i in range(3):
        rng = np.random.default_rng(20 + i)
        a = rng.integers(0, 250, (32, 40, 3), dtype=np.uint8)
        b = a.copy()
        b[2 + i:12 + i, 5:25] = 255 - b[2 + i:12 + i, 5:25]
        mmcv.imwrite(a, str(tmp_path / 'A' / f'q{i}.png'))
        mmcv.imwrite(b, str(tmp_path / 'B' / f'q{i}.png'))
    args = [
        files['cfg'], files['ckpt'], '--a-dir', files['a_dir'], '--b-dir',
        files['b_dir'], '--no-progress'
    ]
    ref = str(tmp_path / 'single')
    assert load_tool().main(args + ['--out', ref]) == 0
    expected = tree(ref)
    assert 'transitions.csv' in expected and 'q2_semantic_a.png' in expected
    out = str(tmp_path / 'dist')
    proc = launch_dist_infer(files, [*args[2:], '--out', out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = tree(out)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name


@pytest.mark.parametrize('height,tile,overlap', [(300, 64, 16), (170, 64, 8),
                                                 (64, 64, 8), (40, 64, 8),
                                                 (257, 32, 16)])
@pytest.mark.parametrize('parts', [1, 2, 3, 7])
def test_strip_partition_owns_every_row_once_on_tile_rows(
        height, tile, overlap, parts):
    from mmcd_ext.apis.geo_strips import strip_partition
    from mmcd_ext.apis.tiling import TileGrid
    grid = TileGrid(height, 50, tile, overlap)
    starts = grid.row_starts
    strips = strip_partition(grid, parts)
    assert len(strips) == parts
    owner = np.zeros(height, int)
    for s in strips:
        owner[s.y0:s.y1] += 1
        if s.empty:
            continue
        # aligned: owned rows start on a row of tiles and end on the next
        # row of tiles (or the scene bottom)
        assert s.y0 == starts[s.row0]
        assert s.y1 == (starts[s.row1] if s.row1 < len(starts) else height)
        # the first predicted row of tiles is the first reaching y0
        assert starts[s.first_row] <= s.y0 < starts[s.first_row] + grid.tile_h
        assert s.first_row == 0 or \
            starts[s.first_row - 1] + grid.tile_h <= s.y0
    assert (owner == 1).all()
    # contiguous, top to bottom, sizes differ by at most one row of tiles
    counts = [s.row1 - s.row0 for s in strips]
    assert sum(counts) == len(starts) and max(counts) - min(counts) <= 1
    assert [s.y0 for s in strips] == sorted(s.y0 for s in strips)


def test_blender_started_at_a_strip_equals_the_whole_scene():
    """The rows a strip owns blend to the same bits as in one pass."""
    from mmcd_ext.apis.geo_strips import strip_partition
    from mmcd_ext.apis.tiling import StripBlender, TileGrid
    grid = TileGrid(170, 300, 64, 20)
    rng = np.random.default_rng(3)
    tiles = {
        (i, j): (rng.random((1, 64, 64), np.float32),
                 rng.integers(0, 7, (2, 64, 64)).astype(np.uint8))
        for i in range(len(grid.row_starts))
        for j in range(len(grid.col_starts))
    }

    def blend(first, last):
        blender = StripBlender(grid, 1, 2, start_row=first)
        rows = {}
        for i in range(first, last):
            for j in range(len(grid.col_starts)):
                blender.add(j, *tiles[i, j])
            y0, maps, labels, weight = blender.finish_row()
            rows[i] = (maps, labels, weight)
        return rows

    whole = blend(0, len(grid.row_starts))
    for strip in strip_partition(grid, 3):
        part = blend(strip.first_row, strip.row1)
        for i in range(strip.row0, strip.row1):
            for a, b in zip(part[i], whole[i]):
                assert a.tobytes() == b.tobytes()
    # starting later than first_row would lose tiles: the test can fail
    strip = strip_partition(grid, 3)[1]
    late = blend(strip.first_row + 1, strip.row1)
    assert late[strip.row0][0].tobytes() != whole[strip.row0][0].tobytes()


def _one_big_scene(root, kind):
    """Model files and one 300 x 170 (H x W) GeoTIFF pair."""
    cfg = stub_config(kind)
    files = dict(
        cfg=str(root / f'{kind}.py'),
        ckpt=str(root / f'{kind}.pth'),
        a_dir=str(root / 'A'),
        b_dir=str(root / 'B'))
    cfg.dump(files['cfg'])
    save_checkpoint(cfg, files['ckpt'])
    rng = np.random.default_rng(7)
    a = rng.integers(1, 190, (3, 300, 170), dtype=np.uint8)
    b = a.copy()
    b[:, 20:140, 30:90] += 60
    b[:, 150:290, 100:160] = 255 - b[:, 150:290, 100:160]
    a[:, 200:230, 5:40] = 0  # no-data in date A
    for date, data in (('A', a), ('B', b)):
        import rasterio
        from rasterio.transform import from_origin
        os.makedirs(root / date, exist_ok=True)
        with rasterio.open(
                root / date / 'big.tif',
                'w',
                driver='GTiff',
                width=170,
                height=300,
                count=3,
                dtype='uint8',
                nodata=0,
                crs='EPSG:32633',
                transform=from_origin(500000.0, 5800000.0, 2.0, 2.0)) as dst:
            dst.write(data)
    return files


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['fcn', 'scd_head'])
def test_one_large_scene_in_strips_equals_one_process(tmp_path, kind):
    """One pair, two processes: each predicts a strip of the tile grid,
    rank 0 assembles; every file has the bytes one process writes."""
    files = _one_big_scene(tmp_path, kind)
    args = [
        files['cfg'], files['ckpt'], '--a-dir', files['a_dir'], '--b-dir',
        files['b_dir'], '--probs', '--vector', '--quicklook', '--tile', '64',
        '--overlap', '16', '--no-progress'
    ]
    ref = str(tmp_path / 'single')
    assert load_tool().main(args + ['--out', ref]) == 0
    expected = tree(ref)
    assert 'big_change.tif' in expected and di.MERGED_VECTOR in expected
    if kind == 'scd_head':
        assert 'transitions.csv' in expected
        assert any('class' in n or 'semantic' in n for n in expected
                   if n.endswith('.tif') and n != 'big_change.tif')
    out = str(tmp_path / 'dist')
    proc = launch_dist_infer(files, [*args[2:], '--out', out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = tree(out)  # no strip temporaries left
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    record = di.read_record(out, 'big.tif')
    assert record['report']['tiles'] == 6 * 4  # rows start 0 48 ... 236
    # rank 0 predicts rows of tiles 0-2, rank 1 rows 2-5 (row 2 also
    # covers rank 1's first rows)
    assert record['report']['tiles_predicted'] == 7 * 4


class ThreadDist:
    """A DistContext stand-in for ranks run as threads of one process."""

    def __init__(self, rank, world_size, shared):
        self.rank, self.world_size, self.shared = rank, world_size, shared
        self.distributed = True

    @property
    def is_main(self):
        return self.rank == 0

    def gather(self, obj):
        self.shared['box'][self.rank] = obj
        self.shared['barrier'].wait()
        out = list(self.shared['box'])
        self.shared['barrier'].wait()
        return out

    def broadcast(self, obj):
        return self.gather(obj)[0]


def _small_pair(tmp_path):
    import rasterio
    from rasterio.transform import from_origin
    rng = np.random.default_rng(5)
    a = rng.integers(1, 190, (3, 92, 75), dtype=np.uint8)
    b = a.copy()
    b[:, 10:50, 20:60] += 60
    paths = []
    for name, data in (('a.tif', a), ('b.tif', b)):
        with rasterio.open(
                tmp_path / name,
                'w',
                driver='GTiff',
                width=75,
                height=92,
                count=3,
                dtype='uint8',
                crs='EPSG:32633',
                transform=from_origin(500000.0, 5800000.0, 2.0, 2.0)) as dst:
            dst.write(data)
        paths.append(str(tmp_path / name))
    return paths


def _run_threads(world, detector, paths, out, opts):
    """infer_geotiff on ``world`` ranks run as threads."""
    import threading

    from mmcd_ext.apis import infer_geotiff
    shared = dict(box=[None] * world, barrier=threading.Barrier(world))
    summaries, errors = [None] * world, [None] * world

    def rank(r):
        try:
            summaries[r] = infer_geotiff(
                detector,
                *paths,
                out,
                dist=ThreadDist(r, world, shared),
                **opts)
        except Exception as err:  # returned
            errors[r] = err

    threads = [
        threading.Thread(target=rank, args=(r, ), name=f'rank{r}')
        for r in range(world)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return summaries, errors


def test_more_ranks_than_rows_of_tiles_gives_the_one_process_file(tmp_path):
    """5 ranks (threads) on 4 rows of tiles: one rank owns nothing; the
    change GeoTIFF equals one process's byte for byte, no strip is left."""
    import rasterio

    from mmcd_ext.apis import ChangeDetector, infer_geotiff
    detector = ChangeDetector(stub_config('fcn'))
    paths = _small_pair(tmp_path)
    opts = dict(tile=32, overlap=8, batch_size=2, probs=True, progress=False)
    ref = str(tmp_path / 'ref' / 'change.tif')
    infer_geotiff(detector, *paths, ref, **opts)
    out = str(tmp_path / 'dist' / 'change.tif')
    summaries, errors = _run_threads(5, detector, paths, out, opts)
    assert errors == [None] * 5
    assert tree_file(out) == tree_file(ref)
    assert sorted(os.listdir(tmp_path / 'dist')) == ['change.tif']
    with rasterio.open(ref) as src:
        data = src.read()
    valid = int((data[0] != 255).sum())
    assert {s.valid_pixels for s in summaries} == {valid}
    assert {s.changed_pixels for s in summaries} == {int((data[0] == 1).sum())}


def test_a_failing_strip_fails_every_rank_and_leaves_nothing(tmp_path):
    import threading

    from mmcd_ext.apis import ChangeDetector
    detector = ChangeDetector(stub_config('fcn'))
    predict = detector.predict

    def flaky(*args, **kwargs):
        if threading.current_thread().name == 'rank1':
            raise ValueError('out of memory on rank 1')
        return predict(*args, **kwargs)

    detector.predict = flaky
    paths = _small_pair(tmp_path)
    out = str(tmp_path / 'dist' / 'change.tif')
    opts = dict(tile=32, overlap=8, batch_size=2, progress=False)
    summaries, errors = _run_threads(3, detector, paths, out, opts)
    assert all('rank 1' in str(e) and 'out of memory' in str(e)
               for e in errors), errors
    assert os.listdir(tmp_path / 'dist') == []
