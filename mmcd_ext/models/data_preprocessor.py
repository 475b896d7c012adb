"""Data preprocessor for bitemporal inputs ``(2C, H, W)``."""
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmcd_ext.registry import MODELS

#: Label fields of a data sample that are padded with ``seg_pad_val``.
CD_SEG_FIELDS = ('gt_sem_seg', 'gt_sem_seg_a', 'gt_sem_seg_b')


@MODELS.register_module()
class DualInputSegDataPreProcessor(SegDataPreProcessor):
    """Normalise, pad and batch bitemporal images and their labels.

    Each input is ``(2C, H, W)``: date A's ``C`` channels then date B's
    (``PackCDInputs``). The preprocessor

    1. casts to float and, if asked, swaps BGR <-> RGB within each date
       (``C`` must be 3);
    2. normalises with ``mean``/``std``: ``C`` values are applied to both
       dates, ``2C`` values give each date its own;
    3. training: pads every image to ``size`` or to a multiple of
       ``size_divisor`` (bottom/right, ``pad_val``) and every label field in
       ``seg_fields`` (``gt_sem_seg``, ``gt_sem_seg_a``, ``gt_sem_seg_b``) with
       ``seg_pad_val``; sets ``img_shape``, ``pad_shape``, ``padding_size``
       and ``batch_input_shape`` like mmseg's ``stack_batch``;
    4. testing: pads images by ``test_cfg`` (``size`` or ``size_divisor``)
       and records ``img_padding_size``/``pad_shape`` so mmseg's
       ``EncoderDecoder`` crops the padding off again; labels are left as
       they are (mmseg does the same);
    5. stacks to ``(B, 2C, H, W)``.

    Args:
        mean (Sequence[Number], optional): Per-channel mean, length ``C`` or
            ``2C``. None disables normalisation. Defaults to None.
        std (Sequence[Number], optional): Per-channel std, same length as
            ``mean``. Defaults to None.
        size (tuple, optional): Fixed ``(H, W)`` to pad to in training.
            Defaults to None.
        size_divisor (int, optional): Pad ``H`` and ``W`` to a multiple of
            this in training. Defaults to None.
        pad_val (Number): Image padding value. Defaults to 0.
        seg_pad_val (Number): Label padding value. Defaults to 255.
        bgr_to_rgb (bool): Swap BGR to RGB in each date. Defaults to False.
        rgb_to_bgr (bool): Swap RGB to BGR in each date. Defaults to False.
        test_cfg (dict, optional): ``dict(size=...)`` or
            ``dict(size_divisor=...)`` for padding at test time.
            Defaults to None.
        seg_fields (Sequence[str]): Data-sample label fields to pad.
            Defaults to ``('gt_sem_seg', 'gt_sem_seg_a', 'gt_sem_seg_b')``.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 test_cfg: Optional[dict] = None,
                 seg_fields: Sequence[str] = CD_SEG_FIELDS) -> None:
        name = type(self).__name__
        if (mean is None) != (std is None):
            raise ValueError(f'{name}: give both mean and std or neither')
        if mean is not None:
            if len(mean) != len(std) or len(mean) == 0:
                raise ValueError(f'{name}: mean ({len(mean)} values) and std '
                                 f'({len(std)} values) must have the same '
                                 'non-zero length')
            if any(s <= 0 for s in std):
                raise ValueError(f'{name}: std must be positive, got {std}')
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError(f'{name}: bgr_to_rgb and rgb_to_bgr cannot both '
                             'be True')
        if size is not None and size_divisor is not None:
            raise ValueError(f'{name}: give size or size_divisor, not both')
        if test_cfg is not None:
            unknown = set(test_cfg) - {'size', 'size_divisor'}
            if unknown or (test_cfg.get('size') is None) == \
                    (test_cfg.get('size_divisor') is None):
                raise ValueError(f'{name}: test_cfg must hold exactly one of '
                                 f'"size" or "size_divisor", got {test_cfg}')
        super().__init__(
            mean=mean,
            std=std,
            size=size,
            size_divisor=size_divisor,
            pad_val=pad_val,
            seg_pad_val=seg_pad_val,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            batch_augments=None,
            test_cfg=test_cfg)
        self.seg_fields = tuple(seg_fields)

    def _channel_stats(self,
                       channels: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean and std expanded to ``channels`` = ``2C``, ``(2C, 1, 1)``."""
        if len(self.mean) == channels:
            return self.mean, self.std
        if 2 * len(self.mean) == channels:
            return self.mean.repeat(2, 1, 1), self.std.repeat(2, 1, 1)
        raise ValueError(
            f'{type(self).__name__}: mean/std have {len(self.mean)} values '
            f'but the bitemporal input has {channels} channels (need C = '
            f'{channels // 2} or 2C = {channels})')

    def _normalise(self, img: torch.Tensor) -> torch.Tensor:
        """Colour-swap and normalise one ``(2C, H, W)`` input."""
        channels = img.shape[0]
        if img.ndim != 3 or channels % 2 != 0:
            raise ValueError(
                f'{type(self).__name__} expects (2C, H, W) inputs with both '
                f'dates on the channels, got shape {tuple(img.shape)}')
        img = img.float()
        if self.channel_conversion:
            if channels != 6:
                raise ValueError(
                    f'{type(self).__name__}: bgr_to_rgb/rgb_to_bgr need 3 '
                    f'channels per date, got {channels // 2}')
            img = img[[2, 1, 0, 5, 4, 3]]
        if self._enable_normalize:
            mean, std = self._channel_stats(channels)
            img = (img - mean) / std
        return img

    @staticmethod
    def _target_size(sizes: List[Tuple[int,
                                       int]], size: Optional[Sequence[int]],
                     size_divisor: Optional[int]) -> Tuple[int, int]:
        """Padded ``(H, W)`` of the batch (never smaller than an input)."""
        max_h = max(h for h, _ in sizes)
        max_w = max(w for _, w in sizes)
        if size is not None:
            return max(size[-2], max_h), max(size[-1], max_w)
        if size_divisor is not None and size_divisor > 1:
            max_h = -(-max_h // size_divisor) * size_divisor
            max_w = -(-max_w // size_divisor) * size_divisor
        return max_h, max_w

    def _pad_batch(
        self,
        inputs: List[torch.Tensor],
        size: Optional[Sequence[int]],
        size_divisor: Optional[int],
    ) -> Tuple[torch.Tensor, List[List[int]]]:
        """Pad every input at the bottom/right and stack.

        Returns:
            tuple: The ``(B, 2C, H', W')`` batch and each input's padding
            ``[left, right, top, bottom]``.
        """
        sizes = [(int(t.shape[-2]), int(t.shape[-1])) for t in inputs]
        if size is None and size_divisor is None and len(set(sizes)) > 1:
            raise ValueError(
                f'{type(self).__name__}: inputs of different sizes {sizes} '
                'need size or size_divisor to be batched')
        out_h, out_w = self._target_size(sizes, size, size_divisor)
        paddings = [[0, out_w - w, 0, out_h - h] for h, w in sizes]
        padded = [
            F.pad(t, pad, value=self.pad_val)
            for t, pad in zip(inputs, paddings)
        ]
        return torch.stack(padded, dim=0), paddings

    def _pad_labels(self, sample: SegDataSample,
                    padding: List[int]) -> Optional[torch.Size]:
        """Pad every label field of one sample in place.

        Returns:
            torch.Size, optional: Padded label shape, None without labels.
        """
        pad_shape = None
        for field in self.seg_fields:
            if field not in sample:
                continue
            pixel_data = sample.get(field)
            data = pixel_data.data
            del pixel_data.data
            pixel_data.data = F.pad(data, padding, value=self.seg_pad_val)
            pad_shape = pixel_data.shape
        return pad_shape

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise, pad and stack a batch.

        Args:
            data (dict): ``inputs``: list of ``(2C, H, W)`` tensors;
                ``data_samples``: list of ``SegDataSample`` (required in
                training).
            training (bool): Whether in training mode. Defaults to False.

        Returns:
            dict: ``inputs`` ``(B, 2C, H, W)`` float and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = [self._normalise(img) for img in data['inputs']]
        data_samples = data.get('data_samples', None)
        if training:
            if data_samples is None:
                raise ValueError(f'{type(self).__name__}: data_samples are '
                                 'required in training')
            batch, paddings = self._pad_batch(inputs, self.size,
                                              self.size_divisor)
            for img, sample, padding in zip(inputs, data_samples, paddings):
                label_shape = self._pad_labels(sample, padding)
                sample.set_metainfo(
                    dict(
                        img_shape=img.shape[-2:],
                        pad_shape=label_shape,
                        padding_size=padding,
                        batch_input_shape=batch.shape[-2:]))
        else:
            shapes = {tuple(img.shape[1:]) for img in inputs}
            if len(shapes) > 1:
                raise ValueError(f'{type(self).__name__}: the images of a '
                                 f'test batch must share one size, got '
                                 f'{sorted(shapes)}')
            if self.test_cfg:
                batch, paddings = self._pad_batch(
                    inputs, self.test_cfg.get('size', None),
                    self.test_cfg.get('size_divisor', None))
                if data_samples is not None:
                    for sample, padding in zip(data_samples, paddings):
                        sample.set_metainfo(
                            dict(
                                img_padding_size=padding,
                                pad_shape=batch.shape[-2:]))
            else:
                batch = torch.stack(inputs, dim=0)
            if data_samples is not None:
                for sample in data_samples:
                    sample.set_metainfo(
                        dict(batch_input_shape=batch.shape[-2:]))
        return dict(inputs=batch, data_samples=data_samples)
