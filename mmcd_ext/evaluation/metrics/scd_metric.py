"""Semantic change detection metric (SECOND / Landsat-SCD protocol)."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from mmcd_ext.registry import METRICS
from ..functional import as_label_map, scd_confusion_matrix, scd_scores
from .base_change_metric import (BaseChangeMetric, label_data, sample_name,
                                 write_label_png)

SCD_KEYS = ('OA', 'mIoU', 'SeK', 'Fscd', 'IoU_nc', 'IoU_c')


@METRICS.register_module()
class SCDMetric(BaseChangeMetric):
    """OA, mIoU, SeK and Fscd of semantic change detection.

    One confusion matrix ``hist[pred, label]`` (``K x K``, class 0 = no
    change) is accumulated over the whole dataset and over both dates'
    semantic change maps (``pred_sem_seg_a`` vs ``gt_sem_seg_a`` and
    ``pred_sem_seg_b`` vs ``gt_sem_seg_b``); pixels labelled
    ``ignore_index`` are left out. From it (METHODS.md section 3, see
    :func:`mmcd_ext.evaluation.functional.scd_scores` and
    ``docs/metrics.md``) the metric reports, in percent:

    * ``OA``, ``mIoU`` (mean of ``IoU_nc`` and ``IoU_c`` of the no-change /
      change collapse), ``SeK``, ``Fscd``, ``IoU_nc``, ``IoU_c``;
    * ``IoU.{class name}``: IoU of every class in the full matrix.

    Each sample keeps only its ``K x K`` matrix, so ``collect_results``
    gathers them cheaply across ranks.

    Args:
        num_classes (int, optional): Number of classes including "no change"
            (7 for SECOND, 5 for Landsat-SCD). If None, the length of
            ``dataset_meta['classes']``, which the Runner fills from the
            dataset. Defaults to None.
        ignore_index (int): Label value excluded from the matrix.
            Defaults to 255.
        zero_division (float): Value (as a fraction, before the ×100) of a
            score whose denominator is zero, e.g. ``P_sc`` when nothing is
            predicted changed. Defaults to 0.0.
        collect_device (str): Device used to gather results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        output_dir (str, optional): If set, both predicted semantic change
            maps of every sample are written there as class-index PNGs
            ``{stem of img_path}_a.png`` and ``..._b.png``. Defaults to None.
        format_only (bool): Only write the predictions (needs
            ``output_dir``); labels are not read and no score is computed.
            Defaults to False.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255,
                 zero_division: float = 0.0,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None) -> None:
        if num_classes is not None and (not isinstance(num_classes, int)
                                        or num_classes < 2):
            raise ValueError('SCDMetric: num_classes must be an int >= 2 '
                             '(no change plus at least one class), got '
                             f'{num_classes!r}')
        super().__init__(
            ignore_index=ignore_index,
            zero_division=zero_division,
            collect_device=collect_device,
            output_dir=output_dir,
            format_only=format_only,
            prefix=prefix)
        self.num_classes = num_classes

    def _meta_classes(self) -> Optional[Sequence[str]]:
        """``dataset_meta['classes']`` if the metric has a dataset meta."""
        meta = self.dataset_meta
        if meta is None:
            return None
        return meta.get('classes')

    def _resolve_num_classes(self) -> int:
        """Number of classes from the argument or the dataset meta."""
        classes = self._meta_classes()
        if self.num_classes is not None:
            if classes is not None and len(classes) != self.num_classes:
                raise ValueError(
                    f'SCDMetric: num_classes={self.num_classes} but the '
                    f'dataset meta lists {len(classes)} classes {classes}')
            return self.num_classes
        if classes is None:
            raise ValueError(
                'SCDMetric: the number of classes is unknown; pass '
                'num_classes=... or set dataset_meta with "classes" (the '
                'Runner does this from the dataset\'s metainfo)')
        if len(classes) < 2:
            raise ValueError('SCDMetric: the dataset meta must list "no '
                             f'change" and at least one class, got {classes}')
        return len(classes)

    def _class_names(self, num_classes: int) -> List[str]:
        """Class names for the table and the per-class keys."""
        classes = self._meta_classes()
        if classes is not None and len(classes) == num_classes:
            return [str(c) for c in classes]
        return [f'class{i}' for i in range(num_classes)]

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Add both dates' confusion matrices of every sample of a batch.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs as dicts, each with
                ``pred_sem_seg_a.data`` and ``pred_sem_seg_b.data``
                ``(1, H, W)`` and, unless ``format_only``, ``gt_sem_seg_a``
                and ``gt_sem_seg_b`` of the same shape.
        """
        num_classes = None if self.format_only else \
            self._resolve_num_classes()
        for data_sample in data_samples:
            name = sample_name(data_sample, len(self.results))
            preds = [
                label_data(data_sample, f'pred_sem_seg_{date}', name)
                for date in ('a', 'b')
            ]
            if not self.format_only:
                hist = np.zeros((num_classes, num_classes), dtype=np.int64)
                for date, pred in zip(('a', 'b'), preds):
                    gt = label_data(data_sample, f'gt_sem_seg_{date}', name)
                    hist += scd_confusion_matrix(
                        pred, gt, num_classes, self.ignore_index,
                        f'{name} (date {date.upper()})')
                self.results.append(hist)
            if self.output_dir is not None:
                for date, pred in zip(('a', 'b'), preds):
                    pred_np = as_label_map(
                        pred, f'{name}: the predicted semantic change map')
                    if pred_np.min() < 0 or pred_np.max() > 255:
                        raise ValueError(f'{name}: predicted class indices '
                                         'must fit in uint8 to be saved')
                    write_label_png(pred_np, self.output_dir,
                                    data_sample.get('img_path'), f'_{date}')

    def _score(self, results: List[np.ndarray],
               logger: MMLogger) -> Dict[str, float]:
        """Score the pooled confusion matrix of all samples.

        Args:
            results (list[np.ndarray]): ``(K, K)`` matrix of every sample,
                gathered from all ranks.
            logger (MMLogger): Where the result tables go.

        Returns:
            dict[str, float]: ``OA``, ``mIoU``, ``SeK``, ``Fscd``,
            ``IoU_nc``, ``IoU_c`` and ``IoU.{class}`` in percent.
        """
        num_classes = self._resolve_num_classes()
        hist = np.zeros((num_classes, num_classes), dtype=np.int64)
        for sample_hist in results:
            sample_hist = np.asarray(sample_hist, dtype=np.int64)
            if sample_hist.shape != hist.shape:
                raise ValueError('SCDMetric: a gathered confusion matrix has '
                                 f'shape {sample_hist.shape}, expected '
                                 f'{hist.shape}')
            hist += sample_hist
        if hist.sum() == 0:
            print_log(
                'SCDMetric: no labelled pixel was evaluated (every score is '
                f'set from zero_division={self.zero_division})',
                logger=logger,
                level=logging.WARNING)
        scores = scd_scores(hist, self.zero_division)
        metrics = OrderedDict((key, scores[key] * 100.0) for key in SCD_KEYS)
        names = self._class_names(num_classes)
        for cls_name, iou in zip(names, scores['class_IoU']):
            metrics[f'IoU.{cls_name}'] = float(iou) * 100.0

        summary = PrettyTable()
        for key in SCD_KEYS:
            summary.add_column(key, [f'{metrics[key]:.2f}'])
        per_class = PrettyTable()
        per_class.add_column('Class', names)
        per_class.add_column('IoU',
                             [f'{100.0 * v:.2f}' for v in scores['class_IoU']])
        print_log('semantic change results (both dates, pooled):', logger)
        print_log('\n' + summary.get_string(), logger=logger)
        print_log('per class results:', logger)
        print_log('\n' + per_class.get_string(), logger=logger)
        return metrics
