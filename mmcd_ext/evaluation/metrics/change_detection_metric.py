"""Binary change detection metric: dataset-wide scores of the change class."""
import logging
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from mmcd_ext.registry import METRICS
from ..functional import as_label_map, binary_change_scores, binary_confusion
from .base_change_metric import (BaseChangeMetric, label_data, sample_name,
                                 write_label_png)

BINARY_KEYS = ('Precision', 'Recall', 'F1', 'IoU', 'OA', 'Kappa')


@METRICS.register_module()
class ChangeDetectionMetric(BaseChangeMetric):
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
            name = sample_name(data_sample, len(self.results))
            pred = label_data(data_sample, 'pred_sem_seg', name)
            if not self.format_only:
                gt = label_data(data_sample, 'gt_sem_seg', name)
                self.results.append(
                    binary_confusion(pred, gt, self.ignore_index, name))
            if self.output_dir is not None:
                pred_np = as_label_map(pred, f'{name}: the predicted change '
                                       'map')
                if not np.isin(pred_np, (0, 1)).all():
                    raise ValueError(f'{name}: the predicted change map must '
                                     'hold only 0 and 1')
                write_label_png(pred_np * 255, self.output_dir,
                                data_sample.get('img_path'))

    def _score(self, results: List[np.ndarray],
               logger: MMLogger) -> Dict[str, float]:
        """Score the pooled counts of all samples.

        Args:
            results (list[np.ndarray]): ``[TP, FP, FN, TN]`` of every sample,
                gathered from all ranks.
            logger (MMLogger): Where the result table goes.

        Returns:
            dict[str, float]: ``Precision``, ``Recall``, ``F1``, ``IoU``,
            ``OA``, ``Kappa`` in percent.
        """
        counts = np.zeros(4, dtype=np.int64)
        for sample_counts in results:
            counts += np.asarray(sample_counts, dtype=np.int64)
        tp, fp, fn, tn = (int(c) for c in counts)
        if tp + fp + fn + tn == 0:
            print_log(
                'ChangeDetectionMetric: no labelled pixel was evaluated '
                f'(every score is set to zero_division={self.zero_division})',
                logger=logger,
                level=logging.WARNING)
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
