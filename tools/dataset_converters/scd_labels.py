"""Convert colour-coded SECOND / Landsat-SCD labels to index PNGs.

Each RGB label in SRC (searched recursively) is decoded with the dataset's
palette (``mmcd_ext.datasets.palettes``) and written as a single-channel
PNG of class indices (0 = no change) under the same relative path in DST.
A pixel whose colour is not in the palette stops the conversion with the
file name, the colour and its pixel count; nothing is guessed.

Run it once per label folder, e.g. for SECOND::

    for d in label1 label2; do
      python tools/dataset_converters/scd_labels.py \
          data/SECOND/train/$d data/SECOND/train/${d}_index --dataset second
    done

then point the dataset's ``seg_map_path_a``/``seg_map_path_b`` at the new
folders. Both colour and index labels load with ``LoadSCDAnnotations``; the
index form is smaller and faster to read.
"""
import argparse
import glob
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mmcd_ext.datasets.palettes import SCD_PALETTES, colour_to_index

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # the sibling converter_utils.py
from converter_utils import check_src_dst, print_progress  # noqa: E402


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
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a non-empty DST (existing files with the same name '
        'are overwritten)')
    return parser.parse_args(argv)


def convert_label(src: str, dst: str, palette: List[List[int]]) -> None:
    """Convert one colour label file to an index PNG.

    Args:
        src (str): Colour label (RGB, read as BGR by OpenCV).
        dst (str): Output index PNG.
        palette (list): RGB colour of each class.

    Raises:
        ValueError: If the file is unreadable, not 3-channel 8-bit, holds a
            colour outside the palette, or the output cannot be written.
    """
    img = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'cannot read label {src}')
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{src} has shape {img.shape}; expected an RGB '
                         'colour label (H, W, 3)')
    index = colour_to_index(
        np.ascontiguousarray(img[..., ::-1]), palette, filename=src)
    os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
    if not cv2.imwrite(dst, index):
        raise ValueError(f'cannot write {dst}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Command-line arguments.
            Defaults to None.

    Returns:
        int: Exit code (0 on success).
    """
    args = parse_args(argv)
    check_src_dst(args.src, args.dst)
    if not osp.isdir(args.src):
        raise FileNotFoundError(f'label folder {args.src} does not exist')
    files = sorted(
        glob.glob(osp.join(args.src, '**', '*' + args.suffix), recursive=True))
    if not files:
        raise FileNotFoundError(f'no "*{args.suffix}" files in {args.src}')
    if osp.isdir(args.dst) and os.listdir(args.dst) and not args.force:
        raise FileExistsError(f'output folder {args.dst} is not empty; pass '
                              '--force to write into it')
    os.makedirs(args.dst, exist_ok=True)
    _, palette = SCD_PALETTES[args.dataset]
    for i, src in enumerate(files, start=1):
        rel = osp.relpath(src, args.src)
        convert_label(src, osp.join(args.dst, rel), palette)
        print_progress(f'[{args.dataset}] {i}/{len(files)} labels', i,
                       len(files))
    print(f'done: {len(files)} index labels in {args.dst}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
