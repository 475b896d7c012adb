"""Convert S2Looking as released into the {A,B,label} layout.

S2Looking is released as ``SRC/{train,val,test}/{Image1,Image2,label,
label1,label2}/*.png`` (1024 x 1024). This writes::

    DST/{train,val,test}/{A,B,label}/<name>.png

from ``Image1``, ``Image2`` and ``label`` (the binary change; ``label1`` /
``label2``, built and demolished, are not used). Images are copied as they
are; the label is written as one channel of 0/255 (a colour label counts a
pixel as changed where any channel is set; 0/1 labels are mapped to 0/255;
any other value is an error). ``--patch-size`` cuts the tiles instead.

The staging (hidden ``DST/.<split>.partial`` folders), ``--force`` and
the checks that stop a conversion with the file named (one line, exit code
1; ``--debug`` for the traceback) are those of
:func:`mmcd_ext.datasets.converters.convert_binary_cd`; the layout is
:data:`mmcd_ext.datasets.converters.S2LOOKING`.

Example::

    python tools/dataset_converters/s2looking.py data/S2Looking data/s2looking
"""
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import S2LOOKING
from mmcd_ext.datasets.converters.binary_cd import run_tool


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion (arguments: see ``--help``); exit code 0, or 1
    with one line on stderr (:func:`~mmcd_ext.datasets.converters.binary_cd.
    run_tool`)."""
    return run_tool(S2LOOKING, 'tools/dataset_converters/s2looking.py', argv)


if __name__ == '__main__':
    sys.exit(main())
