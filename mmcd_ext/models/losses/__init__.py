"""Losses of mmcd_ext (registered in ``mmcd_ext.registry.MODELS``)."""
from .class_balanced_bce_loss import ClassBalancedBCELoss
from .hard_sample_contrastive_loss import HardSampleContrastiveLoss
from .semantic_consistency_loss import SemanticConsistencyLoss

__all__ = [
    'ClassBalancedBCELoss', 'HardSampleContrastiveLoss',
    'SemanticConsistencyLoss'
]
