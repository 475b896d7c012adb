"""One large GeoTIFF scene split into horizontal strips across processes.

When a distributed run (``tools/dist_infer.sh``) has fewer scenes than
processes, every process works on each scene: the rows of tiles of the
scene's :class:`~mmcd_ext.apis.tiling.TileGrid` are split into contiguous
bands (:func:`strip_partition`). Row of tiles ``i`` owns the scene rows
from its first row to the first row of the next row of tiles (the last one
to the scene's bottom): exactly the rows that
:class:`~mmcd_ext.apis.tiling.StripBlender` finishes when it closes row
``i``. Those rows are covered by rows of tiles ``j <= i`` only, the
earliest being the first whose tiles reach down to them; a process starts
its blender at that row of tiles (:attr:`Strip.first_row`), so each of its
own rows sums the same tile predictions, with the same weights and in the
same order, as one process does for the whole scene: the results are equal
bit for bit (batches of tiles are made per row of tiles in both cases).

Each process writes the output bands of its rows (all four: change, the
two semantic bands, probability; the unused ones are dropped later) to a
temporary GeoTIFF next to the output, named like the atomic writers'
temporaries (``.{name}.strip{rank}.tmp``) so the clean-up of a resumed
run removes those of a killed run. After the ranks have exchanged their
counts, rank 0 copies the strips block by block into the change GeoTIFF
with the same writes as single-process inference
(:func:`~mmcd_ext.apis.geo_writer.write_schedule`): same file, same bytes.
Memory per process stays one row of tiles plus one block of output rows.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np

from .change_detector import ChangeDetector
from .geo_writer import (OUT_NODATA, change_bands, open_change_raster,
                         require_rasterio, write_schedule)
from .tiling import StripBlender, TileGrid

#: Bands of a strip file: change, semantic A, semantic B, probability.
STRIP_BANDS = 4


@dataclass(frozen=True)
class Strip:
    """One process's part of a scene.

    Args:
        first_row (int): First row of tiles it predicts.
        row0 (int): First row of tiles whose scene rows it owns.
        row1 (int): One past the last such row of tiles (``row0`` when it
            owns nothing).
        y0 (int): First scene row it owns.
        y1 (int): One past its last scene row (``y0`` when none).
    """
    first_row: int
    row0: int
    row1: int
    y0: int
    y1: int

    @property
    def empty(self) -> bool:
        """Whether the strip owns no scene row."""
        return self.y1 == self.y0


def strip_partition(grid: TileGrid, parts: int) -> List[Strip]:
    """Split a scene's rows of tiles into ``parts`` contiguous strips.

    Rows of tiles are shared out evenly in order (the first strips get one
    more when they do not divide); with fewer rows of tiles than parts, the
    last strips are empty. Every scene row belongs to exactly one strip.

    Args:
        grid (TileGrid): The tiles of the scene.
        parts (int): Number of processes.

    Returns:
        list[Strip]: One strip per process, top to bottom.

    Raises:
        ValueError: If ``parts < 1``.
    """
    if parts < 1:
        raise ValueError(f'parts must be >= 1, got {parts}')
    starts = grid.row_starts
    ends = starts[1:] + [grid.height]
    n = len(starts)
    strips = []
    for rank in range(parts):
        row0, row1 = rank * n // parts, (rank + 1) * n // parts
        if row0 == row1:
            y = starts[row0] if row0 < n else grid.height
            strips.append(Strip(min(row0, n - 1), row0, row0, y, y))
            continue
        y0 = starts[row0]
        first = next(j for j in range(n) if starts[j] + grid.tile_h > y0)
        strips.append(Strip(first, row0, row1, y0, ends[row1 - 1]))
    return strips


def strip_path(out_path: str, rank: int) -> str:
    """The temporary strip file of ``rank`` for the output ``out_path``."""
    folder, base = osp.split(osp.abspath(out_path))
    return osp.join(folder, f'.{base}.strip{rank}.tmp')


def run_strip(detector: ChangeDetector, src_a: Any, src_b: Any,
              bands: List[int], channel_order: str, grid: TileGrid,
              strip: Strip, path: str, batch_size: int) -> Dict[str, Any]:
    """Predict one strip of a scene and write its rows to ``path``.

    Args:
        detector (ChangeDetector): The model.
        src_a, src_b: The open dates (B on A's grid).
        bands (list[int]): 1-based bands read.
        channel_order (str): ``'rgb'`` or ``'bgr'``, as the tile loop.
        grid (TileGrid): The tiles of the scene.
        strip (Strip): This process's strip (not empty).
        path (str): The strip file (``STRIP_BANDS`` uint8 bands, the
            strip's rows).
        batch_size (int): Tiles per model call.

    Returns:
        dict: ``semantic`` (True, False, or None when no tile had valid
        pixels), ``tiles_predicted``, ``valid_pixels``, ``changed_pixels``.

    Raises:
        RuntimeError: If a model returned semantic maps for some tiles
            only, or a valid pixel was covered by no tile.
    """
    from rasterio.windows import Window

    from .geo_inference import _row_batches, _valid_mask
    rasterio = require_rasterio()
    blender = StripBlender(grid, 1, 2, start_row=strip.first_row)
    info: Dict[str, Any] = dict(
        semantic=None, tiles_predicted=0, valid_pixels=0, changed_pixels=0)
    zeros = np.zeros((2, grid.tile_h, grid.tile_w), np.uint8)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with rasterio.open(
            path,
            'w',
            driver='GTiff',
            dtype='uint8',
            count=STRIP_BANDS,
            height=strip.y1 - strip.y0,
            width=grid.width,
            compress='deflate') as dst:
        for i in range(strip.first_row, strip.row1):
            y0 = grid.row_starts[i]
            for batch in _row_batches(src_a, src_b, bands, grid, y0,
                                      batch_size, None):
                results = detector.predict([a for _, a, _ in batch],
                                           [b for _, _, b in batch],
                                           return_probs=True,
                                           channel_order=channel_order,
                                           batch_size=batch_size)
                for (col, _, _), res in zip(batch, results):
                    semantic = res.semantic_a is not None
                    if info['semantic'] is None:
                        info['semantic'] = semantic
                    elif info['semantic'] != semantic:
                        raise RuntimeError('the model returned semantic '
                                           'maps for some tiles only')
                    labels = np.stack([res.semantic_a, res.semantic_b]) \
                        if semantic else zeros
                    blender.add(col, res.change_prob[None], labels)
                info['tiles_predicted'] += len(batch)
            row_y0, maps, labels, weight = blender.finish_row()
            if i < strip.row0:  # rows that earlier tiles also cover
                continue
            n = maps.shape[1]
            valid = _valid_mask((src_a, src_b), bands,
                                Window(0, row_y0, grid.width, n))
            if (valid & (weight <= 0)).any():
                raise RuntimeError(f'rows {row_y0}..{row_y0 + n}: valid '
                                   'pixels that no tile covered (a bug)')
            out = change_bands(maps, labels, valid, detector.threshold, True,
                               True)
            info['valid_pixels'] += int(valid.sum())
            info['changed_pixels'] += int(out[0][valid].sum())
            dst.write(out, window=Window(0, row_y0 - strip.y0, grid.width, n))
    return info


def assemble_strips(path: str, grid: TileGrid, crs: Any, transform: Any,
                    semantic: bool, probs: bool, strips: List[Strip],
                    paths: List[Optional[str]]) -> None:
    """Copy the strip files into the change GeoTIFF ``path``.

    The file is written with the windows of
    :func:`~mmcd_ext.apis.geo_writer.write_schedule`, one window of rows in
    memory at a time. The caller renames it into place.

    Args:
        path (str): The file to create.
        grid (TileGrid): The tiles of the scene.
        crs, transform: Georeferencing of the output.
        semantic (bool): Keep the semantic class bands.
        probs (bool): Keep the probability band.
        strips (list[Strip]): The partition of the scene.
        paths (list[str | None]): Each strip's file (None if empty).
    """
    rasterio = require_rasterio()
    from rasterio.windows import Window
    keep = [0] + ([1, 2] if semantic else []) + ([3] if probs else [])
    srcs = [rasterio.open(p) if p else None for p in paths]
    try:
        with open_change_raster(path, grid, crs, transform, semantic,
                                probs) as dst:
            for y0, n in write_schedule(grid):
                rows = np.full((len(keep), n, grid.width), OUT_NODATA,
                               np.uint8)
                for strip, src in zip(strips, srcs):
                    lo, hi = max(y0, strip.y0), min(y0 + n, strip.y1)
                    if src is None or lo >= hi:
                        continue
                    rows[:, lo - y0:hi - y0] = src.read(
                        [k + 1 for k in keep],
                        window=Window(0, lo - strip.y0, grid.width, hi - lo))
                dst.write(rows, window=Window(0, y0, grid.width, n))
    finally:
        for src in srcs:
            if src is not None:
                src.close()


def remove_file(path: Optional[str]) -> None:
    """Delete ``path`` if it exists."""
    if path and osp.exists(path):
        os.remove(path)


def run_scene_strips(detector: ChangeDetector, src_a: Any, src_b: Any,
                     bands: List[int], channel_order: str, grid: TileGrid,
                     out_path: str, batch_size: int, probs: bool,
                     dist: Any) -> Any:
    """The tile loop of :func:`~mmcd_ext.apis.geo_inference.infer_geotiff`
    shared by every rank of ``dist``; rank 0 writes ``out_path``.

    Every rank must call it for the same scene with the same arguments.
    A failure on any rank is raised on every rank (nothing is left behind).

    Args:
        dist (DistContext): Rank and world size
            (:mod:`mmcd_ext.apis.distributed_infer`).

    Returns:
        GeoInferenceSummary: The scene's counts (on every rank).

    Raises:
        NoValidDataError: If no pixel is valid in both dates.
        RuntimeError: If a rank failed (naming it and its error).
    """
    from mmcd_ext.utils.atomic import commit_file
    from .geo_inference import GeoInferenceSummary, NoValidDataError
    from .geo_writer import band_names
    strips = strip_partition(grid, dist.world_size)
    mine = strips[dist.rank]
    paths = [
        None if s.empty else strip_path(out_path, r)
        for r, s in enumerate(strips)
    ]
    try:
        info: Any = None
        if not mine.empty:
            info = run_strip(detector, src_a, src_b, bands, channel_order,
                             grid, mine, paths[dist.rank], batch_size)
    except Exception as err:  # every rank must learn of it
        info = f'{type(err).__name__}: {err}'
    infos = dist.gather(info)
    failed = [
        f'the strip of rank {r} failed: {i}' for r, i in enumerate(infos)
        if isinstance(i, str)
    ]
    done = [i for i in infos if isinstance(i, dict)]
    kinds = {i['semantic'] for i in done if i['semantic'] is not None}
    if not failed and len(kinds) > 1:
        failed = ['the model returned semantic maps for some tiles only']
    valid = sum(i['valid_pixels'] for i in done)
    semantic = any(i['semantic'] for i in done)
    error = None
    if dist.is_main:
        if not failed and valid:
            partial = out_path + '.partial'
            try:
                os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
                assemble_strips(partial, grid, src_a.crs, src_a.transform,
                                semantic, probs, strips, paths)
                commit_file(partial, out_path)
            except Exception as err:
                error = f'{type(err).__name__}: {err}'
                remove_file(partial)
        for path in paths:  # no rank writes them any more
            remove_file(path)
    error = dist.broadcast(error)  # rank 0's assembly is done
    if failed:
        raise RuntimeError(f'{out_path} not written: {failed[0]}')
    if error is not None:
        raise RuntimeError(f'assembling {out_path} failed: {error}')
    if not valid:
        raise NoValidDataError(f'{out_path} not written')
    return GeoInferenceSummary(
        out_path=out_path,
        height=grid.height,
        width=grid.width,
        tiles=len(grid),
        tiles_predicted=sum(i['tiles_predicted'] for i in done),
        seconds=0.0,
        valid_pixels=valid,
        changed_pixels=sum(i['changed_pixels'] for i in done),
        bands=band_names(semantic, probs),
        semantic=semantic)
