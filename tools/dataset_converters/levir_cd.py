"""Cut LEVIR-CD tiles into non-overlapping square patches.

LEVIR-CD ships 1024 x 1024 tiles (445 train / 64 val / 128 test) as::

    SRC/{train,val,test}/{A,B,label}/<stem>.png

This writes::

    DST/{train,val,test}/{A,B,label}/<stem>_<row>_<col>.png

with ``row``/``col`` the 0-based patch indices: 16 patches per tile at
``--patch-size 256``, 4 at 512. Each split is written into a hidden
``DST/.<split>.partial`` folder; they become ``DST/<split>`` only when every
split of the run is complete, so an interrupted run leaves no half-filled
split and the same command simply runs again (deleting the partial
folders). An existing
``DST/<split>`` holding files is refused unless ``--force``, which replaces
it as a whole once the new split is complete; it is refused even then if it
holds files the conversion does not write. The work is done by
:func:`mmcd_ext.datasets.converters.convert_levir_cd`.

Example::

    python tools/dataset_converters/levir_cd.py data/LEVIR-CD \\
        data/LEVIR-CD-256 --patch-size 256
"""
import argparse
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import convert_levir_cd
from mmcd_ext.datasets.converters.cli import (add_run_options,
                                              parse_with_patch_size)
from mmcd_ext.datasets.converters.levir_cd import SPLITS
from mmcd_ext.utils.cli import tool_errors


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Cut LEVIR-CD tiles (SRC/<split>/{A,B,label}) into '
        'non-overlapping patches named <stem>_<row>_<col>.png.')
    parser.add_argument('src', help='LEVIR-CD root holding train/ val/ test/')
    parser.add_argument('dst', help='output root')
    parser.add_argument(
        '--patch-size',
        type=int,
        default=256,
        help='side of the square patches; must divide the tile size '
        '(256 -> 16 patches per 1024 tile, 512 -> 4). Default: 256')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=list(SPLITS),
        help='splits to convert (sub-folders of SRC). Default: train val '
        'test')
    parser.add_argument(
        '--suffix', default='.png', help='file suffix. Default: .png')
    add_run_options(
        parser, 'replace an existing DST/<split> once the new one is complete '
        '(it may hold only {A,B,label}/**/*SUFFIX files)')
    return parse_with_patch_size(parser, argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Command-line arguments.
            Defaults to None.

    Returns:
        int: Exit code 0; an error exits with code 1 and one line on stderr.
    """
    args = parse_args(argv)
    with tool_errors('tools/dataset_converters/levir_cd.py', args.debug):
        convert_levir_cd(
            args.src,
            args.dst,
            patch_size=args.patch_size,
            splits=args.splits,
            suffix=args.suffix,
            force=args.force,
            progress=not args.quiet)
    return 0


if __name__ == '__main__':
    sys.exit(main())
