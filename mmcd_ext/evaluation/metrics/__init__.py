from .base_change_metric import BaseChangeMetric
from .change_detection_metric import ChangeDetectionMetric
from .scd_metric import SCDMetric

__all__ = ['BaseChangeMetric', 'ChangeDetectionMetric', 'SCDMetric']
