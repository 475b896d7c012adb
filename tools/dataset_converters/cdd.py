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

Each split is built in a hidden ``DST/.<split>.partial`` folder and renamed
to ``DST/<split>`` once every split of the run is written; an existing
``DST/<split>`` holding files is refused unless ``--force``. A sample
without its partners, A/B/label of different sizes or a label that is not
a change mask stops the conversion with the file named (one line, exit
code 1; ``--debug`` for the traceback). The work is done by
:func:`mmcd_ext.datasets.converters.convert_binary_cd` with the layout
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
