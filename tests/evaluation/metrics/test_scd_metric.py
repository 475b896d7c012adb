"""Tests of SCDMetric and the semantic change score functions."""
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image

from mmcd_ext.evaluation import SCDMetric, scd_confusion_matrix, scd_scores
from mmcd_ext.registry import METRICS

SECOND_CLASSES = ('unchanged', 'water', 'ground', 'low vegetation', 'tree',
                  'building', 'playground')


def make_sample(pred_a: np.ndarray,
                pred_b: np.ndarray,
                gt_a: Optional[np.ndarray] = None,
                gt_b: Optional[np.ndarray] = None,
                img_path: str = 'im1/x.png') -> dict:
    sample = SegDataSample(metainfo=dict(img_path=img_path))
    sample.set_field(
        PixelData(data=torch.as_tensor(pred_a)[None]), 'pred_sem_seg_a')
    sample.set_field(
        PixelData(data=torch.as_tensor(pred_b)[None]), 'pred_sem_seg_b')
    if gt_a is not None:
        sample.set_field(
            PixelData(data=torch.as_tensor(gt_a)[None]), 'gt_sem_seg_a')
        sample.set_field(
            PixelData(data=torch.as_tensor(gt_b)[None]), 'gt_sem_seg_b')
    return sample.to_dict()


def run_metric(samples: List[dict],
               classes: Optional[Sequence[str]] = None,
               **kwargs: Any) -> dict:
    metric = SCDMetric(**kwargs)
    if classes is not None:
        metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def reference_scores(preds: List[np.ndarray],
                     labels: List[np.ndarray],
                     num_classes: int,
                     ignore_index: int = 255) -> Dict[str, float]:
    """METHODS.md section 3, transcribed directly (fractions)."""
    hist = np.zeros((num_classes, num_classes))
    for pred, label in zip(preds, labels):
        keep = label != ignore_index
        np.add.at(hist, (pred[keep], label[keep]), 1)
    oa = np.trace(hist) / hist.sum()
    two = np.array([[hist[0, 0], hist[0, 1:].sum()],
                    [hist[1:, 0].sum(), hist[1:, 1:].sum()]])
    iou = np.diag(two) / (two.sum(0) + two.sum(1) - np.diag(two))
    h = hist.copy()
    h[0, 0] = 0
    po = np.trace(h) / h.sum()
    pe = np.sum(h.sum(0) * h.sum(1)) / h.sum()**2
    kappa = (po - pe) / (1 - pe)
    sek = kappa * math.exp(iou[1]) / math.e
    correct_changed = sum(hist[i, i] for i in range(1, num_classes))
    p_sc = correct_changed / hist[1:, :].sum()
    r_sc = correct_changed / hist[:, 1:].sum()
    fscd = 2 / (1 / p_sc + 1 / r_sc)
    return dict(
        OA=oa,
        mIoU=iou.mean(),
        SeK=sek,
        Fscd=fscd,
        IoU_nc=iou[0],
        IoU_c=iou[1])


# Hand-worked example, K = 3, hist[pred, label]:
#        l0 l1 l2
#   p0 [  5, 1, 1 ]
#   p1 [  1, 3, 1 ]
#   p2 [  0, 1, 2 ]
HIST = np.array([[5, 1, 1], [1, 3, 1], [0, 1, 2]])


def hand_example_maps() -> Tuple[np.ndarray, ...]:
    """Both dates' maps realising HIST (date B has one ignored pixel)."""
    pairs = [(p, t) for p in range(3) for t in range(3)
             for _ in range(HIST[p, t])]
    assert len(pairs) == 15
    pred = np.array([p for p, _ in pairs] + [2], np.uint8)
    label = np.array([t for _, t in pairs] + [255], np.uint8)
    # date A: first 8 pixels, date B: last 7 + the ignored one.
    return (pred[:8].reshape(2, 4), pred[8:].reshape(2, 4),
            label[:8].reshape(2, 4), label[8:].reshape(2, 4))


