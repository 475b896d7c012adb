"""Tiny bitemporal fixtures, written into ``tmp_path`` by seeded generators.

Images are built so that any misalignment between the dates and the labels
is visible pixel by pixel:

* date A encodes its own pixel coordinates: channel 0 = row, channel 1 =
  column, channel 2 = ``(7 * row + 3 * col) % 256``;
* date B is ``255 - A``;
* labels are functions of the coordinates (see :func:`coord_labels`).

After a geometric transform, reading the coordinates back from date A tells
where each output pixel came from; date B and every label must agree.
"""
import os
import os.path as osp
from typing import Callable, Dict, Sequence

import cv2
import numpy as np
import pytest

from mmcd_ext.datasets.palettes import SECOND_PALETTE


def coord_image(h: int, w: int) -> np.ndarray:
    """Date A of the alignment fixtures, ``(h, w, 3)`` uint8 (h, w <= 256)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([yy, xx, (7 * yy + 3 * xx) % 256], axis=2).astype(np.uint8)


def coord_labels(rows: np.ndarray,
                 cols: np.ndarray,
                 num_classes: int = 7) -> Dict[str, np.ndarray]:
    """Labels defined from pixel coordinates.

    Args:
        rows (np.ndarray): Row of each pixel.
        cols (np.ndarray): Column of each pixel.
        num_classes (int): Semantic classes including 0. Defaults to 7.

    Returns:
        dict: ``change`` (0/1), ``sem_a`` and ``sem_b`` (0 where unchanged,
        a class >= 1 elsewhere), all uint8.
    """
    rows = rows.astype(np.int64)
    cols = cols.astype(np.int64)
    change = ((rows // 4 + cols // 4) % 2).astype(np.uint8)
    sem_a = np.where(change == 1, 1 + rows % (num_classes - 1), 0)
    sem_b = np.where(change == 1, 1 + cols % (num_classes - 1), 0)
    return dict(
        change=change,
        sem_a=sem_a.astype(np.uint8),
        sem_b=sem_b.astype(np.uint8))


def write_png(path: str, arr: np.ndarray) -> str:
    """Write an array as PNG (cv2 order: BGR for colour), making folders."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr), path
    return path


