"""Semantic consistency loss of semantic change detection (LSAFNet eq. 17)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcd_ext.registry import MODELS


def semantic_consistency(logits_a: Tensor,
                         logits_b: Tensor,
                         change: Tensor,
                         ignore_index: int = 255,
                         use_softmax: bool = True,
                         eps: float = 1e-8) -> Tensor:
    """Per-pixel semantic consistency loss, averaged (LSAFNet eq. 17).

    With ``x_1``, ``x_2`` the class vectors of a pixel in X_1 and X_2
    (softmax probabilities by default) and ``c = cos(x_1, x_2)``::

        L_SC = 1 - c          on unchanged pixels (y_c = 0)
        L_SC = max(0, c)      on changed pixels   (y_c = 1)

    i.e. a cosine-embedding loss with margin 0 and target +1 for unchanged,
    -1 for changed pixels (Ding et al.'s loss, ref. [3] of the paper, and the
    authors' code). Eq. 17 as printed attaches the two cases to ``y_c`` the
    other way round; METHODS.md section 3 explains why this reading is
    built. Pixels labelled ``ignore_index`` are left out; the mean is over
    the others (0 when there are none).

    Args:
        logits_a (Tensor): X_1, (B, K, H, W).
        logits_b (Tensor): X_2, (B, K, H, W).
        change (Tensor): Change label y_c, (B, H, W), values 0, 1 or
            ``ignore_index``.
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        use_softmax (bool): Compare softmax probabilities (True) or the raw
            logits. Defaults to True.
        eps (float): Lower bound of each vector's norm. Defaults to 1e-8.

    Returns:
        Tensor: Scalar loss.
    """
    if logits_a.dim() != 4 or logits_a.shape != logits_b.shape:
        raise ValueError('semantic_consistency: X_1 and X_2 must be '
                         '(B, K, H, W) of the same shape, got '
                         f'{tuple(logits_a.shape)} and '
                         f'{tuple(logits_b.shape)}')
    if change.shape != logits_a.shape[:1] + logits_a.shape[2:]:
        raise ValueError('semantic_consistency: the change label must be '
                         f'(B, H, W) = {tuple(logits_a.shape[:1])} + '
                         f'{tuple(logits_a.shape[2:])}, got '
                         f'{tuple(change.shape)}')
    valid = change != ignore_index
    bad = valid & (change != 0) & (change != 1)
    if bad.any():
        raise ValueError('semantic_consistency: the change label must hold '
                         f'0, 1 or {ignore_index}, got values '
                         f'{torch.unique(change[bad]).tolist()}')
    if use_softmax:
        x_a, x_b = logits_a.softmax(dim=1), logits_b.softmax(dim=1)
    else:
        x_a, x_b = logits_a, logits_b
    cos = F.cosine_similarity(x_a, x_b, dim=1, eps=eps)
    loss = torch.where(change == 1, cos.clamp(min=0.0), 1.0 - cos)
    num = valid.sum()
    if num == 0:
        return loss.sum() * 0.0
    return (loss * valid).sum() / num


@MODELS.register_module()
class SemanticConsistencyLoss(nn.Module):
    """Semantic consistency loss L_SC (LSAFNet eq. 17), weighted.

    See :func:`semantic_consistency`. The weight of eq. 18 is
    ``loss_weight`` (1.0 in the paper).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        use_softmax (bool): Compare softmax probabilities. Defaults to True.
        eps (float): Lower bound of the vector norms. Defaults to 1e-8.
        loss_name (str): Key of the loss in the loss dict. Defaults to
            'loss_sc'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 use_softmax: bool = True,
                 eps: float = 1e-8,
                 loss_name: str = 'loss_sc') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.use_softmax = use_softmax
        self.eps = eps
        self._loss_name = loss_name

    def forward(self,
                logits_a: Tensor,
                logits_b: Tensor,
                change: Tensor,
                ignore_index: int = 255) -> Tensor:
        """Weighted loss.

        Args:
            logits_a (Tensor): X_1, (B, K, H, W).
            logits_b (Tensor): X_2, (B, K, H, W).
            change (Tensor): Change label, (B, H, W).
            ignore_index (int): Label of ignored pixels. Defaults to 255.

        Returns:
            Tensor: Scalar loss times ``loss_weight``.
        """
        return self.loss_weight * semantic_consistency(
            logits_a, logits_b, change, ignore_index, self.use_softmax,
            self.eps)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
