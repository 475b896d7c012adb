"""FrNet's Hopfield pooling block (Chang et al., CDCEO 2022, eq. 2-4)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class HopfieldPooling(BaseModule):
    """Bitemporal Hopfield pooling with a learned query shared by both dates.

    The reading of eq. 2-4 used here is the only dimensionally consistent
    one (the project notes on FrNet, section 2): a deep feature
    ``F_i (B, c, h, w)`` is flattened to ``(B, c, h*w)``, so each of the
    ``c`` channels is a *stored pattern* of length ``h*w``. A learned query
    ``W_Q (c_Q, h*w)``, shared by both directions, gives

    * eq. 2: ``Z1 = softmax_c(beta * W_Q @ F1^T) @ F2  -> (B, c_Q, h*w)``
    * eq. 3: ``Z2 = softmax_c(beta * W_Q @ F2^T) @ F1  -> (B, c_Q, h*w)``
    * eq. 4: ``H = U(ReLU(BN(Conv1x1([Z1; Z2]))))`` with ``[Z1; Z2]``
      reshaped to ``(B, 2*c_Q, h, w)`` and ``U`` a bilinear x2 upsampling
      -> ``(B, out_channels, 2h, 2w)``.

    The softmax runs over the ``c`` stored patterns (channels), so every row
    of ``Z1`` is a convex combination of the channels of ``F2`` (and of
    ``F1`` for ``Z2``), as in one update step of a continuous modern Hopfield
    network (Ramsauer et al., 2021) with learned state patterns.

    **The learned query ties the block to one deep-feature size** ``(h, w)``
    (``feat_size``, the training input size / 32 for FrNet's pool5 level).
    A feature of another size is an error by default; with
    ``resize_input=True`` it is resized bilinearly to ``feat_size`` before
    retrieval and ``H`` is upsampled to twice the *input* feature size, so
    the block runs on any input (e.g. larger inference tiles).

    **Initialisation of** ``W_Q``: i.i.d. normal with std ``1 / sqrt(h*w)``
    (fan-in of a score ``sum_p W_Q[q, p] F[c, p]``), so at the start the
    scores ``beta * W_Q F^T`` have a spread of the order of the feature
    magnitude and the softmax over channels is neither uniform nor
    saturated. It is drawn in ``__init__`` (seeded by the global torch seed)
    and left untouched by :meth:`init_weights`.

    Args:
        feat_size (Sequence[int]): ``(h, w)`` of the deep feature the query
            is learned for, e.g. ``(8, 8)`` for 256x256 inputs at 1/32.
        num_queries (int): ``c_Q``, rows of ``W_Q``. Defaults to 2.
        beta (float, optional): Inverse temperature. Defaults to None
            (``1 / sqrt(c_Q)``, the paper's value).
        out_channels (int): Filters of the 1x1 conv of eq. 4. Defaults to 16.
        scale_factor (int): Upsampling factor of ``U`` in eq. 4.
            Defaults to 2.
        resize_input (bool): Resize features of another size to
            ``feat_size`` instead of raising. Defaults to False.
        norm_cfg (dict): Norm of eq. 4's ``g``. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation of eq. 4's ``g``. Defaults to
            ``dict(type='ReLU')``.
        align_corners (bool): ``align_corners`` of the bilinear resizes.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Init config of the conv.
            Defaults to None.
    """

    def __init__(self,
                 feat_size: Sequence[int],
                 num_queries: int = 2,
                 beta: Optional[float] = None,
                 out_channels: int = 16,
                 scale_factor: int = 2,
                 resize_input: bool = False,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        feat_size = tuple(feat_size)
        if len(feat_size) != 2 or any(not isinstance(s, int) or s < 1
                                      for s in feat_size):
            raise ValueError(f'HopfieldPooling: feat_size must be two '
                             f'positive ints (h, w), got {feat_size!r}')
        if num_queries < 1:
            raise ValueError(f'HopfieldPooling: num_queries (c_Q) must be '
                             f'>= 1, got {num_queries}')
        self.feat_size = feat_size
        self.num_queries = num_queries
        self.beta = 1.0 / math.sqrt(num_queries) if beta is None else beta
        self.scale_factor = scale_factor
        self.resize_input = resize_input
        self.align_corners = align_corners
        length = feat_size[0] * feat_size[1]
        # W_Q, (c_Q, h*w); see the class docstring for the init
        self.query = nn.Parameter(
            torch.randn(num_queries, length) / math.sqrt(length))
        self.proj = ConvModule(
            2 * num_queries,
            out_channels,
            kernel_size=1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def extra_repr(self) -> str:
        return (f'feat_size={self.feat_size}, num_queries='
                f'{self.num_queries}, beta={self.beta:.4g}, '
                f'resize_input={self.resize_input}')

    def flatten(self, feat: Tensor) -> Tensor:
        """Check (or resize) a deep feature and flatten it.

        Args:
            feat (Tensor): Deep feature, (B, c, h', w').

        Returns:
            Tensor: ``(B, c, h*w)`` at the trained ``feat_size``; each
            channel is one stored pattern.
        """
        if feat.dim() != 4:
            raise ValueError(f'HopfieldPooling: expected a (B, c, h, w) '
                             f'feature, got shape {tuple(feat.shape)}')
        size = tuple(feat.shape[2:])
        if size != self.feat_size:
            if not self.resize_input:
                raise ValueError(
                    f'HopfieldPooling: the deep feature is {size[0]}x'
                    f'{size[1]} but the learned query W_Q '
                    f'({self.num_queries} x h*w) is tied to the trained size '
                    f'feat_size={self.feat_size}. Feed inputs of the '
                    'training size (e.g. slide inference with the training '
                    'crop), or set resize_input=True to resize the feature '
                    'to feat_size before retrieval.')
            feat = resize(
                feat,
                size=self.feat_size,
                mode='bilinear',
                align_corners=self.align_corners)
        return feat.flatten(2)

    def attention(self, query_feat: Tensor) -> Tensor:
        """Retrieval weights ``softmax_c(beta * W_Q @ F^T)`` of eq. 2 / 3.

        Args:
            query_feat (Tensor): ``F`` whose channels are scored,
                (B, c, h*w) (flattened).

        Returns:
            Tensor: (B, c_Q, c); every row is non-negative and sums to 1
            over the ``c`` stored patterns.
        """
        scores = torch.einsum('qp,bcp->bqc', self.query, query_feat)
        return torch.softmax(self.beta * scores, dim=-1)

    def retrieve(self, query_feat: Tensor, stored_feat: Tensor) -> Tensor:
        """One Hopfield update, the common form of eq. 2 and eq. 3.

        Args:
            query_feat (Tensor): Feature scored against ``W_Q``,
                (B, c, h*w).
            stored_feat (Tensor): Feature whose channels are combined,
                (B, c, h*w).

        Returns:
            Tensor: ``softmax_c(beta * W_Q @ query_feat^T) @ stored_feat``,
            (B, c_Q, h*w).
        """
        return torch.bmm(self.attention(query_feat), stored_feat)

    def retrieve_z1(self, f1: Tensor, f2: Tensor) -> Tensor:
        """Eq. 2: ``Z1 = softmax(beta * W_Q @ F1^T) @ F2``.

        Args:
            f1 (Tensor): Flattened date-1 feature, (B, c, h*w).
            f2 (Tensor): Flattened date-2 feature, (B, c, h*w).

        Returns:
            Tensor: ``Z1``, (B, c_Q, h*w).
        """
        return self.retrieve(f1, f2)

    def retrieve_z2(self, f1: Tensor, f2: Tensor) -> Tensor:
        """Eq. 3: ``Z2 = softmax(beta * W_Q @ F2^T) @ F1``.

        Args:
            f1 (Tensor): Flattened date-1 feature, (B, c, h*w).
            f2 (Tensor): Flattened date-2 feature, (B, c, h*w).

        Returns:
            Tensor: ``Z2``, (B, c_Q, h*w).
        """
        return self.retrieve(f2, f1)

    def retrieve_pair(self, f1: Tensor, f2: Tensor) -> Tuple[Tensor, Tensor]:
        """``Z1`` (eq. 2) and ``Z2`` (eq. 3) with their spatial shape.

        Args:
            f1 (Tensor): Date-1 deep feature, (B, c, h', w').
            f2 (Tensor): Date-2 deep feature, (B, c, h', w').

        Returns:
            tuple[Tensor, Tensor]: ``Z1``, ``Z2``, each (B, c_Q, h, w) at
            the trained ``feat_size``.
        """
        if f1.shape != f2.shape:
            raise ValueError(f'HopfieldPooling: the two dates have features '
                             f'of different shapes {tuple(f1.shape)} and '
                             f'{tuple(f2.shape)}')
        flat1, flat2 = self.flatten(f1), self.flatten(f2)
        shape = (f1.shape[0], self.num_queries, *self.feat_size)
        return (self.retrieve_z1(flat1, flat2).reshape(shape),
                self.retrieve_z2(flat1, flat2).reshape(shape))

    def pool(self,
             z1: Tensor,
             z2: Tensor,
             out_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Eq. 4: ``H = U(g(W * [Z1; Z2] + b))``.

        Args:
            z1 (Tensor): Retrieved patterns of eq. 2, (B, c_Q, h, w).
            z2 (Tensor): Retrieved patterns of eq. 3, (B, c_Q, h, w).
            out_size (tuple[int, int], optional): Size of ``H``. Defaults to
                None (``scale_factor`` times the size of ``z1``).

        Returns:
            Tensor: ``H``, (B, out_channels, H_out, W_out).
        """
        feat = self.proj(torch.cat([z1, z2], dim=1))
        if out_size is None:
            out_size = (z1.shape[2] * self.scale_factor,
                        z1.shape[3] * self.scale_factor)
        return resize(
            feat,
            size=out_size,
            mode='bilinear',
            align_corners=self.align_corners)

    def forward(self, f1: Tensor, f2: Tensor) -> Tensor:
        """Retrieve between the dates and project (eq. 2-4).

        Args:
            f1 (Tensor): Date-1 deep feature, (B, c, h', w').
            f2 (Tensor): Date-2 deep feature, (B, c, h', w').

        Returns:
            Tensor: ``H``, (B, out_channels, scale_factor*h',
            scale_factor*w') (the size of the *input* feature, also when it
            was resized for retrieval).
        """
        z1, z2 = self.retrieve_pair(f1, f2)
        out_size = (f1.shape[2] * self.scale_factor,
                    f1.shape[3] * self.scale_factor)
        return self.pool(z1, z2, out_size)
