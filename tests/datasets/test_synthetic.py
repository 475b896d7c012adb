"""Tests of the seeded synthetic scene generators (LEVIR-CD and SECOND
layouts) and of tools/misc/make_synthetic_data.py."""
import dataclasses
import filecmp
import hashlib
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmcd_ext.datasets.synthetic import (LevirSceneParams, PseudoChangeParams,
                                         SecondSceneParams)
from mmcd_ext.datasets.synthetic import common as synthetic_common
from mmcd_ext.datasets.synthetic import (generate_levir_like,
                                         generate_second_like,
                                         make_levir_like_sample,
                                         make_second_like_sample, sample_seed)
from mmcd_ext.datasets.synthetic.second_like import CHANGE_EVENTS
from mmcd_ext.utils.atomic import atomic_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 64
# SECOND's label colours, copied from the data set's description
# (METHODS.md section 3), not from the package.
SECOND_COLOURS = {
    (255, 255, 255): 0,
    (0, 0, 255): 1,
    (128, 128, 128): 2,
    (0, 128, 0): 3,
    (0, 255, 0): 4,
    (128, 0, 0): 5,
    (255, 0, 0): 6
}
CLEAN = PseudoChangeParams.disabled()


def read_rgb(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else img


def all_files(root):
    out = []
    for d, _, files in os.walk(root):
        out += [osp.relpath(osp.join(d, f), root) for f in files]
    return sorted(out)


def disc_dilate(mask, r):
    """Dilation written independently of the package's helper."""
    out = mask.copy()
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= r * r:
                y, x = ys + dy, xs + dx
                ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
                out[y[ok], x[ok]] = True
    return out


def best_shift(img_a, img_b, valid, m=3):
    """The (dy, dx) maximising the correlation of B(y, x) with
    A(y - dy, x - dx) on valid pixels."""
    a = img_a.astype(np.float64).mean(-1)
    b = img_b.astype(np.float64).mean(-1)
    h, w = a.shape
    best = None
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            bb = b[m:h - m, m:w - m]
            aa = a[m - dy:h - m - dy, m - dx:w - m - dx]
            v = valid[m:h - m, m:w - m]
            x1, x2 = aa[v] - aa[v].mean(), bb[v] - bb[v].mean()
            c = (x1 * x2).sum() / np.sqrt((x1**2).sum() * (x2**2).sum())
            if best is None or c > best[0]:
                best = (c, (dy, dx))
    return best[1]


# ------------------------------------------------------------- LEVIR-like


def test_levir_layout_names_and_values(tmp_path):
    out = str(tmp_path / 'levir')
    meta = generate_levir_like(
        out, num_train=3, num_val=1, num_test=2, size=SIZE, seed=3)
    for split, n in (('train', 3), ('val', 1), ('test', 2)):
        names = [f'{split}_{i:04d}.png' for i in range(n)]
        for folder in ('A', 'B', 'label', 'pseudo'):
            assert sorted(os.listdir(osp.join(out, split, folder))) == names
        for name in names:
            a = read_rgb(osp.join(out, split, 'A', name))
            b = read_rgb(osp.join(out, split, 'B', name))
            label = read_rgb(osp.join(out, split, 'label', name))
            pseudo = read_rgb(osp.join(out, split, 'pseudo', name))
            assert a.shape == b.shape == (SIZE, SIZE, 3)
            assert a.dtype == b.dtype == np.uint8
            assert label.shape == pseudo.shape == (SIZE, SIZE)
            assert set(np.unique(label)) <= {0, 255}
            assert set(np.unique(pseudo)) <= {0, 255}
            assert not (label.astype(bool) & pseudo.astype(bool)).any()
            # meta.json records what the file holds
            info = meta['samples'][split][name[:-4]]
            assert info['changed_fraction'] == pytest.approx(
                (label == 255).mean(), abs=1e-5)
    with open(osp.join(out, 'meta.json')) as f:
        on_disk = json.load(f)
    assert on_disk['seed'] == 3 and on_disk['size'] == SIZE
    assert on_disk['counts'] == dict(train=3, val=1, test=2)
    assert on_disk['layout'] == 'levir'
    assert on_disk['pseudo'] == PseudoChangeParams().to_dict()
    assert on_disk['scene'] == LevirSceneParams().to_dict()


def test_levir_same_seed_byte_identical_other_seed_differs(tmp_path):
    kw = dict(num_train=2, num_val=1, num_test=1, size=SIZE)
    generate_levir_like(str(tmp_path / 'r1'), seed=7, **kw)
    generate_levir_like(str(tmp_path / 'r2'), seed=7, **kw)
    generate_levir_like(str(tmp_path / 'r3'), seed=8, **kw)
    files = all_files(str(tmp_path / 'r1'))
    assert files == all_files(str(tmp_path / 'r2'))
    assert len(files) == 4 * 4 + 1
    match, mismatch, errors = filecmp.cmpfiles(
        str(tmp_path / 'r1'), str(tmp_path / 'r2'), files, shallow=False)
    assert mismatch == [] and errors == []
    for f in files:
        if '/A/' in f or '/B/' in f:
            assert not filecmp.cmp(
                str(tmp_path / 'r1' / f),
                str(tmp_path / 'r3' / f),
                shallow=False), f


def test_levir_subset_gives_same_images(tmp_path):
    generate_levir_like(str(tmp_path / 'big'), 3, 2, 0, size=SIZE, seed=1)
    generate_levir_like(str(tmp_path / 'small'), 1, 1, 0, size=SIZE, seed=1)
    for f in ('train/A/train_0000.png', 'train/B/train_0000.png',
              'train/label/train_0000.png', 'val/B/val_0000.png'):
        assert filecmp.cmp(
            str(tmp_path / 'big' / f),
            str(tmp_path / 'small' / f),
            shallow=False), f
    # The in-memory sample with the documented seed is the file's content.
    sample = make_levir_like_sample(sample_seed(1, 'levir', 'train', 2), SIZE)
    on_disk = read_rgb(str(tmp_path / 'big' / 'train/B/train_0002.png'))
    np.testing.assert_array_equal(sample['img_b'], on_disk)


def test_levir_changed_fraction_and_buildings():
    fractions = []
    for seed in range(8):
        s = make_levir_like_sample(seed, SIZE)
        label = s['label']
        assert set(np.unique(label)) <= {0, 255}
        f = (label == 255).mean()
        assert 0.01 <= f <= 0.2, (seed, f)
        n_changed = s['info']['num_appeared'] + s['info']['num_vanished']
        assert n_changed >= 1
        # connected changed regions: at least one building per region
        n_regions = cv2.connectedComponents((label > 0).astype(np.uint8))[0]
        assert 1 <= n_regions - 1 <= n_changed
        fractions.append(f)
    assert 0.03 <= np.mean(fractions) <= 0.12


def test_levir_no_change_option():
    scene = LevirSceneParams(p_no_change=1.0)
    s = make_levir_like_sample(0, SIZE, scene=scene)
    assert not s['label'].any()


def _diff(s):
    return np.abs(s['img_a'].astype(int) - s['img_b'].astype(int)).max(-1)


def test_levir_clean_pairs_differ_only_at_real_change():
    border = np.zeros((SIZE, SIZE), bool)
    border[3:-3, 3:-3] = True
    for seed in range(4):
        s = make_levir_like_sample(seed, SIZE, pseudo=CLEAN)
        label = s['label'] > 0
        diff = _diff(s)
        # Nothing but the changed buildings and their shadows differs
        # between the dates (blur tails reach 1 grey level at 4 px) ...
        allowed = disc_dilate(label | s['changed_shadow'], 5)
        assert (diff[~allowed & border] == 0).all()
        # ... and the changed footprints do differ.
        assert (diff[label] > 0).mean() > 0.95
        assert not s['pseudo'].any()
        # Shadows of changed buildings are visible changes, but not labelled
        # (LEVIR-CD labels building footprints only).
        shadow = s['changed_shadow']
        assert not (shadow & label).any()
        if shadow.sum() > 20:
            assert (diff[shadow] > 10).mean() > 0.5


PSEUDO_SOURCES = {
    'season': dict(p_season=1.0),
    'field': dict(p_field=1.0),
    'cars': dict(cars=(3, 6)),
    'shadow': dict(sun_jitter_deg=15.0, shadow_ratio=(0.7, 1.4)),
    'misregistration': dict(p_misregistration=1.0),
}


@pytest.mark.parametrize('layout', ['levir', 'second'])
@pytest.mark.parametrize('source', sorted(PSEUDO_SOURCES))
def test_pseudo_mask_covers_pseudo_change_and_is_not_labelled(layout, source):
    """With one pseudo-change source on, A and B differ only at real change
    and inside that source's mask; the mask is never labelled changed."""
    params = dataclasses.replace(CLEAN, **PSEUDO_SOURCES[source])
    make = make_levir_like_sample if layout == 'levir' else \
        make_second_like_sample
    inner = np.zeros((SIZE, SIZE), bool)
    inner[3:-3, 3:-3] = True  # blur from outside the image spills 1 px in
    threshold = params.edge_threshold + 2 if source == 'misregistration' \
        else 12
    seen = 0
    for seed in range(6):
        s = make(seed, SIZE, pseudo=params)
        change = s['label'] > 0 if layout == 'levir' else s['change']
        part = s['pseudo_parts'][source]
        pseudo = s['pseudo'] > 0
        diff = _diff(s)
        allowed = disc_dilate(part | change | s['changed_shadow'], 3)
        assert not (diff > threshold)[~allowed & inner].any(), seed
        assert not (pseudo & change).any()
        # the written mask is the part minus a buffer around real change
        far = ~disc_dilate(change, params.label_buffer) & ~s['changed_shadow']
        np.testing.assert_array_equal(pseudo, part & far)
        if part.any():
            seen += 1
            assert diff[part].mean() > 5  # the appearance really changed
    assert seen >= 2


def test_misregistration_shift_with_all_pseudo_changes():
    params = dataclasses.replace(PseudoChangeParams(), p_misregistration=1.0)
    for seed in range(4):
        s = make_levir_like_sample(seed, SIZE, pseudo=params)
        dy, dx = s['info']['shift']
        assert (dy, dx) != (0, 0) and max(abs(dy), abs(dx)) <= 2
        valid = ~disc_dilate((s['label'] > 0) | s['changed_shadow'], 3)
        assert best_shift(s['img_a'], s['img_b'], valid) == (dy, dx)
    s = make_levir_like_sample(
        0, SIZE, pseudo=PseudoChangeParams(p_misregistration=0.0))
    assert s['info']['shift'] == [0, 0]
    valid = ~disc_dilate((s['label'] > 0) | s['changed_shadow'], 3)
    assert best_shift(s['img_a'], s['img_b'], valid) == (0, 0)


def test_photometric_dates_b_leaves_date_a_untouched():
    only_b = dataclasses.replace(
        CLEAN, photometric_dates='b', gain=(0.8, 0.9), gamma=(1.1, 1.2))
    s_clean = make_levir_like_sample(5, SIZE, pseudo=CLEAN)
    s_b = make_levir_like_sample(5, SIZE, pseudo=only_b)
    np.testing.assert_array_equal(s_clean['img_a'], s_b['img_a'])
    np.testing.assert_array_equal(s_clean['label'], s_b['label'])
    # Independent check of date B: gamma then gain then offset.
    cond = s_b['info']['date_b']
    ref = s_clean['img_b'].astype(np.float64) / 255.0
    ref = 255.0 * ref**np.array(cond['gamma']) * np.array(
        cond['gain']) + np.array(cond['offset'])
    ref = np.clip(np.rint(ref), 0, 255)
    # summary() rounds the parameters to 4 decimals: allow 1 grey level
    assert np.abs(ref - s_b['img_b']).max() <= 1


# ------------------------------------------------------------ SECOND-like


def test_second_layout_palette_and_white_agreement(tmp_path):
    out = str(tmp_path / 'second')
    generate_second_like(
        out, num_train=2, num_val=1, num_test=1, size=SIZE, seed=2)
    folders = ('im1', 'im2', 'label1', 'label2', 'pseudo')
    changed_pixels = 0
    for split, n in (('train', 2), ('val', 1), ('test', 1)):
        names = [f'{split}_{i:04d}.png' for i in range(n)]
        for folder in folders:
            assert sorted(os.listdir(osp.join(out, split, folder))) == names
        for name in names:
            l1 = read_rgb(osp.join(out, split, 'label1', name))
            l2 = read_rgb(osp.join(out, split, 'label2', name))
            assert l1.shape == l2.shape == (SIZE, SIZE, 3)
            idx = []
            for lab in (l1, l2):
                colours = {tuple(c) for c in lab.reshape(-1, 3).tolist()}
                assert colours <= set(SECOND_COLOURS), colours
                lut = np.vectorize(lambda *c: SECOND_COLOURS[c])
                idx.append(lut(lab[..., 0], lab[..., 1], lab[..., 2]))
            white1, white2 = idx[0] == 0, idx[1] == 0
            np.testing.assert_array_equal(white1, white2)
            # a changed pixel changes class
            assert (idx[0][~white1] != idx[1][~white1]).all()
            changed_pixels += (~white1).sum()
            pseudo = read_rgb(osp.join(out, split, 'pseudo', name))
            assert set(np.unique(pseudo)) <= {0, 255}
            assert not (pseudo.astype(bool) & ~white1).any()
    assert changed_pixels > 0
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert [tuple(c) for c in meta['palette']] == list(SECOND_COLOURS)


def test_second_sample_labels_follow_land_cover():
    fractions = []
    for seed in range(6):
        s = make_second_like_sample(seed, SIZE)
        ca, cb = s['cover_a'], s['cover_b']
        assert ca.min() >= 1 and ca.max() <= 6 and cb.min() >= 1
        change = ca != cb
        np.testing.assert_array_equal(s['change'], change)
        np.testing.assert_array_equal(s['label_a'], np.where(change, ca, 0))
        np.testing.assert_array_equal(s['label_b'], np.where(change, cb, 0))
        fractions.append(change.mean())
    assert 0.03 <= np.mean(fractions) <= 0.35


def test_second_clean_pairs_differ_only_at_real_change():
    inner = np.zeros((SIZE, SIZE), bool)
    inner[3:-3, 3:-3] = True
    for seed in range(4):
        s = make_second_like_sample(seed, SIZE, pseudo=CLEAN)
        diff = _diff(s)
        allowed = disc_dilate(s['change'] | s['changed_shadow'], 5)
        assert (diff[~allowed & inner] == 0).all()
        assert (diff[s['change']] > 0).mean() > 0.9


def test_second_water_tint_part():
    params = dataclasses.replace(CLEAN, p_water_tint=1.0)
    scene = SecondSceneParams(p_water=1.0)
    found = 0
    for seed in range(4):
        s = make_second_like_sample(seed, SIZE, scene=scene, pseudo=params)
        part = s['pseudo_parts']['water']
        np.testing.assert_array_equal(part, (s['cover_a'] == 1) &
                                      (s['cover_b'] == 1))
        if part.any():
            found += 1
            assert _diff(s)[part].mean() > 3
    assert found >= 2


# Transitions each change event may cause (from the SECOND class names).
EVENT_TRANSITIONS = {
    'build': {'ground->building', 'low vegetation->building'},
    'demolish': {'building->ground'},
    'vegetation': {
        'low vegetation->tree', 'tree->low vegetation',
        'low vegetation->ground', 'tree->ground', 'ground->low vegetation'
    },
    'water': {
        'water->ground', 'water->low vegetation', 'ground->water',
        'low vegetation->water'
    },
    'playground':
    {'ground->playground', 'low vegetation->playground', 'tree->playground'},
}


def test_second_change_events_table_order():
    # event_weights are documented in the order of the dispatch table
    assert list(CHANGE_EVENTS) == [
        'build', 'demolish', 'vegetation', 'water', 'playground'
    ]


@pytest.mark.parametrize('event', list(EVENT_TRANSITIONS))
def test_second_each_change_event_alone(event):
    """With all weight on one event, only its transitions occur."""
    weights = tuple(float(e == event) for e in EVENT_TRANSITIONS)
    scene = SecondSceneParams(event_weights=weights, p_water=1.0)
    seen = set()
    for seed in range(3):
        s = make_second_like_sample(seed, SIZE, scene=scene, pseudo=CLEAN)
        assert s['info']['events'] and set(s['info']['events']) == {event}
        # every changed pixel is counted under exactly one transition
        assert sum(s['info']['transitions'].values()) == s['change'].sum()
        seen |= set(s['info']['transitions'])
    assert seen and seen <= EVENT_TRANSITIONS[event], seen


def test_second_determinism(tmp_path):
    kw = dict(num_train=1, num_val=1, num_test=1, size=SIZE, seed=4)
    generate_second_like(str(tmp_path / 'a'), **kw)
    generate_second_like(str(tmp_path / 'b'), **kw)
    files = all_files(str(tmp_path / 'a'))
    _, mismatch, errors = filecmp.cmpfiles(
        str(tmp_path / 'a'), str(tmp_path / 'b'), files, shallow=False)
    assert mismatch == [] and errors == [] and len(files) == 3 * 5 + 1
    s1 = make_second_like_sample(10, SIZE)
    s2 = make_second_like_sample(11, SIZE)
    assert not np.array_equal(s1['img_a'], s2['img_a'])


# ------------------------------------------------------- errors and CLI


def test_bad_parameters_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='max_shift'):
        PseudoChangeParams(max_shift=20)
    with pytest.raises(ValueError, match='photometric_dates'):
        PseudoChangeParams(photometric_dates='a')
    with pytest.raises(ValueError, match='changed_fraction'):
        LevirSceneParams(changed_fraction=(0.2, 0.1))
    with pytest.raises(ValueError, match='event_weights'):
        SecondSceneParams(event_weights=(1, 0, 0))
    with pytest.raises(ValueError, match='size'):
        make_levir_like_sample(0, 16)
    out = tmp_path / 'never'
    with pytest.raises(ValueError, match='seed'):
        generate_levir_like(str(out), 1, 0, 0, size=SIZE, seed=-1)
    with pytest.raises(ValueError, match='num_train'):
        generate_second_like(str(out), -1, 0, 0, size=SIZE)
    assert not out.exists()  # nothing written before the checks


