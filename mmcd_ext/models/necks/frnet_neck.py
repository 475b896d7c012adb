"""FrNet's fusion neck: skip-level differences plus the Hopfield top."""
from typing import Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class FrNetNeck(BaseModule):
    """Pair fusion of FrNet, called by ``SiamEncoderDecoder`` as
    ``neck(feats_a, feats_b)``.

    Returns ``(|F1^0 - F2^0|, ..., |F1^3 - F2^3|, T)``: the absolute
    differences of the skip levels (``skip_indices``), then the top map
    ``T`` computed from the *pair* of deep features (``deep_index``):

    * FrNet (``use_hopfield=True``): ``T = H``, the output of
      :class:`HopfieldPooling` (eq. 2-4), ``(B, out_channels, 2h, 2w)``.
    * Base Model (``use_hopfield=False``, Table 1 of the paper): no
      retrieval; ``T = U(ReLU(BN(Conv1x1(|F1 - F2|))))`` of the deep level,
      the same conv-BN-ReLU-x2 projection to ``out_channels`` that eq. 4
      applies to ``[Z1; Z2]``. The head is therefore identical in both
      models, every backbone parameter is used (no unused parameters under
      DDP), and the ablation is one config line. The Hopfield block is not
      built, so the base model has no ``W_Q``.

    Args:
        in_channels (int): Channels ``c`` of the deep level (512 for
            VGG-16). Only the base model's projection uses it.
        use_hopfield (bool): FrNet (True) or the base model (False).
            Defaults to True.
        hopfield (dict): Config of the Hopfield block (``type`` defaults to
            ``'HopfieldPooling'``; ``feat_size`` is required when
            ``use_hopfield``); ``out_channels``, ``norm_cfg``, ``act_cfg``
            and ``align_corners`` are filled in from this neck unless given.
            Ignored by the base model. Defaults to
            ``dict(type='HopfieldPooling', feat_size=(8, 8))``.
        out_channels (int): Channels of ``T``. Defaults to 16.
        scale_factor (int): Upsampling of ``T`` w.r.t. the deep level.
            Defaults to 2.
        skip_indices (Sequence[int]): Backbone levels fused by ``|a - b|``.
            Defaults to (0, 1, 2, 3).
        deep_index (int): Backbone level fed to the top. Defaults to 4.
        norm_cfg (dict): Norm config of the top's projection. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation of the top's projection. Defaults to
            ``dict(type='ReLU')``.
        align_corners (bool): Of the bilinear upsampling. Defaults to False.
        init_cfg (dict | list[dict], optional): Init config.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 use_hopfield: bool = True,
                 hopfield: OptConfigType = dict(
                     type='HopfieldPooling', feat_size=(8, 8)),
                 out_channels: int = 16,
                 scale_factor: int = 2,
                 skip_indices: Sequence[int] = (0, 1, 2, 3),
                 deep_index: int = 4,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.use_hopfield = use_hopfield
        self.skip_indices = tuple(skip_indices)
        self.deep_index = deep_index
        self.scale_factor = scale_factor
        self.align_corners = align_corners
        if deep_index in self.skip_indices:
            raise ValueError(f'FrNetNeck: deep_index {deep_index} is also a '
                             f'skip index {self.skip_indices}')
        if use_hopfield:
            if not hopfield or 'feat_size' not in hopfield:
                raise ValueError('FrNetNeck: use_hopfield=True needs '
                                 'hopfield=dict(feat_size=(h, w), ...), the '
                                 'deep-feature size the query is learned for')
            cfg = dict(type='HopfieldPooling')
            cfg.update(hopfield)
            for key, value in (('out_channels', out_channels), ('scale_factor',
                                                                scale_factor),
                               ('norm_cfg', norm_cfg), ('act_cfg', act_cfg),
                               ('align_corners', align_corners)):
                cfg.setdefault(key, value)
            self.hopfield = MODELS.build(cfg)
            self.deep_proj = None
        else:
            self.hopfield = None
            self.deep_proj = ConvModule(
                in_channels,
                out_channels,
                kernel_size=1,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)

    @property
    def with_hopfield(self) -> bool:
        """Whether the top is the Hopfield block (FrNet)."""
        return isinstance(self.hopfield, nn.Module)

    def top(self, deep_a: Tensor, deep_b: Tensor) -> Tensor:
        """The top map ``T`` from the pair of deep features.

        Args:
            deep_a (Tensor): Date-A deep feature, (B, c, h, w).
            deep_b (Tensor): Date-B deep feature, (B, c, h, w).

        Returns:
            Tensor: (B, out_channels, scale_factor*h, scale_factor*w).
        """
        if self.with_hopfield:
            return self.hopfield(deep_a, deep_b)
        size = (deep_a.shape[2] * self.scale_factor,
                deep_a.shape[3] * self.scale_factor)
        return resize(
            self.deep_proj((deep_a - deep_b).abs()),
            size=size,
            mode='bilinear',
            align_corners=self.align_corners)

    def forward(self, feats_a: Sequence[Tensor],
                feats_b: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Fuse the levels of both dates.

        Args:
            feats_a (Sequence[Tensor]): Backbone levels of date A, each
                (B, C_i, H_i, W_i).
            feats_b (Sequence[Tensor]): Backbone levels of date B.

        Returns:
            tuple[Tensor]: ``|a_i - b_i|`` for each skip index (B, C_i,
            H_i, W_i), then ``T`` (B, out_channels, 2h, 2w).
        """
        if len(feats_a) != len(feats_b):
            raise ValueError(f'FrNetNeck: {len(feats_a)} levels for date A '
                             f'but {len(feats_b)} for date B')
        needed = max((*self.skip_indices, self.deep_index)) + 1
        if len(feats_a) < needed:
            raise ValueError(f'FrNetNeck: needs {needed} backbone levels '
                             f'(skips {self.skip_indices}, deep '
                             f'{self.deep_index}), got {len(feats_a)}')
        diffs = [(feats_a[i] - feats_b[i]).abs() for i in self.skip_indices]
        return (*diffs,
                self.top(feats_a[self.deep_index], feats_b[self.deep_index]))
