"""Bring binary change-detection releases into the ``{A,B,label}`` layout.

Several benchmarks are released in split folders whose names, suffixes or
label encoding differ from what the binary datasets read:

* **S2Looking**: ``SRC/<split>/{Image1,Image2,label}/*.png`` (``label1`` and
  ``label2``, the built / demolished maps, are not used);
* **DSIFN-CD**: ``SRC/<split>/{t1,t2}/*.jpg`` and ``SRC/<split>/mask/``
  with PNG masks in train and val but TIF masks in test, 512 x 512 tiles
  that most papers cut into 256 x 256 patches;
* **CDD** (Lebedev et al. 2018, the season-varying 256 x 256 subset):
  ``SRC/<split>/{A,B,OUT}/*.jpg``, the change labels being JPEGs whose
  compression leaves grey values around the 0/255 edges.

:func:`convert_binary_cd` turns such a release, described by a
:class:`ReleasedLayout`, into ``DST/<split>/{A,B,label}/<name>.png`` (or
``<name>_<row>_<col>.png`` with ``patch_size``), labels single-channel
0/255. Files are matched as the datasets match them (by relative path
without the suffix); a sample without its partners, two labels for one
sample, A/B/label of different sizes, a label that is not binary or a tile
the patch size does not divide stops the conversion with the file named,
before anything is written. Output is built in hidden ``.partial`` folders
renamed once complete (:mod:`.paths`), every file written atomically.
"""
import argparse
import os
import os.path as osp
import sys
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mmcd_ext.utils.atomic_files import write_bytes, write_image
from mmcd_ext.utils.cli import tool_errors
from ..file_pairing import pair_folders, short_listing
from .cli import add_run_options, parse_with_patch_size
from .levir_cd import FOLDERS, cut_patches, read_tile
from .paths import check_output, check_src_dst, staged_folders

#: Grey values a thresholded (JPEG) label may hold far from 0 and 255
#: before it is refused as not a change mask: share of the pixels.
MAX_GREY_SHARE = 0.05


@dataclass(frozen=True)
class ReleasedLayout:
    """How a benchmark is released.

    Args:
        name (str): Benchmark name used in messages.
        splits (tuple[str]): Split folders of ``SRC``.
        folders (tuple[str]): Date-A, date-B and label folder of a split,
            written as ``A``, ``B`` and ``label``.
        img_suffixes (tuple[str]): Accepted image suffixes.
        label_suffixes (tuple[str]): Accepted label suffixes (a sample may
            have only one label file).
        label_threshold (int, optional): None: labels must hold only 0/255
            (or only 0/1); a number: labels are lossy (JPEG) grey masks,
            changed where the value is >= the threshold.
        patch_size (int, optional): Default patch side; None keeps the
            tiles whole.
    """
    name: str
    splits: Tuple[str, ...]
    folders: Tuple[str, str, str]
    img_suffixes: Tuple[str, ...]
    label_suffixes: Tuple[str, ...]
    label_threshold: Optional[int] = None
    patch_size: Optional[int] = None


S2LOOKING = ReleasedLayout(
    name='S2Looking',
    splits=('train', 'val', 'test'),
    folders=('Image1', 'Image2', 'label'),
    img_suffixes=('.png', ),
    label_suffixes=('.png', ))
DSIFN_CD = ReleasedLayout(
    name='DSIFN-CD',
    splits=('train', 'val', 'test'),
    folders=('t1', 't2', 'mask'),
    img_suffixes=('.jpg', '.png'),
    label_suffixes=('.png', '.tif'),
    patch_size=256)
CDD = ReleasedLayout(
    name='CDD',
    splits=('train', 'val', 'test'),
    folders=('A', 'B', 'OUT'),
    img_suffixes=('.jpg', ),
    label_suffixes=('.jpg', '.png', '.bmp'),
    label_threshold=128)

#: The layouts by converter name.
LAYOUTS = dict(s2looking=S2LOOKING, dsifn_cd=DSIFN_CD, cdd=CDD)


