"""Products derived from a change GeoTIFF: GeoJSON polygons and a quick-look.

Both read the file written by :func:`mmcd_ext.apis.infer_geotiff` (band 1:
change 0/1, no-data 255) through GDAL, so neither loads the scene into
memory. rasterio is optional (``pip install -e .[geo]``); it is imported
only when a function of this module runs.
"""
import json
import os
import os.path as osp
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from mmcd_ext.utils.atomic import atomic_path
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
    projected CRSs in metres). Features are streamed to a temporary file in
    the same folder, renamed to ``out_path`` when complete.

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
    with atomic_path(out_path) as tmp, open(tmp, 'w') as f:
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
