"""Cut LEVIR-CD tiles into non-overlapping square patches.

LEVIR-CD ships 1024 x 1024 tiles (445 train / 64 val / 128 test) as::

    SRC/{train,val,test}/{A,B,label}/<stem>.png

This writes::

    DST/{train,val,test}/{A,B,label}/<stem>_<row>_<col>.png

where ``row``/``col`` are the 0-based patch indices (the patch covers pixels
``row*P .. row*P+P-1`` vertically). Every tile gives ``(H/P) * (W/P)``
patches: 16 at P=256 (7120 / 1024 / 2048 patches), 4 at P=512
(1780 / 256 / 512). Pixels are copied exactly (PNG is lossless), so the
patches of a tile reassemble into the tile.

Every tile must have its A, B and label files, of one size divisible by the
patch size; anything else stops the conversion with the file named. An
output folder that already holds files is refused unless ``--force``, which
first deletes the files with the output suffix in the output folders.

Example::

    python tools/dataset_converters/levir_cd.py data/LEVIR-CD \
        data/LEVIR-CD-256 --patch-size 256
"""
import argparse
import glob
import os
import os.path as osp
import sys
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)  # the sibling converter_utils.py
from converter_utils import check_src_dst, print_progress  # noqa: E402

FOLDERS = ('A', 'B', 'label')
SPLITS = ('train', 'val', 'test')


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
    parser.add_argument(
        '--force',
        action='store_true',
        help='convert even if the output folders hold files: delete the '
        'files with --suffix in DST/<split>/{A,B,label} first')
    args = parser.parse_args(argv)
    if args.patch_size <= 0:
        parser.error(f'--patch-size must be positive, got {args.patch_size}')
    return args


def list_tiles(split_dir: str, suffix: str) -> List[str]:
    """Stems of the tiles of one split, checking that A, B, label pair up.

    Args:
        split_dir (str): ``SRC/<split>``.
        suffix (str): File suffix.

    Returns:
        list[str]: Sorted stems present in all of A/, B/ and label/.

    Raises:
        FileNotFoundError: If a folder is missing or empty, or a file has no
            partner in another folder.
    """
    stems: Dict[str, set] = {}
    for folder in FOLDERS:
        path = osp.join(split_dir, folder)
        if not osp.isdir(path):
            raise FileNotFoundError(f'missing folder {path}')
        names = [
            f for f in os.listdir(path)
            if osp.isfile(osp.join(path, f)) and not f.startswith('.')
        ]
        stems[folder] = {f[:-len(suffix)] for f in names if f.endswith(suffix)}
        others = sorted(f for f in names if not f.endswith(suffix))
        if others:
            print(
                f'warning: {len(others)} file(s) in {path} do not end with '
                f'"{suffix}" and are not converted: {others[:5]}',
                flush=True)
    every = set.union(*stems.values())
    if not every:
        raise FileNotFoundError(f'no "*{suffix}" files in {split_dir}/A')
    problems = []
    for stem in sorted(every):
        for folder in FOLDERS:
            if stem not in stems[folder]:
                have = [f for f in FOLDERS if stem in stems[f]]
                problems.append(
                    f'{osp.join(split_dir, folder, stem + suffix)} is missing'
                    f' (present in {", ".join(have)})')
    if problems:
        shown = '; '.join(problems[:5])
        more = f'; ... {len(problems) - 5} more' if len(problems) > 5 else ''
        raise FileNotFoundError(f'{len(problems)} unpaired file(s): '
                                f'{shown}{more}')
    return sorted(every)


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


def prepare_output(dirs: List[str], suffix: str, force: bool) -> None:
    """Create the output folders, refusing (or clearing) non-empty ones.

    Args:
        dirs (list[str]): Output folders.
        suffix (str): Suffix of the files ``--force`` deletes.
        force (bool): Whether to clear non-empty folders.

    Raises:
        FileExistsError: If a folder holds files and ``force`` is False.
    """
    busy = [d for d in dirs if osp.isdir(d) and os.listdir(d)]
    if busy and not force:
        raise FileExistsError(
            f'output folder(s) not empty: {", ".join(busy)}; pass --force '
            f'to delete their "*{suffix}" files and convert again')
    for d in busy:
        old = glob.glob(osp.join(d, '*' + suffix))
        for f in old:
            os.remove(f)
        print(f'--force: deleted {len(old)} file(s) from {d}', flush=True)
    for d in dirs:
        os.makedirs(d, exist_ok=True)


def convert_split(src_split: str, dst_split: str, patch_size: int,
                  suffix: str) -> Tuple[int, int]:
    """Cut every tile of one split.

    Args:
        src_split (str): ``SRC/<split>``.
        dst_split (str): ``DST/<split>`` (folders already prepared).
        patch_size (int): Patch side.
        suffix (str): File suffix.

    Returns:
        tuple[int, int]: Number of tiles and of patches written per folder.

    Raises:
        ValueError: If the A, B and label files of a tile differ in size, or
            a patch cannot be written.
    """
    split = osp.basename(osp.normpath(src_split))
    stems = list_tiles(src_split, suffix)
    n_patches = 0
    for i, stem in enumerate(stems, start=1):
        tiles = {
            f: read_tile(osp.join(src_split, f, stem + suffix))
            for f in FOLDERS
        }
        shapes = {f: t.shape[:2] for f, t in tiles.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f'tile {stem} of {src_split}: A, B and label '
                             f'differ in size {shapes}')
        for folder, tile in tiles.items():
            name = osp.join(src_split, folder, stem + suffix)
            count = 0
            for row, col, patch in cut_patches(tile, patch_size, name):
                out = osp.join(dst_split, folder,
                               f'{stem}_{row}_{col}{suffix}')
                if not cv2.imwrite(out, np.ascontiguousarray(patch)):
                    raise ValueError(f'cannot write {out}')
                count += 1
        n_patches += count
        print_progress(
            f'[{split}] {i}/{len(stems)} tiles, {n_patches} '
            'patches', i, len(stems))
    return len(stems), n_patches


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
    outputs = [
        osp.join(args.dst, split, folder) for split in args.splits
        for folder in FOLDERS
    ]
    for split in args.splits:
        list_tiles(osp.join(args.src, split), args.suffix)  # fail early
    prepare_output(outputs, args.suffix, args.force)
    for split in args.splits:
        tiles, patches = convert_split(
            osp.join(args.src, split), osp.join(args.dst, split),
            args.patch_size, args.suffix)
        print(
            f'[{split}] done: {tiles} tiles -> {patches} patches of '
            f'{args.patch_size}x{args.patch_size} in '
            f'{osp.join(args.dst, split)}',
            flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
