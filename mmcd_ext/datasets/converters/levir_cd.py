"""Cut LEVIR-CD tiles into non-overlapping square patches.

LEVIR-CD ships 1024 x 1024 tiles (445 train / 64 val / 128 test) as
``SRC/{train,val,test}/{A,B,label}/<stem>.png``. :func:`convert_levir_cd`
writes ``DST/{train,val,test}/{A,B,label}/<stem>_<row>_<col>.png`` where
``row``/``col`` are the 0-based patch indices (the patch covers pixels
``row*P .. row*P+P-1`` vertically). Every tile gives ``(H/P) * (W/P)``
patches: 16 at P=256 (7120 / 1024 / 2048 patches), 4 at P=512
(1780 / 256 / 512). Pixels are copied exactly (PNG is lossless), so the
patches of a tile reassemble into the tile.

Every tile must have its A, B and label files, of one size divisible by the
patch size; anything else stops the conversion with the file named. Tiles
in sub-folders keep their sub-folder in the output.

Each split is built in a hidden ``DST/.<split>.partial`` folder; once
every split of the run is written they are renamed to ``DST/<split>`` (see
:mod:`mmcd_ext.datasets.converters.paths`). ``DST/<split>`` is therefore
complete or absent, and a run that stopped half-way is simply run again.
"""
import os
import os.path as osp
import sys
from typing import Dict, Iterator, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mmcd_ext.utils.atomic_files import write_image
from ..file_pairing import pair_folders, short_listing
from .paths import check_output, check_src_dst, staged_folders

#: The folders of one split; each is also the role name in messages.
FOLDERS = ('A', 'B', 'label')
#: The splits of LEVIR-CD.
SPLITS = ('train', 'val', 'test')


def list_tiles(split_dir: str, suffix: str) -> Dict[str, Dict[str, str]]:
    """The tiles of one split, checking that A, B and label pair up.

    Args:
        split_dir (str): ``SRC/<split>``.
        suffix (str): File suffix.

    Returns:
        dict: Tile name (relative path without suffix) -> ``{folder: path}``
        for the folders ``A``, ``B`` and ``label``, in name order.

    Raises:
        FileNotFoundError: If a folder is missing or holds no tile, or a file
            has no partner in another folder.
    """
    found = pair_folders(
        {folder: (osp.join(split_dir, folder), suffix)
         for folder in FOLDERS})
    for folder, unused in found.unused.items():
        if unused:
            print(
                f'warning: {len(unused)} file(s) in '
                f'{osp.join(split_dir, folder)} do not end with "{suffix}" '
                f'and are not converted: {short_listing(unused)}',
                flush=True)
    if not found.pairs and not found.num_unpaired:
        raise FileNotFoundError(f'no "*{suffix}" files in '
                                f'{split_dir}/{{{",".join(FOLDERS)}}}')
    problems = []
    for name in sorted(set().union(*found.unpaired.values())):
        have = [f for f in FOLDERS if name in found.unpaired[f]]
        for folder in found.missing_roles(name):
            problems.append(f'{found.expected_path(folder, name)} is missing '
                            f'(present in {", ".join(have)})')
    if problems:
        raise FileNotFoundError(f'{len(problems)} unpaired file(s): '
                                f'{short_listing(problems)}')
    return found.pairs


def read_tile(path: str) -> np.ndarray:
    """Read one tile exactly as stored.

    Args:
        path (str): Image file.

    Returns:
        np.ndarray: ``(H, W)`` or ``(H, W, C)``.

    Raises:
        ValueError: If the file cannot be read as an image.
    """
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'cannot read image {path}')
    return img


