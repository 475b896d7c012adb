"""Losses of mmcd_ext (registered in ``mmcd_ext.registry.MODELS``)."""
from .semantic_consistency_loss import SemanticConsistencyLoss

__all__ = ['SemanticConsistencyLoss']