def test_registered() -> None:
    assert METRICS.get('SCDMetric') is SCDMetric


def test_confusion_matrix_of_both_dates() -> None:
    pred_a, pred_b, gt_a, gt_b = hand_example_maps()
    hist = scd_confusion_matrix(pred_a, gt_a, 3) + scd_confusion_matrix(
        pred_b, gt_b, 3)
    np.testing.assert_array_equal(hist, HIST)
    metric = SCDMetric(num_classes=3)
    metric.process({}, [make_sample(pred_a, pred_b, gt_a, gt_b)])
    np.testing.assert_array_equal(metric.results[0], HIST)


def test_hand_worked_example() -> None:
    metrics = run_metric([make_sample(*hand_example_maps())],
                         classes=('unchanged', 'one', 'two'))
    # OA = 10/15. Collapse: h00=5, h0c=2, hc0=1, hcc=7:
    # IoU_nc = 5/8, IoU_c = 7/10, mIoU = 0.6625.
    # hist_n0 = [[0,1,1],[1,3,1],[0,1,2]]: total 10, trace 5, rows (2,5,3),
    # cols (1,5,4): p_o = 0.5, p_e = (2+25+12)/100 = 0.39,
    # kappa = 0.11/0.61 = 11/61, SeK = 11/61 * e^0.7 / e.
    # P_sc = (3+2)/(5+3) = 5/8, R_sc = 5/(5+4) = 5/9,
    # Fscd = 2*5/(8+9) = 10/17.
    # Class IoU: 5/(7+6-5) = 5/8, 3/(5+5-3) = 3/7, 2/(3+4-2) = 2/5.
    expected = {
        'OA': 2 / 3,
        'mIoU': 0.6625,
        'SeK': 11 / 61 * math.exp(0.7 - 1),
        'Fscd': 10 / 17,
        'IoU_nc': 5 / 8,
        'IoU_c': 7 / 10,
        'IoU.unchanged': 5 / 8,
        'IoU.one': 3 / 7,
        'IoU.two': 2 / 5,
    }
    assert set(metrics) == set(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(100 * value, abs=1e-9), key


def test_against_direct_transcription_random() -> None:
    rng = np.random.default_rng(2)
    samples, preds, labels = [], [], []
    for i in range(4):
        maps = []
        for _ in range(2):  # dates A and B
            label = rng.integers(0, 7, (32, 32)).astype(np.uint8)
            label[rng.random((32, 32)) < 0.5] = 0  # plenty of no change
            label[rng.random((32, 32)) < 0.05] = 255
            pred = np.where(
                rng.random((32, 32)) < 0.6, label,
                rng.integers(0, 7, (32, 32))).astype(np.uint8)
            pred[pred == 255] = 0
            maps.append((pred, label))
            preds.append(pred)
            labels.append(label)
        (pa, la), (pb, lb) = maps
        samples.append(make_sample(pa, pb, la, lb, f'im1/{i}.png'))
    metrics = run_metric(samples, classes=SECOND_CLASSES)
    ref = reference_scores(preds, labels, 7)
    for key, value in ref.items():
        assert metrics[key] == pytest.approx(100 * value, abs=1e-9), key
    # Pooled over samples: the per-sample matrices sum to the dataset one.
    metric = SCDMetric(num_classes=7)
    metric.dataset_meta = dict(classes=SECOND_CLASSES)
    for sample in samples:
        metric.process({}, [sample])
    assert metric.evaluate(4) == pytest.approx(metrics)
    assert metrics['IoU.low vegetation'] > 0


def test_sek_uses_kappa_without_unchanged_hits() -> None:
    # SeK must drop hist[0, 0]: adding correctly predicted no-change pixels
    # changes OA and IoU_nc but leaves kappa_n0, IoU_c and hence SeK alone.
    base = scd_scores(HIST)
    more = HIST.copy()
    more[0, 0] += 1000
    bigger = scd_scores(more)
    assert bigger['SeK'] == pytest.approx(base['SeK'])
    assert bigger['Kappa_n0'] == pytest.approx(11 / 61)
    assert bigger['OA'] > base['OA']


def test_nothing_predicted_changed_is_finite() -> None:
    label = np.array([[0, 1], [2, 0]], np.uint8)
    pred = np.zeros_like(label)
    metrics = run_metric([make_sample(pred, pred, label, label)],
                         classes=('nc', 'a', 'b'))
    assert all(math.isfinite(v) for v in metrics.values())
    # hist = [[4, 2, 2], 0, 0]: OA = 4/8, IoU_nc = 4/8, IoU_c = 0,
    # kappa_n0 = 0 (p_o = p_e = 0), P_sc = 0/0 -> 0, Fscd = 0.
    assert metrics['OA'] == pytest.approx(50)
    assert metrics['mIoU'] == pytest.approx(25)
    assert metrics['SeK'] == 0
    assert metrics['Fscd'] == 0
    scores = scd_scores(
        np.array([[4, 2, 2], [0, 0, 0], [0, 0, 0]]),
        zero_division=float('nan'))
    assert math.isnan(scores['P_sc']) and math.isnan(scores['Fscd'])


def test_nothing_changed_anywhere_is_finite() -> None:
    zeros = np.zeros((4, 4), np.uint8)
    metrics = run_metric([make_sample(zeros, zeros, zeros, zeros)],
                         num_classes=3)
    assert all(math.isfinite(v) for v in metrics.values())
    # IoU_nc = 1, IoU_c = 0/0 -> 0, kappa of an all-zero matrix -> 0.
    assert metrics['OA'] == 100
    assert metrics['mIoU'] == pytest.approx(50)
    assert metrics['SeK'] == 0 and metrics['Fscd'] == 0


def test_num_classes_from_meta_or_argument() -> None:
    pred_a, pred_b, gt_a, gt_b = hand_example_maps()
    sample = make_sample(pred_a, pred_b, gt_a, gt_b)
    with pytest.raises(ValueError, match='num_classes'):
        run_metric([sample])
    with pytest.raises(ValueError, match='num_classes=4.*3 classes'):
        run_metric([sample], classes=('a', 'b', 'c'), num_classes=4)
    by_arg = run_metric([sample], num_classes=3)
    assert by_arg['IoU.class1'] == pytest.approx(100 * 3 / 7)
    with pytest.raises(ValueError, match='int >= 2'):
        SCDMetric(num_classes=1)


def test_bad_input_names_the_file() -> None:
    ok = np.zeros((4, 4), np.uint8)
    bad = ok.copy()
    bad[0, 0] = 3
    with pytest.raises(ValueError, match=r'im1/b.png \(date B\).*\[3\]'):
        run_metric([make_sample(ok, bad, ok, ok, 'im1/b.png')], num_classes=3)
    with pytest.raises(
            ValueError, match=r'im1/b.png \(date A\).*label.*\[3\]'):
        run_metric([make_sample(ok, ok, bad, ok, 'im1/b.png')], num_classes=3)
    with pytest.raises(ValueError, match='im1/b.png.*shape'):
        run_metric(
            [make_sample(ok, ok, np.zeros((4, 5), np.uint8), ok, 'im1/b.png')],
            num_classes=3)
    with pytest.raises(KeyError, match='im1/b.png.*gt_sem_seg_a'):
        run_metric([make_sample(ok, ok, None, None, 'im1/b.png')],
                   num_classes=3)


def test_output_dir_and_format_only(tmp_path: Path) -> None:
    pred_a, pred_b, gt_a, gt_b = hand_example_maps()
    metric = SCDMetric(output_dir=str(tmp_path), format_only=True)
    metric.process(
        {}, [make_sample(pred_a, pred_b, None, None, '/d/im1/00042.png')])
    assert metric.evaluate(1) == {}
    np.testing.assert_array_equal(
        np.array(Image.open(tmp_path / '00042_a.png')), pred_a)
    np.testing.assert_array_equal(
        np.array(Image.open(tmp_path / '00042_b.png')), pred_b)