def cut_patches(
        img: np.ndarray,
        patch_size: int,
        name: str = '<array>') -> Iterator[Tuple[int, int, np.ndarray]]:
    """Yield the non-overlapping patches of one tile, row by row.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)``; ``H`` and ``W`` must
            be multiples of ``patch_size``.
        patch_size (int): Patch side.
        name (str): File name for errors. Defaults to '<array>'.

    Yields:
        tuple: ``(row, col, patch)`` with ``patch`` of
        ``(patch_size, patch_size[, C])``.

    Raises:
        ValueError: If the tile size is not a multiple of ``patch_size``.
    """
    h, w = img.shape[:2]
    if h % patch_size or w % patch_size:
        raise ValueError(f'{name} is {h}x{w} (HxW), not a multiple of the '
                         f'patch size {patch_size}')
    for row in range(h // patch_size):
        for col in range(w // patch_size):
            y, x = row * patch_size, col * patch_size
            yield row, col, img[y:y + patch_size, x:x + patch_size]


def convert_split(tiles: Dict[str, Dict[str, str]],
                  dst_split: str,
                  patch_size: int,
                  suffix: str,
                  progress: bool = True) -> int:
    """Cut the tiles of one split.

    Args:
        tiles (dict): Result of :func:`list_tiles` for ``SRC/<split>``.
        dst_split (str): Folder to write ``{A,B,label}/`` into.
        patch_size (int): Patch side.
        suffix (str): File suffix.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        int: Number of patches written per folder.

    Raises:
        ValueError: If the A, B and label files of a tile differ in size, or
            a patch cannot be written.
    """
    bar = ProgressBar(len(tiles), file=sys.stdout) if progress else None
    n_patches = 0
    for stem, paths in tiles.items():
        images = {f: read_tile(paths[f]) for f in FOLDERS}
        shapes = {f: img.shape[:2] for f, img in images.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f'tile {stem} ({paths["A"]}): A, B and label '
                             f'differ in size {shapes}')
        for folder, img in images.items():
            count = 0
            for row, col, patch in cut_patches(img, patch_size, paths[folder]):
                out = osp.join(dst_split, folder,
                               f'{stem}_{row}_{col}{suffix}')
                os.makedirs(osp.dirname(out), exist_ok=True)
                write_image(out, patch)
                count += 1
        n_patches += count
        if bar is not None:
            bar.update()
    if bar is not None:
        print(flush=True)  # the bar does not end its line
    return n_patches


def convert_levir_cd(src: str,
                     dst: str,
                     patch_size: int = 256,
                     splits: Sequence[str] = SPLITS,
                     suffix: str = '.png',
                     force: bool = False,
                     progress: bool = True) -> Dict[str, Tuple[int, int]]:
    """Cut the tiles of every split into patches.

    Every split is checked before anything is written.

    Args:
        src (str): LEVIR-CD root holding ``<split>/{A,B,label}``.
        dst (str): Output root, different from ``src``.
        patch_size (int): Patch side; must divide the tile size.
            Defaults to 256.
        splits (Sequence[str]): Splits to convert. Defaults to
            ``('train', 'val', 'test')``.
        suffix (str): File suffix. Defaults to '.png'.
        force (bool): Replace an existing ``DST/<split>`` (once the new one
            is complete); it may hold only ``{A,B,label}/**/*<suffix>``
            files. Defaults to False.
        progress (bool): Show a progress bar per split. Defaults to True.

    Returns:
        dict: Split -> ``(tiles, patches per folder)``.

    Raises:
        ValueError: If ``patch_size`` is not positive, ``src`` and ``dst``
            overlap, or a tile is unusable (the file is named).
        FileNotFoundError: If a folder is missing or a tile lacks a partner.
        FileExistsError: If ``DST/<split>`` holds files and not ``force``,
            or holds files the conversion does not write.
    """
    if patch_size <= 0:
        raise ValueError(f'the patch size must be positive, got {patch_size}')
    check_src_dst(src, dst)
    tiles = {
        split: list_tiles(osp.join(src, split), suffix)
        for split in splits
    }
    for split in splits:
        check_output(osp.join(dst, split), suffix, force, FOLDERS)
    counts = {}
    with staged_folders([osp.join(dst, split) for split in splits]) as works:
        for split, work in zip(splits, works):
            print(
                f'[{split}] cutting the tiles of {osp.join(src, split)}',
                flush=True)
            patches = convert_split(tiles[split], work, patch_size, suffix,
                                    progress)
            print(
                f'[{split}] done: {len(tiles[split])} tiles -> {patches} '
                f'patches of {patch_size}x{patch_size}',
                flush=True)
            counts[split] = (len(tiles[split]), patches)
    print(f'done: {", ".join(splits)} in {dst}', flush=True)
    return counts
