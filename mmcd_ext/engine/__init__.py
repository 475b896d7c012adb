from .hooks import CDVisualizationHook

__all__ = ['CDVisualizationHook']
