from .functional import (binary_change_scores, binary_confusion,
                         kappa_from_hist, scd_confusion_matrix, scd_scores)
from .metrics import ChangeDetectionMetric, SCDMetric

__all__ = [
    'ChangeDetectionMetric', 'SCDMetric', 'binary_confusion',
    'binary_change_scores', 'scd_confusion_matrix', 'scd_scores',
    'kappa_from_hist'
]
