"""Packing of bitemporal samples for the model."""
from typing import Sequence

import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs

from mmcd_ext.registry import TRANSFORMS
from .utils import split_dates

#: Meta keys packed by default: mmseg's plus the bitemporal file names.
CD_META_KEYS = ('img_path', 'img_path2', 'seg_map_path', 'seg_map_path_a',
                'seg_map_path_b', 'ori_shape', 'img_shape', 'pad_shape',
                'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label')

#: results key -> data-sample field, for the per-date semantic labels.
_SEMANTIC_FIELDS = (('gt_seg_map_a', 'gt_sem_seg_a'), ('gt_seg_map_b',
                                                       'gt_sem_seg_b'))


@TRANSFORMS.register_module()
class PackCDInputs(PackSegInputs):
    """Pack a bitemporal sample into ``inputs`` and a ``SegDataSample``.

    As mmseg's ``PackSegInputs`` (whose packing of ``img`` and
    ``gt_seg_map`` is reused), plus the per-date semantic labels of semantic
    change detection and the date-B file name among the meta keys, so that
    mmseg's ``EncoderDecoder`` post-processing works unchanged.

    Required Keys:

    - img (np.ndarray): ``(H, W, 2C)``.
    - gt_seg_map (np.ndarray, optional): ``(H, W)`` change label.
    - gt_seg_map_a, gt_seg_map_b (np.ndarray, optional): ``(H, W)``
      semantic labels.
    - every meta key that is present.

    Added Keys:

    - inputs (torch.Tensor): ``(2C, H, W)``, the image's dtype.
    - data_samples (SegDataSample): ``gt_sem_seg`` and, when present,
      ``gt_sem_seg_a`` / ``gt_sem_seg_b`` (``PixelData`` of ``(1, H, W)``
      int64), and the meta information.

    Args:
        meta_keys (Sequence[str]): Keys copied into the sample's metainfo
            when present. Defaults to :data:`CD_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = CD_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): Result dict of the pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.

        Raises:
            ValueError: If the image is not ``(H, W, 2C)`` or a label is not
                ``(H, W)``.
        """
        if 'img' in results:
            split_dates(results['img'], type(self).__name__)
        for key in ('gt_seg_map', ) + tuple(k for k, _ in _SEMANTIC_FIELDS):
            if key in results and results[key].ndim != 2:
                raise ValueError(
                    f'{type(self).__name__}: {key} must be (H, W), got shape '
                    f'{results[key].shape} ({results.get("img_path")})')
        packed = super().transform(results)
        sample = packed['data_samples']
        for key, field in _SEMANTIC_FIELDS:
            if key in results:
                data = to_tensor(results[key][None].astype(np.int64))
                sample.set_data({field: PixelData(data=data)})
        return packed
