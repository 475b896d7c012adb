"""Local visualizer for binary and semantic change detection."""
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.structures import BaseDataElement
from mmseg.visualization import SegLocalVisualizer

from mmcd_ext.evaluation.functional import as_label_map
from mmcd_ext.registry import VISUALIZERS
from mmcd_ext.utils.atomic_files import write_image
from .change_maps import (FN_COLOR, FP_COLOR, TN_COLOR, TP_COLOR,
                          binary_change_map, binary_change_overlay,
                          colorize_semantic)
from .legend import draw_legend

ImageInput = Union[np.ndarray, Sequence[np.ndarray]]

BINARY_CLASSES = ('unchanged', 'changed')
BINARY_PALETTE = [[0, 0, 0], [255, 255, 255]]


def _to_display(image: np.ndarray, what: str) -> np.ndarray:
    """Make one date displayable: ``(H, W, 3) uint8`` RGB.

    Grey images are repeated to three channels, images with more than three
    channels (e.g. RGB + NIR) show their first three, and images that are not
    ``uint8`` are stretched linearly from their own min/max to ``[0, 255]``.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] == 0:
        raise ValueError(f'{what} must have shape (H, W) or (H, W, C), got '
                         f'{image.shape}')
    if image.shape[-1] < 3:
        image = np.repeat(image[..., :1], 3, axis=-1)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
        low, high = np.nanmin(image), np.nanmax(image)
        scale = 255.0 / (high - low) if high > low else 0.0
        image = np.nan_to_num((image - low) * scale).round().astype(np.uint8)
    return np.ascontiguousarray(image)


def split_dates(image: ImageInput) -> Tuple[np.ndarray, np.ndarray]:
    """Date A and date B from a concatenated image or a pair.

    Args:
        image (np.ndarray | Sequence[np.ndarray]): Either one array
            ``(H, W, 2C)`` with date A's channels first (the pipeline's
            layout), or a pair ``(img_a, img_b)`` of ``(H, W, C)`` arrays.

    Returns:
        tuple[np.ndarray, np.ndarray]: Both dates as ``(H, W, 3) uint8`` RGB.

    Raises:
        ValueError: If the input is neither form or the dates differ in size.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[-1] % 2 != 0:
            raise ValueError(
                'a single image must be both dates concatenated on the '
                f'channel axis, (H, W, 2C); got shape {image.shape}. Pass '
                '(img_a, img_b) to give the dates separately.')
        half = image.shape[-1] // 2
        img_a, img_b = image[..., :half], image[..., half:]
    elif isinstance(image, (list, tuple)) and len(image) == 2:
        img_a, img_b = image
    else:
        raise ValueError('image must be an (H, W, 2C) array or a pair '
                         f'(img_a, img_b), got {type(image).__name__}')
    img_a = _to_display(img_a, 'date A image')
    img_b = _to_display(img_b, 'date B image')
    if img_a.shape != img_b.shape:
        raise ValueError(f'date A image has shape {img_a.shape[:2]} but date '
                         f'B image has shape {img_b.shape[:2]}')
    return img_a, img_b


def _get_map(data_sample: Union[BaseDataElement, dict],
             key: str) -> Optional[np.ndarray]:
    """``data_sample.<key>.data`` as a numpy ``(H, W)`` map, or None."""
    if data_sample is None or key not in data_sample:
        return None
    field = data_sample[key] if isinstance(data_sample, dict) else getattr(
        data_sample, key)
    data = field['data'] if isinstance(field, dict) else field.data
    return as_label_map(data, f'"{key}"')


