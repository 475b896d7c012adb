"""Change detection on large georeferenced scenes (GeoTIFF in, GeoTIFF out).

The two dates are read window by window with rasterio, predicted in
overlapping tiles (batched), blended with the raised-cosine window of
:mod:`mmcd_ext.apis.tiling` and written strip by strip: memory holds one row
of tiles (``tile x width`` accumulators) and the rows waiting for a full
block of the output file, never the scene. The output keeps date A's CRS,
transform and size, is tiled and deflate-compressed, and marks pixels that
are no-data in either date (per-band nodata, internal masks, alpha bands,
non-finite values) as no-data (255).

Output bands (uint8, nodata 255):

* binary models: 1 change (0/1) [, 2 probability of change in percent];
* semantic change models: 1 change, 2 semantic change map of date A,
  3 of date B [, 4 probability of change in percent].

Semantic class maps cannot be averaged: each pixel takes the classes of the
tile whose window weight is largest there (the most central tile), and is
set to 0 ("no change") where the blended change map says unchanged.

rasterio is optional (``pip install -e .[geo]``); it is imported only when a
function of this module runs.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .change_detector import ChangeDetector
from .progress import ProgressPrinter
from .tiling import StripBlender, TileGrid

#: Value of no-data pixels in every output band.
OUT_NODATA = 255
#: Block side of the output GeoTIFF.
OUT_BLOCK = 256
#: File extensions treated as georeferenced rasters by the CLI.
GEO_EXTENSIONS = ('.tif', '.tiff')


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


def _open_date_b(src_a: Any, src_b: Any, resample_b: bool) -> Any:
    """Date B as it is, or warped onto date A's grid."""
    if not resample_b:
        check_same_grid(src_a, src_b)
        return src_b
    if src_a.crs is None or src_b.crs is None:
        raise ValueError(
            f'--resample-b needs both dates georeferenced; '
            f'{src_a.name if src_a.crs is None else src_b.name} has no CRS')
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
    """Pixels valid in every band of every date: ``(h, w)`` bool."""
    valid = None
    for k, src in enumerate(srcs):
        masks = src.read_masks(bands, window=window)
        ok = (masks > 0).all(axis=0)
        if data is not None:
            ok &= np.isfinite(data[k]).all(axis=0)
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


