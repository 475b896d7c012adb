"""Bitemporal data transforms: loading, augmentation and packing."""
from .formatting import CD_META_KEYS, PackCDInputs
from .geometric import BitemporalRandomRotate, RandomRotate90
from .loading import (CD_LABEL_ENCODINGS, LoadBitemporalImages,
                      LoadCDAnnotations, LoadSCDAnnotations)
from .photometric import BitemporalPhotoMetricDistortion
from .temporal import TimeExchange
from .utils import split_dates

__all__ = [
    'LoadBitemporalImages', 'LoadCDAnnotations', 'LoadSCDAnnotations',
    'CD_LABEL_ENCODINGS', 'RandomRotate90', 'BitemporalRandomRotate',
    'BitemporalPhotoMetricDistortion', 'TimeExchange', 'PackCDInputs',
    'CD_META_KEYS', 'split_dates'
]
