"""mmcd_ext: remote-sensing change detection on top of mmsegmentation.

Importing the package (as configs do through ``custom_imports``) registers
every component under the ``mmcd_ext`` scope and lets torch >= 2.6 load the
checkpoints mmengine's Runner writes (see ``mmcd_ext.utils.checkpoint``).
"""
from .utils.checkpoint import allow_mmengine_checkpoint_types
from .version import __version__

allow_mmengine_checkpoint_types()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,E501

__all__ = ['__version__']
