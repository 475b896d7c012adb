"""Tile grids, blending windows and the strip accumulator of large scenes.

A scene of ``H x W`` pixels is covered by ``tile x tile`` windows that
overlap by at least ``overlap`` pixels. Along each axis the windows start
every ``tile - overlap`` pixels and the last one is moved back so that it
ends on the scene edge: every window lies inside the scene and the model
never sees invented pixels (a scene smaller than a tile is one window of the
scene's size). Predictions of overlapping windows are blended with a
separable raised-cosine (Hann) ramp spanning each overlap: in an overlap of
``L`` pixels the two windows get ``sin^2`` and ``cos^2`` of the same angle,
which sum to one, so a model that gives the same answer in both windows is
reproduced exactly and a model that does not changes smoothly instead of
along a seam. Sides on the scene border are not ramped.

:class:`StripBlender` accumulates one row of windows at a time and hands out
the rows that no later window touches, keeping only the overlap rows in
memory: its size is ``tile x W``, independent of the scene height.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np


def tile_starts(size: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of the windows along one axis.

    Args:
        size (int): Length of the axis in pixels.
        tile (int): Window length in pixels.
        overlap (int): Minimum overlap of neighbouring windows in pixels.

    Returns:
        list[int]: Increasing starts; the last window ends at ``size``.
        ``[0]`` when ``size <= tile``.

    Raises:
        ValueError: If ``size`` or ``tile`` is not positive or ``overlap`` is
            not in ``[0, tile)``.
    """
    if size <= 0:
        raise ValueError(f'the scene size must be positive, got {size}')
    if tile <= 0:
        raise ValueError(f'the tile size must be positive, got {tile}')
    if not 0 <= overlap < tile:
        raise ValueError(f'the overlap must be in [0, tile={tile}), got '
                         f'{overlap}')
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def ramp_weights(length: int, left: int, right: int) -> np.ndarray:
    """1-D blending weights of one window.

    The first ``left`` and last ``right`` pixels rise / fall as
    ``sin^2(pi (k + 0.5) / (2 L))``, ``k`` being the distance in pixels from
    the window edge and ``L`` the ramp length; elsewhere the weight is 1.
    A right ramp of length ``L`` and the next window's left ramp over the
    same ``L`` pixels sum to exactly one.

    Args:
        length (int): Window length in pixels.
        left (int): Ramp length at the start (0: no ramp, a scene border).
        right (int): Ramp length at the end (0: no ramp).

    Returns:
        np.ndarray: ``(length,)`` float64 weights in ``(0, 1]``.

    Raises:
        ValueError: If a ramp is negative or longer than the window.
    """
    if not (0 <= left <= length and 0 <= right <= length):
        raise ValueError(f'ramps ({left}, {right}) must lie in [0, '
                         f'{length}]')
    w = np.ones(length, dtype=np.float64)
    k = np.arange(length, dtype=np.float64)
    if left:
        rise = np.sin(math.pi * (k[:left] + 0.5) / (2 * left))**2
        w[:left] *= rise
    if right:
        fall = np.sin(math.pi * (k[:right] + 0.5) / (2 * right))**2
        w[length - right:] *= fall[::-1]
    return w


def axis_weights(starts: List[int], length: int) -> List[np.ndarray]:
    """Blending weights of every window along one axis.

    Each ramp spans exactly the overlap with the neighbouring window, so
    the weights of the windows covering any pixel sum to one whenever at
    most two windows overlap (``overlap <= tile / 2``); with more, the
    blender's normalisation still gives a weighted mean.

    Args:
        starts (list[int]): Window starts from :func:`tile_starts`.
        length (int): Window length (``min(tile, size)``).

    Returns:
        list[np.ndarray]: ``(length,)`` weights per window.
    """
    weights = []
    for i, start in enumerate(starts):
        left = starts[i - 1] + length - start if i > 0 else 0
        right = start + length - starts[i + 1] if i + 1 < len(starts) else 0
        weights.append(ramp_weights(length, left, right))
    return weights


