"""The simple feature pyramid of TTP's public code (open-cd ``SimpleFPN``)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor, nn

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class TTPSimpleFPN(BaseModule):
    """Fuse both dates and build TTP's public five-level pyramid.

    The public code (open-cd ``FeatureFusionNeck(policy='concat')`` followed
    by ``SimpleFPN``, a ViTDet-style pyramid) makes five levels from the
    encoder's single-scale output. With ``C = backbone_channel`` (512: both
    dates' 256-channel maps concatenated, date A first) and the input at
    1/16 of the image:

    * ``fpn1`` (x4): transposed conv 2x2/2 ``C -> C/2``, LN2d, GELU,
      transposed conv 2x2/2 ``C/2 -> C/4``;
    * ``fpn2`` (x2): transposed conv 2x2/2 ``C -> C/2``;
    * ``fpn3`` (x1): identity, ``C``;
    * ``fpn4`` (x1/2): 2x2 max pool, stride 2, ``C``;
    * each of these four: a 1x1 lateral conv to ``out_channels`` + norm,
      then a 3x3 conv + norm (convs without bias, no activation: mmcv
      ``ConvModule`` with ``act_cfg=None``);
    * every further level (``num_outs > 4``): ``max_pool2d`` with kernel 1,
      stride 2 (a stride-2 subsampling) of the previous level's *output*
      (after its 3x3 conv), i.e. x1/4.

    Module and parameter names are the public code's (``fpn1.0``,
    ``lateral_convs.<i>.conv``, ``fpn_convs.<i>.ln`` ...), so its weights
    load under the same names (tools/model_converters/opencd_ttp2mmcd.py).

    Args:
        backbone_channel (int): Channels of the fused map ``C``.
            Defaults to 512.
        in_channels (Sequence[int]): Channels of ``fpn1`` .. ``fpn4``;
            must be ``(C/4, C/2, C, C)``. Defaults to (128, 256, 512, 512).
        out_channels (int): Channels of every level. Defaults to 256.
        num_outs (int): Levels returned (>= 4). Defaults to 5.
        in_index (int): Backbone level fused and expanded. Defaults to 0.
        norm_cfg (dict): Norm of ``fpn1`` and of every conv.
            Defaults to ``dict(type='mmpretrain.LN2d', requires_grad=True)``.
        act_cfg (dict, optional): Activation after the lateral and 3x3
            convs. Defaults to None (none, as in the public config).
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 backbone_channel: int = 512,
                 in_channels: Sequence[int] = (128, 256, 512, 512),
                 out_channels: int = 256,
                 num_outs: int = 5,
                 in_index: int = 0,
                 norm_cfg: ConfigType = dict(
                     type='mmpretrain.LN2d', requires_grad=True),
                 act_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if backbone_channel % 4:
            raise ValueError(f'TTPSimpleFPN backbone_channel must be a '
                             f'multiple of 4, got {backbone_channel}')
        expected = [
            backbone_channel // 4, backbone_channel // 2, backbone_channel,
            backbone_channel
        ]
        if list(in_channels) != expected:
            raise ValueError(
                f'TTPSimpleFPN in_channels must be {expected} for '
                f'backbone_channel={backbone_channel}, got {list(in_channels)}'
            )
        if num_outs < len(in_channels):
            raise ValueError(f'TTPSimpleFPN num_outs must be >= '
                             f'{len(in_channels)}, got {num_outs}')
        self.backbone_channel = backbone_channel
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.in_index = in_index
        half, quarter = backbone_channel // 2, backbone_channel // 4
        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(backbone_channel, half, 2, 2),
            build_norm_layer(norm_cfg, half)[1], nn.GELU(),
            nn.ConvTranspose2d(half, quarter, 2, 2))
        self.fpn2 = nn.Sequential(
            nn.ConvTranspose2d(backbone_channel, half, 2, 2))
        self.fpn3 = nn.Sequential(nn.Identity())
        self.fpn4 = nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=2))
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for channels in self.in_channels:
            self.lateral_convs.append(
                ConvModule(
                    channels,
                    out_channels,
                    1,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False))

    def pyramid(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The five levels of one fused map.

        Args:
            x (Tensor): (B, C, h, w), the dates concatenated.

        Returns:
            tuple[Tensor]: ``num_outs`` maps of ``out_channels``, at
            ``4h, 2h, h, h/2, h/4 ...``.
        """
        if x.shape[1] != self.backbone_channel:
            raise ValueError(f'TTPSimpleFPN expects {self.backbone_channel} '
                             f'fused channels, got {x.shape[1]}')
        levels = [
            self.fpn1(x),
            self.fpn2(x),
            self.fpn3(x),
            self.fpn4(x),
        ]
        outs: List[Tensor] = [
            fpn_conv(lateral(level)) for level, lateral, fpn_conv in zip(
                levels, self.lateral_convs, self.fpn_convs)
        ]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)

    def forward(self, feats_a: Sequence[Tensor],
                feats_b: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Concatenate the dates' ``in_index`` level and build the pyramid.

        Args:
            feats_a (Sequence[Tensor]): Date A's levels, (B, C/2, h, w).
            feats_b (Sequence[Tensor]): Date B's levels, same shapes.

        Returns:
            tuple[Tensor]: See :meth:`pyramid`.
        """
        fused = torch.cat([feats_a[self.in_index], feats_b[self.in_index]],
                          dim=1)
        return self.pyramid(fused)
