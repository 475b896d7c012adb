"""Change-detection scores as plain functions of confusion counts.

The metric classes in :mod:`mmcd_ext.evaluation.metrics` only accumulate
counts; every formula lives here, once, so tools and tests can call it on
counts from anywhere. The definitions are written out in ``docs/metrics.md``.

All scores are returned as fractions in ``[0, 1]`` (kappa and SeK may be
negative); the metric classes multiply by 100. Any ratio whose denominator is
zero takes the value ``zero_division`` instead of raising or warning.
"""
import math
from typing import Dict, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def _to_numpy(x: ArrayLike, what: str) -> np.ndarray:
    """Return ``x`` as a numpy array (a CPU copy for tensors)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(f'{what} must be a numpy array or a torch tensor, '
                    f'got {type(x).__name__}')


def as_label_map(x: ArrayLike, what: str = 'label map') -> np.ndarray:
    """Turn a ``(H, W)`` or ``(1, H, W)`` label map into a numpy ``(H, W)``.

    Args:
        x (np.ndarray | torch.Tensor): The map.
        what (str): Description used in error messages.
            Defaults to 'label map'.

    Returns:
        np.ndarray: The map, shape ``(H, W)``.
    """
    x = _to_numpy(x, what)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f'{what} must have shape (H, W) or (1, H, W), got '
                         f'{tuple(x.shape)}')
    return x


def _ratio(num: float, den: float, zero_division: float) -> float:
    """``num / den``, or ``zero_division`` when ``den == 0``."""
    return float(num) / float(den) if den != 0 else float(zero_division)


def _unexpected_values(x: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``x`` that are not in ``allowed``.

    A linear pass over ``x`` per allowed value; only the offending pixels
    are sorted, so valid maps are checked quickly.
    """
    ok = np.zeros(x.shape, dtype=bool)
    for value in np.asarray(allowed).ravel():
        ok |= x == value
    return np.unique(x[~ok])


def binary_confusion(pred: ArrayLike,
                     gt: ArrayLike,
                     ignore_index: int = 255,
                     name: str = 'sample') -> np.ndarray:
    """Count TP, FP, FN, TN of the change class in one binary change map.

    Args:
        pred (np.ndarray | torch.Tensor): Predicted change map, shape
            ``(H, W)`` or ``(1, H, W)``, values 0 (unchanged) / 1 (changed).
        gt (np.ndarray | torch.Tensor): Label of the same shape, values
            0 / 1 / ``ignore_index``.
        ignore_index (int): Label value excluded from the counts.
            Defaults to 255.
        name (str): Name of the sample (e.g. its image path) used in error
            messages. Defaults to 'sample'.

    Returns:
        np.ndarray: ``int64`` array ``[TP, FP, FN, TN]``, shape ``(4,)``.

    Raises:
        ValueError: If the shapes differ, or a value is neither 0 nor 1
            (nor ``ignore_index`` in ``gt``).
    """
    pred = as_label_map(pred, f'{name}: the predicted change map')
    gt = as_label_map(gt, f'{name}: the change label')
    if pred.shape != gt.shape:
        raise ValueError(f'{name}: the predicted change map has shape '
                         f'{pred.shape} but the label has shape {gt.shape}')
    bad = _unexpected_values(pred, np.array([0, 1]))
    if bad.size:
        raise ValueError(f'{name}: the predicted change map must hold only '
                         f'0 and 1, found {bad.tolist()}')
    bad = _unexpected_values(gt, np.array([0, 1, ignore_index]))
    if bad.size:
        raise ValueError(f'{name}: the change label must hold only 0, 1 and '
                         f'the ignore index {ignore_index}, found '
                         f'{bad.tolist()}')
    valid = gt != ignore_index
    p = pred[valid].astype(bool)
    g = gt[valid].astype(bool)
    tp = np.count_nonzero(p & g)
    fp = np.count_nonzero(p & ~g)
    fn = np.count_nonzero(~p & g)
    tn = p.size - tp - fp - fn
    return np.array([tp, fp, fn, tn], dtype=np.int64)


