"""Tile grid, blending weights and the strip accumulator."""
import math

import numpy as np
import pytest

from mmcd_ext.apis.tiling import (StripBlender, TileGrid, axis_weights,
                                  ramp_weights, tile_starts)


@pytest.mark.parametrize('size,tile,overlap', [(1300, 256, 32),
                                               (1500, 256, 32), (256, 256, 32),
                                               (100, 256, 32), (257, 256, 0),
                                               (700, 200, 100), (33, 8, 7)])
def test_tile_starts_cover_the_axis_with_the_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    length = min(tile, size)
    assert starts[0] == 0
    assert starts[-1] + length == size  # last tile ends on the edge
    assert starts == sorted(set(starts))
    for prev, nxt in zip(starts, starts[1:]):
        assert prev + length - nxt >= overlap  # at least the overlap
    covered = np.zeros(size, bool)
    for s in starts:
        covered[s:s + length] = True
    assert covered.all()


def test_tile_starts_hand_worked():
    # stride 224: 0, 224, ..., 1120, and the last tile moved back to 1244
    assert tile_starts(1500, 256, 32) == [0, 224, 448, 672, 896, 1120, 1244]
    assert tile_starts(100, 256, 32) == [0]


@pytest.mark.parametrize('args', [(0, 8, 0), (10, 0, 0), (10, 8, 8),
                                  (10, 8, -1)])
def test_tile_starts_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        tile_starts(*args)


def test_ramp_weights_hand_worked():
    w = ramp_weights(6, 2, 3)
    s = math.sin
    expected = [
        s(math.pi * 0.5 / 4)**2,
        s(math.pi * 1.5 / 4)**2, 1.0,
        s(math.pi * 2.5 / 6)**2,
        s(math.pi * 1.5 / 6)**2,
        s(math.pi * 0.5 / 6)**2
    ]
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ramp_weights(4, 0, 0), np.ones(4))


def _max_cover(starts, length):
    """Most windows covering one pixel."""
    size = starts[-1] + length
    count = np.zeros(size, int)
    for s in starts:
        count[s:s + length] += 1
    return count.max()


@pytest.mark.parametrize('size,tile,overlap', [(1300, 256, 32),
                                               (1500, 256, 100), (95, 32, 5),
                                               (64, 64, 16)])
def test_axis_weights_are_a_partition_of_unity(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    length = min(tile, size)
    assert _max_cover(starts, length) <= 2  # precondition of the property
    total = np.zeros(size)
    for s, w in zip(starts, axis_weights(starts, length)):
        assert (w > 0).all()
        total[s:s + length] += w
    np.testing.assert_allclose(total, np.ones(size), rtol=0, atol=1e-12)


def test_axis_weights_with_three_windows_on_a_pixel_stay_positive():
    # the last window is moved back far: three windows overlap near the end
    starts = tile_starts(90, 32, 5)
    assert starts == [0, 27, 54, 58] and _max_cover(starts, 32) == 3
    total = np.zeros(90)
    for s, w in zip(starts, axis_weights(starts, 32)):
        total[s:s + 32] += w
    assert (total > 0).all()
    np.testing.assert_allclose(total[:54], 1.0, rtol=0, atol=1e-12)


def _blend_all(grid, tile_maps, tile_labels, channels, labels):
    """Run a StripBlender over every window and stitch the strips."""
    blender = StripBlender(grid, channels=channels, labels=labels)
    out_maps = np.zeros((channels, grid.height, grid.width), np.float32)
    out_labels = np.zeros((labels, grid.height, grid.width), np.uint8)
    out_weight = np.zeros((grid.height, grid.width), np.float32)
    rows_seen = []
    for i in range(len(grid.row_starts)):
        for j in range(len(grid.col_starts)):
            if (i, j) in tile_maps:
                blender.add(j, tile_maps[(i, j)], tile_labels.get((i, j)))
        y0, maps, labs, weight = blender.finish_row()
        n = weight.shape[0]
        rows_seen.append((y0, n))
        out_maps[:, y0:y0 + n] = maps
        out_labels[:, y0:y0 + n] = labs
        out_weight[y0:y0 + n] = weight
    # the strips tile the scene exactly once
    assert rows_seen[0][0] == 0
    for (y0, n), (y1, _) in zip(rows_seen, rows_seen[1:]):
        assert y0 + n == y1
    assert sum(n for _, n in rows_seen) == grid.height
    with pytest.raises(RuntimeError):
        blender.finish_row()
    return out_maps, out_labels, out_weight


def test_strip_blender_reproduces_a_consistent_field_exactly():
    rng = np.random.default_rng(0)
    # rows: 0, 36, 72, 102 (two windows per pixel at most); columns: 0, 36,
    # 72, 82 (three windows on columns 82-83): exact either way
    grid = TileGrid(height=150, width=130, tile=48, overlap=12)
    field = rng.random((2, 150, 130)).astype(np.float32)
    th, tw = grid.tile_h, grid.tile_w
    maps = {
        (i, j): field[:, y:y + th, x:x + tw]
        for i, y in enumerate(grid.row_starts)
        for j, x in enumerate(grid.col_starts)
    }
    out, _, weight = _blend_all(grid, maps, {}, 2, 0)
    np.testing.assert_allclose(out, field, rtol=0, atol=1e-6)
    # weights sum to one where at most two windows overlap
    np.testing.assert_allclose(weight[:, :82], 1.0, rtol=0, atol=1e-6)
    assert (weight > 0).all()


def test_strip_blender_equals_a_full_scene_weighted_mean():
    rng = np.random.default_rng(1)
    grid = TileGrid(height=97, width=121, tile=40, overlap=16)
    th, tw = grid.tile_h, grid.tile_w
    row_w, col_w = grid.window_weights()
    num = np.zeros((97, 121))
    den = np.zeros((97, 121))
    best = np.zeros((97, 121))
    best_label = np.zeros((97, 121), np.uint8)
    maps, labels = {}, {}
    for i, y in enumerate(grid.row_starts):
        for j, x in enumerate(grid.col_starts):
            if (i, j) == (1, 1):
                continue  # a skipped (no-data) window
            m = rng.random((1, th, tw)).astype(np.float32)
            lab = rng.integers(0, 7, (1, th, tw), dtype=np.uint8)
            maps[(i, j)], labels[(i, j)] = m, lab
            w = np.outer(row_w[i], col_w[j])
            num[y:y + th, x:x + tw] += w * m[0]
            den[y:y + th, x:x + tw] += w
            region = best[y:y + th, x:x + tw]
            better = w > region
            best_label[y:y + th, x:x + tw][better] = lab[0][better]
            region[better] = w[better]
    out, out_labels, weight = _blend_all(grid, maps, labels, 1, 1)
    expected = np.where(den > 0, num / np.where(den > 0, den, 1), 0)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(weight, den, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out_labels[0], best_label)


def test_strip_blender_checks_shapes():
    grid = TileGrid(height=20, width=20, tile=16, overlap=4)
    blender = StripBlender(grid, channels=1)
    with pytest.raises(ValueError, match='shape'):
        blender.add(0, np.zeros((1, 8, 8), np.float32))
