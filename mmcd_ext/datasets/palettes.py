"""Class names and colour palettes of the change-detection datasets.

The palettes are RGB triplets, index ``i`` being the colour of class ``i``.
For SECOND and Landsat-SCD they are the colours the datasets use to encode
their semantic labels (``docs/datasets.md``), so the same lists decode label
PNGs (:func:`colour_to_index`) and colour predictions for display
(:func:`index_to_colour`). Class 0 is "no change" in both.

Other modules (visualisation, converters) import the constants from here so
that there is a single copy of each palette.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Binary change detection: 0 unchanged, 1 changed.
BINARY_CD_CLASSES: Tuple[str, ...] = ('unchanged', 'changed')
BINARY_CD_PALETTE: List[List[int]] = [[0, 0, 0], [255, 255, 255]]

#: SECOND (512 x 512 tiles, labels ``label1``/``label2`` colour-coded).
SECOND_CLASSES: Tuple[str,
                      ...] = ('unchanged', 'water', 'ground', 'low vegetation',
                              'tree', 'building', 'playground')
SECOND_PALETTE: List[List[int]] = [[255, 255, 255], [0, 0, 255],
                                   [128, 128, 128], [0, 128, 0], [0, 255, 0],
                                   [128, 0, 0], [255, 0, 0]]

#: Landsat-SCD (416 x 416 tiles, labels colour-coded).
LANDSAT_SCD_CLASSES: Tuple[str, ...] = ('no change', 'farmland', 'desert',
                                        'building', 'water')
LANDSAT_SCD_PALETTE: List[List[int]] = [[255, 255, 255], [0, 155, 0],
                                        [255, 165, 0], [230, 30, 100],
                                        [0, 170, 240]]

#: Name -> (classes, palette), the names the converters accept.
SCD_PALETTES: Dict[str, Tuple[Tuple[str, ...], List[List[int]]]] = {
    'second': (SECOND_CLASSES, SECOND_PALETTE),
    'landsat': (LANDSAT_SCD_CLASSES, LANDSAT_SCD_PALETTE),
}


def check_palette(palette: Sequence[Sequence[int]]) -> np.ndarray:
    """Validate a palette and return it as an array.

    Args:
        palette (Sequence[Sequence[int]]): RGB triplets in ``[0, 255]``, one
            per class, all different.

    Returns:
        np.ndarray: The palette, ``(K, 3)`` int64.

    Raises:
        ValueError: If the palette is empty, has entries that are not RGB
            triplets in ``[0, 255]``, or repeats a colour.
    """
    arr = np.asarray(palette, dtype=np.int64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != 3:
        raise ValueError('a palette must be a non-empty list of RGB '
                         f'triplets, got {palette!r}')
    if arr.min() < 0 or arr.max() > 255:
        raise ValueError(f'palette colours must lie in [0, 255], got '
                         f'{palette!r}')
    codes = _pack_rgb(arr)
    if len(np.unique(codes)) != len(codes):
        raise ValueError(f'palette repeats a colour: {palette!r}')
    return arr


def _pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack RGB triplets into one integer each (``R << 16 | G << 8 | B``).

    Args:
        rgb (np.ndarray): ``(..., 3)`` integer colours.

    Returns:
        np.ndarray: ``(...)`` int64 codes.
    """
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def colour_to_index(label_rgb: np.ndarray,
                    palette: Sequence[Sequence[int]],
                    filename: Optional[str] = None,
                    max_reported: int = 5) -> np.ndarray:
    """Decode a colour-coded label into class indices with a strict palette.

    Every pixel must carry exactly one palette colour; anything else is an
    error that names the file, the unknown colours and how many pixels carry
    each (the most frequent first).

    Args:
        label_rgb (np.ndarray): ``(H, W, 3)`` uint8 label in **RGB** order
            (flip OpenCV's BGR first).
        palette (Sequence[Sequence[int]]): RGB colour of each class.
        filename (str, optional): Source file, used in error messages.
            Defaults to None.
        max_reported (int): How many unknown colours the error lists.
            Defaults to 5.

    Returns:
        np.ndarray: ``(H, W)`` uint8 class indices.

    Raises:
        ValueError: If the label is not ``(H, W, 3)`` uint8 or has a colour
            outside the palette.
    """
    where = filename if filename is not None else '<array>'
    if label_rgb.ndim != 3 or label_rgb.shape[2] != 3:
        raise ValueError(f'{where}: a colour label must be (H, W, 3), got '
                         f'shape {label_rgb.shape}')
    if label_rgb.dtype != np.uint8:
        raise ValueError(f'{where}: a colour label must be 8-bit, got '
                         f'{label_rgb.dtype}')
    pal = check_palette(palette)
    if len(pal) > 255:
        raise ValueError(f'{where}: at most 255 classes fit a uint8 label, '
                         f'the palette has {len(pal)}')
    pal_codes = _pack_rgb(pal)
    order = np.argsort(pal_codes)
    sorted_codes = pal_codes[order]

    codes = _pack_rgb(label_rgb)
    pos = np.searchsorted(sorted_codes, codes)
    pos = np.minimum(pos, len(sorted_codes) - 1)
    known = sorted_codes[pos] == codes
    if not known.all():
        bad_codes, counts = np.unique(codes[~known], return_counts=True)
        top = np.argsort(-counts, kind='stable')[:max_reported]
        listed = ', '.join(
            f'({c >> 16}, {(c >> 8) & 255}, {c & 255}): {n} px'
            for c, n in zip(bad_codes[top].tolist(), counts[top].tolist()))
        more = (f' and {len(bad_codes) - len(top)} more colour(s)'
                if len(bad_codes) > len(top) else '')
        raise ValueError(
            f'{where}: {int((~known).sum())} pixel(s) have colours that are '
            f'not in the palette {pal.tolist()}: {listed}{more}')
    return order[pos].astype(np.uint8)


def index_to_colour(index_map: np.ndarray,
                    palette: Sequence[Sequence[int]],
                    ignore_colour: Sequence[int] = (0, 0, 0),
                    ignore_index: int = 255) -> np.ndarray:
    """Colour a class-index map with a palette (for display or export).

    Args:
        index_map (np.ndarray): ``(H, W)`` integer class indices.
        palette (Sequence[Sequence[int]]): RGB colour of each class.
        ignore_colour (Sequence[int]): RGB colour of ``ignore_index`` pixels.
            Defaults to (0, 0, 0).
        ignore_index (int): Index painted with ``ignore_colour``.
            Defaults to 255.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB image.

    Raises:
        ValueError: If the map holds an index that is neither a class of the
            palette nor ``ignore_index``, or if ``ignore_index`` is a class.
    """
    pal = check_palette(palette)
    if 0 <= ignore_index < len(pal):
        raise ValueError(f'ignore_index {ignore_index} is a class of the '
                         f'palette (0..{len(pal) - 1})')
    index_map = np.asarray(index_map)
    bad = (index_map < 0) | (index_map >= len(pal))
    bad &= index_map != ignore_index
    if bad.any():
        raise ValueError(
            f'index map holds values {np.unique(index_map[bad]).tolist()} '
            f'outside 0..{len(pal) - 1} and the ignore index {ignore_index}')
    lut = np.zeros((max(len(pal), ignore_index + 1), 3), dtype=np.uint8)
    lut[:len(pal)] = pal
    lut[ignore_index] = ignore_colour
    return lut[index_map]
