"""The change GeoTIFF of large-scene inference and the writer that makes it.

:class:`ChangeRasterWriter` receives the tile predictions of a scene one row
of tiles at a time, blends them (:class:`~mmcd_ext.apis.tiling.StripBlender`)
and writes the finished rows; memory holds one row of tiles (``tile x
width`` accumulators) and the rows waiting for a full block of the output
file, never the scene. The output is tiled and deflate-compressed, uint8,
with no-data value :data:`OUT_NODATA` in every band:

* binary models: 1 change (0/1) [, 2 probability of change in percent];
* semantic change models: 1 change, 2 semantic change map of date A,
  3 of date B [, 4 probability of change in percent].

rasterio is optional (``pip install -e .[geo]``): :func:`require_rasterio`
imports it, or says how to install it, when a function that needs it runs.
"""
import os
import os.path as osp
from types import TracebackType
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

import numpy as np

from mmcd_ext.utils.atomic import commit_file
from .change_detector import ChangeResult
from .tiling import StripBlender, TileGrid

#: Value of no-data pixels in every output band.
OUT_NODATA = 255
#: Block side of the output GeoTIFF.
OUT_BLOCK = 256


def require_rasterio() -> Any:
    """Import rasterio or explain how to install it.

    Returns:
        module: The ``rasterio`` module.

    Raises:
        ImportError: If rasterio is not installed.
    """
    try:
        import rasterio
    except ImportError as err:
        raise ImportError(
            'GeoTIFF (large-scene) inference needs rasterio, which is not '
            'installed: pip install -e ".[geo]" (or pip install rasterio)'
        ) from err
    return rasterio


def band_names(semantic: bool, probs: bool) -> List[str]:
    """Descriptions of the output bands, in order.

    Args:
        semantic (bool): The model is a semantic change model.
        probs (bool): A probability band is written.

    Returns:
        list[str]: One description per band.
    """
    names = ['change (1 changed, 0 unchanged)']
    if semantic:
        names += [
            'semantic change class, date A', 'semantic change class, date B'
        ]
    if probs:
        names.append('probability of change (percent)')
    return names


def open_change_raster(path: str, grid: TileGrid, crs: Any, transform: Any,
                       semantic: bool, probs: bool) -> Any:
    """Create the (empty) change GeoTIFF of a scene, open for writing.

    Args:
        path (str): The file to create.
        grid (TileGrid): The tiles of the scene (its size is the file's).
        crs (rasterio.crs.CRS, optional): CRS of the output.
        transform (affine.Affine): Geotransform of the output.
        semantic (bool): Add the two semantic class bands.
        probs (bool): Add the probability band.

    Returns:
        rasterio.io.DatasetWriter: The open file (bands described).
    """
    rasterio = require_rasterio()
    names = band_names(semantic, probs)
    dst = rasterio.open(
        path,
        'w',
        driver='GTiff',
        dtype='uint8',
        count=len(names),
        height=grid.height,
        width=grid.width,
        crs=crs,
        transform=transform,
        nodata=OUT_NODATA,
        compress='deflate',
        tiled=True,
        blockxsize=OUT_BLOCK,
        blockysize=OUT_BLOCK,
        BIGTIFF='IF_SAFER')
    for i, name in enumerate(names, start=1):
        dst.set_band_description(i, name)
    if probs:
        dst.scales = [1.0] * (len(names) - 1) + [0.01]
    return dst


def change_bands(maps: np.ndarray, labels: np.ndarray, valid: np.ndarray,
                 threshold: float, semantic: bool, probs: bool) -> np.ndarray:
    """Output bands of blended rows (see the module docstring).

    Args:
        maps (np.ndarray): ``(1, n, width)`` blended probability.
        labels (np.ndarray): ``(2, n, width)`` semantic maps of dates A and
            B (used with ``semantic`` only).
        valid (np.ndarray): ``(n, width)`` bool, valid in both dates.
        threshold (float): Probability above which a pixel is changed.
        semantic (bool): Add the two semantic class bands.
        probs (bool): Add the probability band.

    Returns:
        np.ndarray: ``(bands, n, width)`` uint8, :data:`OUT_NODATA` where
        not ``valid``.
    """
    change = (maps[0] > threshold).astype(np.uint8)
    out = [change]
    if semantic:
        out += [lab * change for lab in labels]
    if probs:
        out.append(np.rint(maps[0] * 100).astype(np.uint8))
    bands = np.stack(out)
    bands[:, ~valid] = OUT_NODATA
    return bands


