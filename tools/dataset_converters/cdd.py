"""Convert CDD (season-varying, 256 x 256 subset) into the {A,B,label} layout.

CDD (Lebedev et al. 2018) is released as
``ChangeDetectionDataset/Real/subset/{train,val,test}/{A,B,OUT}/*.jpg``,
256 x 256 pairs (10000 / 3000 / 3000). Its labels are JPEGs: compression
leaves grey values around the edges of the 0/255 masks, which the datasets
refuse. This writes::

    DST/{train,val,test}/{A,B,label}/<name>.png

with the images decoded as they are and each label thresholded at 128 to
one channel of 0/255; a label with more than 5 % of its pixels far from 0
and 255 (between 65 and 190) is refused as not a change mask.

The staging (hidden ``DST/.<split>.partial`` folders), ``--force`` and
the checks that stop a conversion with the file named (one line, exit code
1; ``--debug`` for the traceback) are those of
:func:`mmcd_ext.datasets.converters.convert_binary_cd`; the layout is
:data:`mmcd_ext.datasets.converters.CDD`.

Example::

    python tools/dataset_converters/cdd.py \\
        data/ChangeDetectionDataset/Real/subset data/cdd
"""
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import CDD
from mmcd_ext.datasets.converters.binary_cd import run_tool


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion (arguments: see ``--help``); exit code 0, or 1
    with one line on stderr (:func:`~mmcd_ext.datasets.converters.binary_cd.
    run_tool`)."""
    return run_tool(CDD, 'tools/dataset_converters/cdd.py', argv)


if __name__ == '__main__':
    sys.exit(main())
