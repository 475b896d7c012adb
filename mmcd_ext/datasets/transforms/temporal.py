"""Augmentations of the temporal order of a bitemporal sample."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmcd_ext.registry import TRANSFORMS
from .utils import check_prob, split_dates

#: Pairs of keys that describe date A and date B and swap with the dates.
_SWAPPED_PAIRS = (('gt_seg_map_a', 'gt_seg_map_b'), ('img_path', 'img_path2'),
                  ('seg_map_path_a', 'seg_map_path_b'))


@TRANSFORMS.register_module()
class TimeExchange(BaseTransform):
    """Swap the two dates with probability ``prob``.

    The channel halves of ``img`` are exchanged, and so are the per-date
    semantic labels (``gt_seg_map_a`` <-> ``gt_seg_map_b``) and the file
    names (``img_path`` <-> ``img_path2``, ``seg_map_path_a`` <->
    ``seg_map_path_b``), so the meta information keeps describing the
    tensor. The binary change label is symmetric and stays as it is.

    Required Keys:

    - img (np.ndarray): ``(H, W, 2C)``.

    Modified Keys:

    - img
    - gt_seg_map_a, gt_seg_map_b (optional, both or neither)
    - img_path, img_path2, seg_map_path_a, seg_map_path_b (optional)

    Added Keys:

    - time_exchanged (bool)

    Args:
        prob (float): Probability of swapping. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        check_prob(prob)
        self.prob = prob

    @cache_randomness
    def _do_swap(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        """Swap the dates (or not).

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: The results, dates possibly swapped.

        Raises:
            KeyError: If only one of ``gt_seg_map_a`` / ``gt_seg_map_b`` is
                present.
        """
        img_a, img_b = split_dates(results['img'], type(self).__name__)
        if ('gt_seg_map_a' in results) != ('gt_seg_map_b' in results):
            raise KeyError('TimeExchange: the sample has only one of '
                           'gt_seg_map_a / gt_seg_map_b '
                           f'({results.get("img_path")})')
        swap = self._do_swap()
        results['time_exchanged'] = swap
        if not swap:
            return results
        results['img'] = np.concatenate([img_b, img_a], axis=2)
        for key_a, key_b in _SWAPPED_PAIRS:
            if key_a in results and key_b in results:
                results[key_a], results[key_b] = results[key_b], results[key_a]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'
