"""Sharding, completion records, resume and merging of distributed inference.

The multi-process run itself is tested in tests/tools/test_dist_infer.py.
"""
import json
import os
import os.path as osp
from types import SimpleNamespace

import pytest

from mmcd_ext.apis import distributed_infer as di
from mmcd_ext.utils.launch import init_process_group


def test_shard_balances_weights_deterministically():
    # LPT by hand: 5 -> r0; 4 -> r1; 3 (idx 2) -> r1 (4 < 5) = 7;
    # 3 (idx 3) -> r0 = 8; 3 (idx 4) -> r1 (7 < 8) = 10
    assert di.shard([5, 4, 3, 3, 3], 2) == [[0, 3], [1, 2, 4]]
    # equal weights: round robin in index order
    assert di.shard([1] * 5, 3) == [[0, 3], [1, 4], [2]]
    # more ranks than items: empty shards, every item once
    assert di.shard([2, 1], 4) == [[0], [1], [], []]
    assert di.shard([], 2) == [[], []]
    for weights in ([7, 1, 1, 1, 1, 1, 1, 1], [3, 9, 2, 8, 5, 5, 1]):
        shards = di.shard(weights, 3)
        assert sorted(i for s in shards
                      for i in s) == list(range(len(weights)))
        totals = [sum(weights[i] for i in s) for s in shards]
        # LPT's bound: no shard exceeds the mean by more than the largest
        assert max(totals) <= sum(weights) / 3 + max(weights)


def test_shard_refuses_bad_arguments():
    with pytest.raises(ValueError, match='world_size'):
        di.shard([1], 0)
    with pytest.raises(ValueError, match='>= 0'):
        di.shard([1, -1], 2)


