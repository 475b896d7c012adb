"""Converters that turn public change-detection datasets into our layouts.

They live in the package, next to the datasets whose layouts they write,
rather than beside the scripts: the scripts in ``tools/dataset_converters``
only parse arguments (with the pieces of :mod:`.cli`) and call
:func:`convert_levir_cd`, :func:`convert_whu_cd`, :func:`convert_label_folder`
or, for S2Looking, DSIFN-CD and CDD, :func:`.binary_cd.run_tool` (their
whole ``main``), so the shared code
is imported like any other module (no ``sys.path`` edits), the tests call
it directly, and the folder checks reuse
:func:`mmcd_ext.datasets.file_pairing.pair_folders`, the same pairing the
datasets apply when they load the result.
"""
from .binary_cd import (CDD, DSIFN_CD, S2LOOKING, ReleasedLayout,
                        convert_binary_cd)
from .levir_cd import convert_levir_cd, cut_patches, list_tiles
from .paths import check_src_dst
from .scd_labels import convert_label, convert_label_folder
from .whu_cd import convert_whu_cd

__all__ = [
    'CDD', 'DSIFN_CD', 'S2LOOKING', 'ReleasedLayout', 'convert_binary_cd',
    'check_src_dst', 'convert_label', 'convert_label_folder',
    'convert_levir_cd', 'convert_whu_cd', 'cut_patches', 'list_tiles'
]
