"""Tests of ChangeDetectionMetric and the binary score functions."""
import math
from pathlib import Path
from typing import Any, List, Optional, Tuple

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample
from PIL import Image

from mmcd_ext.evaluation import (ChangeDetectionMetric, binary_change_scores,
                                 binary_confusion)
from mmcd_ext.registry import METRICS


def make_sample(pred: np.ndarray,
                gt: Optional[np.ndarray] = None,
                img_path: str = 'A/img.png') -> dict:
    """A model output as the Evaluator hands it to metrics (a dict)."""
    sample = SegDataSample(metainfo=dict(img_path=img_path))
    sample.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None])
    return sample.to_dict()


def maps_from_counts(tp: int,
                     fp: int,
                     fn: int,
                     tn: int,
                     width: int = 4) -> Tuple[np.ndarray, np.ndarray]:
    """pred / gt maps holding exactly the given counts, shape (H, width)."""
    pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn, np.uint8)
    gt = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn, np.uint8)
    return pred.reshape(-1, width), gt.reshape(-1, width)


def run_metric(samples: List[dict], **kwargs: Any) -> dict:
    metric = ChangeDetectionMetric(**kwargs)
    metric.dataset_meta = dict(classes=('unchanged', 'changed'))
    metric.process({}, samples)
    return metric.evaluate(len(samples))


# Hand-worked 4x4 example. Pixel (2, 3) is ignored (its prediction, 1,
# would otherwise be a false positive).
GT = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 255], [0, 0, 0, 0]],
              dtype=np.uint8)
PRED = np.array([[1, 0, 0, 0], [1, 1, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]],
                dtype=np.uint8)
# TP: (0,0) (1,0) (1,1) = 3; FN: (0,1) = 1; FP: (1,2) (3,0) = 2;
# TN: 15 valid pixels - 6 = 9.


def test_registered() -> None:
    assert METRICS.get('ChangeDetectionMetric') is ChangeDetectionMetric


def test_hand_worked_counts_and_scores() -> None:
    assert binary_confusion(PRED, GT).tolist() == [3, 2, 1, 9]
    metrics = run_metric([make_sample(PRED, GT)])
    # P = 3/5, R = 3/4, F1 = 2*3/(2*3+2+1) = 2/3, IoU = 3/6, OA = 12/15,
    # p_e = (5*4 + 10*11)/15^2 = 130/225,
    # kappa = (180 - 130) / (225 - 130) = 10/19.
    expected = dict(
        Precision=3 / 5,
        Recall=3 / 4,
        F1=2 / 3,
        IoU=1 / 2,
        OA=4 / 5,
        Kappa=10 / 19)
    assert set(metrics) == set(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(100 * value, abs=1e-9), key


def test_pooled_not_per_image_average() -> None:
    # image 1: TP=1 FP=3 FN=0 TN=12 -> F1 = 2/5
    # image 2: TP=6 FP=0 FN=2 TN=8  -> F1 = 12/14
    # pooled:  TP=7 FP=3 FN=2 TN=20 -> F1 = 14/19, P = 7/10, R = 7/9,
    #          IoU = 7/12, OA = 27/32,
    #          kappa = (27*32 - (10*9 + 22*23)) / (32^2 - 596) = 268/428
    first = maps_from_counts(1, 3, 0, 12)
    second = maps_from_counts(6, 0, 2, 8)
    metric = ChangeDetectionMetric()
    metric.process({}, [make_sample(*first, img_path='A/1.png')])
    metric.process({}, [make_sample(*second, img_path='A/2.png')])
    # Only four integers per sample travel between ranks.
    assert [r.tolist() for r in metric.results] == [[1, 3, 0, 12],
                                                    [6, 0, 2, 8]]
    metrics = metric.evaluate(2)
    expected = dict(
        Precision=7 / 10,
        Recall=7 / 9,
        F1=14 / 19,
        IoU=7 / 12,
        OA=27 / 32,
        Kappa=268 / 428)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(100 * value, abs=1e-9), key
    per_image_mean = 100 * (2 / 5 + 12 / 14) / 2
    assert abs(metrics['F1'] - per_image_mean) > 5


def test_ignore_index_equals_dropping_pixels() -> None:
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 2, (32, 32), dtype=np.uint8)
    gt = rng.integers(0, 2, (32, 32), dtype=np.uint8)
    gt_ignored = gt.copy()
    gt_ignored[:, 16:] = 255
    with_ignore = run_metric([make_sample(pred, gt_ignored)])
    cropped = run_metric([make_sample(pred[:, :16], gt[:, :16])])
    assert with_ignore == pytest.approx(cropped)
    # A different ignore value is honoured too.
    gt_ignored[:, 16:] = 7
    custom = run_metric([make_sample(pred, gt_ignored)], ignore_index=7)
    assert custom == pytest.approx(cropped)


