"""Fusion of paired multi-level features of two dates."""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class BitemporalFusionNeck(BaseModule):
    """Fuse the features of date A and date B level by level.

    Policies (``f1``/``f2`` are one level of date A / date B,
    ``(B, C, H, W)``):

    * ``'concat'``: ``cat([f1, f2], dim=1)`` -> ``(B, 2C, H, W)``
    * ``'sum'``: ``f1 + f2``; ``'diff'``: ``f2 - f1``;
      ``'abs_diff'``: ``|f1 - f2|`` -> ``(B, C, H, W)``
    * ``'concat_diff'``: ``cat([f1, f2, |f1 - f2|], dim=1)``
      -> ``(B, 3C, H, W)``

    The neck has no parameters; put learnable fusion in its own module.

    Args:
        policy (str): One of the policies above. Defaults to ``'abs_diff'``.
        in_indices (Sequence[int], optional): Levels to keep (and fuse), in
            order. ``None`` keeps all. Defaults to None.
    """

    POLICIES = ('concat', 'sum', 'diff', 'abs_diff', 'concat_diff')

    def __init__(self,
                 policy: str = 'abs_diff',
                 in_indices: Sequence[int] = None) -> None:
        super().__init__()
        if policy not in self.POLICIES:
            raise ValueError(f'BitemporalFusionNeck: unknown policy '
                             f'{policy!r}; choose one of {self.POLICIES}')
        self.policy = policy
        self.in_indices = None if in_indices is None else tuple(in_indices)

    def fuse(self, f1: Tensor, f2: Tensor) -> Tensor:
        """Fuse one level; see the class docstring for the policies."""
        if self.policy == 'concat':
            return torch.cat([f1, f2], dim=1)
        if self.policy == 'sum':
            return f1 + f2
        if self.policy == 'diff':
            return f2 - f1
        if self.policy == 'abs_diff':
            return (f1 - f2).abs()
        return torch.cat([f1, f2, (f1 - f2).abs()], dim=1)

    def forward(self, feats_a: Sequence[Tensor],
                feats_b: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Fuse every selected level.

        Args:
            feats_a (Sequence[Tensor]): Levels of date A, each
                (B, C_i, H_i, W_i).
            feats_b (Sequence[Tensor]): Levels of date B, same shapes.

        Returns:
            tuple[Tensor]: The fused levels.
        """
        if len(feats_a) != len(feats_b):
            raise ValueError(f'BitemporalFusionNeck: {len(feats_a)} levels '
                             f'for date A but {len(feats_b)} for date B')
        indices = self.in_indices or range(len(feats_a))
        return tuple(self.fuse(feats_a[i], feats_b[i]) for i in indices)
