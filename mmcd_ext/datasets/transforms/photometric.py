"""Photometric augmentation of bitemporal samples, per date."""
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np
from mmseg.datasets.transforms import PhotoMetricDistortion
from numpy import random

from mmcd_ext.registry import TRANSFORMS
from .utils import split_dates


@TRANSFORMS.register_module()
class BitemporalPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's photometric distortion applied to each date separately.

    The steps and their distributions are mmseg's ``PhotoMetricDistortion``
    (each with probability 0.5): brightness, contrast (before or after the
    HSV steps), saturation, hue. The random draws happen in the same order
    as mmseg's, so for one date and a given numpy seed the result is the one
    mmseg gives.

    - ``shared=False``: each date draws its own parameters (date A first),
      like two acquisitions under different light.
    - ``shared=True``: one draw is applied to both dates, so their relative
      appearance is unchanged.

    Each date must be a 3-channel BGR uint8 image (saturation and hue work in
    HSV); put this transform before any float conversion.

    Required Keys:

    - img (np.ndarray): ``(H, W, 6)`` uint8.

    Modified Keys:

    - img

    Args:
        brightness_delta (int): Brightness offset range ``[-d, d]``.
            Defaults to 32.
        contrast_range (Sequence[float]): Contrast factor range.
            Defaults to (0.5, 1.5).
        saturation_range (Sequence[float]): Saturation factor range.
            Defaults to (0.5, 1.5).
        hue_delta (int): Hue offset range ``[-d, d]`` (OpenCV hue units);
            0 disables the hue step (mmseg's fails on 0). Defaults to 18.
        shared (bool): Whether both dates get the same parameters.
            Defaults to False.
    """

    def __init__(self,
                 brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 hue_delta: int = 18,
                 shared: bool = False) -> None:
        if brightness_delta < 0 or hue_delta < 0:
            raise ValueError('brightness_delta and hue_delta must be >= 0, '
                             f'got {brightness_delta}, {hue_delta}')
        for name, rng in (('contrast_range', contrast_range),
                          ('saturation_range', saturation_range)):
            if len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise ValueError(f'{name} must be (low, high) with 0 <= low '
                                 f'<= high, got {rng}')
        super().__init__(
            brightness_delta=brightness_delta,
            contrast_range=contrast_range,
            saturation_range=saturation_range,
            hue_delta=hue_delta)
        self.shared = shared

    def draw_params(self) -> Dict[str, Optional[float]]:
        """Draw one set of distortion parameters, in mmseg's order.

        Returns:
            dict: ``brightness`` (offset), ``contrast_first`` (bool),
            ``contrast`` (factor), ``saturation`` (factor), ``hue`` (offset);
            None for a step that is skipped.
        """
        params: Dict[str, Optional[float]] = dict(
            brightness=None, contrast=None, saturation=None, hue=None)
        if random.randint(2):
            params['brightness'] = random.uniform(-self.brightness_delta,
                                                  self.brightness_delta)
        contrast_first = bool(random.randint(2))
        params['contrast_first'] = contrast_first
        if contrast_first and random.randint(2):
            params['contrast'] = random.uniform(self.contrast_lower,
                                                self.contrast_upper)
        if random.randint(2):
            params['saturation'] = random.uniform(self.saturation_lower,
                                                  self.saturation_upper)
        if random.randint(2) and self.hue_delta > 0:
            params['hue'] = random.randint(-self.hue_delta, self.hue_delta)
        if not contrast_first and random.randint(2):
            params['contrast'] = random.uniform(self.contrast_lower,
                                                self.contrast_upper)
        return params

    def apply_params(self, img: np.ndarray,
                     params: Dict[str, Optional[float]]) -> np.ndarray:
        """Distort one date with given parameters.

        Args:
            img (np.ndarray): ``(H, W, 3)`` BGR uint8.
            params (dict): As returned by :meth:`draw_params`.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8.
        """
        if params['brightness'] is not None:
            img = self.convert(img, beta=params['brightness'])
        if params['contrast_first'] and params['contrast'] is not None:
            img = self.convert(img, alpha=params['contrast'])
        if params['saturation'] is not None:
            img = mmcv.bgr2hsv(img)
            img[..., 1] = self.convert(img[..., 1], alpha=params['saturation'])
            img = mmcv.hsv2bgr(img)
        if params['hue'] is not None:
            img = mmcv.bgr2hsv(img)
            img[..., 0] = (img[..., 0].astype(int) + params['hue']) % 180
            img = mmcv.hsv2bgr(img)
        if not params['contrast_first'] and params['contrast'] is not None:
            img = self.convert(img, alpha=params['contrast'])
        return img

    def transform(self, results: dict) -> dict:
        """Distort both dates.

        Args:
            results (dict): Result dict with ``img`` ``(H, W, 6)`` uint8.

        Returns:
            dict: Results with the distorted ``img``.

        Raises:
            ValueError: If a date does not have 3 channels.
            TypeError: If the image is not uint8.
        """
        img_a, img_b = split_dates(results['img'], type(self).__name__)
        if img_a.shape[2] != 3:
            raise ValueError(
                f'{type(self).__name__} needs 3-channel (BGR) dates for its '
                f'HSV steps, got {img_a.shape[2]} channels per date '
                f'({results.get("img_path")})')
        if results['img'].dtype != np.uint8:
            raise TypeError(
                f'{type(self).__name__} expects a uint8 image, got '
                f'{results["img"].dtype}; load with to_float32=False and '
                'convert later')
        params_a = self.draw_params()
        params_b = params_a if self.shared else self.draw_params()
        out_a = self.apply_params(np.ascontiguousarray(img_a), params_a)
        out_b = self.apply_params(np.ascontiguousarray(img_b), params_b)
        results['img'] = np.concatenate([out_a, out_b], axis=2)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', shared={self.shared})')
