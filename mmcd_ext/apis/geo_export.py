"""Products derived from a change GeoTIFF: polygons, class rasters, quick-look.

All read the file written by :func:`mmcd_ext.apis.infer_geotiff` (band 1:
change 0/1, no-data 255; semantic change models: bands 2 and 3 the classes
of dates A and B) through GDAL, window by window, so none loads the scene
into memory. A GeoTIFF colour table belongs to a single-band file, so each
date's class map is also written as its own one-band GeoTIFF with the
dataset palette as colour table (:func:`write_semantic_rasters`).
rasterio is optional (``pip install -e .[geo]``); it is imported only when
a function of this module runs.
"""
import contextlib
import json
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from mmcd_ext.utils.atomic import atomic_path, temporary_name
from .geo_writer import OUT_NODATA, require_rasterio


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


def is_semantic_raster(ds: Any) -> bool:
    """Whether an open change GeoTIFF has the semantic class bands 2, 3."""
    return ds.count >= 3 and str(ds.descriptions[1]
                                 or '').startswith('semantic')


@contextlib.contextmanager
def _transition_codes(ds: Any, folder: str) -> Iterator[str]:
    """A temporary uint16 raster ``1 + 256 a + b`` on changed pixels, else 0.

    Written block by block next to the output (a hidden temporary name) and
    removed on exit; GDAL polygonizes it so that each polygon has one
    from-to transition.
    """
    rasterio = require_rasterio()
    tmp = temporary_name(osp.join(folder, 'transition_codes.tif'))
    try:
        profile = dict(
            driver='GTiff',
            dtype='uint16',
            count=1,
            height=ds.height,
            width=ds.width,
            crs=ds.crs,
            transform=ds.transform,
            nodata=0,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress='deflate')
        with rasterio.open(tmp, 'w', **profile) as dst:
            for _, window in ds.block_windows(1):
                bands = ds.read([1, 2, 3], window=window).astype(np.uint16)
                code = 1 + bands[1] * 256 + bands[2]
                keep = (bands[0] == 1) & (bands[1] != OUT_NODATA) & \
                    (bands[2] != OUT_NODATA)
                dst.write(
                    np.where(keep, code, 0).astype(np.uint16)[None],
                    window=window)
        yield tmp
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def iter_change_polygons(path: str,
                         connectivity: int = 4,
                         class_names: Optional[Sequence[str]] = None,
                         work_dir: Optional[str] = None) -> Iterator[dict]:
    """GeoJSON features of the change regions (value 1) of band 1.

    GDAL polygonizes straight from the file, row by row; memory grows with
    the number of polygons only. For a semantic change GeoTIFF each polygon
    is one from-to transition (a region of changed pixels with the same
    classes in both dates), polygonized from a temporary code raster.

    Args:
        path (str): A change GeoTIFF written by :func:`infer_geotiff`.
        connectivity (int): 4 or 8 pixel connectivity. Defaults to 4.
        class_names (Sequence[str], optional): Names of the class indices
            of a semantic change GeoTIFF. Defaults to None (no names).
        work_dir (str, optional): Folder of the temporary code raster.
            Defaults to None (the folder of ``path``).

    Yields:
        dict: A GeoJSON ``Feature`` with properties ``id``, ``area`` (CRS
        units squared) and ``pixels``; semantic change GeoTIFFs add
        ``class_from``, ``class_to`` (class indices of dates A and B) and,
        with ``class_names``, ``name_from`` and ``name_to``.
    """
    rasterio = require_rasterio()
    from rasterio.features import shapes
    with rasterio.open(path) as ds, contextlib.ExitStack() as stack:
        pixel_area = abs(ds.transform.a * ds.transform.e -
                         ds.transform.b * ds.transform.d)
        semantic = is_semantic_raster(ds)
        if semantic:
            codes_path = stack.enter_context(
                _transition_codes(ds, work_dir
                                  or osp.dirname(osp.abspath(path))))
            codes = stack.enter_context(rasterio.open(codes_path))
            band = rasterio.band(codes, 1)
        else:
            band = rasterio.band(ds, 1)
        # the change band is the mask (0 unchanged excluded); no-data
        # regions (255) come out as value 0 (semantic) or 255 and are skipped
        mask = rasterio.band(ds, 1)
        index = 0
        for geom, value in shapes(
                band, mask=mask, connectivity=connectivity,
                transform=ds.transform):
            value = int(value)
            if value != 1 and not (semantic and value > 0):
                continue  # no-data regions
            area = polygon_area(geom['coordinates'])
            index += 1
            props: Dict[str, Any] = {'id': index}
            if semantic:
                cls_a, cls_b = divmod(value - 1, 256)
                props.update(class_from=cls_a, class_to=cls_b)
                if class_names is not None:
                    props.update(
                        name_from=_name(class_names, cls_a),
                        name_to=_name(class_names, cls_b))
            props.update(
                area=area,
                pixels=int(round(area / pixel_area)) if pixel_area else None)
            yield {'type': 'Feature', 'properties': props, 'geometry': geom}


