"""Geometric augmentations for bitemporal samples.

They act on the concatenated ``img`` ``(H, W, 2C)`` and on every key of
``seg_fields``, so both dates and all labels get the same geometry. mmseg's
``RandomCrop``, ``Resize`` and ``RandomFlip`` already do this and are used
as they are (``docs/datasets.md``); the two transforms here cover what mmseg
lacks (rotation by multiples of 90 degrees) or does wrong on more than four
channels (arbitrary rotation: OpenCV fills only four channels with the
border value).
"""
from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.datasets.transforms import RandomRotate

from mmcd_ext.registry import TRANSFORMS
from .utils import check_prob

#: OpenCV's border value is a 4-element scalar: warp at most this many
#: channels at a time.
_MAX_CV_CHANNELS = 4


@TRANSFORMS.register_module()
class RandomRotate90(BaseTransform):
    """Rotate image and labels by ``k * 90`` degrees, ``k`` in {1, 2, 3}.

    The rotation is counter-clockwise (``np.rot90``) and exact (no
    interpolation, no border). Training only: the rotation is not recorded
    for undoing at test time.

    Required Keys:

    - img (np.ndarray): ``(H, W, 2C)``.
    - seg_fields (list, optional): label keys to rotate along.

    Modified Keys:

    - img, img_shape, every key in seg_fields.

    Added Keys:

    - rotate90_k (int): the ``k`` applied (0 when not rotated).

    Args:
        prob (float): Probability of rotating. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        check_prob(prob)
        self.prob = prob

    @cache_randomness
    def _draw_k(self) -> int:
        if np.random.rand() >= self.prob:
            return 0
        return int(np.random.randint(1, 4))

    def transform(self, results: dict) -> dict:
        """Rotate ``img`` and every label by the same multiple of 90 deg.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: The rotated results.
        """
        k = self._draw_k()
        results['rotate90_k'] = k
        if k == 0:
            return results
        results['img'] = np.ascontiguousarray(
            np.rot90(results['img'], k, axes=(0, 1)))
        for key in results.get('seg_fields', []):
            results[key] = np.ascontiguousarray(
                np.rot90(results[key], k, axes=(0, 1)))
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class BitemporalRandomRotate(RandomRotate):
    """Rotate image and labels by a random angle, for any channel count.

    mmseg's ``RandomRotate`` hands the whole image to ``cv2.warpAffine``,
    whose border value has four entries: with ``2C > 4`` channels (or an
    integer ``pad_val`` on three) some channels are padded with 0 instead of
    ``pad_val``. This version warps the image in groups of at most four
    channels with a full per-channel border value. Labels are rotated with
    nearest interpolation and padded with ``seg_pad_val``.

    Required Keys:

    - img (np.ndarray): ``(H, W, 2C)``.
    - seg_fields (list, optional): label keys to rotate along.

    Modified Keys:

    - img, img_shape, every key in seg_fields.

    Args:
        prob (float): Probability of rotating.
        degree (float | tuple[float, float]): Angle range in degrees; a
            number ``d`` means ``(-d, d)``. Positive is clockwise (mmcv).
        pad_val (float | Sequence[float]): Border value of the image, one
            number or one per channel (``2C``). Defaults to 0.
        seg_pad_val (int): Border value of the labels. Defaults to 255.
        center (tuple[float, float], optional): Rotation centre ``(x, y)``;
            the image centre when None. Defaults to None.
        auto_bound (bool): Whether to enlarge the output to hold the whole
            rotated image. Defaults to False.
        interpolation (str): mmcv interpolation of the image.
            Defaults to 'bilinear'.
    """

    def __init__(self,
                 prob: float,
                 degree: Union[float, Tuple[float, float]],
                 pad_val: Union[Number, Sequence[Number]] = 0,
                 seg_pad_val: int = 255,
                 center: Optional[Tuple[float, float]] = None,
                 auto_bound: bool = False,
                 interpolation: str = 'bilinear') -> None:
        check_prob(prob)
        if isinstance(degree, Number) and degree <= 0:
            raise ValueError(f'degree {degree} must be positive')
        if not isinstance(degree, Number) and len(degree) != 2:
            raise ValueError(f'degree {degree} must be a number or (min, '
                             'max)')
        super().__init__(
            prob=prob,
            degree=degree,
            pad_val=0,
            seg_pad_val=seg_pad_val,
            center=center,
            auto_bound=auto_bound)
        self.img_pad_val = pad_val
        self.interpolation = interpolation

    def _img_border(self, channels: int) -> Tuple[float, ...]:
        if isinstance(self.img_pad_val, Number):
            return (float(self.img_pad_val), ) * channels
        vals = tuple(float(v) for v in self.img_pad_val)
        if len(vals) != channels:
            raise ValueError(f'pad_val has {len(vals)} values but the image '
                             f'has {channels} channels')
        return vals

    def _rotate(self, arr: np.ndarray, angle: float, border: Tuple[float, ...],
                interpolation: str) -> np.ndarray:
        """Rotate ``(H, W)`` or ``(H, W, c)`` with ``c <= 4``."""
        out = mmcv.imrotate(
            arr,
            angle=angle,
            center=self.center,
            border_value=border,
            interpolation=interpolation,
            auto_bound=self.auto_bound)
        if arr.ndim == 3 and out.ndim == 2:
            out = out[..., None]
        return out

    def transform(self, results: dict) -> dict:
        """Rotate ``img`` and every label by the same random angle.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: The rotated results.
        """
        rotate, angle = self.generate_degree()
        if not rotate:
            return results
        img = results['img']
        squeeze = img.ndim == 2
        if squeeze:
            img = img[..., None]
        border = self._img_border(img.shape[2])
        parts = [
            self._rotate(
                np.ascontiguousarray(img[..., c:c + _MAX_CV_CHANNELS]), angle,
                border[c:c + _MAX_CV_CHANNELS], self.interpolation)
            for c in range(0, img.shape[2], _MAX_CV_CHANNELS)
        ]
        img = np.concatenate(parts, axis=2)
        results['img'] = img[..., 0] if squeeze else img
        for key in results.get('seg_fields', []):
            results[key] = self._rotate(results[key], angle,
                                        (float(self.seg_pad_val), ), 'nearest')
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'degree={self.degree}, pad_val={self.img_pad_val}, '
                f'seg_pad_val={self.seg_pad_val}, center={self.center}, '
                f'auto_bound={self.auto_bound}, '
                f"interpolation='{self.interpolation}')")
