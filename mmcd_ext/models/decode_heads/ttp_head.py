"""TTP's multi-level decoding head (paper eq. 3)."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmpretrain.models.utils import LayerNorm2d
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class TTPHead(BaseDecodeHead):
    """Multi-level change head on a single-scale ViT map (eq. 3).

    From the fused map ``X = cat(X0, X1)`` (both dates' encoder outputs,
    ``(B, in_channels, h, w)``, 1/16 of the input for SAM)::

        {F_i} = sampling(X)                 # 5 levels, see below
        F_i   = resize(Proj1_i(F_i))        # 1x1 conv-norm-act, to 4h x 4w
        M     = Proj2(cat({F_i}))           # 1x1 conv-norm-act, then
                                            # classify (conv_seg)

    ``sampling`` (as ViTDet's simple pyramid, which the public code uses):
    ×4 by two stride-2 transposed convs (LN2d and GELU between), ×2 by one
    stride-2 transposed conv, identity, ×½ by 2x2 max pooling, and one
    extra level pooled once more (1x1 max pooling, stride 2). Every level
    is projected to ``channels`` and resized (bilinear) to the size of the
    ×4 level, i.e. 1/4 of the input (128x128 for 512 inputs), as the paper
    limits upsampling to 1/4 during training. mmseg's loss and prediction
    upsample the logits to the label size.

    Proj2's 1x1 convolution is computed per level before the resize
    (``W cat(resize(F_i)) = sum_i resize(W_i F_i)``: a 1x1 conv and bilinear
    resizing commute), which gives the same output with about a quarter of
    the head's multiply-adds and without the (B, 5 x channels, 4h, 4w)
    concatenation; a Proj2 that is not a plain 1x1 conv-norm-act runs as
    written.

    ``multi_level=False`` keeps only the identity level (the "w/o ml"
    ablation of Table 1): one 1x1 projection, resize to 4h x 4w, fusion,
    classification.

    Args:
        in_channels (int): Channels of the fused map (2 x 256 for SAM).
        channels (int): Width of the projections and the fusion.
        level_channels (int): Width of the transposed-conv levels.
            Defaults to 256.
        multi_level (bool): Build the 5 levels (True) or only the identity
            level (False). Defaults to True.
        num_extra_levels (int): Extra pooled levels beyond ×½.
            Defaults to 1.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``out_channels``, ``threshold``, ``norm_cfg``, ``loss_decode``,
            ``dropout_ratio``, ...). ``in_index`` defaults to 0 (the
            single level of the backbone).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 channels: int,
                 level_channels: int = 256,
                 multi_level: bool = True,
                 num_extra_levels: int = 1,
                 **kwargs) -> None:
        if not isinstance(in_channels, int):
            raise TypeError(
                'TTPHead takes one fused map: in_channels must be an '
                f'int, got {in_channels!r}')
        if kwargs.get('input_transform') is not None:
            raise ValueError('TTPHead takes one map; input_transform '
                             'must be None')
        if num_extra_levels < 0:
            raise ValueError(f'num_extra_levels must be >= 0, got '
                             f'{num_extra_levels}')
        super().__init__(in_channels=in_channels, channels=channels, **kwargs)
        self.multi_level = multi_level
        self.num_extra_levels = num_extra_levels if multi_level else 0
        if multi_level:
            self.up4 = nn.Sequential(
                nn.ConvTranspose2d(in_channels, level_channels, 2, stride=2),
                LayerNorm2d(level_channels), nn.GELU(),
                nn.ConvTranspose2d(
                    level_channels, level_channels, 2, stride=2))
            self.up2 = nn.ConvTranspose2d(
                in_channels, level_channels, 2, stride=2)
            self.down2 = nn.MaxPool2d(kernel_size=2, stride=2)
            level_in = [
                level_channels, level_channels, in_channels, in_channels
            ] + [in_channels] * self.num_extra_levels
        else:
            level_in = [in_channels]
        self.level_projs = nn.ModuleList([
            ConvModule(
                c, channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for c in level_in
        ])
        self.fusion = ConvModule(
            channels * len(level_in),
            channels,
            1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    @property
    def num_levels(self) -> int:
        """Number of levels fused (5 by default, 1 without multi-level)."""
        return len(self.level_projs)

    def build_levels(self, x: Tensor) -> List[Tensor]:
        """``sampling`` of eq. 3.

        Args:
            x (Tensor): Fused map, (B, in_channels, h, w).

        Returns:
            list[Tensor]: ×4, ×2, ×1, ×½ and the extra levels, e.g. for
            ``h = w = 32``: (B, level_channels, 128, 128),
            (B, level_channels, 64, 64), (B, in_channels, 32, 32),
            (B, in_channels, 16, 16), (B, in_channels, 8, 8).
        """
        if not self.multi_level:
            return [x]
        levels = [self.up4(x), self.up2(x), x, self.down2(x)]
        for _ in range(self.num_extra_levels):
            levels.append(F.max_pool2d(levels[-1], kernel_size=1, stride=2))
        return levels

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Logits at 1/4 of the input (4x the fused map's size).

        Args:
            inputs (Tensor | list[Tensor]): The fused map (B, C, h, w), or
                the fused levels (``in_index`` selects the map).

        Returns:
            Tensor: (B, out_channels, 4h, 4w).
        """
        x = self._transform_inputs(inputs) if not isinstance(
            inputs, Tensor) else inputs
        if x.shape[1] != self.in_channels:
            raise ValueError(f'TTPHead expects {self.in_channels} '
                             f'channels, got {tuple(x.shape)}')
        size = (x.shape[2] * 4, x.shape[3] * 4)
        levels = self.build_levels(x)
        if not self.fusion_commutes():
            feats = [
                resize(
                    proj(level),
                    size=size,
                    mode='bilinear',
                    align_corners=self.align_corners)
                for proj, level in zip(self.level_projs, levels)
            ]
            return self.cls_seg(self.fusion(torch.cat(feats, dim=1)))
        # Proj2's 1x1 conv on cat(resize(F_i)) = sum_i resize(W_i F_i):
        # bilinear resizing mixes pixels, the 1x1 conv mixes channels, so
        # they commute; each level's share of the conv runs at its own
        # size, and the (B, L * channels, 4h, 4w) concatenation is never
        # built (the same sum, 4x fewer multiply-adds at 512 px)
        weights = self.fusion.conv.weight.split(self.channels, dim=1)
        fused = None
        for proj, level, weight in zip(self.level_projs, levels, weights):
            part = F.conv2d(proj(level), weight)
            if part.shape[2:] != size:
                part = resize(
                    part,
                    size=size,
                    mode='bilinear',
                    align_corners=self.align_corners)
            fused = part if fused is None else fused + part
        if self.fusion.conv.bias is not None:
            fused = fused + self.fusion.conv.bias.view(1, -1, 1, 1)
        if self.fusion.with_norm:
            fused = self.fusion.norm(fused)
        if self.fusion.with_activation:
            fused = self.fusion.activate(fused)
        return self.cls_seg(fused)

    def fusion_commutes(self) -> bool:
        """Whether Proj2 is a plain 1x1 conv, then norm, then activation
        (so it can be applied per level before resizing)."""
        conv = self.fusion.conv
        return (isinstance(conv, nn.Conv2d)
                and type(conv).forward is nn.Conv2d.forward
                and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
                and conv.padding == (0, 0) and conv.dilation == (1, 1)
                and conv.groups == 1
                and tuple(self.fusion.order) == ('conv', 'norm', 'act')
                and not getattr(self.fusion, 'with_spectral_norm', False))
