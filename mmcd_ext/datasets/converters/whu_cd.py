"""Cut the WHU-CD scene pair into tiles split into train / val / test.

WHU-CD (the change-detection part of the WHU building data set) is one
aerial scene pair of 32507 x 15354 pixels (W x H): a date-A image, a date-B
image and a change label, each a single large TIF. :func:`convert_whu_cd`
cuts the three into non-overlapping ``P x P`` tiles (the incomplete tiles at
the right and bottom border are dropped) and writes
``DST/{train,val,test}/{A,B,label}/whu_<row>_<col>.png`` with labels
0/255 (a label stored as 0/1 is mapped to 0/255).

Split rule: tiles are assigned by tile column, so that the three splits are
spatially disjoint strips of the scene: the rightmost
``round(test_ratio * columns)`` columns are test, the
``round(val_ratio * columns)`` columns left of them are val, the rest
train. The split lists published with some papers are not used.

Each split is built in a hidden ``DST/.<split>.partial`` folder and renamed
once every split is written (see :mod:`mmcd_ext.datasets.converters.paths`).
"""
import os
import os.path as osp
import sys
from typing import Dict

import numpy as np
from mmengine.utils import ProgressBar

from mmcd_ext.utils.atomic_files import write_image
from .levir_cd import FOLDERS, cut_patches, read_tile
from .paths import _inside, check_output, staged_folders

#: The splits written.
SPLITS = ('train', 'val', 'test')


def split_of_column(col: int, num_cols: int, val_ratio: float,
                    test_ratio: float) -> str:
    """The split of a tile column (see the module's split rule).

    Args:
        col (int): 0-based tile column.
        num_cols (int): Number of tile columns.
        val_ratio (float): Share of columns for val.
        test_ratio (float): Share of columns for test.

    Returns:
        str: ``'train'``, ``'val'`` or ``'test'``.
    """
    n_test = int(round(test_ratio * num_cols))
    n_val = int(round(val_ratio * num_cols))
    if col >= num_cols - n_test:
        return 'test'
    if col >= num_cols - n_test - n_val:
        return 'val'
    return 'train'


def _binary_label(label: np.ndarray, path: str) -> np.ndarray:
    """The change label as one channel of 0/255.

    Args:
        label (np.ndarray): Label as read.
        path (str): File name for errors.

    Returns:
        np.ndarray: ``(H, W)`` uint8 of 0 and 255.

    Raises:
        ValueError: If the label is not 0/255 or 0/1.
    """
    if label.ndim == 3:
        label = label[..., 0]
    values = set(np.unique(label).tolist())
    if values <= {0, 255}:
        return label.astype(np.uint8)
    if values <= {0, 1}:
        return (label * 255).astype(np.uint8)
    raise ValueError(f'change label {path} has values {sorted(values)[:8]}; '
                     'expected 0/255 or 0/1')


def convert_whu_cd(before: str,
                   after: str,
                   label: str,
                   dst: str,
                   patch_size: int = 256,
                   val_ratio: float = 0.1,
                   test_ratio: float = 0.2,
                   force: bool = False,
                   progress: bool = True) -> Dict[str, int]:
    """Cut the scene pair and its label into tiles of three splits.

    Args:
        before (str): Date-A scene image.
        after (str): Date-B scene image.
        label (str): Change label of the scene (0/255 or 0/1).
        dst (str): Output root; may not contain the input files.
        patch_size (int): Tile side. Defaults to 256.
        val_ratio (float): Share of tile columns for val. Defaults to 0.1.
        test_ratio (float): Share of tile columns for test. Defaults to 0.2.
        force (bool): Replace existing ``DST/<split>`` folders (once the new
            ones are complete). Defaults to False.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        dict: Split -> number of tiles.

    Raises:
        ValueError: If the arguments are out of range, the three files
            differ in size, the scene is smaller than a tile or the label is
            not binary (the file is named).
        FileExistsError: If ``DST/<split>`` holds files and not ``force``.
    """
    if patch_size <= 0:
        raise ValueError(f'the patch size must be positive, got {patch_size}')
    if val_ratio < 0 or test_ratio < 0 or val_ratio + test_ratio >= 1:
        raise ValueError(f'val_ratio {val_ratio} and test_ratio {test_ratio} '
                         'must be >= 0 and leave columns for train')
    sources = dict(A=before, B=after, label=label)
    for path in sources.values():
        if _inside(osp.realpath(path), osp.realpath(dst)):
            raise ValueError(f'{path} is inside DST {dst}; choose an output '
                             'folder that does not contain the input')
    images = {f: read_tile(p) for f, p in sources.items()}
    shapes = {f: img.shape[:2] for f, img in images.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f'{before}, {after} and {label} differ in size '
                         f'(HxW) {shapes}')
    images['label'] = _binary_label(images['label'], label)
    h, w = shapes['A']
    rows, cols = h // patch_size, w // patch_size
    if not rows or not cols:
        raise ValueError(f'{before} is {h}x{w} (HxW), smaller than one '
                         f'{patch_size} tile')
    for split in SPLITS:
        check_output(osp.join(dst, split), '.png', force, FOLDERS)
    counts = dict.fromkeys(SPLITS, 0)
    bar = ProgressBar(len(FOLDERS), file=sys.stdout) if progress else None
    with staged_folders([osp.join(dst, split) for split in SPLITS]) as works:
        work_of = dict(zip(SPLITS, works))
        for folder in FOLDERS:
            img = images[folder][:rows * patch_size, :cols * patch_size]
            for row, col, tile in cut_patches(img, patch_size,
                                              sources[folder]):
                split = split_of_column(col, cols, val_ratio, test_ratio)
                out = osp.join(work_of[split], folder, f'whu_{row}_{col}.png')
                os.makedirs(osp.dirname(out), exist_ok=True)
                write_image(out, tile)
                if folder == 'label':
                    counts[split] += 1
            if bar is not None:
                bar.update()
        if bar is not None:
            print(flush=True)  # the bar does not end its line
    print(
        'done: ' + ', '.join(f'{s} {n}' for s, n in counts.items()) +
        f' tiles of {patch_size}x{patch_size} in {dst}',
        flush=True)
    return counts