@VISUALIZERS.register_module()
class CDLocalVisualizer(SegLocalVisualizer):
    """Draws change detection results beside both input dates.

    * Binary change detection (the data sample has ``pred_sem_seg`` and/or
      ``gt_sem_seg``): one row ``[date A | date B | map]`` where the map is
      the TP/TN/FP/FN overlay of :func:`binary_change_overlay` (TP yellow,
      TN black, FP red, FN green, ignored grey) when both prediction and
      label are drawn, else the single drawn map in white (changed) and
      black.
    * Semantic change detection (the data sample has ``pred_sem_seg_a`` or
      ``gt_sem_seg_a``): one row ``[date A | date B | semantic A | semantic
      B | change error map]``: the predicted semantic change maps (the
      labels when no prediction is drawn) coloured with
      ``dataset_meta['palette']`` (index 0 = no change, ignored pixels
      black), and the binary change map against the label's as above
      (predicted change: ``pred_sem_seg``, else a class in either date;
      labelled change: ``gt_sem_seg``, else a class in either label). Below
      it a legend names each class colour (and, with labels, the
      TP/FP/FN/TN colours).

    The result goes to ``out_file`` if given, else to the vis backends
    through ``add_image`` (what mmseg's ``SegVisualizationHook`` and
    ``tools/test.py --show-dir`` rely on).

    Args:
        name (str): Name of the instance. Defaults to 'visualizer'.
        image (np.ndarray, optional): Image to draw on. Defaults to None.
        vis_backends (list[dict], optional): Vis backend configs.
            Defaults to None.
        save_dir (str, optional): Root directory of the vis backends.
            Defaults to None.
        classes (list[str], optional): Class names. If None (and no
            ``dataset_name``) the binary ``('unchanged', 'changed')``.
            Defaults to None.
        palette (list[list[int]], optional): RGB colour per class, used for
            semantic change maps. If None (and no ``dataset_name``) black /
            white. Defaults to None.
        dataset_name (str, optional): mmseg dataset name to take classes and
            palette from. Defaults to None.
        alpha (float): Kept for mmseg compatibility; change maps are drawn
            opaque. Defaults to 0.8.
        ignore_index (int): Label value drawn as ignored (grey in binary
            maps, black in semantic maps). Defaults to 255.
        **kwargs: Passed to mmengine's ``Visualizer``.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[List[str]] = None,
                 palette: Optional[List[List[int]]] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.8,
                 ignore_index: int = 255,
                 **kwargs: Any) -> None:
        # The parent passes (palette, classes) positionally in swapped order
        # to set_dataset_meta, so let it set the default and set ours after.
        super().__init__(
            name,
            image,
            vis_backends,
            save_dir,
            classes=None,
            palette=None,
            dataset_name=None,
            alpha=alpha,
            **kwargs)
        self.ignore_index = ignore_index
        self.set_dataset_meta(classes, palette, dataset_name)

    def set_dataset_meta(self,
                         classes: Optional[List[str]] = None,
                         palette: Optional[List[List[int]]] = None,
                         dataset_name: Optional[str] = None) -> None:
        """Set classes and palette; binary change classes by default.

        Args:
            classes (list[str], optional): Class names. Defaults to None.
            palette (list[list[int]], optional): RGB colour per class.
                Defaults to None.
            dataset_name (str, optional): mmseg dataset name for classes and
                palette that are not given. Defaults to None.
        """
        if dataset_name is not None:
            super().set_dataset_meta(classes, palette, dataset_name)
            return
        classes = list(classes) if classes else list(BINARY_CLASSES)
        if palette is None:
            if len(classes) != len(BINARY_PALETTE):
                raise ValueError(
                    f'CDLocalVisualizer: {len(classes)} classes given without '
                    'a palette; pass palette=[[r, g, b], ...] per class')
            palette = BINARY_PALETTE
        if len(classes) != len(palette):
            raise ValueError(f'CDLocalVisualizer: {len(classes)} classes but '
                             f'{len(palette)} palette colours')
        self.dataset_meta = {'classes': classes, 'palette': palette}

    def _check_size(self, name: str, image: np.ndarray,
                    maps: Dict[str, Optional[np.ndarray]]) -> None:
        """Raise if a drawn map and the image differ in size."""
        for key, value in maps.items():
            if value is not None and value.shape != image.shape[:2]:
                raise ValueError(f'{name}: "{key}" has shape {value.shape} '
                                 f'but the image is {image.shape[:2]}')

    def _draw_binary(self, name: str, img_a: np.ndarray, img_b: np.ndarray,
                     pred: Optional[np.ndarray],
                     gt: Optional[np.ndarray]) -> np.ndarray:
        """``[date A | date B | change map]``, ``(H, 3W, 3)``."""
        self._check_size(name, img_a, dict(pred_sem_seg=pred, gt_sem_seg=gt))
        panels = [img_a, img_b]
        try:
            if pred is not None:
                panels.append(
                    binary_change_overlay(pred, gt, self.ignore_index))
            elif gt is not None:
                panels.append(binary_change_map(gt, self.ignore_index))
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from err
        return np.concatenate(panels, axis=1)

    def _draw_semantic(self, name: str, img_a: np.ndarray, img_b: np.ndarray,
                       sample: BaseDataElement, draw_pred: bool,
                       draw_gt: bool) -> np.ndarray:
        """``[A | B | sem A | sem B | change error]`` above a legend."""
        meta = self.dataset_meta or {}
        palette = meta.get('palette')
        if palette is None:
            raise ValueError(f'{name}: drawing semantic change maps needs '
                             'dataset_meta["palette"] (set by the Runner from '
                             'the dataset, or pass palette=...)')

        def get(key: str, wanted: bool) -> Optional[np.ndarray]:
            value = _get_map(sample, key) if wanted else None
            if value is not None:
                self._check_size(name, img_a, {key: value})
            return value

        preds = [get(f'pred_sem_seg_{d}', draw_pred) for d in 'ab']
        gts = [get(f'gt_sem_seg_{d}', draw_gt) for d in 'ab']
        for kind, pair in (('prediction', preds), ('label', gts)):
            if (pair[0] is None) != (pair[1] is None):
                raise ValueError(f'{name}: the semantic {kind} of one date '
                                 'is missing')
        shown, what = (preds,
                       'prediction') if preds[0] is not None else (gts,
                                                                   'label')
        panels = [img_a, img_b]
        if shown[0] is not None:
            for date, sem_map in zip('AB', shown):
                try:
                    panels.append(
                        colorize_semantic(sem_map, palette, self.ignore_index))
                except ValueError as err:
                    raise ValueError(
                        f'{name}: cannot colour the date {date} {what}: '
                        f'{err}') from err
        pred_change = get('pred_sem_seg', draw_pred)
        if pred_change is None and preds[0] is not None:
            pred_change = ((preds[0] != 0) | (preds[1] != 0)).astype(np.uint8)
        gt_change = get('gt_sem_seg', draw_gt)
        if gt_change is None and gts[0] is not None:
            ignored = (gts[0] == self.ignore_index) | (
                gts[1] == self.ignore_index)
            gt_change = ((gts[0] != 0) | (gts[1] != 0)).astype(np.uint8)
            gt_change[ignored] = self.ignore_index
        try:
            if pred_change is not None:
                panels.append(
                    binary_change_overlay(pred_change, gt_change,
                                          self.ignore_index))
            elif gt_change is not None:
                panels.append(binary_change_map(gt_change, self.ignore_index))
        except ValueError as err:
            raise ValueError(f'{name}: {err}') from err
        row = np.concatenate(panels, axis=1)
        classes = list(meta.get('classes') or [])
        entries = [(str(classes[k]) if k < len(classes) else f'class {k}',
                    palette[k]) for k in range(len(palette))]
        if pred_change is not None and gt_change is not None:
            entries += [('TP', TP_COLOR), ('FP', FP_COLOR), ('FN', FN_COLOR),
                        ('TN', TN_COLOR)]
        return np.concatenate([row, draw_legend(entries, row.shape[1])],
                              axis=0)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: ImageInput,
                       data_sample: Optional[BaseDataElement] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw a change detection sample and save or show it.

        Args:
            name (str): Image identifier (window name, backend image name).
            image (np.ndarray | Sequence[np.ndarray]): Both dates, either
                ``(H, W, 2C)`` (date A channels first) or ``(img_a, img_b)``
                of ``(H, W, C)``; RGB.
            data_sample (SegDataSample, optional): Sample with
                ``pred_sem_seg`` / ``gt_sem_seg`` (binary, ``(1, H, W)``) or
                ``pred_sem_seg_a/b`` / ``gt_sem_seg_a/b`` (semantic).
                Defaults to None (only the two dates are drawn).
            draw_gt (bool): Whether to draw the labels. Defaults to True.
            draw_pred (bool): Whether to draw the predictions.
                Defaults to True.
            show (bool): Whether to display the result in a window.
                Defaults to False.
            wait_time (float): Seconds to show the window. Defaults to 0.
            out_file (str, optional): Write the result to this file instead
                of the vis backends, atomically (format from its suffix; an
                existing file is replaced once the new one is complete).
                Defaults to None.
            step (int): Global step passed to the vis backends.
                Defaults to 0.

        Returns:
            np.ndarray: The drawn RGB image, ``(H', W', 3) uint8``.
        """
        img_a, img_b = split_dates(image)
        semantic = data_sample is not None and any(
            key in data_sample for key in ('pred_sem_seg_a', 'gt_sem_seg_a',
                                           'pred_sem_seg_b', 'gt_sem_seg_b'))
        if semantic:
            drawn = self._draw_semantic(name, img_a, img_b, data_sample,
                                        draw_pred, draw_gt)
        else:
            pred = _get_map(data_sample, 'pred_sem_seg') if draw_pred else None
            gt = _get_map(data_sample, 'gt_sem_seg') if draw_gt else None
            drawn = self._draw_binary(name, img_a, img_b, pred, gt)

        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
            write_image(out_file, mmcv.rgb2bgr(drawn))  # atomic
        else:
            self.add_image(name, drawn, step)
        return drawn
