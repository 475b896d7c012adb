"""Cut the WHU-CD scene pair into tiles split into train / val / test.

Reads the date-A image, the date-B image and the change label of the WHU-CD
scene (32507 x 15354 px TIFs) and writes::

    DST/{train,val,test}/{A,B,label}/whu_<row>_<col>.png

(labels 0/255), the splits being spatially disjoint strips of tile columns:
the rightmost ``--test-ratio`` of the columns are test, the ``--val-ratio``
left of them val, the rest train. Splits are built in hidden
``DST/.<split>.partial`` folders renamed once all are written; an existing
``DST/<split>`` holding files is refused unless ``--force``. The work is
done by :func:`mmcd_ext.datasets.converters.convert_whu_cd`.

Example::

    python tools/dataset_converters/whu_cd.py before.tif after.tif \\
        change_label.tif data/whu-cd-256
"""
import argparse
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import convert_whu_cd
from mmcd_ext.datasets.converters.cli import (add_run_options,
                                              parse_with_patch_size)
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
        description='Cut the WHU-CD scene pair into train/val/test tiles '
        'DST/<split>/{A,B,label}/whu_<row>_<col>.png.')
    parser.add_argument('before', help='date-A scene image')
    parser.add_argument('after', help='date-B scene image')
    parser.add_argument('label', help='change label of the scene')
    parser.add_argument('dst', help='output root')
    parser.add_argument(
        '--patch-size', type=int, default=256, help='tile side. Default: 256')
    parser.add_argument(
        '--val-ratio',
        type=float,
        default=0.1,
        help='share of tile columns for val. Default: 0.1')
    parser.add_argument(
        '--test-ratio',
        type=float,
        default=0.2,
        help='share of tile columns (rightmost) for test. Default: 0.2')
    add_run_options(parser)
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
    with tool_errors('tools/dataset_converters/whu_cd.py', args.debug):
        convert_whu_cd(
            args.before,
            args.after,
            args.label,
            args.dst,
            patch_size=args.patch_size,
            val_ratio=args.val_ratio,
            test_ratio=args.test_ratio,
            force=args.force,
            progress=not args.quiet)
    return 0


if __name__ == '__main__':
    sys.exit(main())