def write(path, data=b'x'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def test_record_round_trip_and_completeness(tmp_path):
    out = str(tmp_path)
    a = write(osp.join(out, 'sub', 'a.png'), b'12345')
    b = write(osp.join(out, 'sub', 'a_prob.png'), b'123')
    path = di.write_record(out, 'sub/a.png', 'k1', [a, b], dict(tiles=3))
    assert path == osp.join(out, '.mmcd_done', 'sub', 'a.png.json')
    record = di.read_record(out, 'sub/a.png')
    assert record['outputs'] == {a: 5, b: 3}
    assert record['report'] == dict(tiles=3)
    assert di.record_is_complete(record, 'k1')
    assert not di.record_is_complete(record, 'k2')  # other settings
    assert not di.record_is_complete(None, 'k1')
    write(b, b'12')  # an output changed size
    assert not di.record_is_complete(record, 'k1')
    write(b, b'123')
    os.remove(a)  # an output is gone
    assert not di.record_is_complete(record, 'k1')
    # damaged or foreign records are ignored
    write(path, b'{"version": 1, "fingerpr')
    assert di.read_record(out, 'sub/a.png') is None
    write(path, b'[1, 2]')
    assert di.read_record(out, 'sub/a.png') is None
    di.remove_record(out, 'sub/a.png')
    di.remove_record(out, 'sub/a.png')  # absent: no error
    assert not osp.exists(path)


def test_fingerprint_depends_on_every_setting():
    base = dict(tile=512, probs=False)
    assert di.fingerprint(base) == di.fingerprint(dict(probs=False, tile=512))
    assert di.fingerprint(base) != di.fingerprint(dict(base, tile=256))


def test_remove_stale_temporaries_only_of_the_outputs(tmp_path):
    out = tmp_path / 'out'
    mine = write(str(out / '.a.png.x1y2.tmp'))
    other = write(str(out / '.b.png.zz.tmp'))
    keep = write(str(out / 'a.png'))
    removed = di.remove_stale_temporaries([str(out / 'a.png')])
    assert removed == [mine]
    assert osp.exists(other) and osp.exists(keep)


def scenes_in(tmp_path, n=4):
    scenes = []
    for i in range(n):
        a = write(str(tmp_path / 'A' / f'{i}.png'), bytes([i]) * (i + 1))
        b = write(str(tmp_path / 'B' / f'{i}.png'), b'b')
        scenes.append(SimpleNamespace(name=f'{i}.png', path_a=a, path_b=b))
    return scenes


def process(run, scenes, out, fail_on=None):
    """What tools/infer.py does per scene, writing one file each."""
    done = []
    for scene in scenes:
        run.start(scene.name)
        path = write(osp.join(out, scene.name), scene.name.encode())
        if scene.name == fail_on:
            raise RuntimeError('killed')
        run.done(scene, [path], dict(tiles=2))
        done.append(scene.name)
    return done


def test_resume_skips_complete_scenes_and_redoes_the_rest(tmp_path):
    out = str(tmp_path / 'out')
    scenes = scenes_in(tmp_path)
    run = di.SceneRun(out, di.DistContext(), 'key', resume=True)
    with pytest.raises(RuntimeError):
        process(run, run.select(scenes), out, fail_on='2.png')
    # 2.png's output exists but it has no record: not complete
    assert osp.exists(osp.join(out, '2.png'))
    assert di.read_record(out, '2.png') is None
    stamp = os.stat(di.record_path(out, '0.png')).st_mtime_ns

    run = di.SceneRun(out, di.DistContext(), 'key', resume=True)
    todo = run.select(scenes)
    assert [s.name for s in todo] == ['2.png', '3.png']
    assert run.skipped == ['0.png', '1.png']
    assert run.skipped_reports() == [dict(tiles=2)] * 2
    other_rank = di.SceneRun(out, di.DistContext(1, 2), 'key', resume=True)
    other_rank.skipped = run.skipped
    assert other_rank.skipped_reports() == []  # counted once, on rank 0
    assert process(run, todo, out) == ['2.png', '3.png']
    merged = []
    assert run.finish(dict(empty=1), merged.extend) == dict(empty=1)
    assert [r['name'] for r in merged] == ['0.png', '1.png', '2.png', '3.png']
    assert os.stat(di.record_path(out, '0.png')).st_mtime_ns == stamp

    # other settings: every scene is redone; stale records go first
    run = di.SceneRun(out, di.DistContext(), 'other', resume=True)
    assert len(run.select(scenes)) == 4
    assert not os.listdir(osp.join(out, '.mmcd_done'))
    # a changed input file: that scene only is redone
    process(run, scenes, out)
    write(scenes[1].path_b, b'new date B')
    run = di.SceneRun(out, di.DistContext(), 'other', resume=True)
    assert [s.name for s in run.select(scenes)] == ['1.png']


def test_stop_hook_exits_before_the_record(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(di.os, '_exit', lambda code: calls.append(code))
    monkeypatch.setenv(di.STOP_AFTER_ENV, '1')
    monkeypatch.setenv(di.STOP_RANK_ENV, '1')
    di._stop_hook(rank=0, recorded=5)  # another rank
    assert calls == []
    di._stop_hook(rank=1, recorded=0)
    assert calls == []
    di._stop_hook(rank=1, recorded=1)
    assert calls == [di.STOP_EXIT_CODE]


def test_progress_counts_records_of_every_rank(tmp_path):
    out = str(tmp_path)
    bar = di.RunProgress(out, ['a.png', 'b.tif'])
    bar.update()
    assert (bar.done, bar.tiles) == (0, 0)
    di.write_record(out, 'b.tif', 'k', [], dict(tiles=12))
    bar.update()
    assert (bar.done, bar.tiles, bar.pending) == (1, 12, ['a.png'])
    di.write_record(out, 'a.png', 'k', [], dict(changed_pixels=3))
    bar.update()
    assert (bar.done, bar.tiles) == (2, 13)  # an image pair is one tile
    # a run without records counts its own scenes
    bar = di.RunProgress(out, ['c.png', 'd.tif'])
    bar.mark('d.tif', dict(tiles=4))
    bar.mark('d.tif', dict(tiles=4))  # once only
    bar.update()
    assert (bar.done, bar.tiles, bar.pending) == (1, 4, ['c.png'])


def feature_collection(path, crs_epsg, coords, area=4.0):
    collection = dict(
        type='FeatureCollection',
        features=[
            dict(
                type='Feature',
                properties=dict(area=area),
                geometry=dict(type='Polygon', coordinates=[coords]))
        ])
    if crs_epsg:
        collection['crs'] = dict(
            type='name',
            properties=dict(name=f'urn:ogc:def:crs:EPSG::{crs_epsg}'))
    with open(path, 'w') as f:
        json.dump(collection, f)
    return str(path)


SQUARE = [[500000.0, 5800000.0], [500002.0, 5800000.0], [500002.0, 5799998.0],
          [500000.0, 5800000.0]]


def test_merge_vectors_same_crs(tmp_path):
    one = feature_collection(tmp_path / '1.geojson', 32633, SQUARE)
    two = feature_collection(tmp_path / '2.geojson', 32633, SQUARE, 8.0)
    out = str(tmp_path / 'merged.geojson')
    assert di.merge_vectors([('s1.tif', one), ('s2.tif', two)], out) == 2
    with open(out) as f:
        merged = json.load(f)
    assert merged['crs']['properties']['name'].endswith('32633')
    assert [f['properties'] for f in merged['features']] == [
        dict(area=4.0, scene='s1.tif'),
        dict(area=8.0, scene='s2.tif')
    ]
    assert merged['features'][0]['geometry']['coordinates'] == [SQUARE]


def test_merge_vectors_reprojects_mixed_crs(tmp_path):
    from rasterio.warp import transform
    one = feature_collection(tmp_path / '1.geojson', 32633, SQUARE)
    two = feature_collection(tmp_path / '2.geojson', 32634, SQUARE)
    out = str(tmp_path / 'merged.geojson')
    di.merge_vectors([('s1', one), ('s2', two)], out)
    with open(out) as f:
        merged = json.load(f)
    assert 'crs' not in merged
    for feature, epsg in zip(merged['features'], (32633, 32634)):
        lon, lat = transform(f'EPSG:{epsg}', 'EPSG:4326', [SQUARE[0][0]],
                             [SQUARE[0][1]])
        got = feature['geometry']['coordinates'][0][0]
        assert got == pytest.approx([lon[0], lat[0]], abs=1e-9)
    # a file without a CRS cannot join a mixed merge
    three = feature_collection(tmp_path / '3.geojson', None, SQUARE)
    with pytest.raises(ValueError, match='3.geojson names no CRS'):
        di.merge_vectors([('s1', one), ('s3', three)], out)
    bad = tmp_path / 'bad.geojson'
    bad.write_text('[]')
    with pytest.raises(ValueError, match='bad.geojson is not a GeoJSON'):
        di.merge_vectors([('s1', str(bad))], out)


def test_init_process_group_names_the_missing_variable(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT',
                'SLURM_PROCID', 'SLURM_NTASKS'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match=r'pytorch needs \$RANK'):
        init_process_group('pytorch')
    with pytest.raises(ValueError, match=r'slurm needs \$SLURM_PROCID'):
        init_process_group('slurm')
    with pytest.raises(ValueError, match='launcher "ssh"'):
        init_process_group('ssh')


def test_local_device():
    assert di.local_device('cpu', 'pytorch') == 'cpu'
    assert di.local_device('cuda:1', 'pytorch') == 'cuda:1'
    assert di.local_device('cuda', 'none') == 'cuda'
