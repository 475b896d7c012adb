"""Bad inputs to the folder datasets and their loading transforms.

Each case writes a small valid tree with the seeded fixtures of
``conftest.py``, spoils one thing, and checks that building the dataset and
loading every sample fails with the expected exception, a one-line message
naming the culprit file (or argument), and that no file of the tree changed.
A FIFO among the inputs must not block: every case runs under an alarm.
"""
import os
import signal
from typing import Callable

import cv2
import numpy as np
import pytest
from cd_testing import snapshot

from mmcd_ext.datasets.palettes import SECOND_PALETTE
from mmcd_ext.datasets.transforms import (LoadBitemporalImages,
                                          LoadSCDAnnotations)
from mmcd_ext.registry import DATASETS

BINARY_PIPELINE = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadCDAnnotations'),
    dict(type='PackCDInputs'),
]
SCD_PIPELINE = [
    dict(type='LoadBitemporalImages'),
    dict(type='LoadSCDAnnotations'),
    dict(type='PackCDInputs'),
]
#: Seconds a case may take before it counts as hung.
TIMEOUT = 20


def message_of(err: BaseException) -> str:
    """The message as raised (``KeyError`` quotes its ``str``)."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        return str(err.args[0])
    return str(err)


def _alarm(signum, frame):
    raise TimeoutError(f'the case took more than {TIMEOUT} s (blocked?)')


def rand_img(rng, h=32, w=40, c=3, dtype=np.uint8):
    top = 256 if dtype == np.uint8 else 65536
    return rng.integers(0, top, (h, w, c)).astype(dtype)


def write(path: str, arr: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr), path


def replace_with(path: str, kind: str, rng) -> None:
    """Replace a file by a FIFO, a folder, an empty, truncated or text
    file, keeping its name."""
    data = open(path, 'rb').read()
    os.remove(path)
    if kind == 'fifo':
        os.mkfifo(path)
    elif kind == 'folder':
        os.mkdir(path)
    elif kind == 'empty':
        open(path, 'wb').close()
    elif kind == 'truncated':
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    elif kind == 'text':
        with open(path, 'w') as f:
            f.write('this is not an image\n' * 4)
    else:
        raise ValueError(kind)


# ---------------------------------------------------------------------------
# Binary change datasets: each case spoils the tree made by
# make_binary_cd_tree (t0, t1 in A/ B/ label/, 32x40, 0/255 labels) and
# returns (dataset overrides, culprits the message must name).
# ---------------------------------------------------------------------------


def b_pair_sizes(root, rng):
    write(f'{root}/B/t1.png', rand_img(rng, 24, 40))
    return {}, ['A/t1.png', 'B/t1.png']


def b_missing_partner(root, rng):
    os.remove(f'{root}/B/t1.png')
    return {}, ['A/t1.png', 'B/t1.png']


def b_extra_unpaired(root, rng):
    write(f'{root}/label/t9.png', np.zeros((32, 40), np.uint8))
    return {}, ['label/t9.png']


def b_label_values(root, rng):
    label = np.zeros((32, 40), np.uint8)
    label[:4] = 255
    label[4:6] = 7
    write(f'{root}/label/t1.png', label)
    return {}, ['label/t1.png', '7']


def b_0255_declared_01(root, rng):
    return dict(label_encoding='0/1'), ['label/t0.png', 'label_encoding']


def b_label_size(root, rng):
    write(f'{root}/label/t0.png', np.zeros((16, 40), np.uint8))
    return {}, ['label/t0.png', '16x40']


def b_label_channels(root, rng):
    label = np.zeros((32, 40, 3), np.uint8)
    label[..., 1] = 255
    write(f'{root}/label/t0.png', label)
    return {}, ['label/t0.png']


def b_grey_with_rgb(root, rng):
    write(f'{root}/A/t1.png', rand_img(rng, c=1)[..., 0])
    return {}, ['A/t1.png', 'B/t1.png']


def b_16bit_colour(root, rng):
    write(f'{root}/A/t0.png', rand_img(rng, dtype=np.uint16))
    return {}, ['A/t0.png', 'uint16']


def b_rgba_transparent(root, rng):
    img = rand_img(rng, c=4)
    img[..., 3] = 255
    img[0, 0, 3] = 10
    write(f'{root}/B/t0.png', img)
    return {}, ['B/t0.png', 'alpha']


def _replaced(kind, rel, *also):

    def case(root, rng):
        replace_with(f'{root}/{rel}', kind, rng)
        return {}, [rel, *also]

    case.__name__ = f'b_{kind}_named_png'
    return case


def b_missing_data_root(root, rng):
    return dict(data_root=f'{root}/nope'), ['nope']


def b_ann_lists_missing(root, rng):
    with open(f'{root}/list.txt', 'w') as f:
        f.write('t0\nt5.png\n')
    return dict(ann_file=f'{root}/list.txt'), ['A/t5.png', 'list.txt']


def b_ann_lists_folder(root, rng):
    replace_with(f'{root}/B/t1.png', 'folder', rng)
    with open(f'{root}/list.txt', 'w') as f:
        f.write('t0\nt1\n')
    return dict(ann_file=f'{root}/list.txt'), ['B/t1.png', 'is a folder']


def b_ann_file_missing(root, rng):
    return dict(ann_file=f'{root}/splits/val.txt'), ['splits/val.txt']


def b_ann_lists_twice(root, rng):
    with open(f'{root}/list.txt', 'w') as f:
        f.write('t0\nt1\nt0.png\n')
    return dict(ann_file=f'{root}/list.txt'), ['list.txt', 't0']


def b_empty_folder(root, rng):
    os.mkdir(f'{root}/A_empty')
    prefix = dict(img_path='A_empty', img_path2='B', seg_map_path='label')
    return dict(data_prefix=prefix), ['A_empty']


def b_wrong_suffix(root, rng):
    return dict(img_suffix='.jpg'), ['.jpg', f'{root}/A']


def b_bad_encoding_argument(root, rng):
    return dict(label_encoding='0-255'), ['label_encoding', '0-255']


def b_prefix_lacks_key(root, rng):
    return dict(data_prefix=dict(img_path='A')), ['img_path2']


def b_reduce_zero_label(root, rng):
    return dict(reduce_zero_label=True), ['reduce_zero_label']


BINARY_CASES = [
    (b_pair_sizes, ValueError),
    (b_missing_partner, FileNotFoundError),
    (b_extra_unpaired, ValueError),
    (b_label_values, ValueError),
    (b_0255_declared_01, ValueError),
    (b_label_size, ValueError),
    (b_label_channels, ValueError),
    (b_grey_with_rgb, ValueError),
    (b_16bit_colour, ValueError),
    (b_rgba_transparent, ValueError),
    (_replaced('fifo', 'A/t0.png', 'is a FIFO'), ValueError),
    (_replaced('folder', 'B/t1.png', 'is a folder'), FileNotFoundError),
    (_replaced('empty', 'A/t1.png', '0 bytes'), ValueError),
    (_replaced('truncated', 'B/t0.png'), ValueError),
    (_replaced('text', 'label/t1.png'), ValueError),
    (b_missing_data_root, FileNotFoundError),
    (b_ann_lists_missing, FileNotFoundError),
    (b_ann_lists_folder, FileNotFoundError),
    (b_ann_file_missing, FileNotFoundError),
    (b_ann_lists_twice, ValueError),
    (b_empty_folder, FileNotFoundError),
    (b_wrong_suffix, FileNotFoundError),
    (b_bad_encoding_argument, ValueError),
    (b_prefix_lacks_key, KeyError),
    (b_reduce_zero_label, ValueError),
]

# ---------------------------------------------------------------------------
# Semantic change datasets: make_scd_tree (s0, s1 in im1/ im2/ label1/
# label2/, 32x32, SECOND colours).
# ---------------------------------------------------------------------------


def s_unknown_colour(root, rng):
    label = cv2.imread(f'{root}/label2/s1.png')
    label[3, 5] = (3, 2, 1)  # BGR of RGB (1, 2, 3)
    write(f'{root}/label2/s1.png', label)
    return {}, ['label2/s1.png', '(1, 2, 3)']


def s_landsat_reads_second(root, rng):
    return dict(type='LandsatSCDDataset'), ['label1/s0.png']


def s_index_outside_classes(root, rng):
    label = cv2.imread(f'{root}/label1/s0.png', cv2.IMREAD_UNCHANGED)
    index = np.zeros(label.shape[:2], np.uint8)
    index[0, :3] = 9
    write(f'{root}/label1/s0.png', index)
    write(f'{root}/label2/s0.png', index)
    return {}, ['label1/s0.png', '[9]']


def s_labels_disagree(root, rng):
    white = np.full((32, 32, 3), 255, np.uint8)  # all "no change"
    write(f'{root}/label2/s0.png', white)
    return {}, ['label1/s0.png', 'label2/s0.png']


def s_label_size(root, rng):
    label = cv2.imread(f'{root}/label2/s1.png')
    write(f'{root}/label2/s1.png', label[:20])
    return {}, ['label2/s1.png', '20x32']


def s_label_rgba(root, rng):
    label = cv2.imread(f'{root}/label1/s0.png')
    write(f'{root}/label1/s0.png',
          np.concatenate([label, np.full((32, 32, 1), 255, np.uint8)], 2))
    return {}, ['label1/s0.png', '4 channels']


def s_orphan_label(root, rng):
    write(f'{root}/label2/s7.png', np.zeros((32, 32), np.uint8))
    return {}, ['label2/s7.png']


def s_one_label_folder(root, rng):
    return dict(
        data_prefix=dict(
            img_path='im1', img_path2='im2', seg_map_path_a='label1')), [
                'seg_map_path_b'
            ]


def s_classes_renamed(root, rng):
    classes = ('unchanged', 'water', 'soil', 'low vegetation', 'tree',
               'building', 'playground')
    return dict(metainfo=dict(classes=classes)), ['soil']


def s_generic_without_palette(root, rng):
    return dict(type='SCDFolderDataset'), ['metainfo', 'palette']


def s_truncated_date_b(root, rng):
    replace_with(f'{root}/im2/s1.png', 'truncated', rng)
    return {}, ['im2/s1.png']


SCD_CASES = [
    (s_unknown_colour, ValueError),
    (s_landsat_reads_second, ValueError),
    (s_index_outside_classes, ValueError),
    (s_labels_disagree, ValueError),
    (s_label_size, ValueError),
    (s_label_rgba, ValueError),
    (s_orphan_label, ValueError),
    (s_one_label_folder, KeyError),
    (s_classes_renamed, ValueError),
    (s_generic_without_palette, ValueError),
    (s_truncated_date_b, ValueError),
]


def build_and_load(cfg: dict) -> None:
    """Build the dataset and load every sample (under the alarm)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    try:
        dataset = DATASETS.build(cfg)
        for i in range(len(dataset)):
            dataset[i]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check_refused(root: str, spoil: Callable, base_cfg: dict,
                  error: type) -> None:
    rng = np.random.default_rng(16)
    overrides, culprits = spoil(root, rng)
    cfg = dict(base_cfg, **overrides)
    before = snapshot(root)
    with pytest.raises(error) as info:
        build_and_load(cfg)
    assert type(info.value) is not TimeoutError
    msg = message_of(info.value)
    assert '\n' not in msg, msg
    for culprit in culprits:
        assert culprit in msg, f'{culprit!r} not named in: {msg}'
    assert snapshot(root) == before


