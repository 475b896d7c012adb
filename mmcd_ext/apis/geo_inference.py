"""Change detection on large georeferenced scenes (GeoTIFF in, GeoTIFF out).

The two dates are read window by window with rasterio, predicted in
overlapping tiles (batched) and handed, one row of tiles at a time, to
:class:`~mmcd_ext.apis.geo_writer.ChangeRasterWriter`, which blends them
with the raised-cosine window of :mod:`mmcd_ext.apis.tiling` and writes the
change GeoTIFF strip by strip (its bands are described there). The output
keeps date A's CRS, transform and size, and marks pixels that are no-data in
either date (per-band nodata, internal masks, alpha bands, non-finite
values) as no-data (255). The GeoJSON polygons and the quick-look are made
from that file by :mod:`mmcd_ext.apis.geo_export`.

Semantic class maps cannot be averaged: each pixel takes the classes of the
tile whose window weight is largest there (the most central tile), and is
set to 0 ("no change") where the blended change map says unchanged.

rasterio is optional (``pip install -e .[geo]``); it is imported only when a
function of this module runs.
"""
import os.path as osp
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import ProgressBar

from .change_detector import ChangeDetector
from .geo_export import (write_change_vector, write_quicklook,
                         write_semantic_rasters)
from .geo_writer import ChangeRasterWriter, require_rasterio
from .output_plan import OutputPlan
from .tiling import TileGrid
from .transitions import transitions_from_raster


class NoValidDataError(RuntimeError):
    """A scene has no pixel valid in both dates; nothing was written."""


#: File extensions treated as georeferenced rasters by the CLI.
GEO_EXTENSIONS = ('.tif', '.tiff')


def is_geo_path(path: str) -> bool:
    """Whether the CLI treats ``path`` as a GeoTIFF (by its extension)."""
    return osp.splitext(path)[1].lower() in GEO_EXTENSIONS


@dataclass
class GeoInferenceSummary:
    """What :func:`infer_geotiff` did.

    Args:
        out_path (str): The change GeoTIFF.
        height (int): Scene height in pixels.
        width (int): Scene width in pixels.
        tiles (int): Tiles of the grid.
        tiles_predicted (int): Tiles run through the model (the others were
            entirely no-data).
        seconds (float): Wall time.
        valid_pixels (int): Pixels valid in both dates.
        changed_pixels (int): Pixels predicted changed.
        bands (list[str]): Description of each output band.
        vector_path (str, optional): GeoJSON of the change polygons.
        polygons (int): Number of change polygons written.
        quicklook_path (str, optional): PNG quick-look.
        semantic (bool): The model is a semantic change model.
        semantic_paths (list[str]): Semantic change models: the one-band
            class GeoTIFFs of dates A and B (with colour tables).
        transitions_path (str, optional): CSV of the transition summary.
        transitions (dict, optional): Semantic change models: the
            transition summary (``TransitionSummary.to_dict()``).
    """
    out_path: str
    height: int
    width: int
    tiles: int
    tiles_predicted: int
    seconds: float
    valid_pixels: int
    changed_pixels: int
    bands: List[str] = field(default_factory=list)
    vector_path: Optional[str] = None
    polygons: int = 0
    quicklook_path: Optional[str] = None
    semantic: bool = False
    semantic_paths: List[str] = field(default_factory=list)
    transitions_path: Optional[str] = None
    transitions: Optional[dict] = None

    def to_dict(self) -> dict:
        """The summary as a JSON-serialisable dict."""
        return asdict(self)


def _check_bands(bands: Optional[Sequence[int]], count_a: int, count_b: int,
                 path_a: str, path_b: str) -> List[int]:
    """1-based band indices to read from both dates."""
    if bands is None:
        bands = list(range(1, min(3, count_a) + 1))
    bands = [int(b) for b in bands]
    if not bands:
        raise ValueError('--bands must list at least one band')
    if len(set(bands)) != len(bands):
        raise ValueError(f'--bands lists a band twice: {bands}')
    for path, count in ((path_a, count_a), (path_b, count_b)):
        bad = [b for b in bands if not 1 <= b <= count]
        if bad:
            raise ValueError(f'{path} has {count} band(s) (1..{count}); '
                             f'bands {bad} do not exist')
    return bands


