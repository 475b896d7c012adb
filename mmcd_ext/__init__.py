"""mmcd_ext: remote-sensing change detection on top of mmsegmentation.

Importing the package (as configs do through ``custom_imports``) registers
every component under the ``mmcd_ext`` scope and lets torch >= 2.6 load the
checkpoints mmengine's Runner writes (see ``mmcd_ext.utils.checkpoint``).
"""
from . import datasets, engine, evaluation, models, visualization
from .utils.checkpoint import allow_mmengine_checkpoint_types
from .version import __version__

allow_mmengine_checkpoint_types()

__all__ = [
    '__version__', 'datasets', 'engine', 'evaluation', 'models',
    'visualization'
]
