"""Convert colour-coded SECOND / Landsat-SCD labels to index PNGs.

Each RGB label of a folder (searched recursively) is decoded with the
dataset's palette (:mod:`mmcd_ext.datasets.palettes`) and written as a
single-channel PNG of class indices (0 = no change) under the same relative
path in the output folder. A pixel whose colour is not in the palette stops
the conversion with the file name, the colour and its pixel count; nothing
is guessed. The output is built in a hidden sibling ``.<DST>.partial`` and
renamed to ``DST`` when complete (see
:mod:`mmcd_ext.datasets.converters.paths`).
"""
import glob
import os
import os.path as osp
import sys
from typing import List

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mmcd_ext.utils.atomic_files import write_image
from ..palettes import SCD_PALETTES, colour_to_index
from .paths import check_output, check_src_dst, staged_folder


def convert_label(src: str, dst: str, palette: List[List[int]]) -> None:
    """Convert one colour label file to an index PNG.

    Args:
        src (str): Colour label (RGB, read as BGR by OpenCV).
        dst (str): Output index PNG (written atomically).
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
    write_image(dst, index)


def convert_label_folder(src: str,
                         dst: str,
                         dataset: str,
                         suffix: str = '.png',
                         force: bool = False,
                         progress: bool = True) -> int:
    """Convert every colour label of a folder to an index PNG.

    Args:
        src (str): Folder of colour labels.
        dst (str): Output folder, different from ``src``.
        dataset (str): Palette: a key of ``SCD_PALETTES`` ('second',
            'landsat').
        suffix (str): Label file suffix. Defaults to '.png'.
        force (bool): Replace an existing ``dst`` (once the new one is
            complete); it may hold only ``*<suffix>`` files.
            Defaults to False.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        int: Number of labels converted.

    Raises:
        KeyError: If ``dataset`` has no palette.
        FileNotFoundError: If ``src`` is missing or holds no label.
        FileExistsError: If ``dst`` holds files and not ``force``, or holds
            files the conversion does not write.
        ValueError: If ``src`` and ``dst`` overlap or a label cannot be
            converted.
    """
    if dataset not in SCD_PALETTES:
        raise KeyError(f'no palette for dataset "{dataset}"; choose one of '
                       f'{sorted(SCD_PALETTES)}')
    check_src_dst(src, dst)
    if not osp.isdir(src):
        raise FileNotFoundError(f'label folder {src} does not exist')
    files = sorted(
        glob.glob(osp.join(src, '**', '*' + suffix), recursive=True))
    if not files:
        raise FileNotFoundError(f'no "*{suffix}" files in {src}')
    check_output(dst, suffix, force)
    _, palette = SCD_PALETTES[dataset]
    bar = ProgressBar(len(files), file=sys.stdout) if progress else None
    with staged_folder(dst) as work:
        for path in files:
            convert_label(path, osp.join(work, osp.relpath(path, src)),
                          palette)
            if bar is not None:
                bar.update()
        if bar is not None:
            print(flush=True)  # the bar does not end its line
    print(f'done: {len(files)} index labels in {dst}', flush=True)
    return len(files)