def binary_change_scores(tp: int,
                         fp: int,
                         fn: int,
                         tn: int,
                         zero_division: float = 0.0) -> Dict[str, float]:
    """Scores of the change class from dataset-wide confusion counts.

    With ``N = TP + FP + FN + TN``::

        Precision = TP / (TP + FP)
        Recall    = TP / (TP + FN)
        F1        = 2 TP / (2 TP + FP + FN)   (harmonic mean of P and R)
        IoU       = TP / (TP + FP + FN)
        OA        = (TP + TN) / N
        p_e       = ((TP + FP)(TP + FN) + (FN + TN)(FP + TN)) / N^2
        Kappa     = (OA - p_e) / (1 - p_e)

    F1 is computed from the counts, so it stays defined when precision or
    recall is not (no predicted or no labelled change): it is 0 as soon as
    there is any predicted or labelled change and none is hit.

    Args:
        tp (int): Changed pixels predicted changed.
        fp (int): Unchanged pixels predicted changed.
        fn (int): Changed pixels predicted unchanged.
        tn (int): Unchanged pixels predicted unchanged.
        zero_division (float): Value of any ratio whose denominator is zero
            (e.g. precision when nothing is predicted changed). Defaults to
            0.0.

    Returns:
        dict[str, float]: ``Precision``, ``Recall``, ``F1``, ``IoU``, ``OA``,
        ``Kappa`` as fractions.
    """
    tp, fp, fn, tn = (int(v) for v in (tp, fp, fn, tn))
    if min(tp, fp, fn, tn) < 0:
        raise ValueError('confusion counts must be non-negative, got '
                         f'TP={tp} FP={fp} FN={fn} TN={tn}')
    n = tp + fp + fn + tn
    oa = _ratio(tp + tn, n, zero_division)
    # Integer products keep p_e exact until the final division.
    agree_by_chance = (tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)
    if n == 0 or agree_by_chance == n * n:
        kappa = float(zero_division)
    else:
        pe = agree_by_chance / (n * n)
        kappa = (oa - pe) / (1.0 - pe)
    return dict(
        Precision=_ratio(tp, tp + fp, zero_division),
        Recall=_ratio(tp, tp + fn, zero_division),
        F1=_ratio(2 * tp, 2 * tp + fp + fn, zero_division),
        IoU=_ratio(tp, tp + fp + fn, zero_division),
        OA=oa,
        Kappa=kappa)


def scd_confusion_matrix(pred: ArrayLike,
                         gt: ArrayLike,
                         num_classes: int,
                         ignore_index: int = 255,
                         name: str = 'sample') -> np.ndarray:
    """Confusion matrix ``hist[pred, label]`` of one semantic change map.

    Args:
        pred (np.ndarray | torch.Tensor): Predicted semantic change map,
            shape ``(H, W)`` or ``(1, H, W)``, values in
            ``[0, num_classes)`` with 0 = no change.
        gt (np.ndarray | torch.Tensor): Label of the same shape, values in
            ``[0, num_classes)`` or ``ignore_index``.
        num_classes (int): Number of classes including "no change".
        ignore_index (int): Label value excluded from the matrix.
            Defaults to 255.
        name (str): Name of the map (e.g. image path and date) used in error
            messages. Defaults to 'sample'.

    Returns:
        np.ndarray: ``int64`` matrix of shape ``(num_classes, num_classes)``;
        rows are predicted classes, columns labelled classes.

    Raises:
        ValueError: If the shapes differ or a value is out of range.
    """
    pred = as_label_map(pred, f'{name}: the predicted semantic change map')
    gt = as_label_map(gt, f'{name}: the semantic change label')
    if pred.shape != gt.shape:
        raise ValueError(f'{name}: the predicted semantic change map has '
                         f'shape {pred.shape} but the label has shape '
                         f'{gt.shape}')
    classes = np.arange(num_classes)
    bad = _unexpected_values(pred, classes)
    if bad.size:
        raise ValueError(f'{name}: predicted class indices must lie in '
                         f'[0, {num_classes}), found {bad.tolist()}')
    bad = _unexpected_values(gt, np.append(classes, ignore_index))
    if bad.size:
        raise ValueError(f'{name}: label values must lie in '
                         f'[0, {num_classes}) or be the ignore index '
                         f'{ignore_index}, found {bad.tolist()}')
    valid = gt != ignore_index
    flat = pred[valid].astype(np.int64) * num_classes + gt[valid].astype(
        np.int64)
    hist = np.bincount(flat, minlength=num_classes * num_classes)
    return hist.reshape(num_classes, num_classes).astype(np.int64)


