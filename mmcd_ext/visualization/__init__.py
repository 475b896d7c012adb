from .cd_local_visualizer import CDLocalVisualizer, split_dates
from .change_maps import (binary_change_map, binary_change_overlay,
                          colorize_semantic)

__all__ = [
    'CDLocalVisualizer', 'binary_change_overlay', 'binary_change_map',
    'colorize_semantic', 'split_dates'
]