def load_cli():
    path = osp.join(ROOT, 'tools', 'misc', 'make_synthetic_data.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_refuses_non_empty_dir_unless_forced(tmp_path, capsys):
    cli = load_cli()
    out = str(tmp_path / 'data')
    args = [
        '--layout', 'levir', '--out', out, '--size',
        str(SIZE), '--num-train', '3', '--num-val', '1', '--num-test', '1'
    ]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert '5/5' in printed and 'wrote 5 pairs' in printed
    assert f'of {SIZE}x{SIZE} px' in printed
    before = all_files(out)
    assert cli.main(args) == 2  # refused, nothing touched
    assert 'not empty' in capsys.readouterr().err
    assert all_files(out) == before
    # --force with fewer images removes the previous run's extra files
    small = args[:-6] + [
        '--num-train', '1', '--num-val', '1', '--num-test', '1', '--force',
        '--quiet'
    ]
    capsys.readouterr()
    assert cli.main(small) == 0
    assert capsys.readouterr().out == ''  # --quiet: no bar, no summary
    assert sorted(os.listdir(osp.join(out, 'train',
                                      'A'))) == ['train_0000.png']
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['counts']['train'] == 1


def test_cli_second_layout_no_pseudo(tmp_path):
    cli = load_cli()
    out = str(tmp_path / 'second')
    assert cli.main([
        '--layout', 'second', '--out', out, '--size',
        str(SIZE), '--num-train', '1', '--num-val', '0', '--num-test', '0',
        '--no-pseudo', '--quiet'
    ]) == 0
    assert not read_rgb(osp.join(out, 'train', 'pseudo',
                                 'train_0000.png')).any()
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['layout'] == 'second'
    assert meta['pseudo'] == PseudoChangeParams.disabled().to_dict()


def _hashes(root):
    out = {}
    for name in all_files(root):
        with open(osp.join(root, name), 'rb') as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def _stop_after(monkeypatch, n, exc):
    """``write_png`` writes ``n`` files, then part of the next one."""
    calls = []
    real = synthetic_common.write_bytes

    def flaky(path, data):
        calls.append(path)
        if len(calls) > n:
            with atomic_path(path) as tmp:
                with open(tmp, 'wb') as f:
                    f.write(data[:len(data) // 2])
                raise exc('stopped half-way')
        real(path, data)

    monkeypatch.setattr(synthetic_common, 'write_bytes', flaky)
    return calls


@pytest.mark.parametrize('exc', [RuntimeError, KeyboardInterrupt])
def test_interrupted_run_leaves_whole_files_and_rerun_completes(
        tmp_path, monkeypatch, exc):
    kwargs = dict(num_train=2, num_val=1, num_test=0, size=SIZE, seed=3)
    clean = str(tmp_path / 'clean')
    generate_levir_like(clean, **kwargs)
    out = str(tmp_path / 'out')
    os.makedirs(out)
    with open(osp.join(out, 'mine.txt'), 'w') as f:
        f.write('not ours')  # a user's file, kept by --force
    calls = _stop_after(monkeypatch, 6, exc)
    with pytest.raises(exc):
        generate_levir_like(out, overwrite=True, **kwargs)
    assert len(calls) == 7
    monkeypatch.undo()
    written = _hashes(out)
    reference = _hashes(clean)
    assert 'meta.json' not in written and '.unfinished' in written
    pngs = {k: v for k, v in written.items() if k.endswith('.png')}
    assert len(pngs) == 6  # whole files only, no temporary left
    assert all(reference[k] == v for k, v in pngs.items())
    assert sorted(written) == sorted([*pngs, '.unfinished', 'mine.txt'])
    # the unfinished folder is written again without overwrite
    generate_levir_like(out, **kwargs)
    assert _hashes(out) == dict(reference, **{'mine.txt': written['mine.txt']})
    # a finished data set is refused again
    with pytest.raises(FileExistsError, match='not empty'):
        generate_levir_like(out, **kwargs)


def test_rerun_refuses_a_folder_without_the_marker(tmp_path):
    out = tmp_path / 'real_data'
    (out / 'train' / 'A').mkdir(parents=True)
    (out / 'train' / 'A' / 'train_0000.png').write_bytes(b'user data')
    with pytest.raises(FileExistsError, match='not empty'):
        generate_levir_like(
            str(out), num_train=1, num_val=0, num_test=0, size=SIZE)
    assert (out / 'train' / 'A' / 'train_0000.png').read_bytes() == \
        b'user data'
