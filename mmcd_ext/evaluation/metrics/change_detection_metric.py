"""Binary change detection metric: dataset-wide scores of the change class."""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.utils import mkdir_or_exist
from PIL import Image
from prettytable import PrettyTable

from mmcd_ext.registry import METRICS
from ..functional import (as_label_map, binary_change_scores,
                          binary_confusion)

BINARY_KEYS = ('Precision', 'Recall', 'F1', 'IoU', 'OA', 'Kappa')


def _sample_name(data_sample: dict, index: int) -> str:
    """A readable name for error messages: the image path if known."""
    return str(data_sample.get('img_path', f'data sample #{index}'))


def _label_data(data_sample: dict, key: str, name: str) -> Any:
    """``data_sample[key]['data']`` with a clear error when it is missing."""
    field = data_sample.get(key)
    if field is None:
        raise KeyError(f'{name}: the data sample has no "{key}" (keys: '
                       f'{sorted(data_sample.keys())})')
    if isinstance(field, dict):
        data = field.get('data')
    else:
        data = getattr(field, 'data', None)
    if data is None:
        raise KeyError(f'{name}: "{key}" holds no "data"')
    return data


def _write_png(array: np.ndarray, output_dir: str, img_path: Optional[str],
               suffix: str = '') -> str:
    """Save a ``(H, W) uint8`` map as ``{stem of img_path}{suffix}.png``."""
    if img_path is None:
        raise KeyError('output_dir is set but the data sample has no '
                       '"img_path" to name the prediction file after')
    stem = osp.splitext(osp.basename(img_path))[0]
    out_file = osp.abspath(osp.join(output_dir, f'{stem}{suffix}.png'))
    Image.fromarray(array.astype(np.uint8)).save(out_file)
    return out_file


@METRICS.register_module()
class ChangeDetectionMetric(BaseMetric):
    """Precision, recall, F1, IoU, OA and kappa of binary change detection.

    Every sample contributes the TP / FP / FN / TN pixel counts of the
    change class (label 1); :meth:`compute_metrics` sums them over the whole
    dataset and scores the sums (pooled, not an average of per-image
    scores). Pixels labelled ``ignore_index`` are left out. The scores are
    reported in percent under the keys ``Precision``, ``Recall``, ``F1``,
    ``IoU``, ``OA`` and ``Kappa`` (so a config can use
    ``save_best='F1'``); formulas and conventions are in
    ``docs/metrics.md`` and
    :func:`mmcd_ext.evaluation.functional.binary_change_scores`.

    Only four integers per sample are kept, so ``collect_results`` gathers
    them cheaply across ranks.

    Args:
        ignore_index (int): Label value excluded from the counts.
            Defaults to 255.
        zero_division (float): Value (as a fraction, before the ×100) of a
            score whose denominator is zero, e.g. precision when nothing is
            predicted changed. Pass ``float('nan')`` to get NaN instead.
            Defaults to 0.0.
        collect_device (str): Device used to gather results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        output_dir (str, optional): If set, the predicted change map of every
            sample is written there as ``{stem of img_path}.png`` with
            changed pixels 255 and unchanged 0 (the LEVIR-CD label
            convention). Defaults to None.
        format_only (bool): Only write the predictions (needs
            ``output_dir``); labels are not read and no score is computed.
            Defaults to False.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = 255,
                 zero_division: float = 0.0,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if format_only and output_dir is None:
            raise ValueError('ChangeDetectionMetric: format_only=True needs '
                             'an output_dir to write the predictions to')
        self.ignore_index = ignore_index
        self.zero_division = zero_division
        self.output_dir = output_dir
        self.format_only = format_only
        if self.output_dir is not None and is_main_process():
            mkdir_or_exist(self.output_dir)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Count TP / FP / FN / TN of every sample of a batch.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts, each with
                ``pred_sem_seg.data`` ``(1, H, W)`` (0/1) and, unless
                ``format_only``, ``gt_sem_seg.data`` ``(1, H, W)``
                (0/1/``ignore_index``).
        """
        for data_sample in data_samples:
            name = _sample_name(data_sample, len(self.results))
            pred = _label_data(data_sample, 'pred_sem_seg', name)
            if not self.format_only:
                gt = _label_data(data_sample, 'gt_sem_seg', name)
                self.results.append(
                    binary_confusion(pred, gt, self.ignore_index, name))
            if self.output_dir is not None:
                pred_np = as_label_map(pred, f'{name}: the predicted change '
                                       'map')
                if not np.isin(pred_np, (0, 1)).all():
                    raise ValueError(f'{name}: the predicted change map must '
                                     'hold only 0 and 1')
                _write_png(pred_np * 255, self.output_dir,
                           data_sample.get('img_path'))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        """Score the pooled counts of all samples.

        Args:
            results (list[np.ndarray]): ``[TP, FP, FN, TN]`` of every sample,
                gathered from all ranks.

        Returns:
            dict[str, float]: ``Precision``, ``Recall``, ``F1``, ``IoU``,
            ``OA``, ``Kappa`` in percent (empty when ``format_only``).
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'predictions are written to {self.output_dir}')
            return OrderedDict()
        counts = np.zeros(4, dtype=np.int64)
        for sample_counts in results:
            counts += np.asarray(sample_counts, dtype=np.int64)
        tp, fp, fn, tn = (int(c) for c in counts)
        if tp + fp + fn + tn == 0:
            print_log(
                'ChangeDetectionMetric: no labelled pixel was evaluated '
                f'(every score is set to zero_division={self.zero_division})',
                logger=logger, level=logging.WARNING)
        scores = binary_change_scores(tp, fp, fn, tn, self.zero_division)
        metrics = OrderedDict(
            (key, scores[key] * 100.0) for key in BINARY_KEYS)

        table = PrettyTable()
        for key, value in metrics.items():
            table.add_column(key, [f'{value:.2f}'])
        print_log('change class results (pooled over the dataset):', logger)
        print_log('\n' + table.get_string(), logger=logger)
        print_log(f'TP={tp} FP={fp} FN={fn} TN={tn}', logger=logger)
        return metrics
