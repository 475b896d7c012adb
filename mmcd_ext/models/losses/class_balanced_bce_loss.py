"""Class-balanced binary cross entropy (LSAFNet's public code)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcd_ext.registry import MODELS


def class_balanced_bce(logits: Tensor,
                       label: Tensor,
                       weight_pos: float = 0.25,
                       weight_neg: float = 0.75,
                       ignore_index: int = 255,
                       eps: float = 1e-12) -> Tensor:
    """Binary CE averaged separately over changed and unchanged pixels.

    With ``l`` the per-pixel binary CE of the logit, ``P`` the changed and
    ``N`` the unchanged pixels (``ignore_index`` pixels in neither)::

        L = w_pos * sum_P(l) / (|P| + eps) + w_neg * sum_N(l) / (|N| + eps)

    Args:
        logits (Tensor): Change logits, (B, 1, H, W) or (B, H, W).
        label (Tensor): (B, H, W), 0 = unchanged, 1 = changed or
            ``ignore_index``.
        weight_pos (float): Weight of the changed pixels' mean.
            Defaults to 0.25.
        weight_neg (float): Weight of the unchanged pixels' mean.
            Defaults to 0.75.
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        eps (float): Added to both pixel counts. Defaults to 1e-12.

    Returns:
        Tensor: Scalar loss.
    """
    if logits.dim() == 4:
        if logits.shape[1] != 1:
            raise ValueError('class_balanced_bce: expects one change logit, '
                             f'got {logits.shape[1]} channels')
        logits = logits[:, 0]
    if logits.shape != label.shape:
        raise ValueError('class_balanced_bce: logits '
                         f'{tuple(logits.shape)} and label '
                         f'{tuple(label.shape)} differ in shape')
    valid = label != ignore_index
    bad = valid & (label != 0) & (label != 1)
    if bad.any():
        raise ValueError('class_balanced_bce: the label must hold 0, 1 or '
                         f'{ignore_index}, got '
                         f'{torch.unique(label[bad]).tolist()}')
    pos = (label == 1).to(logits.dtype)
    neg = ((label == 0) & valid).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, pos, reduction='none')
    return (weight_pos * (loss * pos).sum() / (pos.sum() + eps) + weight_neg *
            (loss * neg).sum() / (neg.sum() + eps))


@MODELS.register_module()
class ClassBalancedBCELoss(nn.Module):
    """Class-balanced binary CE of LSAFNet's public code, weighted.

    See :func:`class_balanced_bce`.

    Args:
        weight_pos (float): Weight of the changed pixels. Defaults to 0.25.
        weight_neg (float): Weight of the unchanged pixels.
            Defaults to 0.75.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Key in the loss dict. Defaults to 'loss_bcd'.
    """

    def __init__(self,
                 weight_pos: float = 0.25,
                 weight_neg: float = 0.75,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bcd') -> None:
        super().__init__()
        if weight_pos < 0 or weight_neg < 0:
            raise ValueError('ClassBalancedBCELoss: weights must be '
                             f'non-negative, got {weight_pos}, {weight_neg}')
        self.weight_pos = weight_pos
        self.weight_neg = weight_neg
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                logits: Tensor,
                label: Tensor,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """Weighted loss (extra keyword arguments are ignored)."""
        return self.loss_weight * class_balanced_bce(
            logits, label, self.weight_pos, self.weight_neg, ignore_index)

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict."""
        return self._loss_name
