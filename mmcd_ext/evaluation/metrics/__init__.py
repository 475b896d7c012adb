from .change_detection_metric import ChangeDetectionMetric
from .scd_metric import SCDMetric

__all__ = ['ChangeDetectionMetric', 'SCDMetric']