def _name(names: Sequence[str], index: int) -> str:
    return str(names[index]) if 0 <= index < len(names) else f'class {index}'


def write_change_vector(raster_path: str,
                        out_path: str,
                        connectivity: int = 4,
                        class_names: Optional[Sequence[str]] = None) -> int:
    """Write the change polygons of a change GeoTIFF as GeoJSON.

    Coordinates stay in the raster's CRS (named in a ``crs`` member, as
    GDAL and QGIS read it); ``area`` is in that CRS's units squared (m^2 for
    projected CRSs in metres). Features are streamed to a temporary file in
    the same folder, renamed to ``out_path`` when complete.

    Args:
        raster_path (str): The change GeoTIFF.
        out_path (str): The ``.geojson`` file to write.
        connectivity (int): 4 or 8 pixel connectivity. Defaults to 4.
        class_names (Sequence[str], optional): Names of the class indices
            of a semantic change GeoTIFF; each polygon then has
            ``class_from``/``class_to`` and ``name_from``/``name_to``
            (see :func:`iter_change_polygons`). Defaults to None.

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
    with atomic_path(out_path) as tmp, open(tmp, 'w') as f:
        f.write(json.dumps(header)[:-1] + ', "features": [\n')
        for feature in iter_change_polygons(raster_path, connectivity,
                                            class_names, parent):
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
    decimation, read by GDAL without loading the full band). Written
    atomically.

    Args:
        raster_path (str): The change GeoTIFF.
        out_path (str): The PNG to write.
        max_size (int): Longest side of the PNG. Defaults to 2048.

    Returns:
        str: ``out_path``.
    """
    from mmcd_ext.visualization.change_maps import binary_change_map
    from .image_outputs import write_image_atomic
    rasterio = require_rasterio()
    from rasterio.enums import Resampling
    with rasterio.open(raster_path) as ds:
        scale = min(1.0, max_size / max(ds.height, ds.width))
        shape = (max(1, int(round(ds.height * scale))),
                 max(1, int(round(ds.width * scale))))
        change = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    rgb = binary_change_map(change, ignore_index=OUT_NODATA)
    return write_image_atomic(rgb[..., ::-1], out_path)


def _colormap(palette: Sequence[Sequence[int]]) -> Dict[int, tuple]:
    """GDAL colour table: the palette, no-data transparent, rest black."""
    cmap = {k: (0, 0, 0, 255) for k in range(256)}
    for k, color in enumerate(palette[:OUT_NODATA]):
        r, g, b = (int(v) for v in color[:3])
        cmap[k] = (r, g, b, 255)
    cmap[OUT_NODATA] = (0, 0, 0, 0)
    return cmap


def write_semantic_rasters(raster_path: str, out_a: str, out_b: str,
                           palette: Sequence[Sequence[int]]) -> List[str]:
    """Write each date's class map as a one-band GeoTIFF with a colour table.

    Bands 2 and 3 of a semantic change GeoTIFF are copied block by block
    (same CRS, transform, size, no-data 255, tiling and compression) into
    ``out_a`` and ``out_b``, each with the palette as its colour table and
    the class-map band description. Each file is written under a temporary
    name and renamed when complete.

    Args:
        raster_path (str): The change GeoTIFF of a semantic change model.
        out_a (str): GeoTIFF of date A's classes.
        out_b (str): GeoTIFF of date B's classes.
        palette (Sequence[Sequence[int]]): RGB colour of each class index.

    Returns:
        list[str]: ``[out_a, out_b]``.

    Raises:
        ValueError: If the raster has no semantic bands.
    """
    rasterio = require_rasterio()
    cmap = _colormap(palette)
    with rasterio.open(raster_path) as ds:
        if not is_semantic_raster(ds):
            raise ValueError(f'{raster_path} has no semantic change bands')
        profile = dict(
            driver='GTiff',
            dtype='uint8',
            count=1,
            height=ds.height,
            width=ds.width,
            crs=ds.crs,
            transform=ds.transform,
            nodata=OUT_NODATA,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress='deflate',
            photometric='palette')
        for band, out in ((2, out_a), (3, out_b)):
            os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
            with atomic_path(out) as tmp:
                with rasterio.open(tmp, 'w', **profile) as dst:
                    dst.write_colormap(1, cmap)
                    dst.set_band_description(1, ds.descriptions[band - 1])
                    for _, window in ds.block_windows(1):
                        dst.write(
                            ds.read(band, window=window)[None], window=window)
    return [out_a, out_b]