def write_schedule(grid: TileGrid) -> List[Tuple[int, int]]:
    """The row windows :class:`ChangeRasterWriter` writes, in order.

    Each row of tiles finishes the scene rows up to the next row of tiles;
    they are written once whole blocks of :data:`OUT_BLOCK` rows are
    waiting, the rest at the end. Writing the same windows in the same
    order gives the same file bytes (the strips of a distributed run are
    assembled this way).

    Args:
        grid (TileGrid): The tiles of the scene.

    Returns:
        list[tuple[int, int]]: ``(first row, number of rows)`` per write.
    """
    starts = grid.row_starts
    ends = starts[1:] + [grid.height]
    windows = []
    first, waiting = 0, 0
    for y0, y1 in zip(starts, ends):
        waiting += y1 - y0
        ready = (waiting // OUT_BLOCK) * OUT_BLOCK
        if ready:
            windows.append((first, ready))
            first += ready
            waiting -= ready
    if waiting:
        windows.append((first, waiting))
    return windows


class ChangeRasterWriter:
    """Blend the tile predictions of a scene and write its change GeoTIFF.

    For each row of tiles of ``grid``, in order, give the predictions with
    :meth:`add_tiles` (any number of calls, tiles that are entirely no-data
    may be left out) and close the row with :meth:`end_row`; then call
    :meth:`finish`. Use it as a context manager::

        with ChangeRasterWriter(out_path, grid, crs, transform, 0.5,
                                valid_rows) as writer:
            for row in ...:
                writer.add_tiles(cols, results)
                writer.end_row()
            writer.finish()

    The file is created at the first :meth:`add_tiles`, whose results tell
    a binary model from a semantic change model (or by :meth:`finish` when
    no tile was given: the scene is all no-data). It is written as
    ``out_path + '.partial'`` and renamed (after ``fsync``) by
    :meth:`finish`; :meth:`close`,
    which leaving the ``with`` block calls (also on an exception), closes
    it and removes the partial file, so an unfinished run never leaves a
    plausible-looking output.

    Rows that no later tile touches are written as soon as their row of
    tiles ends, in whole blocks of :data:`OUT_BLOCK` rows: writing a block
    of a compressed GeoTIFF more than once makes GDAL compress it again and
    leave dead space in the file.

    Args:
        out_path (str): The GeoTIFF to write; its folder is created.
        grid (TileGrid): The tiles of the scene (its size is the output's).
        crs (rasterio.crs.CRS, optional): CRS of the output.
        transform (affine.Affine): Geotransform of the output.
        threshold (float): Probability above which a pixel is changed.
        valid_rows (Callable[[int, int], np.ndarray]): ``valid_rows(y0, n)``
            returns the ``(n, width)`` bool map of the scene rows ``y0`` to
            ``y0 + n``, True where the pixel is valid in both dates; the
            others are written as :data:`OUT_NODATA`.
        probs (bool): Add a band with the probability of change in percent
            (scale 0.01). Defaults to False.

    Attributes:
        band_names (list[str]): Descriptions of the output bands (empty
            until the file is created).
        tiles_predicted (int): Tiles given to :meth:`add_tiles`.
        valid_pixels (int): Pixels written that are valid in both dates.
        changed_pixels (int): Valid pixels written as changed.
    """

    def __init__(self,
                 out_path: str,
                 grid: TileGrid,
                 crs: Any,
                 transform: Any,
                 threshold: float,
                 valid_rows: Callable[[int, int], np.ndarray],
                 probs: bool = False) -> None:
        self._rasterio = require_rasterio()
        self.out_path = out_path
        self.partial_path = out_path + '.partial'
        self.grid = grid
        self.crs = crs
        self.transform = transform
        self.threshold = threshold
        self.valid_rows = valid_rows
        self.probs = probs
        self.band_names: List[str] = []
        self.tiles_predicted = 0
        self.valid_pixels = 0
        self.changed_pixels = 0
        self._semantic = False
        self._dst: Any = None
        self._blender: Optional[StripBlender] = None
        self._rows_ended = 0  # rows of tiles closed by end_row()
        self._pending: Optional[np.ndarray] = None  # rows awaiting a block
        self._next_row = 0  # first scene row not yet written to the file
        os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)

    @property
    def semantic(self) -> bool:
        """Whether the file has the semantic class bands."""
        return self._semantic

    def __enter__(self) -> 'ChangeRasterWriter':
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def add_tiles(self, cols: Sequence[int],
                  results: Sequence[ChangeResult]) -> None:
        """Add predicted tiles of the current row of tiles.

        Args:
            cols (Sequence[int]): Column index of each tile in the grid.
            results (Sequence[ChangeResult]): Their predictions, with
                ``change_prob`` of shape ``(tile_h, tile_w)`` (and both
                semantic maps for a semantic change model).

        Raises:
            ValueError: If there are not as many results as columns.
            RuntimeError: If a semantic change model returned semantic maps
                for some tiles only.
        """
        if len(cols) != len(results):
            raise ValueError(f'{len(cols)} tile columns but {len(results)} '
                             'results')
        if not results:
            return
        if self._blender is None:
            self._open(semantic=results[0].semantic_a is not None)
        for col, res in zip(cols, results):
            labels = None
            if self._semantic:
                if res.semantic_a is None or res.semantic_b is None:
                    raise RuntimeError('the model returned semantic maps '
                                       'for some tiles only')
                labels = np.stack([res.semantic_a, res.semantic_b])
            self._blender.add(col, res.change_prob[None], labels)
        self.tiles_predicted += len(results)

    def end_row(self) -> None:
        """Close the current row of tiles and write the rows it finished.

        Raises:
            RuntimeError: If every row of tiles is closed already.
        """
        if self._rows_ended == len(self.grid.row_starts):
            raise RuntimeError('every row of tiles is closed already')
        self._rows_ended += 1
        if self._blender is not None:
            self._write_strip(*self._blender.finish_row())

    def finish(self) -> None:
        """Write the last rows and move the file to ``out_path``.

        Raises:
            RuntimeError: If a row of tiles was not closed with
                :meth:`end_row`.
        """
        rows = len(self.grid.row_starts)
        if self._rows_ended != rows:
            raise RuntimeError(f'finish() after {self._rows_ended} of {rows} '
                               'rows of tiles; call end_row() for each')
        if self._blender is None:  # the whole scene is no-data
            self._open(semantic=False)
        if self._pending is not None and self._pending.shape[1]:
            self._write_rows(self._pending)
        self._pending = None
        self._dst.close()
        commit_file(self.partial_path, self.out_path)

    def close(self) -> None:
        """Close the file and remove it if :meth:`finish` did not complete.

        Safe to call more than once.
        """
        if self._dst is not None and not self._dst.closed:
            self._dst.close()
        if osp.exists(self.partial_path):
            os.remove(self.partial_path)

    def _open(self, semantic: bool) -> None:
        """Create the file once the kind of model is known.

        The rows of tiles closed before had only no-data tiles; their rows
        are written (as no-data) straight away.
        """
        self._semantic = semantic
        self._dst = open_change_raster(self.partial_path, self.grid, self.crs,
                                       self.transform, semantic, self.probs)
        self.band_names = band_names(semantic, self.probs)
        self._blender = StripBlender(
            self.grid, channels=1, labels=2 if semantic else 0)
        for _ in range(self._rows_ended):
            self._write_strip(*self._blender.finish_row())

    def _write_strip(self, y0: int, maps: np.ndarray, labels: np.ndarray,
                     weight: np.ndarray) -> None:
        """Turn blended rows into output bands and queue them.

        Args:
            y0 (int): First scene row.
            maps (np.ndarray): ``(1, n, width)`` blended probability.
            labels (np.ndarray): ``(2, n, width)`` semantic maps of dates A
                and B, or ``(0, n, width)`` for a binary model.
            weight (np.ndarray): ``(n, width)`` blending weight, 0 where no
                tile was added.

        Raises:
            RuntimeError: If a valid pixel was covered by no tile.
        """
        n = maps.shape[1]
        valid = self.valid_rows(y0, n)
        if (valid & (weight <= 0)).any():
            raise RuntimeError(f'rows {y0}..{y0 + n}: valid pixels that no '
                               'tile covered (a bug)')
        bands = change_bands(maps, labels, valid, self.threshold,
                             self._semantic, self.probs)
        change = bands[0]
        self.valid_pixels += int(valid.sum())
        self.changed_pixels += int(change[valid].sum())
        self._pending = bands if self._pending is None else np.concatenate(
            [self._pending, bands], axis=1)
        ready = (self._pending.shape[1] // OUT_BLOCK) * OUT_BLOCK
        if ready:
            self._write_rows(self._pending[:, :ready])
            self._pending = self._pending[:, ready:]

    def _write_rows(self, rows: np.ndarray) -> None:
        """Write ``(bands, n, width)`` rows after the ones written."""
        from rasterio.windows import Window
        n = rows.shape[1]
        self._dst.write(
            rows, window=Window(0, self._next_row, rows.shape[2], n))
        self._next_row += n
