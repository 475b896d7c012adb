from .atomic_checkpoint_hook import AtomicCheckpointHook
from .cd_visualization_hook import CDVisualizationHook

__all__ = ['AtomicCheckpointHook', 'CDVisualizationHook']
