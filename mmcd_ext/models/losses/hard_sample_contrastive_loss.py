"""DeepCL's hard-sample-aware contrastive loss on bitemporal feature pairs.

Only the abstract of DeepCL (Guo et al.) is public and the authors' code is
unreleased; this is the reading of ``METHODS.md`` section 4 (see
``configs/deepcl/README.md``). The abstract has no numbered equations, so
the docstrings cite the formulas by name:

* (D) the per-pixel distance ``d`` between the two dates' features,
* (W) the hard-sample weights ``w_u``, ``w_c``,
* (L) the loss of one level,
  ``L = sum_u w_u d^2 / sum_u w_u + sum_c w_c max(m - d, 0)^2 / sum_c w_c``.

With ``gamma = 0`` every weight is 1 and (L) is STANet's batch-balanced
contrastive loss (BCL).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class HardSampleContrastiveLoss(nn.Module):
    """Hard-sample-aware contrastive loss between the levels of two dates.

    For each level ``l`` the per-pixel distance ``d`` between the date-A and
    date-B features is compared with the change label, resized by nearest
    neighbour to the level's size: unchanged pixels are pulled together
    (``d^2``), changed pixels pushed apart beyond the margin ``m``
    (``max(m - d, 0)^2``). Each part is a weighted mean with the hard-sample
    weights of :meth:`hard_sample_weights`, which carry no gradient. The
    total is ``loss_weight * sum_l level_weights[l] * L_l``.

    Args:
        margin (float): Margin ``m`` of the changed pixels (and the scale of
            the weights). Must be > 0; with ``distance='cosine'`` or
            ``normalize=True`` the distances are at most 2. Defaults to 1.0.
        gamma (float): Focusing exponent ``gamma >= 0`` of the hard-sample
            weights; 0 gives STANet's batch-balanced contrastive loss.
            Defaults to 2.0.
        distance (str): ``'euclidean'`` (``||f1 - f2||_2``) or ``'cosine'``
            (``1 - cos(f1, f2)``). Defaults to 'euclidean'.
        normalize (bool): L2-normalise each pixel's feature vector over the
            channels before the Euclidean distance (no effect on the cosine
            distance). Defaults to True.
        level_weights (Sequence[float], optional): Weight of each level, in
            the order the levels are given. None weights every level by
            ``1 / num_levels`` (the mean over levels). Defaults to None.
        loss_weight (float): Weight of the total. Defaults to 1.0.
        ignore_index (int): Label value that is left out. Defaults to 255.
        eps (float): Floor of the squared Euclidean distance before the
            square root (keeps the gradient finite at ``d = 0``) and of the
            weight sums. Defaults to 1e-12.
        loss_name (str): Name of the loss (mmseg's convention; it must
            start with ``loss_`` to be summed into the total).
            Defaults to 'loss_contrastive'.
    """

    DISTANCES = ('euclidean', 'cosine')

    def __init__(self,
                 margin: float = 1.0,
                 gamma: float = 2.0,
                 distance: str = 'euclidean',
                 normalize: bool = True,
                 level_weights: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 eps: float = 1e-12,
                 loss_name: str = 'loss_contrastive') -> None:
        super().__init__()
        if not margin > 0:
            raise ValueError(f'HardSampleContrastiveLoss: margin must be > 0, '
                             f'got {margin}')
        if not gamma >= 0:
            raise ValueError(f'HardSampleContrastiveLoss: gamma must be >= 0, '
                             f'got {gamma}')
        if distance not in self.DISTANCES:
            raise ValueError(f'HardSampleContrastiveLoss: unknown distance '
                             f'{distance!r}; choose one of {self.DISTANCES}')
        if (distance == 'cosine' or normalize) and margin > 2:
            raise ValueError(
                f'HardSampleContrastiveLoss: with distance={distance!r} and '
                f'normalize={normalize} distances are at most 2, so margin '
                f'{margin} can never be reached')
        if level_weights is not None:
            level_weights = [float(w) for w in level_weights]
            if not level_weights or any(w < 0 for w in level_weights):
                raise ValueError(
                    f'HardSampleContrastiveLoss: level_weights must be a '
                    f'non-empty list of weights >= 0, got {level_weights}')
        if not eps > 0:
            raise ValueError(f'HardSampleContrastiveLoss: eps must be > 0, '
                             f'got {eps}')
        self.margin = float(margin)
        self.gamma = float(gamma)
        self.distance = distance
        self.normalize = normalize
        self.level_weights = level_weights
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss, as mmseg's losses expose it."""
        return self._loss_name

    def pair_distance(self, feat_a: Tensor, feat_b: Tensor) -> Tensor:
        """(D): per-pixel distance between the two dates' features.

        ``'euclidean'``: ``d = ||f1 - f2||_2`` over the channels, with
        ``f = f / ||f||_2`` first when ``normalize`` (then ``d`` is in
        [0, 2]); the squared distance is floored at ``eps`` before the
        square root. ``'cosine'``: ``d = 1 - cos(f1, f2)``, in [0, 2].

        Args:
            feat_a (Tensor): Date-A features, (B, C, H, W).
            feat_b (Tensor): Date-B features, (B, C, H, W).

        Returns:
            Tensor: Distances, (B, 1, H, W).
        """
        if feat_a.shape != feat_b.shape or feat_a.dim() != 4:
            raise ValueError(
                f'HardSampleContrastiveLoss: the two dates need features of '
                f'the same (B, C, H, W) shape, got {tuple(feat_a.shape)} and '
                f'{tuple(feat_b.shape)}')
        if self.distance == 'cosine':
            cos = F.cosine_similarity(feat_a, feat_b, dim=1, eps=1e-8)
            return (1.0 - cos).unsqueeze(1)
        if self.normalize:
            feat_a = F.normalize(feat_a, p=2, dim=1)
            feat_b = F.normalize(feat_b, p=2, dim=1)
        sq = (feat_a - feat_b).pow(2).sum(dim=1, keepdim=True)
        return sq.clamp(min=self.eps).sqrt()

    def hard_sample_weights(self, dist: Tensor) -> Tuple[Tensor, Tensor]:
        """(W): hard-sample weights of unchanged and changed pixels.

        ``w_u = clip((d / m)^gamma, 0, 1)`` (an unchanged pair far apart is
        hard), ``w_c = max(1 - d / m, 0)^gamma`` (a changed pair close
        together is hard). Computed without gradient; ``0^0 = 1``, so
        ``gamma = 0`` gives all-one weights.

        Args:
            dist (Tensor): Distances, any shape.

        Returns:
            tuple[Tensor, Tensor]: ``w_u`` and ``w_c``, the shape of
            ``dist``, detached.
        """
        with torch.no_grad():
            ratio = dist.detach() / self.margin
            w_u = ratio.pow(self.gamma).clamp(0.0, 1.0)
            w_c = (1.0 - ratio).clamp(min=0.0).pow(self.gamma)
        return w_u, w_c

    def resize_label(self, label: Tensor, size: Tuple[int, int]) -> Tensor:
        """Nearest-neighbour resize of the change label to a level's size.

        Args:
            label (Tensor): Labels 0 (unchanged), 1 (changed) or
                ``ignore_index``, (B, H, W) or (B, 1, H, W).
            size (tuple[int, int]): Size (h, w) of the level.

        Returns:
            Tensor: Long labels, (B, 1, h, w).
        """
        if label.dim() == 3:
            label = label.unsqueeze(1)
        if label.dim() != 4 or label.shape[1] != 1:
            raise ValueError(
                f'HardSampleContrastiveLoss: the label must be (B, H, W) or '
                f'(B, 1, H, W), got {tuple(label.shape)}')
        if tuple(label.shape[2:]) != tuple(size):
            label = F.interpolate(label.float(), size=size, mode='nearest')
        return label.long()

    def check_label(self, label: Tensor) -> None:
        """Raise if the label holds values other than 0, 1, ignore."""
        valid = (label == 0) | (label == 1) | (label == self.ignore_index)
        if not bool(valid.all()):
            bad = torch.unique(label[~valid])[:5].tolist()
            raise ValueError(
                f'HardSampleContrastiveLoss: binary change labels must be 0 '
                f'(unchanged), 1 (changed) or {self.ignore_index} (ignore); '
                f'found {bad}')

    def level_loss(self, dist: Tensor, label: Tensor) -> Tensor:
        """(L): the loss of one level from its distances and labels.

        ``L = sum_u w_u d^2 / sum_u w_u
        + sum_c w_c max(m - d, 0)^2 / sum_c w_c``, sums over the unchanged
        (``u``) and changed (``c``) pixels of the whole batch; ignored pixels
        are in neither. A part without pixels (or with all-zero weights)
        is 0.

        Args:
            dist (Tensor): Distances of the level, (B, 1, h, w).
            label (Tensor): Labels at the level's size, (B, 1, h, w).

        Returns:
            Tensor: Scalar loss of the level (unweighted).
        """
        if dist.shape != label.shape:
            raise ValueError(
                f'HardSampleContrastiveLoss: distances {tuple(dist.shape)} '
                f'and labels {tuple(label.shape)} differ in shape')
        unchanged = (label == 0).to(dist.dtype)
        changed = (label == 1).to(dist.dtype)
        w_u, w_c = self.hard_sample_weights(dist)
        w_u = w_u * unchanged
        w_c = w_c * changed
        pull = (w_u * dist.pow(2)).sum() / w_u.sum().clamp(min=self.eps)
        push = (w_c * (self.margin - dist).clamp(min=0.0).pow(2)).sum() / \
            w_c.sum().clamp(min=self.eps)
        return pull + push

    def weights_for(self, num_levels: int) -> List[float]:
        """Per-level weights for ``num_levels`` levels."""
        if self.level_weights is None:
            return [1.0 / num_levels] * num_levels
        if len(self.level_weights) != num_levels:
            raise ValueError(
                f'HardSampleContrastiveLoss: {len(self.level_weights)} '
                f'level_weights for {num_levels} levels')
        return list(self.level_weights)

    def forward_levels(self, feats_a: Sequence[Tensor],
                       feats_b: Sequence[Tensor],
                       label: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Weighted loss and distance map of every level.

        Args:
            feats_a (Sequence[Tensor]): Date-A levels, each (B, C_l, h_l, w_l).
            feats_b (Sequence[Tensor]): Date-B levels, the same shapes.
            label (Tensor): Change labels, (B, H, W) or (B, 1, H, W).

        Returns:
            tuple[list[Tensor], list[Tensor]]: Per level, the loss times
            ``loss_weight * level_weights[l]`` (scalar) and the distances
            (B, 1, h_l, w_l) (with gradient).
        """
        if len(feats_a) != len(feats_b) or not len(feats_a):
            raise ValueError(
                f'HardSampleContrastiveLoss: {len(feats_a)} date-A levels '
                f'and {len(feats_b)} date-B levels (need the same number, '
                f'at least one)')
        self.check_label(label)
        weights = self.weights_for(len(feats_a))
        losses, dists = [], []
        for feat_a, feat_b, weight in zip(feats_a, feats_b, weights):
            if feat_a.shape[0] != label.shape[0]:
                raise ValueError(
                    f'HardSampleContrastiveLoss: batch of {feat_a.shape[0]} '
                    f'features but {label.shape[0]} labels')
            dist = self.pair_distance(feat_a, feat_b)
            level_label = self.resize_label(label, tuple(dist.shape[2:]))
            losses.append(self.loss_weight * weight *
                          self.level_loss(dist, level_label))
            dists.append(dist)
        return losses, dists

    def forward(self, feats_a: Union[Tensor, Sequence[Tensor]],
                feats_b: Union[Tensor,
                               Sequence[Tensor]], label: Tensor) -> Tensor:
        """Total loss over the levels.

        Args:
            feats_a (Tensor | Sequence[Tensor]): Date-A features, one level
                (B, C, h, w) or several.
            feats_b (Tensor | Sequence[Tensor]): Date-B features, the same.
            label (Tensor): Change labels, (B, H, W) or (B, 1, H, W).

        Returns:
            Tensor: ``loss_weight * sum_l level_weights[l] * L_l``, scalar.
        """
        if isinstance(feats_a, Tensor):
            feats_a = [feats_a]
        if isinstance(feats_b, Tensor):
            feats_b = [feats_b]
        losses, _ = self.forward_levels(feats_a, feats_b, label)
        return sum(losses)

    def extra_repr(self) -> str:
        """Settings shown by ``print(module)``."""
        return (f'margin={self.margin}, gamma={self.gamma}, '
                f'distance={self.distance!r}, normalize={self.normalize}, '
                f'level_weights={self.level_weights}, '
                f'loss_weight={self.loss_weight}')
