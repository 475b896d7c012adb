"""Files written for an image pair by ``tools/infer.py`` (PNG outputs)."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np

from mmcd_ext.utils.atomic_files import encode_image, write_bytes
from mmcd_ext.visualization.change_maps import colorize_semantic
from .change_detector import ChangeResult
from .transitions import TransitionSummary

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


def write_image_atomic(img: np.ndarray, path: str) -> str:
    """Encode an image by ``path``'s extension and write it atomically.

    The bytes go to a temporary file in the same folder (created if
    missing), which is renamed to ``path`` only when complete: an existing
    file is replaced whole or left untouched.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, 3)`` BGR image.
        path (str): Destination, e.g. ``out/0001.png``.

    Returns:
        str: ``path``.

    Raises:
        ValueError: If the image cannot be encoded in that format.
    """
    data = encode_image(img, osp.splitext(path)[1] or '.png', name=path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_bytes(path, data)
    return path


def pair_output_paths(out_dir: str,
                      name: str,
                      probs: bool = False,
                      overlay: bool = False,
                      semantic: bool = False,
                      palette: bool = False) -> Dict[str, str]:
    """The files :func:`write_pair_outputs` writes for one pair.

    Args:
        out_dir (str): Output folder.
        name (str): File name without extension, relative to ``out_dir``.
        probs (bool): The probability map is written. Defaults to False.
        overlay (bool): The overlay is written. Defaults to False.
        semantic (bool): The model predicts semantic change maps (class
            index maps and the transition summary CSV). Defaults to False.
        palette (bool): A class palette is known (coloured semantic maps).
            Defaults to False.

    Returns:
        dict[str, str]: Kind of output -> file, in writing order.
    """
    base = osp.join(out_dir, name)
    paths = {'change': base + '.png'}
    if probs:
        paths['prob'] = base + '_prob.png'
    if semantic:
        for key in ('semantic_a', 'semantic_b'):
            paths[key] = f'{base}_{key}.png'
            if palette:
                paths[f'{key}_color'] = f'{base}_{key}_color.png'
        paths['transitions'] = base + '_transitions.csv'
    if overlay:
        paths['overlay'] = base + '_overlay.png'
    return paths


def write_pair_outputs(
        result: ChangeResult,
        out_dir: str,
        name: str,
        probs: bool = False,
        overlay: bool = False,
        palette: Optional[Sequence[Sequence[int]]] = None,
        class_names: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Write the PNG outputs of one pair.

    Files (``name`` may contain sub-folders; see :func:`pair_output_paths`):

    * ``<name>.png``: change map, 255 changed / 0 unchanged;
    * ``<name>_prob.png`` (``probs``): probability of change,
      ``round(255 * p)``;
    * ``<name>_semantic_a.png``, ``<name>_semantic_b.png`` (semantic change
      models): class indices; ``<name>_semantic_a_color.png`` /
      ``_b_color.png`` the same in the palette's colours (when a palette is
      given); ``<name>_transitions.csv`` the from-to transition summary in
      pixels (:class:`~mmcd_ext.apis.transitions.TransitionSummary`);
    * ``<name>_overlay.png`` (``overlay``): date B with changed pixels
      tinted red.

    Each file is written atomically (:func:`write_image_atomic`). Existing
    files are replaced: callers that must not overwrite check the paths
    first (``tools/infer.py`` does, with
    :class:`~mmcd_ext.apis.output_plan.OutputPlan`).

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
        class_names (Sequence[str], optional): Names of the class indices
            of a semantic change model (transition summary). Defaults to
            None.

    Returns:
        dict[str, str]: Kind of output -> file written.

    Raises:
        ValueError: If probabilities are asked for but missing, or the
            overlay has no date-B image to draw on.
    """
    if probs and result.change_prob is None:
        raise ValueError('probabilities were not predicted: call '
                         'predict(..., return_probs=True)')
    if overlay and result.img_path2 is None:
        raise ValueError('the overlay needs the date-B image file')
    paths = pair_output_paths(out_dir, name, probs, overlay, result.semantic_a
                              is not None, palette is not None)
    images = {'change': result.change.astype(np.uint8) * 255}
    if probs:
        prob = np.clip(np.rint(result.change_prob * 255), 0, 255)
        images['prob'] = prob.astype(np.uint8)
    for key in ('semantic_a', 'semantic_b'):
        sem = getattr(result, key)
        if sem is not None:
            images[key] = sem
            if f'{key}_color' in paths:
                images[f'{key}_color'] = colorize_semantic(sem,
                                                           palette)[..., ::-1]
    if overlay:
        image = mmcv.imread(result.img_path2, flag='unchanged')
        if image is None:
            raise FileNotFoundError(f'cannot read {result.img_path2}')
        if image.ndim == 3 and image.shape[2] >= 3:
            image = image[..., [2, 1, 0]]  # BGR(A) -> RGB
        rgb = change_overlay(_to_uint8(image), result.change)
        images['overlay'] = rgb[..., ::-1]
    for kind, path in paths.items():
        if kind == 'transitions':
            pair_transitions(result, class_names).write_csv(path)
        else:
            write_image_atomic(images[kind], path)
    return paths


def pair_transitions(
        result: ChangeResult,
        class_names: Optional[Sequence[str]] = None) -> TransitionSummary:
    """The transition summary (pixels) of one semantic change prediction.

    Args:
        result (ChangeResult): A prediction with ``semantic_a/b``.
        class_names (Sequence[str], optional): Names of the class indices.
            Defaults to None.

    Returns:
        TransitionSummary: Counted over ``result.change``.

    Raises:
        ValueError: If the result has no semantic maps.
    """
    if result.semantic_a is None or result.semantic_b is None:
        raise ValueError('a transition summary needs the semantic maps of a '
                         'semantic change model')
    summary = TransitionSummary(class_names)
    summary.add_maps(
        result.semantic_a, result.semantic_b, change=result.change)
    return summary