class _BlockWriter:
    """Write finished rows to the output in whole blocks of rows.

    Writing partial blocks of a compressed GeoTIFF more than once makes
    GDAL re-compress them and leave dead space in the file, so rows wait
    here until a multiple of the block height is complete.
    """

    def __init__(self, dst: Any, block: int) -> None:
        self.dst = dst
        self.block = block
        self.next_row = 0
        self.pending: Optional[np.ndarray] = None

    def add(self, rows: np.ndarray) -> None:
        """Queue ``(bands, n, W)`` rows following the ones already given."""
        self.pending = rows if self.pending is None else np.concatenate(
            [self.pending, rows], axis=1)
        ready = (self.pending.shape[1] // self.block) * self.block
        if ready:
            self._write(self.pending[:, :ready])
            self.pending = self.pending[:, ready:]

    def flush(self) -> None:
        """Write whatever is queued."""
        if self.pending is not None and self.pending.shape[1]:
            self._write(self.pending)
        self.pending = None

    def _write(self, rows: np.ndarray) -> None:
        from rasterio.windows import Window
        n = rows.shape[1]
        self.dst.write(rows, window=Window(0, self.next_row, rows.shape[2], n))
        self.next_row += n


def _output_profile(src_a: Any, count: int) -> dict:
    return dict(
        driver='GTiff',
        dtype='uint8',
        count=count,
        height=src_a.height,
        width=src_a.width,
        crs=src_a.crs,
        transform=src_a.transform,
        nodata=OUT_NODATA,
        compress='deflate',
        tiled=True,
        blockxsize=OUT_BLOCK,
        blockysize=OUT_BLOCK,
        BIGTIFF='IF_SAFER')


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Signed shoelace area of a closed ring of ``(x, y)`` points."""
    pts = np.asarray(ring, dtype=np.float64)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def polygon_area(rings: Sequence[Sequence[Sequence[float]]]) -> float:
    """Area of a GeoJSON polygon (exterior minus holes), in CRS units^2.

    Args:
        rings (Sequence): GeoJSON ``Polygon`` coordinates: the exterior ring
            then the holes, each a closed list of ``(x, y)``.

    Returns:
        float: The non-negative area.
    """
    if not rings:
        return 0.0
    area = abs(_ring_area(rings[0]))
    for hole in rings[1:]:
        area -= abs(_ring_area(hole))
    return max(area, 0.0)


def _crs_member(crs: Any) -> Optional[dict]:
    """GeoJSON (2008) ``crs`` member naming the CRS of the coordinates."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    name = f'urn:ogc:def:crs:EPSG::{epsg}' if epsg else crs.to_wkt()
    return {'type': 'name', 'properties': {'name': name}}


def iter_change_polygons(path: str, connectivity: int = 4) -> Iterator[dict]:
    """GeoJSON features of the change regions (value 1) of band 1.

    GDAL polygonizes straight from the file, row by row; memory grows with
    the number of polygons only.

    Args:
        path (str): A change GeoTIFF written by :func:`infer_geotiff`.
        connectivity (int): 4 or 8 pixel connectivity. Defaults to 4.

    Yields:
        dict: A GeoJSON ``Feature`` with properties ``id``, ``area`` (CRS
        units squared) and ``pixels``.
    """
    rasterio = require_rasterio()
    from rasterio.features import shapes
    with rasterio.open(path) as ds:
        pixel_area = abs(ds.transform.a * ds.transform.e -
                         ds.transform.b * ds.transform.d)
        band = rasterio.band(ds, 1)
        index = 0
        for geom, value in shapes(
                band, mask=band, connectivity=connectivity,
                transform=ds.transform):
            if int(value) != 1:
                continue  # no-data regions
            area = polygon_area(geom['coordinates'])
            index += 1
            yield {
                'type': 'Feature',
                'properties': {
                    'id':
                    index,
                    'area':
                    area,
                    'pixels':
                    int(round(area / pixel_area)) if pixel_area else None,
                },
                'geometry': geom,
            }


def write_change_vector(raster_path: str,
                        out_path: str,
                        connectivity: int = 4) -> int:
    """Write the change polygons of a change GeoTIFF as GeoJSON.

    Coordinates stay in the raster's CRS (named in a ``crs`` member, as
    GDAL and QGIS read it); ``area`` is in that CRS's units squared (m^2 for
    projected CRSs in metres). Features are streamed to the file.

    Args:
        raster_path (str): The change GeoTIFF.
        out_path (str): The ``.geojson`` file to write.
        connectivity (int): 4 or 8 pixel connectivity. Defaults to 4.

    Returns:
        int: The number of polygons.
    """
    rasterio = require_rasterio()
    with rasterio.open(raster_path) as ds:
        crs = ds.crs
    units = None
    if crs is not None:
        units = 'degree' if crs.is_geographic else (crs.linear_units or None)
    header = {
        'type': 'FeatureCollection',
        'name': osp.splitext(osp.basename(out_path))[0]
    }
    member = _crs_member(crs)
    if member is not None:
        header['crs'] = member
    header['area_unit'] = f'{units}^2' if units else 'pixel units^2'
    count = 0
    parent = osp.dirname(osp.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    with open(out_path, 'w') as f:
        f.write(json.dumps(header)[:-1] + ', "features": [\n')
        for feature in iter_change_polygons(raster_path, connectivity):
            if count:
                f.write(',\n')
            f.write(json.dumps(feature))
            count += 1
        f.write('\n]}\n')
    return count


def write_quicklook(raster_path: str,
                    out_path: str,
                    max_size: int = 2048) -> str:
    """A PNG of the change band, decimated to at most ``max_size`` pixels.

    White changed, black unchanged, grey no-data (nearest-neighbour
    decimation, read by GDAL without loading the full band).

    Args:
        raster_path (str): The change GeoTIFF.
        out_path (str): The PNG to write.
        max_size (int): Longest side of the PNG. Defaults to 2048.

    Returns:
        str: ``out_path``.
    """
    import mmcv

    from mmcd_ext.visualization.change_maps import binary_change_map
    rasterio = require_rasterio()
    from rasterio.enums import Resampling
    with rasterio.open(raster_path) as ds:
        scale = min(1.0, max_size / max(ds.height, ds.width))
        shape = (max(1, int(round(ds.height * scale))),
                 max(1, int(round(ds.width * scale))))
        change = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    rgb = binary_change_map(change, ignore_index=OUT_NODATA)
    mmcv.imwrite(rgb[..., ::-1], out_path)
    return out_path


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
                  gdal_cache_mb: int = 64) -> GeoInferenceSummary:
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
        progress (bool): Print progress (tiles/s, ETA) to stderr.
            Defaults to True.
        gdal_cache_mb (int): GDAL's raster block cache in MiB for this run.
            GDAL's default is 5% of the RAM, which would let memory grow
            with the scene; blocks are read once per tile row, so a small
            cache costs little. Defaults to 64.

    Returns:
        GeoInferenceSummary: What was written.

    Raises:
        ImportError: Without rasterio.
        ValueError: If the dates are not on the same grid (without
            ``resample_b``), a band does not exist or an argument is out of
            range.
    """
    rasterio = require_rasterio()
    from rasterio.windows import Window

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
        if osp.abspath(path) == osp.abspath(out_path):
            raise ValueError(f'the output {out_path} would overwrite an '
                             'input')
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
                summary = _run_scene(detector, rasterio, Window, src_a, src_b,
                                     sel, channel_order, grid, out_path,
                                     batch_size, probs, progress)
            finally:
                if src_b is not raw_b:
                    src_b.close()
        if vector_path:
            summary.vector_path = vector_path
            summary.polygons = write_change_vector(out_path, vector_path)
        if quicklook_path:
            summary.quicklook_path = write_quicklook(out_path, quicklook_path)
    summary.seconds = time.monotonic() - start
    return summary


def _run_scene(detector: ChangeDetector, rasterio: Any, Window: Any,
               src_a: Any, src_b: Any, bands: List[int], channel_order: str,
               grid: TileGrid, out_path: str, batch_size: int, probs: bool,
               progress: bool) -> GeoInferenceSummary:
    """The strip loop of :func:`infer_geotiff`."""
    th, tw = grid.tile_h, grid.tile_w
    printer = ProgressPrinter(
        len(grid),
        unit='tiles',
        desc=f'{osp.basename(out_path)}: ',
        enabled=progress)
    parent = osp.dirname(osp.abspath(out_path))
    os.makedirs(parent, exist_ok=True)
    state: dict = dict(
        blender=None, dst=None, writer=None, semantic=None, names=[])
    predicted = valid_total = changed_total = 0
    threshold = detector.threshold
    # written under another name and renamed when complete, so a failed run
    # never leaves a plausible-looking but unfinished output
    partial = out_path + '.partial'

    def open_output(semantic: bool, rows_done: int) -> None:
        """Create the output once the kind of model is known.

        The window rows before ``rows_done`` had only no-data tiles; they
        are closed (and written as no-data) straight away.
        """
        names = ['change (1 changed, 0 unchanged)']
        if semantic:
            names += [
                'semantic change class, date A',
                'semantic change class, date B'
            ]
        if probs:
            names.append('probability of change (percent)')
        dst = rasterio.open(partial, 'w', **_output_profile(src_a, len(names)))
        state['dst'] = dst
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
        if probs:
            scales = [1.0] * len(names)
            scales[-1] = 0.01
            dst.scales = scales
        state.update(
            semantic=semantic,
            writer=_BlockWriter(dst, OUT_BLOCK),
            blender=StripBlender(
                grid, channels=1, labels=2 if semantic else 0),
            names=names)
        for _ in range(rows_done):
            write_rows(*state['blender'].finish_row())

    def run(batch: List[Tuple[int, np.ndarray, np.ndarray]], row: int) -> None:
        nonlocal predicted
        results = detector.predict([a for _, a, _ in batch],
                                   [b for _, _, b in batch],
                                   return_probs=True,
                                   channel_order=channel_order,
                                   batch_size=batch_size)
        if state['blender'] is None:
            open_output(results[0].semantic_a is not None, row)
        for (col, _, _), res in zip(batch, results):
            labels = None
            if state['semantic']:
                if res.semantic_a is None or res.semantic_b is None:
                    raise RuntimeError('the model returned semantic maps '
                                       'for some tiles only')
                labels = np.stack([res.semantic_a, res.semantic_b])
            state['blender'].add(col, res.change_prob[None], labels)
        predicted += len(batch)
        printer.update(len(batch))

    def write_rows(y0: int, maps: np.ndarray, labels: np.ndarray,
                   weight: np.ndarray) -> None:
        nonlocal valid_total, changed_total
        n = maps.shape[1]
        window = Window(0, y0, grid.width, n)
        valid = _valid_mask((src_a, src_b), bands, window)
        if (valid & (weight <= 0)).any():
            raise RuntimeError(f'rows {y0}..{y0 + n}: valid pixels that no '
                               'tile covered (a bug)')
        change = (maps[0] > threshold).astype(np.uint8)
        out = [change]
        if state['semantic']:
            out += [lab * change for lab in labels]
        if probs:
            out.append(np.rint(maps[0] * 100).astype(np.uint8))
        out = np.stack(out)
        out[:, ~valid] = OUT_NODATA
        valid_total += int(valid.sum())
        changed_total += int(change[valid].sum())
        state['writer'].add(out)

    try:
        for row, y0 in enumerate(grid.row_starts):
            batch: List[Tuple[int, np.ndarray, np.ndarray]] = []
            for col, x0 in enumerate(grid.col_starts):
                window = Window(x0, y0, tw, th)
                a, b, valid = _read_tile(src_a, src_b, bands, window)
                if not valid.any():
                    printer.update(1)  # no-data tile: nothing to predict
                    continue
                batch.append((col, a, b))
                if len(batch) == batch_size:
                    run(batch, row)
                    batch = []
            if batch:
                run(batch, row)
            if state['blender'] is not None:
                write_rows(*state['blender'].finish_row())
        if state['blender'] is None:  # the whole scene is no-data
            open_output(False, len(grid.row_starts))
        state['writer'].flush()
        state['dst'].close()
        os.replace(partial, out_path)
    finally:
        printer.close()
        dst = state['dst']
        if dst is not None and not dst.closed:
            dst.close()
        if osp.exists(partial):
            os.remove(partial)
    return GeoInferenceSummary(
        out_path=out_path,
        height=grid.height,
        width=grid.width,
        tiles=len(grid),
        tiles_predicted=predicted,
        seconds=0.0,
        valid_pixels=valid_total,
        changed_pixels=changed_total,
        bands=list(state['names']))