@pytest.mark.parametrize(
    'spoil, error', BINARY_CASES, ids=[c[0].__name__ for c in BINARY_CASES])
def test_binary_dataset_refuses(make_binary_cd_tree, spoil, error):
    root, _ = make_binary_cd_tree(names=('t0', 't1'))
    base = dict(
        type='LEVIRCDDataset',
        data_root=root,
        pipeline=BINARY_PIPELINE,
        serialize_data=False)
    check_refused(root, spoil, base, error)


@pytest.mark.parametrize(
    'spoil, error', SCD_CASES, ids=[c[0].__name__ for c in SCD_CASES])
def test_scd_dataset_refuses(make_scd_tree, spoil, error):
    root, _ = make_scd_tree(names=('s0', 's1'))
    base = dict(
        type='SECONDDataset',
        data_root=root,
        pipeline=SCD_PIPELINE,
        serialize_data=False)
    check_refused(root, spoil, base, error)


@pytest.mark.parametrize(
    'build, culprit', [
        (lambda: LoadBitemporalImages(color_type='colour'), 'colour'),
        (lambda: LoadSCDAnnotations(palette=SECOND_PALETTE, ignore_index=3),
         'ignore_index 3'),
        (lambda: LoadSCDAnnotations(palette=[[0, 0, 0], [0, 0, 0]]),
         'repeats a colour'),
    ],
    ids=['color_type', 'ignore_index_is_class', 'palette_repeats'])
def test_transform_arguments_refused(build, culprit):
    with pytest.raises(ValueError) as info:
        build()
    msg = message_of(info.value)
    assert '\n' not in msg and culprit in msg, msg