def _describe_grid(src: Any) -> str:
    return (f'CRS {src.crs.to_string() if src.crs else None}, '
            f'{src.height}x{src.width} px (HxW), transform '
            f'{tuple(round(v, 9) for v in tuple(src.transform)[:6])}')


def check_same_grid(src_a: Any, src_b: Any) -> None:
    """Refuse two rasters that are not on the same pixel grid.

    Args:
        src_a (rasterio.io.DatasetReader): Date A.
        src_b (rasterio.io.DatasetReader): Date B.

    Raises:
        ValueError: If CRS, transform or size differ; the message names both
            files, what differs, and the ``--resample-b`` option.
    """
    problems = []
    if src_a.crs != src_b.crs:
        problems.append('CRS')
    if (src_a.height, src_a.width) != (src_b.height, src_b.width):
        problems.append('size')
    if not src_a.transform.almost_equals(src_b.transform, precision=1e-9):
        problems.append('transform')
    if problems:
        raise ValueError(
            'the two dates are not on the same pixel grid '
            f'({", ".join(problems)} differ):\n'
            f'  A {src_a.name}: {_describe_grid(src_a)}\n'
            f'  B {src_b.name}: {_describe_grid(src_b)}\nResample date B onto '
            "date A's grid with --resample-b (resample_b=True), or align "
            'the files first (e.g. gdalwarp).')


def check_footprints_overlap(src_a: Any, src_b: Any) -> None:
    """Refuse two georeferenced rasters whose footprints do not overlap.

    Args:
        src_a (rasterio.io.DatasetReader): Date A.
        src_b (rasterio.io.DatasetReader): Date B (any CRS).

    Raises:
        NoValidDataError: If date B's bounds, in date A's CRS, share no
            area with date A's; the message gives both.
    """
    from rasterio.warp import transform_bounds
    left, bottom, right, top = transform_bounds(src_b.crs, src_a.crs,
                                                *src_b.bounds)
    a = src_a.bounds
    if min(right, a.right) <= max(left, a.left) or \
            min(top, a.top) <= max(bottom, a.bottom):
        box = tuple(round(v, 3) for v in (left, bottom, right, top))
        raise NoValidDataError(
            f'date B {src_b.name} (bounds {box} in the CRS of A) does not '
            f'overlap date A {src_a.name} (bounds '
            f'{tuple(round(v, 3) for v in a)}); nothing to compare')


def _open_date_b(src_a: Any, src_b: Any, resample_b: bool) -> Any:
    """Date B as it is, or warped onto date A's grid."""
    if not resample_b:
        check_same_grid(src_a, src_b)
        return src_b
    if src_a.crs is None or src_b.crs is None:
        raise ValueError(
            f'--resample-b needs both dates georeferenced; '
            f'{src_a.name if src_a.crs is None else src_b.name} has no CRS')
    check_footprints_overlap(src_a, src_b)
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT
    return WarpedVRT(
        src_b,
        crs=src_a.crs,
        transform=src_a.transform,
        width=src_a.width,
        height=src_a.height,
        resampling=Resampling.bilinear,
        # marks pixels outside date B's footprint as invalid
        add_alpha=all(v is None for v in src_b.nodatavals))