@dataclass(frozen=True)
class TileGrid:
    """The windows covering a scene.

    Args:
        height (int): Scene height in pixels.
        width (int): Scene width in pixels.
        tile (int): Window side in pixels (clipped to the scene).
        overlap (int): Minimum overlap of neighbouring windows in pixels.
    """
    height: int
    width: int
    tile: int
    overlap: int

    def __post_init__(self) -> None:
        # validates every argument
        tile_starts(self.height, self.tile, self.overlap)
        tile_starts(self.width, self.tile, self.overlap)

    @property
    def tile_h(self) -> int:
        """Window height: ``min(tile, height)``."""
        return min(self.tile, self.height)

    @property
    def tile_w(self) -> int:
        """Window width: ``min(tile, width)``."""
        return min(self.tile, self.width)

    @property
    def row_starts(self) -> List[int]:
        """First row of each row of windows."""
        return tile_starts(self.height, self.tile, self.overlap)

    @property
    def col_starts(self) -> List[int]:
        """First column of each column of windows."""
        return tile_starts(self.width, self.tile, self.overlap)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def window_weights(self) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Row and column weight vectors of every window row / column.

        Returns:
            tuple: ``(row_weights, col_weights)``; the 2-D weight of window
            ``(i, j)`` is ``np.outer(row_weights[i], col_weights[j])``.
        """
        return (axis_weights(self.row_starts, self.tile_h),
                axis_weights(self.col_starts, self.tile_w))


class StripBlender:
    """Blend window predictions of a scene one row of windows at a time.

    Usage: for each window row ``i`` (in order) call :meth:`add` for its
    windows, then :meth:`finish_row`, which returns the rows of the scene
    that are final (no later window covers them) and keeps the overlap rows
    for the next window row. Memory: ``tile_h x width`` accumulators.

    Two kinds of prediction are blended:

    * ``channels`` float maps (e.g. the change probability), as the weighted
      mean ``sum(w * p) / sum(w)``;
    * ``labels`` integer maps (e.g. the semantic classes of SCD models),
      taken from the window with the largest weight at each pixel (the most
      central one), since class indices cannot be averaged.

    Args:
        grid (TileGrid): The windows of the scene.
        channels (int): Number of float maps blended. Defaults to 1.
        labels (int): Number of label maps. Defaults to 0.
        start_row (int): Index of the first window row added (a strip of
            the scene; see :mod:`mmcd_ext.apis.geo_strips`). The rows that
            windows before it also cover come out incomplete. Defaults to
            0.
    """

    def __init__(self,
                 grid: TileGrid,
                 channels: int = 1,
                 labels: int = 0,
                 start_row: int = 0) -> None:
        if channels < 0 or labels < 0:
            raise ValueError('channels and labels must not be negative')
        if not 0 <= start_row < len(grid.row_starts):
            raise ValueError(f'start_row must be in [0, '
                             f'{len(grid.row_starts)}), got {start_row}')
        self.grid = grid
        self.channels = channels
        self.labels = labels
        self._row_w, self._col_w = grid.window_weights()
        self._rows = grid.row_starts
        self._row_index = start_row
        height = grid.tile_h
        self._sum = np.zeros((channels, height, grid.width), np.float32)
        self._weight = np.zeros((height, grid.width), np.float32)
        self._label = np.zeros((labels, height, grid.width), np.uint8)
        self._best = np.zeros((height, grid.width), np.float32)

    @property
    def row_index(self) -> int:
        """Index of the window row being accumulated."""
        return self._row_index

    def add(self,
            col_index: int,
            maps: Optional[np.ndarray] = None,
            labels: Optional[np.ndarray] = None) -> None:
        """Add the prediction of window ``(row_index, col_index)``.

        Args:
            col_index (int): Column index of the window in the grid.
            maps (np.ndarray, optional): ``(channels, tile_h, tile_w)`` float
                maps. Defaults to None (only with ``channels == 0``).
            labels (np.ndarray, optional): ``(labels, tile_h, tile_w)``
                integer maps in ``[0, 255]``. Defaults to None (only with
                ``labels == 0``).

        Raises:
            ValueError: If a shape does not fit the grid.
        """
        th, tw = self.grid.tile_h, self.grid.tile_w
        x0 = self.grid.col_starts[col_index]
        w2d = np.outer(self._row_w[self._row_index],
                       self._col_w[col_index]).astype(np.float32)
        if self.channels:
            if maps is None or maps.shape != (self.channels, th, tw):
                raise ValueError(
                    f'expected maps of shape {(self.channels, th, tw)}, got '
                    f'{None if maps is None else maps.shape}')
            self._sum[:, :, x0:x0 + tw] += w2d * maps
        if self.labels:
            if labels is None or labels.shape != (self.labels, th, tw):
                raise ValueError(
                    f'expected labels of shape {(self.labels, th, tw)}, got '
                    f'{None if labels is None else labels.shape}')
            best = self._best[:, x0:x0 + tw]
            better = w2d > best
            region = self._label[:, :, x0:x0 + tw]
            region[:, better] = labels[:, better]
            best[better] = w2d[better]
        self._weight[:, x0:x0 + tw] += w2d

    def finish_row(self) -> Tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """Close the current window row and return the finished scene rows.

        Returns:
            tuple: ``(y0, maps, labels, weight)``: the first scene row, the
            blended maps ``(channels, n, width)`` float32, the label maps
            ``(labels, n, width)`` uint8 and the weight sum ``(n, width)``
            (0 where no window was added, e.g. skipped no-data windows; the
            maps are 0 there).

        Raises:
            RuntimeError: If every window row is finished already.
        """
        if self._row_index >= len(self._rows):
            raise RuntimeError('every window row is finished already')
        y0 = self._rows[self._row_index]
        last = self._row_index + 1 == len(self._rows)
        y1 = self.grid.height if last else self._rows[self._row_index + 1]
        n = y1 - y0
        weight = self._weight[:n].copy()
        with np.errstate(invalid='ignore', divide='ignore'):
            maps = np.where(weight > 0, self._sum[:, :n] / weight, 0)
        maps = maps.astype(np.float32)
        labels = self._label[:, :n].copy()
        # keep the overlap rows: move them to the top and clear the rest
        for buf in (self._sum, self._label):
            buf[:, :-n] = buf[:, n:].copy() if n < buf.shape[1] else 0
            buf[:, buf.shape[1] - n:] = 0
        for buf in (self._weight, self._best):
            buf[:-n] = buf[n:].copy() if n < buf.shape[0] else 0
            buf[buf.shape[0] - n:] = 0
        self._row_index += 1
        return y0, maps, labels, weight
