"""Change-detection datasets, palettes and bitemporal transforms."""
from .base_folder_cd import BaseFolderCDDataset
from .binary_cd import BinaryCDFolderDataset, LEVIRCDDataset
from .palettes import (BINARY_CD_CLASSES, BINARY_CD_PALETTE,
                       LANDSAT_SCD_CLASSES, LANDSAT_SCD_PALETTE, SCD_PALETTES,
                       SECOND_CLASSES, SECOND_PALETTE, colour_to_index,
                       index_to_colour)
from .scd import LandsatSCDDataset, SCDFolderDataset, SECONDDataset
from .transforms import (BitemporalPhotoMetricDistortion,
                         BitemporalRandomRotate, LoadBitemporalImages,
                         LoadCDAnnotations, LoadSCDAnnotations, PackCDInputs,
                         RandomRotate90, TimeExchange)

__all__ = [
    'BaseFolderCDDataset', 'BinaryCDFolderDataset', 'LEVIRCDDataset',
    'SCDFolderDataset', 'SECONDDataset', 'LandsatSCDDataset',
    'BINARY_CD_CLASSES', 'BINARY_CD_PALETTE', 'SECOND_CLASSES',
    'SECOND_PALETTE', 'LANDSAT_SCD_CLASSES', 'LANDSAT_SCD_PALETTE',
    'SCD_PALETTES', 'colour_to_index', 'index_to_colour',
    'LoadBitemporalImages', 'LoadCDAnnotations', 'LoadSCDAnnotations',
    'RandomRotate90', 'BitemporalRandomRotate',
    'BitemporalPhotoMetricDistortion', 'TimeExchange', 'PackCDInputs'
]
