"""LEVIR-CD patch cutting and SCD label indexing.

The package functions (mmcd_ext.datasets.converters) are called directly;
the scripts in tools/dataset_converters, which only parse arguments, are
run once each through their ``main``.
"""
import glob
import hashlib
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmcd_ext.datasets.converters import (convert_label_folder,
                                          convert_levir_cd, cut_patches)
from mmcd_ext.datasets.converters import levir_cd as levir_module
from mmcd_ext.datasets.converters import scd_labels as scd_module
from mmcd_ext.datasets.palettes import LANDSAT_SCD_PALETTE, SECOND_PALETTE
from mmcd_ext.utils.atomic import atomic_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f'_converter_{name}', osp.join(CONVERTERS, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def levir_cd():
    return _load('levir_cd')


@pytest.fixture(scope='module')
def scd_labels():
    return _load('scd_labels')


def _write(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr)


def _fake_levir(root, rng, tiles=None, size=64):
    """Tiny LEVIR-CD: {split: n tiles} of size x size."""
    tiles = tiles or dict(train=3, val=1, test=2)
    truth = {}
    for split, n in tiles.items():
        for i in range(n):
            stem = f'{split}_{i + 1}'
            a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            b = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            label = (rng.random((size, size)) < 0.3).astype(np.uint8) * 255
            for folder, arr in (('A', a), ('B', b), ('label', label)):
                _write(osp.join(root, split, folder, stem + '.png'), arr)
            truth[(split, stem)] = dict(A=a, B=b, label=label)
    return truth


def test_levir_counts_and_exact_reassembly(levir_cd, tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    tiles = dict(train=3, val=1, test=2)
    truth = _fake_levir(src, rng, tiles)
    assert levir_cd.main([src, dst, '--patch-size', '32']) == 0
    out = capsys.readouterr().out
    assert '[train] done: 3 tiles -> 12 patches' in out
    assert '3/3' in out and '2/2' in out  # mmengine's bar, one per split
    for split, n in tiles.items():
        for folder in ('A', 'B', 'label'):
            files = glob.glob(osp.join(dst, split, folder, '*.png'))
            # count formula: tiles * (H / P) * (W / P)
            assert len(files) == n * (64 // 32)**2
    for (split, stem), arrays in truth.items():
        for folder, tile in arrays.items():
            rebuilt = np.zeros_like(tile)
            for row in range(2):
                for col in range(2):
                    name = osp.join(dst, split, folder,
                                    f'{stem}_{row}_{col}.png')
                    patch = cv2.imread(name, cv2.IMREAD_UNCHANGED)
                    assert patch.shape[:2] == (32, 32)
                    rebuilt[row * 32:(row + 1) * 32,
                            col * 32:(col + 1) * 32] = patch
            assert np.array_equal(rebuilt, tile), (split, stem, folder)


def test_levir_paper_counts_formula():
    # LEVIR-CD: 445 / 64 / 128 tiles of 1024 x 1024
    img = np.zeros((1024, 1024), np.uint8)
    per_tile = sum(1 for _ in cut_patches(img, 256))
    assert per_tile == 16
    assert [n * per_tile for n in (445, 64, 128)] == [7120, 1024, 2048]
    assert sum(1 for _ in cut_patches(img, 512)) == 4


def test_levir_patches_are_ordered_row_col():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    patches = list(cut_patches(img, 2))
    assert [(r, c) for r, c, _ in patches] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert patches[1][2].tolist() == [[2, 3], [6, 7]]


def test_levir_refuses_non_empty_output_unless_force(tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=1))
    assert convert_levir_cd(
        src, dst, 32, splits=['train'], progress=False) == dict(train=(1, 4))
    assert '1/1' not in capsys.readouterr().out  # no bar
    with pytest.raises(FileExistsError, match='not empty.*--force'):
        convert_levir_cd(src, dst, 32, splits=['train'])
    # force clears stale patches: 16 at P=16 replace the 4 at P=32
    convert_levir_cd(src, dst, 16, splits=['train'], force=True)
    assert len(glob.glob(osp.join(dst, 'train', 'A', '*.png'))) == 16
    with pytest.raises(ValueError, match='different folders'):
        convert_levir_cd(src, src, 32)


def test_levir_nested_tiles_keep_their_sub_folder(tmp_path, rng):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    for folder in ('A', 'B', 'label'):
        _write(
            osp.join(src, 'train', folder, 'site', 't.png'),
            np.full((32, 32), 7, np.uint8))
    convert_levir_cd(src, dst, 16, splits=['train'], progress=False)
    assert sorted(os.listdir(osp.join(dst, 'train', 'label', 'site'))) == [
        't_0_0.png', 't_0_1.png', 't_1_0.png', 't_1_1.png'
    ]


def test_levir_errors_name_the_file(tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=2))
    with pytest.raises(ValueError, match='train_1.png is 64x64.*24'):
        convert_levir_cd(src, dst, 24, splits=['train'])
    os.remove(osp.join(src, 'train', 'B', 'train_2.png'))
    _write(
        osp.join(src, 'train', 'label', 'train_3.png'),
        np.zeros((64, 64), np.uint8))
    with pytest.raises(FileNotFoundError) as err:
        convert_levir_cd(src, str(tmp_path / 'o2'), splits=['train'])
    assert str(err.value) == (
        '3 unpaired file(s): '
        f'{osp.join(src, "train", "B", "train_2.png")} is missing (present '
        f'in A, label); {osp.join(src, "train", "A", "train_3.png")} is '
        'missing (present in label); '
        f'{osp.join(src, "train", "B", "train_3.png")} is missing (present '
        'in label)')
    os.remove(osp.join(src, 'train', 'label', 'train_3.png'))
    _write(
        osp.join(src, 'train', 'B', 'train_2.png'),
        np.zeros((32, 64, 3), np.uint8))
    with open(osp.join(src, 'train', 'A', 'notes.txt'), 'w') as f:
        f.write('not a tile')
    with pytest.raises(ValueError, match='train_2 .*differ in size'):
        convert_levir_cd(src, str(tmp_path / 'o3'), 32, splits=['train'])
    assert 'notes.txt' in capsys.readouterr().out  # not converted, reported
    os.makedirs(osp.join(src, 'val', 'A'))
    with pytest.raises(FileNotFoundError, match='B folder .*/val/B does not'):
        convert_levir_cd(src, str(tmp_path / 'o4'), splits=['val'])


def test_levir_help():
    out = subprocess.run(
        [sys.executable,
         osp.join(CONVERTERS, 'levir_cd.py'), '--help'],
        capture_output=True,
        text=True,
        check=True).stdout
    assert '--patch-size' in out and '--force' in out


def test_scd_labels_convert(scd_labels, tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'label1'), str(tmp_path / 'label1_index')
    pal = np.asarray(LANDSAT_SCD_PALETTE, np.uint8)
    truth = {}
    for name in ('a.png', 'sub/b.png'):
        idx = rng.integers(0, 5, (16, 16)).astype(np.uint8)
        _write(osp.join(src, name), np.ascontiguousarray(pal[idx][..., ::-1]))
        truth[name] = idx
    assert scd_labels.main([src, dst, '--dataset', 'landsat']) == 0
    out = capsys.readouterr().out
    assert '2/2' in out and 'done: 2 index labels' in out
    for name, idx in truth.items():
        out = cv2.imread(osp.join(dst, name), cv2.IMREAD_UNCHANGED)
        assert out.ndim == 2 and np.array_equal(out, idx)
    with pytest.raises(FileExistsError, match='--force'):
        convert_label_folder(src, dst, 'landsat')
    assert convert_label_folder(
        src, dst, 'landsat', force=True, progress=False) == 2
    assert '2/2' not in capsys.readouterr().out  # no bar
    with pytest.raises(KeyError, match='no palette for dataset "levir"'):
        convert_label_folder(src, dst, 'levir')


def test_scd_labels_hand_made_second(tmp_path):
    rgb = np.array([[SECOND_PALETTE[0], SECOND_PALETTE[5]],
                    [SECOND_PALETTE[6], SECOND_PALETTE[2]]], np.uint8)
    _write(
        str(tmp_path / 'in' / 'x.png'), np.ascontiguousarray(rgb[..., ::-1]))
    convert_label_folder(str(tmp_path / 'in'), str(tmp_path / 'out'), 'second')
    out = cv2.imread(str(tmp_path / 'out' / 'x.png'), cv2.IMREAD_UNCHANGED)
    assert out.tolist() == [[0, 5], [6, 2]]


def test_scd_labels_unknown_colour(tmp_path):
    rgb = np.full((8, 8, 3), 255, np.uint8)
    rgb[0, :3] = (0, 155, 0)  # Landsat farmland: not a SECOND colour
    _write(
        str(tmp_path / 'in' / 'x.png'), np.ascontiguousarray(rgb[..., ::-1]))
    with pytest.raises(ValueError) as err:
        convert_label_folder(
            str(tmp_path / 'in'), str(tmp_path / 'out'), 'second')
    msg = str(err.value)
    assert 'x.png' in msg and '(0, 155, 0): 3 px' in msg
    _write(str(tmp_path / 'in2' / 'g.png'), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r'g.png has shape \(8, 8\)'):
        convert_label_folder(
            str(tmp_path / 'in2'), str(tmp_path / 'out2'), 'second')


def _tree(root):
    """Relative path -> sha256 of every file below ``root`` (hidden too)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path,
                                root)] = hashlib.sha256(f.read()).hexdigest()
    return out


class _Stop(Exception):
    pass


def _fail_after(monkeypatch, module, n, exc=_Stop):
    """Let ``module.write_image`` write ``n`` files, then raise ``exc``
    after writing part of the next one (under its temporary name)."""
    real = module.write_image
    calls = []

    def flaky(dst, img, params=None):
        calls.append(dst)
        if len(calls) > n:
            with atomic_path(dst) as tmp:
                with open(tmp, 'wb') as f:
                    f.write(b'\x89PNG half')
                raise exc('stopped half-way')
        real(dst, img, params)

    monkeypatch.setattr(module, 'write_image', flaky)
    return calls


@pytest.mark.parametrize('exc', [_Stop, KeyboardInterrupt])
def test_levir_interrupted_then_rerun_equals_clean_run(tmp_path, rng,
                                                       monkeypatch, exc):
    src = str(tmp_path / 'levir')
    _fake_levir(src, rng, dict(train=2, val=1))
    clean = str(tmp_path / 'clean')
    convert_levir_cd(src, clean, 32, splits=['train', 'val'], progress=False)
    before = _tree(src)
    dst = str(tmp_path / 'out')
    # train is written, val stops after 5 of its 12 patches
    calls = _fail_after(monkeypatch, levir_module, 24 + 5, exc)
    with pytest.raises(exc):
        convert_levir_cd(src, dst, 32, splits=['train', 'val'], progress=False)
    assert len(calls) == 30
    # nothing half-filled, no partial folder, no temporary file
    assert os.listdir(dst) == []
    monkeypatch.undo()
    # the same command again is not refused and completes
    convert_levir_cd(src, dst, 32, splits=['train', 'val'], progress=False)
    assert _tree(dst) == _tree(clean)
    assert _tree(src) == before  # the input is never touched


def test_levir_splits_converted_in_separate_runs(tmp_path, rng):
    src = str(tmp_path / 'levir')
    _fake_levir(src, rng, dict(train=2, val=1))
    clean, dst = str(tmp_path / 'clean'), str(tmp_path / 'out')
    convert_levir_cd(src, clean, 32, splits=['train', 'val'], progress=False)
    convert_levir_cd(src, dst, 32, splits=['train'], progress=False)
    with pytest.raises(FileExistsError, match='train is not empty'):
        convert_levir_cd(src, dst, 32, splits=['train', 'val'])
    assert sorted(os.listdir(dst)) == ['train']  # refused before writing
    convert_levir_cd(src, dst, 32, splits=['val'], progress=False)
    assert _tree(dst) == _tree(clean)


def test_levir_killed_leaves_a_partial_folder_the_rerun_removes(
        tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=1))
    # what a kill leaves: a hidden partial folder with some patches
    stale = osp.join(dst, '.train.partial', 'A')
    _write(osp.join(stale, 'train_1_0_0.png'), np.zeros((4, 4), np.uint8))
    convert_levir_cd(src, dst, 32, splits=['train'], progress=False)
    assert 'left by an interrupted run' in capsys.readouterr().out
    assert sorted(os.listdir(dst)) == ['train']
    assert len(os.listdir(osp.join(dst, 'train', 'A'))) == 4


def test_levir_force_keeps_old_output_until_new_is_complete(
        tmp_path, rng, monkeypatch):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=1))
    convert_levir_cd(src, dst, 32, splits=['train'], progress=False)
    old = _tree(dst)
    _fail_after(monkeypatch, levir_module, 7)
    with pytest.raises(_Stop):
        convert_levir_cd(
            src, dst, 16, splits=['train'], force=True, progress=False)
    assert _tree(dst) == old  # unchanged, no partial folder left
    monkeypatch.undo()
    # --force never deletes files the converter does not write
    _write(
        osp.join(dst, 'train', 'notes', 'mine.png'), np.zeros((2, 2),
                                                              np.uint8))
    with open(osp.join(dst, 'train', 'A', 'readme.txt'), 'w') as f:
        f.write('mine')
    with pytest.raises(FileExistsError, match='2 file.*notes/mine.png'):
        convert_levir_cd(src, dst, 16, splits=['train'], force=True)
    assert len(_tree(dst)) == len(old) + 2


def test_converters_refuse_overlapping_folders(tmp_path, rng):
    src = str(tmp_path / 'levir')
    _fake_levir(src, rng, dict(train=1))
    with pytest.raises(ValueError, match='inside SRC'):
        convert_levir_cd(src, osp.join(src, 'patches'), 32)
    with pytest.raises(ValueError, match='SRC .* is inside DST'):
        convert_levir_cd(src, str(tmp_path), 32)
    os.symlink(src, str(tmp_path / 'link'))
    with pytest.raises(ValueError, match='different folders'):
        convert_label_folder(
            osp.join(src, 'train', 'label'),
            str(tmp_path / 'link' / 'train' / 'label'), 'second')
    assert not osp.exists(osp.join(src, 'patches'))


def _colour_labels(root, rng, names):
    pal = np.asarray(LANDSAT_SCD_PALETTE, np.uint8)
    for name in names:
        idx = rng.integers(0, 5, (8, 8)).astype(np.uint8)
        _write(osp.join(root, name), np.ascontiguousarray(pal[idx][..., ::-1]))


@pytest.mark.parametrize('exc', [_Stop, KeyboardInterrupt])
def test_scd_labels_interrupted_then_rerun_equals_clean_run(
        tmp_path, rng, monkeypatch, exc):
    src = str(tmp_path / 'label1')
    _colour_labels(src, rng, ['a.png', 'b.png', 'sub/c.png'])
    before = _tree(src)
    clean, dst = str(tmp_path / 'clean'), str(tmp_path / 'idx')
    convert_label_folder(src, clean, 'landsat', progress=False)
    _fail_after(monkeypatch, scd_module, 1, exc)
    with pytest.raises(exc):
        convert_label_folder(src, dst, 'landsat', progress=False)
    assert sorted(os.listdir(tmp_path)) == ['clean', 'label1']
    monkeypatch.undo()
    convert_label_folder(src, dst, 'landsat', progress=False)
    assert _tree(dst) == _tree(clean)
    assert _tree(src) == before


def test_scd_labels_force_replaces_only_its_own_files(tmp_path, rng,
                                                      monkeypatch):
    src, dst = str(tmp_path / 'label1'), str(tmp_path / 'idx')
    _colour_labels(src, rng, ['a.png', 'b.png'])
    _write(osp.join(dst, 'stale.png'), np.zeros((2, 2), np.uint8))
    # an interrupted --force leaves the old output as it was
    old = _tree(dst)
    _fail_after(monkeypatch, scd_module, 1)
    with pytest.raises(_Stop):
        convert_label_folder(src, dst, 'landsat', force=True, progress=False)
    assert _tree(dst) == old
    monkeypatch.undo()
    convert_label_folder(src, dst, 'landsat', force=True, progress=False)
    assert sorted(_tree(dst)) == ['a.png', 'b.png']  # stale.png replaced
    with open(osp.join(dst, 'notes.txt'), 'w') as f:
        f.write('mine')
    with pytest.raises(FileExistsError, match='does not write.*notes.txt'):
        convert_label_folder(src, dst, 'landsat', force=True)
    assert 'notes.txt' in _tree(dst)


def test_converter_scripts_print_one_line_errors(levir_cd, scd_labels,
                                                 tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=1))
    assert levir_cd.main(
        [src, dst, '--splits', 'train', '--patch-size', '32', '--quiet']) == 0
    with pytest.raises(SystemExit) as err:
        levir_cd.main([src, dst, '--splits', 'train'])
    assert err.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        'tools/dataset_converters/levir_cd.py: error: FileExistsError: '
        f'output folder {osp.join(dst, "train")} is not empty')
    with pytest.raises(FileExistsError):
        levir_cd.main([src, dst, '--splits', 'train', '--debug'])
    with pytest.raises(SystemExit):
        scd_labels.main([src, src, '--dataset', 'second'])
    assert 'different folders' in capsys.readouterr().err


KILLED_RUN = '''
import os, signal, sys
from mmcd_ext.datasets.converters import levir_cd as module
from mmcd_ext.utils.atomic import atomic_path
real, calls = module.write_image, []


def write_then_die(dst, img, params=None):
    calls.append(dst)
    if len(calls) > 10:  # killed while the 11th file is half-written
        with atomic_path(dst) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            os.kill(os.getpid(), signal.SIGKILL)
    real(dst, img, params)


module.write_image = write_then_die
module.convert_levir_cd(sys.argv[1], sys.argv[2], 32, progress=False)
'''


@pytest.mark.slow  # a subprocess that imports the package (~8 s)
def test_levir_killed_run_then_same_command_completes(tmp_path, rng, capsys):
    src, dst = str(tmp_path / 'levir'), str(tmp_path / 'out')
    _fake_levir(src, rng, dict(train=2, val=1, test=1))
    clean = str(tmp_path / 'clean')
    convert_levir_cd(src, clean, 32, progress=False)
    proc = subprocess.run([sys.executable, '-c', KILLED_RUN, src, dst],
                          capture_output=True)
    assert proc.returncode == -9
    left = _tree(dst)
    assert left and all(k.startswith('.train.partial') for k in left)
    assert any(k.endswith('.tmp') for k in left)  # the half-written file
    capsys.readouterr()
    convert_levir_cd(src, dst, 32, progress=False)
    assert 'left by an interrupted run' in capsys.readouterr().out
    assert _tree(dst) == _tree(clean)


# Releases in split folders: S2Looking, DSIFN-CD, CDD (binary_cd.py).


def _release(root,
             layout,
             rng,
             counts,
             size=32,
             label_suffix=None,
             colour_labels=False):
    """Write a tiny release in ``layout``'s folders; return the truth.

    Args:
        root (str): Release root.
        layout (ReleasedLayout): Folder names and suffixes.
        rng (np.random.Generator): Content.
        counts (dict): Split -> number of pairs.
        size (int or dict): Tile side, or name -> (h, w).
        label_suffix (dict, optional): Split -> label suffix; default the
            layout's first.
        colour_labels (bool): Write labels as 3-channel white-on-black.

    Returns:
        dict: ``(split, name) -> {'A', 'B', 'label'}`` arrays as written
        (label 0/255, one channel).
    """
    truth = {}
    for split, n in counts.items():
        for i in range(n):
            name = f'{split}_{i}'
            h, w = size[name] if isinstance(size, dict) else (size, size)
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            b = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            label = np.zeros((h, w), np.uint8)
            # not aligned with JPEG's 8 x 8 blocks, so JPEG rings
            label[h // 4 + 1:h // 2 + 3, w // 8 + 1:w // 2 - 1] = 255
            label[3 * h // 4 - 3:, 3 * w // 4 + 2:] = 255
            sfx = (label_suffix or {}).get(split, layout.label_suffixes[0])
            stored = np.repeat(label[..., None], 3, 2) if colour_labels \
                else label
            img_sfx = layout.img_suffixes[0]
            for folder, arr, ext in zip(layout.folders, (a, b, stored),
                                        (img_sfx, img_sfx, sfx)):
                _write(osp.join(root, split, folder, name + ext), arr)
            if img_sfx == '.jpg':  # what a reader gets back
                a, b = (
                    cv2.imread(osp.join(root, split, folder, name + img_sfx))
                    for folder in layout.folders[:2])
            truth[(split, name)] = dict(A=a, B=b, label=label)
    return truth


def test_s2looking_release_to_abl_layout(tmp_path, rng):
    from mmcd_ext.datasets.converters import S2LOOKING, convert_binary_cd
    src, dst = str(tmp_path / 'S2Looking'), str(tmp_path / 's2looking')
    truth = _release(
        src, S2LOOKING, rng, dict(train=2, val=1, test=1), colour_labels=True)
    # the built / demolished maps sit next to label and are not used
    for split in ('train', 'val', 'test'):
        for part in ('label1', 'label2'):
            _write(
                osp.join(src, split, part, f'{split}_0.png'),
                np.full((32, 32, 3), 9, np.uint8))
    counts = convert_binary_cd(src, dst, S2LOOKING, progress=False)
    assert counts == dict(train=(2, 2), val=(1, 1), test=(1, 1))
    assert sorted(_tree(dst)) == sorted(
        osp.join(s, f, f'{s}_{i}.png')
        for s, n in (('train', 2), ('val', 1), ('test', 1))
        for f in ('A', 'B', 'label') for i in range(n))
    for (split, name), arrays in truth.items():
        # PNG images are copied byte for byte
        for folder, raw in (('A', 'Image1'), ('B', 'Image2')):
            with open(osp.join(src, split, raw, name + '.png'), 'rb') as f1, \
                    open(osp.join(dst, split, folder, name + '.png'),
                         'rb') as f2:
                assert f1.read() == f2.read()
        label = cv2.imread(
            osp.join(dst, split, 'label', name + '.png'), cv2.IMREAD_UNCHANGED)
        assert label.ndim == 2 and label.dtype == np.uint8
        np.testing.assert_array_equal(label, arrays['label'])


def test_dsifn_release_mixed_suffixes_and_sizes_to_patches(tmp_path, rng):
    from mmcd_ext.datasets.converters import DSIFN_CD, convert_binary_cd
    src, dst = str(tmp_path / 'DSIFN'), str(tmp_path / 'dsifn-16')
    # test masks are TIF, train / val PNG; one train tile is 48 x 64
    sizes = dict(
        train_0=(32, 32), train_1=(48, 64), val_0=(32, 32), test_0=(32, 32))
    truth = _release(
        src,
        DSIFN_CD,
        rng,
        dict(train=2, val=1, test=1),
        size=sizes,
        label_suffix=dict(test='.tif'))
    assert osp.isfile(osp.join(src, 'test', 'mask', 'test_0.tif'))
    counts = convert_binary_cd(
        src, dst, DSIFN_CD, patch_size=16, progress=False)
    # (h / 16) * (w / 16) patches per tile: 4 + 12, 4, 4
    assert counts == dict(train=(2, 16), val=(1, 4), test=(1, 4))
    for (split, name), arrays in truth.items():
        h, w = sizes[name]
        for folder, tile in arrays.items():
            rebuilt = np.zeros_like(tile)
            for row in range(h // 16):
                for col in range(w // 16):
                    patch = cv2.imread(
                        osp.join(dst, split, folder,
                                 f'{name}_{row}_{col}.png'),
                        cv2.IMREAD_UNCHANGED)
                    rebuilt[row * 16:row * 16 + 16,
                            col * 16:col * 16 + 16] = patch
            # the JPEG images as decoded, the masks exactly
            np.testing.assert_array_equal(rebuilt, tile, err_msg=name)
    # a tile the patch size does not divide: refused before writing
    with pytest.raises(
            ValueError,
            match=r'train_1\.jpg is 48x64 \(HxW\), not '
            'a multiple of the patch size 32'):
        convert_binary_cd(src, str(tmp_path / 'o'), DSIFN_CD, patch_size=32)
    assert not _tree(str(tmp_path / 'o'))


def test_cdd_jpeg_labels_are_thresholded(tmp_path, rng):
    from mmcd_ext.datasets.converters import CDD, convert_binary_cd
    src, dst = str(tmp_path / 'subset'), str(tmp_path / 'cdd')
    truth = _release(src, CDD, rng, dict(train=1, val=1, test=1), size=64)
    jpeg = cv2.imread(
        osp.join(src, 'train', 'OUT', 'train_0.jpg'), cv2.IMREAD_UNCHANGED)
    grey = set(np.unique(jpeg).tolist()) - {0, 255}
    assert grey  # compression left values the datasets would refuse
    convert_binary_cd(src, dst, CDD, progress=False)
    for (split, name), arrays in truth.items():
        out = cv2.imread(
            osp.join(dst, split, 'label', name + '.png'), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(out).tolist()) == {0, 255}
        raw = cv2.imread(
            osp.join(src, split, 'OUT', name + '.jpg'), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(out == 255, raw > 127)
        # and the mask before compression is recovered
        assert np.mean(out != arrays['label']) < 0.01
        np.testing.assert_array_equal(
            cv2.imread(osp.join(dst, split, 'A', name + '.png')), arrays['A'])
    # a photograph in OUT is not a change mask
    _write(
        osp.join(src, 'val', 'OUT', 'val_0.jpg'),
        rng.integers(0, 256, (64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r'val_0\.jpg has .* pixels between'):
        convert_binary_cd(src, str(tmp_path / 'o'), CDD, progress=False)
    assert not _tree(str(tmp_path / 'o'))  # nothing written


def test_release_converters_refuse_bad_input_naming_the_file(tmp_path, rng):
    from mmcd_ext.datasets.converters import (DSIFN_CD, S2LOOKING,
                                              convert_binary_cd)
    src = str(tmp_path / 'S2Looking')
    _release(src, S2LOOKING, rng, dict(train=2))

    def convert(name, layout=S2LOOKING, **kwargs):
        out = tmp_path / name
        try:
            convert_binary_cd(
                src,
                str(out),
                layout,
                splits=['train'],
                progress=False,
                **kwargs)
        finally:
            assert name == 'ok' or not _tree(str(out))

    os.remove(osp.join(src, 'train', 'Image2', 'train_1.png'))
    with pytest.raises(FileNotFoundError) as err:
        convert('o1')
    assert str(err.value) == (
        '1 unpaired file(s): '
        f'{osp.join(src, "train", "Image2", "train_1")}.* is missing '
        f'(present: {osp.join(src, "train", "Image1", "train_1.png")}, '
        f'{osp.join(src, "train", "label", "train_1.png")})')
    _write(
        osp.join(src, 'train', 'Image2', 'train_1.png'),
        np.zeros((16, 32, 3), np.uint8))
    with pytest.raises(
            ValueError,
            match=r'sample train_1 differ in size.*'
            r'Image2/train_1\.png 16x32'):
        convert('o2')
    _write(
        osp.join(src, 'train', 'Image2', 'train_1.png'),
        np.zeros((32, 32, 3), np.uint8))
    label = np.zeros((32, 32), np.uint8)
    label[0, :3] = (1, 2, 3)
    _write(osp.join(src, 'train', 'label', 'train_1.png'), label)
    with pytest.raises(
            ValueError, match=r'label/train_1\.png has values '
            r'\[0, 1, 2, 3\]'):
        convert('o3')
    label[0, :3] = 1  # 0/1 is mapped to 0/255
    _write(osp.join(src, 'train', 'label', 'train_1.png'), label)
    convert('ok')
    out = cv2.imread(
        str(tmp_path / 'ok/train/label/train_1.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out, label * 255)
    with pytest.raises(FileExistsError, match='--force'):
        convert_binary_cd(
            src,
            str(tmp_path / 'ok'),
            S2LOOKING,
            splits=['train'],
            progress=False)
    with pytest.raises(
            ValueError,
            match=r"splits \['train', 'val', 'test'\]"
            r", not \['training'\]"):
        convert_binary_cd(
            src, str(tmp_path / 'o4'), S2LOOKING, splits=['training'])
    # DSIFN: one sample with a PNG and a TIF mask
    dsifn = str(tmp_path / 'DSIFN')
    _release(dsifn, DSIFN_CD, rng, dict(train=1))
    _write(
        osp.join(dsifn, 'train', 'mask', 'train_0.tif'),
        np.zeros((32, 32), np.uint8))
    with pytest.raises(
            ValueError,
            match=r'train_0\.png and .*train_0\.tif '
            'are two files for the sample train_0'):
        convert_binary_cd(
            dsifn, str(tmp_path / 'o5'), DSIFN_CD, splits=['train'])
    with pytest.raises(ValueError, match='different folders'):
        convert_binary_cd(src, src, S2LOOKING)


@pytest.mark.parametrize('script', ['s2looking', 'dsifn_cd', 'cdd'])
def test_release_converter_scripts(script, tmp_path, rng, capsys):
    from mmcd_ext.datasets.converters.binary_cd import LAYOUTS
    module = _load(script)
    layout = LAYOUTS[script]
    src, dst = str(tmp_path / 'raw'), str(tmp_path / 'out')
    _release(src, layout, rng, dict(train=1, val=1, test=1))
    assert module.main([src, dst, '--quiet', '--patch-size', '16']) == 0
    assert len(glob.glob(osp.join(dst, 'test', 'label', '*.png'))) == 4
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        module.main([src, dst, '--splits', 'val'])
    assert err.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f'tools/dataset_converters/{script}.py: error: FileExistsError: '
        f'output folder {osp.join(dst, "val")} is not empty')
    assert module.main([
        src, dst, '--splits', 'val', '--force', '--patch-size', '0', '--quiet'
    ]) == 0
    assert os.listdir(osp.join(dst, 'val', 'A')) == ['val_0.png']
