"""Inference for users: the Python API and large-scene (GeoTIFF) inference.

Only what a user calls is exported here; the building blocks (tile grids,
blending, the GeoTIFF writer, grid checks) are imported from their modules.
``rasterio`` is needed only by :func:`infer_geotiff` and the vector /
quick-look helpers; it is imported when they run.
"""
from .change_detector import ChangeDetector, ChangeResult
from .folder_pairs import FolderPairs, match_folder_pairs
from .geo_export import write_change_vector, write_quicklook
from .geo_inference import GeoInferenceSummary, infer_geotiff
from .image_outputs import write_pair_outputs
from .inference import init_model
from .transitions import TransitionSummary

__all__ = [
    'ChangeDetector',
    'ChangeResult',
    'FolderPairs',
    'match_folder_pairs',
    'GeoInferenceSummary',
    'infer_geotiff',
    'write_change_vector',
    'write_quicklook',
    'write_pair_outputs',
    'init_model',
    'TransitionSummary',
]
