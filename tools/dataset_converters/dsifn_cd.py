"""Convert DSIFN-CD as released into 256 x 256 {A,B,label} patches.

DSIFN-CD is released as ``SRC/{train,val,test}/{t1,t2}/*.jpg`` with the
change masks in ``SRC/<split>/mask/``, PNG in train and val but TIF in test,
512 x 512 tiles (3600 / 340 / 48 pairs). This cuts every tile into
non-overlapping ``--patch-size`` patches (default 256: 4 per tile, 14400 /
1360 / 192) written as::

    DST/{train,val,test}/{A,B,label}/<name>_<row>_<col>.png

masks one channel of 0/255 whatever their suffix. Each tile is cut on its
own, so tiles of different sizes are fine as long as the patch size divides
each (checked before anything is written); ``--patch-size 0`` keeps the
tiles whole.

The staging (hidden ``DST/.<split>.partial`` folders), ``--force`` and
the checks that stop a conversion with the file named (one line, exit code
1; ``--debug`` for the traceback) are those of
:func:`mmcd_ext.datasets.converters.convert_binary_cd`; the layout is
:data:`mmcd_ext.datasets.converters.DSIFN_CD`.

Example::

    python tools/dataset_converters/dsifn_cd.py data/DSIFN data/dsifn-cd-256
"""
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import DSIFN_CD
from mmcd_ext.datasets.converters.binary_cd import run_tool


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion (arguments: see ``--help``); exit code 0, or 1
    with one line on stderr (:func:`~mmcd_ext.datasets.converters.binary_cd.
    run_tool`)."""
    return run_tool(DSIFN_CD, 'tools/dataset_converters/dsifn_cd.py', argv)


if __name__ == '__main__':
    sys.exit(main())
