"""Inference for users: the Python API and large-scene (GeoTIFF) inference.

``rasterio`` is needed only by :func:`infer_geotiff` and the vector /
quick-look helpers; it is imported when they run.
"""
from .change_detector import ChangeDetector, ChangeResult
from .folder_pairs import FolderPairs, match_folder_pairs
from .geo_inference import (GeoInferenceSummary, check_same_grid,
                            infer_geotiff, is_geo_path, require_rasterio,
                            write_change_vector, write_quicklook)
from .image_outputs import change_overlay, write_pair_outputs
from .inference import init_model
from .progress import ProgressPrinter
from .tiling import StripBlender, TileGrid, axis_weights, tile_starts

__all__ = [
    'ChangeDetector', 'ChangeResult', 'infer_geotiff', 'GeoInferenceSummary',
    'check_same_grid', 'is_geo_path', 'require_rasterio',
    'write_change_vector', 'write_quicklook', 'match_folder_pairs',
    'FolderPairs', 'change_overlay', 'write_pair_outputs', 'ProgressPrinter',
    'TileGrid', 'StripBlender', 'tile_starts', 'axis_weights', 'init_model'
]
