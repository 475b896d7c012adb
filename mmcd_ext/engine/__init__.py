from .hooks import AtomicCheckpointHook, CDVisualizationHook

__all__ = ['AtomicCheckpointHook', 'CDVisualizationHook']
