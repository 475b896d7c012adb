"""Files written for an image pair by ``tools/infer.py`` (PNG outputs)."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np

from mmcd_ext.visualization.change_maps import colorize_semantic
from .change_detector import ChangeResult

#: RGB colour that marks changed pixels in the overlay quick-look.
OVERLAY_COLOR: Tuple[int, int, int] = (255, 0, 0)


def change_overlay(image: np.ndarray,
                   change: np.ndarray,
                   color: Tuple[int, int, int] = OVERLAY_COLOR,
                   alpha: float = 0.5) -> np.ndarray:
    """Tint the changed pixels of an image.

    ``out = (1 - alpha) * image + alpha * color`` on changed pixels, the
    image elsewhere. A one-channel image is shown in grey; images with more
    than three channels use their first three.

    Args:
        image (np.ndarray): ``(H, W)`` or ``(H, W, C)`` RGB image, uint8.
        change (np.ndarray): ``(H, W)`` map, nonzero = changed.
        color (tuple[int, int, int]): RGB tint. Defaults to (255, 0, 0).
        alpha (float): Opacity of the tint in ``[0, 1]``. Defaults to 0.5.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB image.

    Raises:
        ValueError: If the sizes differ or ``alpha`` is out of range.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[:2] != change.shape:
        raise ValueError(f'the image is {image.shape[:2]} but the change map '
                         f'is {change.shape}')
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    rgb = image[..., :3].astype(np.float32)
    mask = change.astype(bool)
    tint = np.asarray(color, dtype=np.float32)
    rgb[mask] = (1.0 - alpha) * rgb[mask] + alpha * tint
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale a non-uint8 image to 0..255 for display (min-max)."""
    if image.dtype == np.uint8:
        return image
    img = image.astype(np.float32)
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip((img - lo) * scale, 0, 255).astype(np.uint8)


def write_pair_outputs(
        result: ChangeResult,
        out_dir: str,
        name: str,
        probs: bool = False,
        overlay: bool = False,
        palette: Optional[Sequence[Sequence[int]]] = None) -> Dict[str, str]:
    """Write the PNG outputs of one pair.

    Files (``name`` may contain sub-folders):

    * ``<name>.png``: change map, 255 changed / 0 unchanged;
    * ``<name>_prob.png`` (``probs``): probability of change,
      ``round(255 * p)``;
    * ``<name>_semantic_a.png``, ``<name>_semantic_b.png`` (semantic change
      models): class indices;
    * ``<name>_overlay.png`` (``overlay``): date B with changed pixels
      tinted red; semantic models also get ``<name>_semantic_a_color.png`` /
      ``_b_color.png`` when a palette is known.

    Args:
        result (ChangeResult): The prediction; ``img_path2`` is needed for
            the overlay.
        out_dir (str): Output folder.
        name (str): File name without extension, relative to ``out_dir``.
        probs (bool): Write the probability map (needs
            ``result.change_prob``). Defaults to False.
        overlay (bool): Write the quick-look overlay. Defaults to False.
        palette (Sequence[Sequence[int]], optional): RGB colour per class of
            a semantic change model. Defaults to None.

    Returns:
        dict[str, str]: Kind of output -> file written.

    Raises:
        ValueError: If probabilities are asked for but missing, or the
            overlay has no date-B image to draw on.
    """
    base = osp.join(out_dir, name)
    os.makedirs(osp.dirname(osp.abspath(base)), exist_ok=True)
    written = {}

    def save(kind: str, suffix: str, img: np.ndarray) -> None:
        path = base + suffix
        if not mmcv.imwrite(img, path):
            raise OSError(f'could not write {path}')
        written[kind] = path

    save('change', '.png', result.change.astype(np.uint8) * 255)
    if probs:
        if result.change_prob is None:
            raise ValueError('probabilities were not predicted: call '
                             'predict(..., return_probs=True)')
        prob = np.clip(np.rint(result.change_prob * 255), 0, 255)
        save('prob', '_prob.png', prob.astype(np.uint8))
    for key in ('semantic_a', 'semantic_b'):
        sem = getattr(result, key)
        if sem is None:
            continue
        save(key, f'_{key}.png', sem)
        if overlay and palette is not None:
            rgb = colorize_semantic(sem, palette)
            save(f'{key}_color', f'_{key}_color.png', rgb[..., ::-1])
    if overlay:
        if result.img_path2 is None:
            raise ValueError('the overlay needs the date-B image file')
        image = mmcv.imread(result.img_path2, flag='unchanged')
        if image is None:
            raise FileNotFoundError(f'cannot read {result.img_path2}')
        if image.ndim == 3 and image.shape[2] >= 3:
            image = image[..., [2, 1, 0]]  # BGR(A) -> RGB
        rgb = change_overlay(_to_uint8(image), result.change)
        save('overlay', '_overlay.png', rgb[..., ::-1])
    return written