def test_nothing_predicted_changed_is_finite() -> None:
    pred, gt = maps_from_counts(0, 0, 5, 11)
    metrics = run_metric([make_sample(pred, gt)])
    assert all(math.isfinite(v) for v in metrics.values())
    # No predicted change: precision takes zero_division (0); recall,
    # F1 and IoU are 0 by their formulas; OA = 11/16; p_e = TN/N = OA so
    # kappa = 0.
    assert metrics['Precision'] == 0
    assert metrics['Recall'] == 0
    assert metrics['F1'] == 0
    assert metrics['IoU'] == 0
    assert metrics['OA'] == pytest.approx(100 * 11 / 16)
    assert metrics['Kappa'] == pytest.approx(0, abs=1e-12)


def test_nothing_labelled_changed_is_finite() -> None:
    pred, gt = maps_from_counts(0, 4, 0, 12)
    metrics = run_metric([make_sample(pred, gt)])
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics['Recall'] == 0  # 0/0 -> zero_division
    assert metrics['Precision'] == 0  # 0/4
    assert metrics['F1'] == 0  # 0/4
    assert metrics['OA'] == pytest.approx(100 * 12 / 16)


def test_all_negative_and_custom_zero_division() -> None:
    pred, gt = maps_from_counts(0, 0, 0, 16)
    metrics = run_metric([make_sample(pred, gt)])
    assert metrics['OA'] == 100
    for key in ('Precision', 'Recall', 'F1', 'IoU', 'Kappa'):
        assert metrics[key] == 0, key
    nan_metrics = run_metric([make_sample(pred, gt)],
                             zero_division=float('nan'))
    assert math.isnan(nan_metrics['Precision'])
    assert math.isnan(nan_metrics['F1'])
    # F1 stays defined from the counts when only precision is undefined.
    scores = binary_change_scores(0, 0, 3, 5, zero_division=float('nan'))
    assert math.isnan(scores['Precision'])
    assert scores['F1'] == 0


def test_no_pixels_at_all() -> None:
    scores = binary_change_scores(0, 0, 0, 0)
    assert scores == dict(
        Precision=0.0, Recall=0.0, F1=0.0, IoU=0.0, OA=0.0, Kappa=0.0)
    with pytest.raises(ValueError, match='non-negative'):
        binary_change_scores(-1, 0, 0, 0)


def test_agrees_with_mmseg_iou_metric_and_kappa_formula() -> None:
    rng = np.random.default_rng(1)
    samples = []
    areas = []
    for i in range(5):
        gt = (rng.random((32, 48)) < 0.2 + 0.1 * i).astype(np.uint8)
        gt[rng.random((32, 48)) < 0.05] = 255
        pred = (rng.random((32, 48)) < 0.3).astype(np.uint8)
        samples.append(make_sample(pred, gt, img_path=f'A/{i}.png'))
        areas.append(
            IoUMetric.intersect_and_union(
                torch.from_numpy(pred), torch.from_numpy(gt), 2, 255))
    metrics = run_metric(samples)

    totals = [sum(column) for column in zip(*areas)]
    ref = IoUMetric.total_area_to_metrics(*totals, ['mIoU', 'mFscore'])
    assert metrics['IoU'] == pytest.approx(100 * ref['IoU'][1], abs=1e-4)
    assert metrics['Precision'] == pytest.approx(
        100 * ref['Precision'][1], abs=1e-4)
    assert metrics['Recall'] == pytest.approx(100 * ref['Recall'][1], abs=1e-4)
    assert metrics['F1'] == pytest.approx(100 * ref['Fscore'][1], abs=1e-4)
    assert metrics['OA'] == pytest.approx(100 * ref['aAcc'], abs=1e-4)

    # Cohen's kappa from the 2x2 matrix with the textbook formula.
    cm = np.zeros((2, 2))
    for sample in samples:
        pred = sample['pred_sem_seg']['data'].numpy().ravel()
        gt = sample['gt_sem_seg']['data'].numpy().ravel()
        keep = gt != 255
        np.add.at(cm, (pred[keep], gt[keep]), 1)
    n = cm.sum()
    po = np.trace(cm) / n
    pe = (cm.sum(0) * cm.sum(1)).sum() / n**2
    assert metrics['Kappa'] == pytest.approx(100 * (po - pe) / (1 - pe))


