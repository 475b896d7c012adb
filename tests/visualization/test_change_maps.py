"""Tests of the change-map colouring functions."""
import numpy as np
import pytest
import torch

from mmcd_ext.visualization import (binary_change_map, binary_change_overlay,
                                    colorize_semantic)

# SECOND colours from METHODS.md, in label order 0..6.
SECOND_PALETTE = [[255, 255, 255], [0, 0, 255], [128, 128, 128], [0, 128, 0],
                  [0, 255, 0], [128, 0, 0], [255, 0, 0]]


def test_overlay_colours_at_known_pixels() -> None:
    pred = np.array([[1, 0, 1, 0, 1]], np.uint8)
    gt = np.array([[1, 0, 0, 1, 255]], np.uint8)
    out = binary_change_overlay(pred, gt)
    assert out.shape == (1, 5, 3) and out.dtype == np.uint8
    assert out[0].tolist() == [
        [255, 255, 0],  # TP yellow
        [0, 0, 0],  # TN black
        [255, 0, 0],  # FP red
        [0, 255, 0],  # FN green
        [128, 128, 128],  # ignored grey
    ]


def test_overlay_accepts_tensors_and_counts_match() -> None:
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 2, (32, 32), dtype=np.uint8)
    gt = rng.integers(0, 2, (32, 32), dtype=np.uint8)
    out = binary_change_overlay(
        torch.from_numpy(pred)[None],
        torch.from_numpy(gt)[None])
    yellow = np.all(out == [255, 255, 0], axis=-1)
    red = np.all(out == [255, 0, 0], axis=-1)
    green = np.all(out == [0, 255, 0], axis=-1)
    black = np.all(out == [0, 0, 0], axis=-1)
    np.testing.assert_array_equal(yellow, (pred == 1) & (gt == 1))
    np.testing.assert_array_equal(red, (pred == 1) & (gt == 0))
    np.testing.assert_array_equal(green, (pred == 0) & (gt == 1))
    np.testing.assert_array_equal(black, (pred == 0) & (gt == 0))


def test_overlay_without_label_and_single_map() -> None:
    pred = np.array([[True, False]])
    assert binary_change_overlay(pred).tolist() == [[[255, 255, 255],
                                                     [0, 0, 0]]]
    label = np.array([[1, 0, 255]], np.uint8)
    assert binary_change_map(label).tolist() == [[[255, 255, 255], [0, 0, 0],
                                                  [128, 128, 128]]]


def test_overlay_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match='only 0 and 1'):
        binary_change_overlay(np.array([[0, 255]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r'found \[2\]'):
        binary_change_overlay(np.array([[0, 1]]), np.array([[0, 2]]))
    with pytest.raises(ValueError, match='shape'):
        binary_change_overlay(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        binary_change_overlay(np.zeros((2, 2, 2)))


def test_colorize_semantic() -> None:
    sem = np.array([[0, 1, 2, 3], [4, 5, 6, 255]], np.uint8)
    out = colorize_semantic(torch.from_numpy(sem), SECOND_PALETTE)
    assert out.dtype == np.uint8 and out.shape == (2, 4, 3)
    for (y, x), value in np.ndenumerate(sem):
        expected = [0, 0, 0] if value == 255 else SECOND_PALETTE[value]
        assert out[y, x].tolist() == expected, (y, x)
    with pytest.raises(ValueError, match=r'\[6\] have no colour'):
        colorize_semantic(sem, SECOND_PALETTE[:6])
    with pytest.raises(ValueError, match='palette'):
        colorize_semantic(sem, [[0, 0]])