def write_rgb_png(path: str, rgb: np.ndarray) -> str:
    """Write an RGB array as a colour PNG."""
    return write_png(path, np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def make_binary_cd_tree(tmp_path, rng) -> Callable:
    """Return a function writing a binary CD folder tree into ``tmp_path``.

    The function takes ``names`` (sample names), ``size`` ``(h, w)``,
    ``folders`` (A, B, label folder names), ``encoding`` ('0/255' or '0/1')
    and returns ``(root, truth)`` with ``truth[name]`` =
    ``(img_a, img_b, label01)``.
    """

    def _make(names: Sequence[str] = ('t0', 't1', 't2'),
              size=(32, 40),
              folders=('A', 'B', 'label'),
              encoding: str = '0/255',
              suffixes=('.png', '.png', '.png'),
              root: str = None):
        root = root or str(tmp_path / 'cd')
        truth = {}
        for name in names:
            img_a = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            img_b = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            label = (rng.random(size) < 0.3).astype(np.uint8)
            stored = label * 255 if encoding == '0/255' else label
            write_png(osp.join(root, folders[0], name + suffixes[0]), img_a)
            write_png(osp.join(root, folders[1], name + suffixes[1]), img_b)
            write_png(osp.join(root, folders[2], name + suffixes[2]), stored)
            truth[name] = (img_a, img_b, label)
        return root, truth

    return _make


@pytest.fixture
def make_scd_tree(tmp_path, rng) -> Callable:
    """Return a function writing an SCD folder tree (im1 im2 label1 label2).

    ``colour=True`` writes RGB colour labels with ``palette``, otherwise
    index PNGs. Returns ``(root, truth)`` with ``truth[name]`` =
    ``(img_a, img_b, sem_a, sem_b)``.
    """

    def _make(names: Sequence[str] = ('s0', 's1'),
              size=(32, 32),
              palette=SECOND_PALETTE,
              colour: bool = True,
              root: str = None):
        root = root or str(tmp_path / 'scd')
        pal = np.asarray(palette, dtype=np.uint8)
        k = len(palette)
        truth = {}
        for name in names:
            img_a = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            img_b = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            change = rng.random(size) < 0.4
            sem_a = np.where(change, rng.integers(1, k, size),
                             0).astype(np.uint8)
            sem_b = np.where(change, rng.integers(1, k, size),
                             0).astype(np.uint8)
            write_png(osp.join(root, 'im1', name + '.png'), img_a)
            write_png(osp.join(root, 'im2', name + '.png'), img_b)
            for folder, sem in (('label1', sem_a), ('label2', sem_b)):
                path = osp.join(root, folder, name + '.png')
                if colour:
                    write_rgb_png(path, pal[sem])
                else:
                    write_png(path, sem)
            truth[name] = (img_a, img_b, sem_a, sem_b)
        return root, truth

    return _make


@pytest.fixture
def aligned_results() -> Callable:
    """Return a function building a results dict of the alignment fixture.

    ``aligned_results(h, w, scd=False)`` gives ``img`` ``(h, w, 6)`` (A then
    ``255 - A``), ``gt_seg_map`` and, with ``scd=True``, ``gt_seg_map_a`` /
    ``gt_seg_map_b``, plus ``seg_fields`` and shapes.
    """

    def _make(h: int = 40, w: int = 48, scd: bool = False) -> dict:
        img_a = coord_image(h, w)
        yy, xx = np.mgrid[0:h, 0:w]
        labels = coord_labels(yy, xx)
        results = dict(
            img=np.concatenate([img_a, 255 - img_a], axis=2),
            img_shape=(h, w),
            ori_shape=(h, w),
            gt_seg_map=labels['change'],
            seg_fields=['gt_seg_map'],
            img_path='a.png',
            img_path2='b.png')
        if scd:
            results.update(
                gt_seg_map_a=labels['sem_a'], gt_seg_map_b=labels['sem_b'])
            results['seg_fields'] += ['gt_seg_map_a', 'gt_seg_map_b']
        return results

    return _make


def assert_aligned(results: dict,
                   pad_val=None,
                   seg_pad_val: int = 255,
                   tol: int = 0) -> np.ndarray:
    """Check that date B and every label still match date A pixel by pixel.

    Args:
        results (dict): Transformed results of :func:`aligned_results`.
        pad_val (int, optional): Image value of padded pixels (those whose
            labels are ``seg_pad_val``); None when nothing may be padded.
        seg_pad_val (int): Label value of padded pixels. Defaults to 255.
        tol (int): Allowed difference for interpolated images.
            Defaults to 0.

    Returns:
        np.ndarray: Mask of the valid (not padded) pixels.
    """
    img = results['img'].astype(np.int64)
    a, b = img[..., :3], img[..., 3:]
    h, w = img.shape[:2]
    assert tuple(results['img_shape'][:2]) == (h, w)
    valid = np.ones((h, w), dtype=bool)
    if pad_val is not None:
        valid = results['gt_seg_map'] != seg_pad_val
        for key in ('gt_seg_map_a', 'gt_seg_map_b'):
            if key in results:
                assert np.array_equal(results[key] != seg_pad_val, valid)
        pad = np.broadcast_to(np.asarray(pad_val), (6, ))
        assert np.array_equal(img[~valid], np.tile(pad, ((~valid).sum(), 1)))
    np.testing.assert_allclose(b[valid], 255 - a[valid], atol=tol, rtol=0)
    labels = coord_labels(a[..., 0], a[..., 1])
    for key, name in (('gt_seg_map', 'change'), ('gt_seg_map_a', 'sem_a'),
                      ('gt_seg_map_b', 'sem_b')):
        if key in results:
            assert results[key].shape == (h, w), key
            if tol == 0:
                assert np.array_equal(results[key][valid],
                                      labels[name][valid]), key
    return valid


@pytest.fixture
def check_aligned() -> Callable:
    """:func:`assert_aligned` as a fixture."""
    return assert_aligned
