"""Convert colour-coded SECOND / Landsat-SCD labels to index PNGs.

Each RGB label in SRC (searched recursively) is decoded with the dataset's
palette and written as a single-channel PNG of class indices (0 = no
change) under the same relative path in DST; an unknown colour stops the
conversion with the file named. DST is built in a hidden sibling
``.<DST>.partial`` and renamed to DST only when complete; an existing
non-empty DST is refused unless ``--force``, which replaces it as a whole
(only if it holds nothing but ``*SUFFIX`` files). The work is done by
:func:`mmcd_ext.datasets.converters.convert_label_folder`.

Run it once per label folder, e.g. for SECOND::

    for d in label1 label2; do
      python tools/dataset_converters/scd_labels.py \\
          data/SECOND/train/$d data/SECOND/train/${d}_index --dataset second
    done

then point the dataset's ``seg_map_path_a``/``seg_map_path_b`` at the new
folders. Both colour and index labels load with ``LoadSCDAnnotations``; the
index form is smaller and faster to read.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmcd_ext.datasets.converters import convert_label_folder
from mmcd_ext.datasets.converters.cli import add_run_options
from mmcd_ext.datasets.palettes import SCD_PALETTES
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
        description='Convert RGB colour labels of SECOND / Landsat-SCD to '
        'single-channel class-index PNGs (0 = no change).')
    parser.add_argument('src', help='folder of colour labels')
    parser.add_argument('dst', help='output folder for index labels')
    parser.add_argument(
        '--dataset',
        required=True,
        choices=sorted(SCD_PALETTES),
        help='which palette decodes the colours')
    parser.add_argument(
        '--suffix', default='.png', help='label file suffix. Default: .png')
    add_run_options(
        parser, 'replace a non-empty DST once the new one is complete (it may '
        'hold only *SUFFIX files)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Command-line arguments.
            Defaults to None.

    Returns:
        int: Exit code 0; an error exits with code 1 and one line on stderr.
    """
    args = parse_args(argv)
    with tool_errors('tools/dataset_converters/scd_labels.py', args.debug):
        convert_label_folder(
            args.src,
            args.dst,
            args.dataset,
            suffix=args.suffix,
            force=args.force,
            progress=not args.quiet)
    return 0


if __name__ == '__main__':
    sys.exit(main())