def _list_folder(folder: str, suffixes: Sequence[str]) -> Dict[str, str]:
    """The files of one folder by name (relative path without suffix).

    Args:
        folder (str): Folder to list (recursively).
        suffixes (Sequence[str]): Accepted suffixes (case-insensitive).

    Returns:
        dict: Name -> path, in name order.

    Raises:
        FileNotFoundError: If the folder does not exist.
        ValueError: If two files share a name (``x.png`` and ``x.tif``).
    """
    found = pair_folders({'files': (folder, '')}, extensions=suffixes)
    unused = found.unused['files']
    if unused:
        print(
            f'warning: {len(unused)} file(s) in {folder} do not end with '
            f'{" / ".join(suffixes)} and are not converted: '
            f'{short_listing(unused)}',
            flush=True)
    names: Dict[str, str] = {}
    for rel, roles in found.pairs.items():
        path = roles['files']
        name = osp.splitext(rel)[0]
        if name in names:
            raise ValueError(f'{names[name]} and {path} are two files for '
                             f'the sample {name}; keep one')
        names[name] = path
    return names


def list_samples(split_dir: str,
                 layout: ReleasedLayout) -> Dict[str, Dict[str, str]]:
    """The samples of one split, checking that A, B and label pair up.

    Args:
        split_dir (str): ``SRC/<split>``.
        layout (ReleasedLayout): The release's layout.

    Returns:
        dict: Name -> ``{'A': path, 'B': path, 'label': path}``, in name
        order.

    Raises:
        FileNotFoundError: If a folder is missing or empty, or a file has no
            partner in another folder.
        ValueError: If a sample has two files in one folder.
    """
    suffixes = (layout.img_suffixes, layout.img_suffixes,
                layout.label_suffixes)
    listed = {
        out: _list_folder(osp.join(split_dir, folder), sfx)
        for out, folder, sfx in zip(FOLDERS, layout.folders, suffixes)
    }
    names = set().union(*listed.values())
    if not names:
        raise FileNotFoundError(f'no {layout.name} files in '
                                f'{split_dir}/{{{",".join(layout.folders)}}}')
    problems = []
    for name in sorted(names):
        have = [f for f in FOLDERS if name in listed[f]]
        for out, folder in zip(FOLDERS, layout.folders):
            if name not in listed[out]:
                problems.append(
                    f'{osp.join(split_dir, folder, name)}.* is missing '
                    f'(present: {", ".join(listed[f][name] for f in have)})')
    if problems:
        raise FileNotFoundError(f'{len(problems)} unpaired file(s): '
                                f'{short_listing(problems)}')
    return {
        name: {
            out: listed[out][name]
            for out in FOLDERS
        }
        for name in sorted(names)
    }


def binary_label(label: np.ndarray,
                 path: str,
                 threshold: Optional[int] = None) -> np.ndarray:
    """A change label as one channel of 0/255.

    A colour label counts a pixel as changed where any of its first three
    channels is; a fourth (alpha) channel is ignored.

    Args:
        label (np.ndarray): ``(H, W)`` or ``(H, W, C)`` uint8 as read.
        path (str): File named in errors.
        threshold (int, optional): None: values must be 0/255 or 0/1; a
            number: changed where the value is >= ``threshold`` (for JPEG
            labels), refused if more than :data:`MAX_GREY_SHARE` of the
            pixels are far (> 64) from both 0 and 255.

    Returns:
        np.ndarray: ``(H, W)`` uint8 of 0 and 255.

    Raises:
        ValueError: If the label is not uint8 or not binary as required.
    """
    if label.dtype != np.uint8:
        raise ValueError(f'change label {path} is {label.dtype}; expected '
                         '8-bit values')
    if label.ndim == 3:
        label = label[..., :3].max(axis=2)
    if threshold is not None:
        far = np.count_nonzero((label > 64) & (label < 191))
        if far > MAX_GREY_SHARE * label.size:
            raise ValueError(
                f'change label {path} has {far} of {label.size} pixels '
                f'between 65 and 190; it does not look like a (JPEG) '
                f'0/255 mask')
        return np.where(label >= threshold, 255, 0).astype(np.uint8)
    values = np.unique(label)
    if set(values.tolist()) <= {0, 255}:
        return label
    if set(values.tolist()) <= {0, 1}:
        return label * np.uint8(255)
    raise ValueError(f'change label {path} has values '
                     f'{values[:8].tolist()}; expected 0/255 or 0/1')