def _valid_mask(srcs: Sequence[Any],
                bands: List[int],
                window: Any,
                data: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
    """Pixels valid in every band of every date: ``(h, w)`` bool.

    A pixel is invalid where GDAL's mask says so (nodata value, internal
    mask, alpha band) or, in floating-point bands, where it is NaN or
    infinite; ``data`` (the bands already read, per date) saves reading
    them again for that test.
    """
    valid = None
    for k, src in enumerate(srcs):
        masks = src.read_masks(bands, window=window)
        ok = (masks > 0).all(axis=0)
        values = data[k] if data is not None else None
        if values is None and any(
                np.issubdtype(np.dtype(src.dtypes[b - 1]), np.floating)
                for b in bands):
            values = src.read(bands, window=window)
        if values is not None:
            ok &= np.isfinite(values).all(axis=0)
        valid = ok if valid is None else valid & ok
    return valid


def _read_tile(src_a: Any, src_b: Any, bands: List[int],
               window: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both dates of one window as ``(h, w, C)`` float32, and validity.

    No-data pixels (in either date) are filled, identically in both dates,
    with the mean of the valid pixels of the window per band, so the model
    sees "no change" there; they are masked in the output anyway.
    """
    a = src_a.read(bands, window=window, out_dtype='float32')
    b = src_b.read(bands, window=window, out_dtype='float32')
    valid = _valid_mask((src_a, src_b), bands, window, (a, b))
    if not valid.all() and valid.any():
        fill = (a[:, valid].mean(axis=1) + b[:, valid].mean(axis=1)) / 2
        a[:, ~valid] = fill[:, None]
        b[:, ~valid] = fill[:, None]
    return a.transpose(1, 2, 0), b.transpose(1, 2, 0), valid


def infer_geotiff(detector: ChangeDetector,
                  path_a: str,
                  path_b: str,
                  out_path: str,
                  tile: int = 512,
                  overlap: int = 64,
                  batch_size: int = 4,
                  bands: Optional[Sequence[int]] = None,
                  band_order: Optional[str] = None,
                  probs: bool = False,
                  vector_path: Optional[str] = None,
                  quicklook_path: Optional[str] = None,
                  resample_b: bool = False,
                  progress: bool = True,
                  gdal_cache_mb: int = 64,
                  semantic_paths: Optional[Sequence[str]] = None,
                  transitions_path: Optional[str] = None,
                  class_names: Optional[Sequence[str]] = None,
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  dist: Optional[Any] = None) -> GeoInferenceSummary:
    """Detect change between two georeferenced scenes of any size.

    Args:
        detector (ChangeDetector): The model.
        path_a (str): Date-A raster (GeoTIFF or anything GDAL reads).
        path_b (str): Date-B raster on the same grid (or see
            ``resample_b``).
        out_path (str): Output GeoTIFF.
        tile (int): Tile side in pixels. Defaults to 512.
        overlap (int): Minimum overlap of neighbouring tiles in pixels,
            blended with a raised-cosine ramp. Defaults to 64.
        batch_size (int): Tiles per model call. Defaults to 4.
        bands (Sequence[int], optional): 1-based bands to read from both
            dates. Defaults to None (the first three, or all if fewer).
        band_order (str, optional): ``'rgb'``: the three bands are red,
            green, blue and are reversed into the BGR order the config's
            file loader produces (and the data preprocessor expects);
            ``'bgr'``: passed as listed. None means ``'rgb'`` for three
            bands and "as listed" otherwise. Defaults to None.
        probs (bool): Add a band with the probability of change in percent
            (scale 0.01). Defaults to False.
        vector_path (str, optional): Also write the change polygons (with
            their area) as GeoJSON. Defaults to None.
        quicklook_path (str, optional): Also write a PNG quick-look.
            Defaults to None.
        resample_b (bool): Warp date B onto date A's grid (bilinear,
            rasterio ``WarpedVRT``) instead of requiring the same grid.
            Defaults to False.
        progress (bool): Show mmengine's progress bar (tiles done, tiles/s,
            ETA) on stderr. Defaults to True.
        gdal_cache_mb (int): GDAL's raster block cache in MiB for this run.
            GDAL's default is 5% of the RAM, which would let memory grow
            with the scene; blocks are read once per tile row, so a small
            cache costs little. Defaults to 64.
        semantic_paths (Sequence[str], optional): Semantic change models:
            write date A's and date B's class maps to these two one-band
            GeoTIFFs with the palette as colour table
            (:func:`~mmcd_ext.apis.geo_export.write_semantic_rasters`).
            Ignored for binary models. Defaults to None.
        transitions_path (str, optional): Semantic change models: write the
            from-to transition summary
            (:class:`~mmcd_ext.apis.transitions.TransitionSummary`) as CSV.
            Defaults to None.
        class_names (Sequence[str], optional): Names of the class indices
            (vector attributes, summary). Defaults to None
            (``detector.class_names``).
        palette (Sequence[Sequence[int]], optional): Colour table of the
            class GeoTIFFs. Defaults to None (``detector.class_palette``).
        dist (DistContext, optional): With more than one process, every
            process of the run calls this for the same scene: each predicts
            one horizontal strip of the tile grid and rank 0 assembles the
            outputs, identical to those of one process
            (:mod:`mmcd_ext.apis.geo_strips`); only rank 0 writes the
            vector, quick-look, class GeoTIFFs and transition summary.
            Defaults to None (this process does the whole scene).

    Returns:
        GeoInferenceSummary: What was written (on ranks other than 0 of
        ``dist``: the counts, no products).

    Raises:
        ImportError: Without rasterio.
        ValueError: If the dates are not on the same grid (without
            ``resample_b``), a band does not exist, an argument is out of
            range, or an output path is an input or another output.
        NoValidDataError: If no pixel is valid in both dates (every pixel
            no-data, or with ``resample_b`` date B does not overlap date A);
            the partial GeoTIFF is removed and nothing is written.
    """
    rasterio = require_rasterio()

    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    if gdal_cache_mb < 1:
        raise ValueError(f'gdal_cache_mb must be >= 1, got {gdal_cache_mb}')
    if band_order not in (None, 'rgb', 'bgr'):
        raise ValueError(f'band_order must be "rgb", "bgr" or None, got '
                         f'"{band_order}"')
    for path in (path_a, path_b):
        if not osp.isfile(path):
            raise FileNotFoundError(f'raster {path} does not exist')
    if semantic_paths is not None and len(semantic_paths) != 2:
        raise ValueError('semantic_paths must name two files (dates A, B), '
                         f'got {list(semantic_paths)}')
    if class_names is None:
        class_names = detector.class_names
    if palette is None:
        palette = detector.class_palette
    plan = OutputPlan([path_a, path_b], overwrite=True)
    for kind, path in (('change GeoTIFF', out_path), ('partial GeoTIFF',
                                                      out_path + '.partial'),
                       ('vector', vector_path), ('quick-look', quicklook_path),
                       ('transition summary', transitions_path),
                       *(('class GeoTIFF', p) for p in semantic_paths or ())):
        if path:
            plan.add(path, f'the {kind}')
    start = time.monotonic()
    with rasterio.Env(GDAL_CACHEMAX=gdal_cache_mb * 1024 * 1024):
        with rasterio.open(path_a) as src_a, \
                rasterio.open(path_b) as raw_b:
            sel = _check_bands(bands, src_a.count, raw_b.count, path_a, path_b)
            if band_order == 'rgb' and len(sel) != 3:
                raise ValueError(f'band_order "rgb" needs 3 bands, got {sel}')
            channel_order = 'rgb' if (band_order or 'rgb') == 'rgb' \
                and len(sel) == 3 else 'bgr'
            src_b = _open_date_b(src_a, raw_b, resample_b)
            try:
                grid = TileGrid(src_a.height, src_a.width, tile, overlap)
                if dist is not None and dist.world_size > 1:
                    from .geo_strips import run_scene_strips
                    summary = run_scene_strips(detector, src_a, src_b, sel,
                                               channel_order, grid, out_path,
                                               batch_size, probs, dist)
                else:
                    summary = _run_scene(detector, src_a, src_b, sel,
                                         channel_order, grid, out_path,
                                         batch_size, probs, progress)
            except NoValidDataError as err:
                raise NoValidDataError(
                    f'no pixel is valid in both {path_a} and {path_b} '
                    f'(bands {sel}: nodata value, mask or NaN everywhere); '
                    f'{err}') from None
            finally:
                if src_b is not raw_b:
                    src_b.close()
        if dist is not None and not dist.is_main:
            summary.seconds = time.monotonic() - start
            return summary
        if summary.semantic:
            _semantic_products(summary, semantic_paths, transitions_path,
                               class_names, palette)
        if vector_path:
            summary.vector_path = vector_path
            summary.polygons = write_change_vector(
                out_path, vector_path, class_names=class_names)
        if quicklook_path:
            summary.quicklook_path = write_quicklook(out_path, quicklook_path)
    summary.seconds = time.monotonic() - start
    return summary


def _semantic_products(summary: GeoInferenceSummary,
                       semantic_paths: Optional[Sequence[str]],
                       transitions_path: Optional[str],
                       class_names: Optional[Sequence[str]],
                       palette: Optional[Sequence[Sequence[int]]]) -> None:
    """Class GeoTIFFs and transition summary of a semantic change scene."""
    if semantic_paths:
        if palette is None:
            raise ValueError('the class GeoTIFFs need a palette')
        summary.semantic_paths = write_semantic_rasters(
            summary.out_path, semantic_paths[0], semantic_paths[1], palette)
    transitions = transitions_from_raster(summary.out_path, class_names)
    summary.transitions = transitions.to_dict()
    if transitions_path:
        summary.transitions_path = transitions.write_csv(transitions_path)


_TileBatch = List[Tuple[int, np.ndarray, np.ndarray]]


def _row_batches(src_a: Any, src_b: Any, bands: List[int], grid: TileGrid,
                 y0: int, batch_size: int,
                 bar: Optional[ProgressBar]) -> Iterator[_TileBatch]:
    """Read one row of tiles and yield its tiles in batches.

    Tiles that are entirely no-data are skipped (and counted on the bar).

    Yields:
        list[tuple]: Up to ``batch_size`` ``(col, a, b)``: the column index
        and both dates as ``(tile_h, tile_w, C)`` float32.
    """
    from rasterio.windows import Window
    batch: _TileBatch = []
    for col, x0 in enumerate(grid.col_starts):
        window = Window(x0, y0, grid.tile_w, grid.tile_h)
        a, b, valid = _read_tile(src_a, src_b, bands, window)
        if not valid.any():
            if bar is not None:
                bar.update(1)
            continue
        batch.append((col, a, b))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _run_scene(detector: ChangeDetector, src_a: Any, src_b: Any,
               bands: List[int], channel_order: str, grid: TileGrid,
               out_path: str, batch_size: int, probs: bool,
               progress: bool) -> GeoInferenceSummary:
    """The tile loop of :func:`infer_geotiff`."""
    from rasterio.windows import Window

    def valid_rows(y0: int, n: int) -> np.ndarray:
        window = Window(0, y0, grid.width, n)
        return _valid_mask((src_a, src_b), bands, window)

    bar = ProgressBar(len(grid), file=sys.stderr) if progress else None
    try:
        with ChangeRasterWriter(out_path, grid, src_a.crs, src_a.transform,
                                detector.threshold, valid_rows,
                                probs) as writer:
            for y0 in grid.row_starts:
                for batch in _row_batches(src_a, src_b, bands, grid, y0,
                                          batch_size, bar):
                    results = detector.predict([a for _, a, _ in batch],
                                               [b for _, _, b in batch],
                                               return_probs=True,
                                               channel_order=channel_order,
                                               batch_size=batch_size)
                    writer.add_tiles([col for col, _, _ in batch], results)
                    if bar is not None:
                        bar.update(len(batch))
                writer.end_row()
            if not writer.valid_pixels:  # the partial file is removed
                raise NoValidDataError(f'{out_path} not written')
            writer.finish()
    finally:
        if bar is not None:
            bar.file.write('\n')  # later output starts on a new line
            bar.file.flush()
    return GeoInferenceSummary(
        out_path=out_path,
        height=grid.height,
        width=grid.width,
        tiles=len(grid),
        tiles_predicted=writer.tiles_predicted,
        seconds=0.0,
        valid_pixels=writer.valid_pixels,
        changed_pixels=writer.changed_pixels,
        bands=list(writer.band_names),
        semantic=writer.semantic)