def test_bad_input_names_the_file() -> None:
    pred = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match='A/bad.png.*shape'):
        run_metric(
            [make_sample(pred, np.zeros((4, 5), np.uint8), 'A/bad.png')])
    with pytest.raises(ValueError, match=r'A/bad.png.*found \[3\]'):
        run_metric(
            [make_sample(pred, np.full((4, 4), 3, np.uint8), 'A/bad.png')])
    with pytest.raises(ValueError, match=r'A/bad.png.*found \[2\]'):
        run_metric([make_sample(pred + 2, pred, 'A/bad.png')])
    with pytest.raises(KeyError, match='A/bad.png.*gt_sem_seg'):
        run_metric([make_sample(pred, None, 'A/bad.png')])
    with pytest.raises(ValueError, match='output_dir'):
        ChangeDetectionMetric(format_only=True)


def test_output_dir_and_format_only(tmp_path: Path) -> None:
    pred, gt = PRED, GT
    out = tmp_path / 'preds'
    metrics = run_metric([make_sample(pred, gt, '/data/A/test_7.png')],
                         output_dir=str(out))
    assert metrics['F1'] == pytest.approx(100 * 2 / 3)
    written = np.array(Image.open(out / 'test_7.png'))
    np.testing.assert_array_equal(written, pred * 255)

    out2 = tmp_path / 'only'
    metric = ChangeDetectionMetric(output_dir=str(out2), format_only=True)
    metric.process({}, [make_sample(pred, None, '/data/A/test_8.png')])
    assert metric.evaluate(1) == {}
    np.testing.assert_array_equal(
        np.array(Image.open(out2 / 'test_8.png')), pred * 255)


def test_prefix_and_table_logged(tmp_path: Path) -> None:
    log_file = tmp_path / 'metric.log'
    MMLogger.get_instance(f'cd_metric_{tmp_path.name}', log_file=str(log_file))
    metrics = run_metric([make_sample(PRED, GT)], prefix='cd')
    assert metrics['cd/F1'] == pytest.approx(100 * 2 / 3)
    logged = log_file.read_text()
    assert '| Kappa |' in logged and '66.67' in logged
    assert 'TP=3 FP=2 FN=1 TN=9' in logged


def test_built_from_config_through_mmengine_evaluator() -> None:
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('mmcd_ext'):
        evaluator = Evaluator([
            dict(type='ChangeDetectionMetric'),
            dict(type='IoUMetric', iou_metrics=['mIoU'])  # mmseg's, by scope
        ])
    evaluator.dataset_meta = dict(classes=('unchanged', 'changed'))
    sample = SegDataSample(metainfo=dict(img_path='A/x.png'))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(PRED)[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(GT)[None])
    evaluator.process([sample])  # the Evaluator converts samples to dicts
    metrics = evaluator.evaluate(1)
    assert metrics['F1'] == pytest.approx(100 * 2 / 3)
    assert metrics['aAcc'] == pytest.approx(80.0)  # IoUMetric's OA


def test_output_dir_writes_are_atomic(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / 'preds'
    out.mkdir()
    (out / 'test_7.png').write_bytes(b'previous prediction')
    real_save = Image.Image.save

    def half_save(self, fp, *args, **kwargs):  # part of the file, then stop
        with open(fp, 'wb') as f:
            f.write(b'\x89PNG')
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, 'save', half_save)
    metric = ChangeDetectionMetric(output_dir=str(out), format_only=True)
    for name in ('test_7', 'test_9'):
        with pytest.raises(KeyboardInterrupt):
            metric.process({}, [make_sample(PRED, None, f'/A/{name}.png')])
    # the earlier file is untouched, no partial file under any name
    assert sorted(p.name for p in out.iterdir()) == ['test_7.png']
    assert (out / 'test_7.png').read_bytes() == b'previous prediction'
    monkeypatch.setattr(Image.Image, 'save', real_save)
    metric.process({}, [make_sample(PRED, None, '/A/test_7.png')])
    np.testing.assert_array_equal(
        np.array(Image.open(out / 'test_7.png')), PRED * 255)