def kappa_from_hist(hist: np.ndarray, zero_division: float = 0.0) -> float:
    """Cohen's kappa of a square confusion matrix.

    ``p_o = trace / total``, ``p_e = sum_k row_k col_k / total^2``,
    ``kappa = (p_o - p_e) / (1 - p_e)``; ``zero_division`` when the matrix
    is empty or ``p_e = 1``.

    Args:
        hist (np.ndarray): Confusion matrix ``(K, K)`` of counts.
        zero_division (float): Value when kappa is undefined.
            Defaults to 0.0.

    Returns:
        float: Kappa (at most 1; may be negative).
    """
    hist = np.asarray(hist, dtype=np.float64)
    total = hist.sum()
    if total == 0:
        return float(zero_division)
    po = np.trace(hist) / total
    pe = float(hist.sum(axis=1) @ hist.sum(axis=0)) / (total * total)
    if pe == 1.0:
        return float(zero_division)
    return float((po - pe) / (1.0 - pe))


def scd_scores(
        hist: np.ndarray,
        zero_division: float = 0.0) -> Dict[str, Union[float, np.ndarray]]:
    """Semantic change detection scores from ``hist[pred, label]``.

    Class 0 is "no change". Following METHODS.md section 3 (the SECOND
    benchmark's definitions)::

        OA     = trace(hist) / sum(hist)
        2x2 collapse: nc = class 0, c = classes >= 1
        IoU_nc = h[0,0] / (h[0,0] + h[0,c] + h[c,0])
        IoU_c  = h[c,c] / (h[c,c] + h[0,c] + h[c,0])
        mIoU   = (IoU_nc + IoU_c) / 2
        SeK    = kappa(hist with hist[0,0] := 0) * exp(IoU_c) / e
        P_sc   = sum_{i>=1} hist[i,i] / #pixels predicted changed
        R_sc   = sum_{i>=1} hist[i,i] / #pixels labelled changed
        Fscd   = 2 P_sc R_sc / (P_sc + R_sc)

    Args:
        hist (np.ndarray): Confusion matrix ``(K, K)``, rows predicted,
            columns labelled classes.
        zero_division (float): Value of any ratio whose denominator is zero
            (e.g. ``P_sc`` when nothing is predicted changed; Fscd is then
            the harmonic mean with this value, and 0 if ``P_sc + R_sc = 0``).
            Defaults to 0.0.

    Returns:
        dict: ``OA``, ``mIoU``, ``SeK``, ``Fscd``, ``IoU_nc``, ``IoU_c``,
        ``Kappa_n0``, ``P_sc``, ``R_sc`` (floats, fractions) and
        ``class_IoU`` (``np.ndarray (K,)``, IoU of every class in the full
        matrix, ``zero_division`` where a class is absent from both
        prediction and label).
    """
    hist = np.asarray(hist, dtype=np.int64)
    if hist.ndim != 2 or hist.shape[0] != hist.shape[1] or hist.shape[0] < 2:
        raise ValueError('hist must be a square (K, K) matrix with K >= 2, '
                         f'got shape {hist.shape}')
    total = int(hist.sum())
    oa = _ratio(np.trace(hist), total, zero_division)

    nc_nc = int(hist[0, 0])
    nc_c = int(hist[0, 1:].sum())  # predicted no change, labelled change
    c_nc = int(hist[1:, 0].sum())  # predicted change, labelled no change
    c_c = int(hist[1:, 1:].sum())
    iou_nc = _ratio(nc_nc, nc_nc + nc_c + c_nc, zero_division)
    iou_c = _ratio(c_c, c_c + nc_c + c_nc, zero_division)

    hist_n0 = hist.copy()
    hist_n0[0, 0] = 0
    kappa_n0 = kappa_from_hist(hist_n0, zero_division)
    sek = kappa_n0 * math.exp(iou_c) / math.e

    hits = int(np.trace(hist[1:, 1:]))
    p_sc = _ratio(hits, c_nc + c_c, zero_division)
    r_sc = _ratio(hits, nc_c + c_c, zero_division)
    if math.isnan(p_sc) or math.isnan(r_sc):
        fscd = math.nan
    else:
        fscd = _ratio(2 * p_sc * r_sc, p_sc + r_sc, 0.0)

    inter = np.diag(hist).astype(np.float64)
    union = (hist.sum(axis=0) + hist.sum(axis=1)).astype(np.float64) - inter
    class_iou = np.full(hist.shape[0], float(zero_division))
    present = union > 0
    class_iou[present] = inter[present] / union[present]

    return dict(
        OA=oa,
        mIoU=(iou_nc + iou_c) / 2,
        SeK=sek,
        Fscd=fscd,
        IoU_nc=iou_nc,
        IoU_c=iou_c,
        Kappa_n0=kappa_n0,
        P_sc=p_sc,
        R_sc=r_sc,
        class_IoU=class_iou)