def convert_sample(paths: Dict[str, str],
                   dst_split: str,
                   name: str,
                   layout: ReleasedLayout,
                   patch_size: Optional[int] = None) -> int:
    """Convert the A, B and label files of one sample.

    Args:
        paths (dict): ``{'A': path, 'B': path, 'label': path}``.
        dst_split (str): Folder to write ``{A,B,label}/`` into.
        name (str): Sample name (relative path without suffix).
        layout (ReleasedLayout): The release's layout.
        patch_size (int, optional): Patch side; None writes the tile whole.

    Returns:
        int: Number of samples written (patches, or 1).

    Raises:
        ValueError: If the files differ in size, the label is not binary or
            the patch size does not divide the tile (the file is named).
    """
    images = {f: read_tile(paths[f]) for f in FOLDERS}
    shapes = {paths[f]: img.shape[:2] for f, img in images.items()}
    if len(set(shapes.values())) != 1:
        sizes = ', '.join(f'{p} {h}x{w}' for p, (h, w) in shapes.items())
        raise ValueError(f'the files of sample {name} differ in size (HxW): '
                         f'{sizes}')
    images['label'] = binary_label(images['label'], paths['label'],
                                   layout.label_threshold)
    if patch_size is None:
        for folder, img in images.items():
            out = osp.join(dst_split, folder, name + '.png')
            os.makedirs(osp.dirname(out), exist_ok=True)
            if folder != 'label' and paths[folder].lower().endswith('.png'):
                with open(paths[folder], 'rb') as f:  # already PNG: as is
                    write_bytes(out, f.read())
            else:
                write_image(out, img)
        return 1
    for folder, img in images.items():
        count = 0
        for row, col, patch in cut_patches(img, patch_size, paths[folder]):
            out = osp.join(dst_split, folder, f'{name}_{row}_{col}.png')
            os.makedirs(osp.dirname(out), exist_ok=True)
            write_image(out, patch)
            count += 1
    return count


def _check_divisible(samples: Dict[str, Dict[str, str]],
                     patch_size: int) -> None:
    """Refuse, before writing, a tile the patch size does not divide."""
    for paths in samples.values():
        header = cv2.imread(paths['A'], cv2.IMREAD_UNCHANGED)
        if header is None:
            raise ValueError(f'cannot read image {paths["A"]}')
        h, w = header.shape[:2]
        if h % patch_size or w % patch_size:
            raise ValueError(f'{paths["A"]} is {h}x{w} (HxW), not a multiple '
                             f'of the patch size {patch_size}')


