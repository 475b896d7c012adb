"""Pure functions that colour change maps (reused by the inference tools)."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmcd_ext.evaluation.functional import as_label_map

ArrayLike = Union[np.ndarray, torch.Tensor]
Color = Tuple[int, int, int]

TP_COLOR: Color = (255, 255, 0)  # yellow: change found
TN_COLOR: Color = (0, 0, 0)  # black: no change, none predicted
FP_COLOR: Color = (255, 0, 0)  # red: false alarm
FN_COLOR: Color = (0, 255, 0)  # green: missed change
IGNORE_COLOR: Color = (128, 128, 128)  # grey: label is ignore_index
CHANGED_COLOR: Color = (255, 255, 255)  # white: changed, no label to compare
UNCHANGED_COLOR: Color = (0, 0, 0)


def binary_change_map(change: ArrayLike,
                      ignore_index: Optional[int] = 255) -> np.ndarray:
    """Colour a single binary change map (a prediction or a label).

    Changed pixels are white, unchanged black and pixels equal to
    ``ignore_index`` grey ``(128, 128, 128)``.

    Args:
        change (np.ndarray | torch.Tensor): Change map, shape ``(H, W)`` or
            ``(1, H, W)``, values 0 / 1 (bool accepted) / ``ignore_index``.
        ignore_index (int, optional): Value drawn grey; None allows only 0
            and 1. Defaults to 255.

    Returns:
        np.ndarray: RGB image, ``(H, W, 3)`` ``uint8``.

    Raises:
        ValueError: If a value is not allowed.
    """
    change = as_label_map(change, 'the change map')
    allowed = [0, 1] if ignore_index is None else [0, 1, ignore_index]
    bad = np.setdiff1d(np.unique(change), allowed)
    if bad.size:
        raise ValueError(f'the change map must hold only {allowed}, found '
                         f'{bad.tolist()}')
    out = np.empty(change.shape + (3, ), dtype=np.uint8)
    out[...] = UNCHANGED_COLOR
    out[change == 1] = CHANGED_COLOR
    if ignore_index is not None:
        out[change == ignore_index] = IGNORE_COLOR
    return out


def binary_change_overlay(pred: ArrayLike,
                          gt: Optional[ArrayLike] = None,
                          ignore_index: int = 255) -> np.ndarray:
    """Colour a binary change prediction against its label.

    Colours (RGB): TP yellow ``(255, 255, 0)``, TN black ``(0, 0, 0)``,
    FP red ``(255, 0, 0)``, FN green ``(0, 255, 0)``, pixels labelled
    ``ignore_index`` grey ``(128, 128, 128)``. Without a label the map is
    white where change is predicted and black elsewhere
    (:func:`binary_change_map`).

    Args:
        pred (np.ndarray | torch.Tensor): Predicted change map, shape
            ``(H, W)`` or ``(1, H, W)``, values 0 / 1 (bool accepted).
        gt (np.ndarray | torch.Tensor, optional): Label of the same shape,
            values 0 / 1 / ``ignore_index``. Defaults to None.
        ignore_index (int): Label value drawn grey. Defaults to 255.

    Returns:
        np.ndarray: RGB image, ``(H, W, 3)`` ``uint8``.

    Raises:
        ValueError: If shapes differ or a value is not allowed.
    """
    pred = as_label_map(pred, 'the predicted change map')
    bad = np.setdiff1d(np.unique(pred), [0, 1])
    if bad.size:
        raise ValueError('the predicted change map must hold only 0 and 1, '
                         f'found {bad.tolist()}')
    if gt is None:
        return binary_change_map(pred, None)
    changed = pred.astype(bool)
    out = np.empty(pred.shape + (3, ), dtype=np.uint8)
    gt = as_label_map(gt, 'the change label')
    if gt.shape != pred.shape:
        raise ValueError(f'the predicted change map has shape {pred.shape} '
                         f'but the label has shape {gt.shape}')
    bad = np.setdiff1d(np.unique(gt), [0, 1, ignore_index])
    if bad.size:
        raise ValueError('the change label must hold only 0, 1 and the '
                         f'ignore index {ignore_index}, found {bad.tolist()}')
    ignored = gt == ignore_index
    labelled = (gt == 1) & ~ignored
    out[changed & labelled] = TP_COLOR
    out[~changed & ~labelled] = TN_COLOR
    out[changed & ~labelled] = FP_COLOR
    out[~changed & labelled] = FN_COLOR
    out[ignored] = IGNORE_COLOR
    return out


def colorize_semantic(
    label_map: ArrayLike,
    palette: Sequence[Sequence[int]],
    ignore_index: int = 255,
    ignore_color: Color = (0, 0, 0)) -> np.ndarray:
    """Colour a class-index map with a palette.

    Args:
        label_map (np.ndarray | torch.Tensor): Class indices, shape
            ``(H, W)`` or ``(1, H, W)``.
        palette (Sequence[Sequence[int]]): RGB colour of every class index,
            ``palette[k] = (r, g, b)``, e.g. ``dataset_meta['palette']``.
        ignore_index (int): Index drawn with ``ignore_color`` instead of a
            palette colour. Defaults to 255.
        ignore_color (tuple[int, int, int]): RGB colour of ignored pixels.
            Defaults to (0, 0, 0).

    Returns:
        np.ndarray: RGB image, ``(H, W, 3)`` ``uint8``.

    Raises:
        ValueError: If the palette is malformed or an index has no colour.
    """
    label_map = as_label_map(label_map, 'the semantic map')
    lut = np.asarray(palette)
    if lut.ndim != 2 or lut.shape[1] != 3 or len(lut) == 0:
        raise ValueError('the palette must be a non-empty list of (r, g, b) '
                         f'colours, got an array of shape {lut.shape}')
    if lut.min() < 0 or lut.max() > 255:
        raise ValueError('palette colours must lie in [0, 255]')
    lut = lut.astype(np.uint8)
    ignored = label_map == ignore_index
    values = np.unique(label_map[~ignored])
    bad = values[(values < 0) | (values >= len(lut))]
    if bad.size:
        raise ValueError(f'class indices {bad.tolist()} have no colour: the '
                         f'palette has {len(lut)} entries')
    out = np.empty(label_map.shape + (3, ), dtype=np.uint8)
    out[ignored] = ignore_color
    out[~ignored] = lut[label_map[~ignored].astype(np.int64)]
    return out
