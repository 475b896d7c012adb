from .cd_visualization_hook import CDVisualizationHook

__all__ = ['CDVisualizationHook']