def convert_binary_cd(src: str,
                      dst: str,
                      layout: ReleasedLayout,
                      patch_size: Optional[int] = -1,
                      splits: Optional[Sequence[str]] = None,
                      force: bool = False,
                      progress: bool = True) -> Dict[str, Tuple[int, int]]:
    """Convert a released benchmark into ``DST/<split>/{A,B,label}``.

    Every split is listed and checked for partners (and, with patches, for
    divisible tile sizes) before anything is written; a label or size
    problem found while converting removes the run's output.

    Args:
        src (str): Release root holding ``<split>/<folders>``.
        dst (str): Output root, not overlapping ``src``.
        layout (ReleasedLayout): The release's layout.
        patch_size (int, optional): Patch side; None keeps tiles whole; -1
            uses ``layout.patch_size``. Defaults to -1.
        splits (Sequence[str], optional): Splits to convert; None converts
            ``layout.splits``. Defaults to None.
        force (bool): Replace an existing ``DST/<split>`` (once the new one
            is complete); it may hold only ``{A,B,label}/**/*.png``.
            Defaults to False.
        progress (bool): Show a progress bar per split. Defaults to True.

    Returns:
        dict: Split -> ``(source samples, samples written)``.

    Raises:
        ValueError: If the patch size is not positive, ``src`` and ``dst``
            overlap, a split is unknown or a sample is unusable.
        FileNotFoundError: If a folder is missing or a sample lacks a
            partner.
        FileExistsError: If ``DST/<split>`` holds files and not ``force``.
    """
    if patch_size == -1:
        patch_size = layout.patch_size
    if patch_size is not None and patch_size <= 0:
        raise ValueError(f'the patch size must be positive, got {patch_size}')
    splits = tuple(layout.splits if splits is None else splits)
    unknown = [s for s in splits if s not in layout.splits]
    if unknown:
        raise ValueError(f'{layout.name} has the splits '
                         f'{list(layout.splits)}, not {unknown}')
    check_src_dst(src, dst)
    samples = {s: list_samples(osp.join(src, s), layout) for s in splits}
    for split in splits:
        check_output(osp.join(dst, split), '.png', force, FOLDERS)
    if patch_size is not None:
        for split in splits:
            _check_divisible(samples[split], patch_size)
    counts = {}
    size = 'whole tiles' if patch_size is None else \
        f'patches of {patch_size}x{patch_size}'
    with staged_folders([osp.join(dst, s) for s in splits]) as works:
        for split, work in zip(splits, works):
            print(f'[{split}] converting {osp.join(src, split)}', flush=True)
            bar = ProgressBar(len(samples[split]), file=sys.stdout) \
                if progress else None
            written = 0
            for name, paths in samples[split].items():
                written += convert_sample(paths, work, name, layout,
                                          patch_size)
                if bar is not None:
                    bar.update()
            if bar is not None:
                print(flush=True)  # the bar does not end its line
            print(
                f'[{split}] done: {len(samples[split])} pairs -> {written} '
                f'{size}',
                flush=True)
            counts[split] = (len(samples[split]), written)
    print(f'done: {layout.name} {", ".join(splits)} in {dst}', flush=True)
    return counts


def parse_args(layout: ReleasedLayout,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line shared by the release converters.

    Args:
        layout (ReleasedLayout): The release's layout.
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: ``src``, ``dst``, ``patch_size`` (None: whole
        tiles), ``splits``, ``force``, ``quiet``, ``debug``.
    """
    src_layout = (f'SRC/{{{",".join(layout.splits)}}}/'
                  f'{{{",".join(layout.folders)}}}')
    parser = argparse.ArgumentParser(
        description=f'Convert {layout.name} as released ({src_layout}) into '
        'DST/<split>/{A,B,label}/*.png with 0/255 labels.')
    parser.add_argument('src', help=f'{layout.name} root as released')
    parser.add_argument('dst', help='output root')
    default = layout.patch_size or 0
    parser.add_argument(
        '--patch-size',
        type=int,
        default=default,
        help='cut each tile into non-overlapping patches of this side '
        '(<name>_<row>_<col>.png); 0 keeps the tiles whole. '
        f'Default: {default}')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=list(layout.splits),
        choices=list(layout.splits),
        help='splits to convert. Default: all')
    add_run_options(parser)
    args = parse_with_patch_size(parser, argv, allow_zero=True)
    args.patch_size = args.patch_size or None
    return args


def run_tool(layout: ReleasedLayout,
             tool: str,
             argv: Optional[Sequence[str]] = None) -> int:
    """The ``main`` of a release converter script: parse, convert, and turn
    an error into one line on stderr (exit code 1).

    Args:
        layout (ReleasedLayout): The release's layout.
        tool (str): The script, named in front of an error line.
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        int: Exit code 0.
    """
    args = parse_args(layout, argv)
    with tool_errors(tool, args.debug):
        convert_binary_cd(
            args.src,
            args.dst,
            layout,
            patch_size=args.patch_size,
            splits=args.splits,
            force=args.force,
            progress=not args.quiet)
    return 0
