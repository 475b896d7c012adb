"""LSAFNet building blocks: LGAA, LGCE, SFM and the decoder ConvBlock.

Zhou et al., "A Late-Stage Bitemporal Feature Fusion Network for Semantic
Change Detection", IEEE GRSL 2024 (``../shared/papers`` and
``configs/lsafnet/README.md``). Each module is registered in ``MODELS`` and
usable on its own by any config.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.backbones.resnet import BasicBlock
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.registry import MODELS


def _check_channels(name: str, channels: int, reduction: int) -> int:
    """Hidden width ``channels // reduction`` (at least 1), checked."""
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f'{name}: channels must be a positive int, got '
                         f'{channels!r}')
    if not isinstance(reduction, int) or reduction < 1:
        raise ValueError(f'{name}: reduction must be a positive int, got '
                         f'{reduction!r}')
    return max(channels // reduction, 1)


def _attention_branch(channels: int, hidden: int,
                      norm_cfg: ConfigType) -> nn.Sequential:
    """``conv1x1 -> BN -> ReLU -> conv1x1 -> BN`` (channels -> channels)."""
    return nn.Sequential(
        ConvModule(
            channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')),
        ConvModule(hidden, channels, 1, norm_cfg=norm_cfg, act_cfg=None))


def _check_pair(name: str, feat_i: Tensor, feat_j: Tensor,
                channels: int) -> None:
    """Raise unless both inputs are ``(B, channels, H, W)`` alike."""
    if feat_i.dim() != 4 or feat_i.shape != feat_j.shape:
        raise ValueError(f'{name}: both inputs must be (B, C, H, W) of the '
                         f'same shape, got {tuple(feat_i.shape)} and '
                         f'{tuple(feat_j.shape)}')
    if feat_i.shape[1] != channels:
        raise ValueError(f'{name}: built for {channels} channels, got '
                         f'{feat_i.shape[1]}')


class _LocalGlobalAttention(BaseModule):
    """``sigmoid(local(x) + global(GAP(x)))``, the weight of LGAA and LGCE.

    Both branches are ``conv1x1 -> BN -> ReLU -> conv1x1 -> BN`` with a
    hidden width of ``channels // reduction`` (the attentional feature
    fusion order of Dai et al. the paper cites, and the authors' code;
    METHODS.md section 3).

    Args:
        channels (int): Channels of the input.
        reduction (int): Reduction ratio r of the hidden width.
            Defaults to 4.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 4,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        hidden = _check_channels(type(self).__name__, channels, reduction)
        self.channels = channels
        self.reduction = reduction
        self.local_att = _attention_branch(channels, hidden, norm_cfg)
        self.global_att = _attention_branch(channels, hidden, norm_cfg)

    def attention(self, x: Tensor) -> Tensor:
        """The re-weighting map ``sigmoid(w_1 + w_2)``.

        Args:
            x (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W), values in (0, 1).
        """
        if self.training and x.shape[0] < 2:
            raise ValueError(
                f'{type(self).__name__}: the global branch normalises the '
                'pooled (B, C, 1, 1) vector with BN, which needs a batch of '
                'at least 2 in training (LSAFNet\'s change decoder sees one '
                f'sample per pair); got {x.shape[0]}')
        w_global = self.global_att(x.mean(dim=(2, 3), keepdim=True))
        w_local = self.local_att(x)
        return torch.sigmoid(w_local + w_global)


@MODELS.register_module()
class LGAA(_LocalGlobalAttention):
    """Local-global attentional aggregation (LSAFNet eq. 3-5).

    ``s = F_i + F_j``; ``w_1`` = global branch on ``GAP(s)`` (eq. 3),
    ``w_2`` = local branch on ``s`` (eq. 4), ``w = sigmoid(w_1 + w_2)``,
    and (eq. 5)::

        F'_i = F_i * w + F_j * (1 - w)

    The authors' public code returns twice that,
    ``2 F_i w + 2 F_j (1 - w)``: set ``public_code_doubling=True``.

    Args:
        channels (int): Channels C of both inputs.
        reduction (int): Reduction ratio r of the branches' hidden width.
            Defaults to 4.
        public_code_doubling (bool): Multiply the output by 2 as the public
            code does. Defaults to False (the paper's eq. 5).
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 4,
                 public_code_doubling: bool = False,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(channels, reduction, norm_cfg, init_cfg)
        self.public_code_doubling = public_code_doubling

    def forward(self, feat_i: Tensor, feat_j: Tensor) -> Tensor:
        """Aggregate two feature maps.

        Args:
            feat_i (Tensor): F_i, (B, C, H, W).
            feat_j (Tensor): F_j, (B, C, H, W).

        Returns:
            Tensor: F'_i, (B, C, H, W).
        """
        _check_pair(type(self).__name__, feat_i, feat_j, self.channels)
        w = self.attention(feat_i + feat_j)
        out = feat_i * w + feat_j * (1.0 - w)
        return 2.0 * out if self.public_code_doubling else out


@MODELS.register_module()
class LGCE(_LocalGlobalAttention):
    """Local-global context enhancement (LSAFNet eq. 6-8).

    ``w_1`` = global branch on ``GAP(F_H)`` (eq. 6), ``w_2`` = local branch
    on ``F_H`` (eq. 7), ``F'_H = F_H * sigmoid(w_1 + w_2)`` (eq. 8).

    Args:
        channels (int): Channels C of the input.
        reduction (int): Reduction ratio r. Defaults to 4.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Re-weight a feature map.

        Args:
            x (Tensor): F_H, (B, C, H, W).

        Returns:
            Tensor: F'_H, (B, C, H, W).
        """
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'LGCE: expected (B, {self.channels}, H, W), '
                             f'got {tuple(x.shape)}')
        return x * self.attention(x)


@MODELS.register_module()
class ConcatMLPFusion(BaseModule):
    """LGAA's stand-in in LSAFNet's ablation ("Base", Table III).

    The paper: "concatenate two input features and apply a MLP to perform
    channel reduction". Here the MLP is per pixel, two layers:
    ``conv1x1 (2C -> C) -> BN -> ReLU -> conv1x1 (C -> C)``.

    Args:
        channels (int): Channels C of each input and of the output.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        _check_channels(type(self).__name__, channels, 1)
        self.channels = channels
        self.mlp = nn.Sequential(
            ConvModule(
                2 * channels,
                channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=dict(type='ReLU')), nn.Conv2d(channels, channels, 1))

    def forward(self, feat_i: Tensor, feat_j: Tensor) -> Tensor:
        """Fuse two feature maps.

        Args:
            feat_i (Tensor): (B, C, H, W).
            feat_j (Tensor): (B, C, H, W).

        Returns:
            Tensor: (B, C, H, W).
        """
        _check_pair(type(self).__name__, feat_i, feat_j, self.channels)
        return self.mlp(torch.cat([feat_i, feat_j], dim=1))


def build_pair_fusion(fusion_cfg: ConfigType, channels: int,
                      norm_cfg: ConfigType) -> nn.Module:
    """Build a two-input fusion (``LGAA`` or ``ConcatMLPFusion``) for C."""
    cfg = dict(fusion_cfg)
    cfg.setdefault('norm_cfg', norm_cfg)
    cfg['channels'] = channels
    return MODELS.build(cfg)


def _to_size(x: Tensor, like: Tensor, align_corners: bool) -> Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like`` if needed."""
    if x.shape[2:] == like.shape[2:]:
        return x
    return resize(
        x, size=like.shape[2:], mode='bilinear', align_corners=align_corners)


@MODELS.register_module()
class SemanticFusionModule(BaseModule):
    """Semantic fusion module, SFM (LSAFNet eq. 1-2).

    ::

        F'_2 = LGAA(F_2, ReLU(BN(Conv1x1(F_3))))     (eq. 1)
        F_H  = LGAA(F_1, ReLU(BN(Conv1x1(F'_2))))    (eq. 2)

    The reduced map is resized (bilinear) to the finer level when the
    backbone's strides make their sizes differ (with the authors' stride-1
    layer3 / layer4 they are equal and nothing is resized).

    Args:
        in_channels (Sequence[int]): Channels of F_1, F_2, F_3, e.g.
            (128, 256, 512).
        fusion_cfg (dict): The two-input fusion; ``dict(type='LGAA')`` (the
            paper) or ``dict(type='ConcatMLPFusion')`` (the ablation's
            "without LGAA"). Defaults to ``dict(type='LGAA', reduction=4)``.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        align_corners (bool): ``align_corners`` of the resizing.
            Defaults to False.
        reduced_first (bool): Pass the reduced coarse map as the FIRST
            fusion input, ``LGAA(CBR(F_3), F_2)`` and ``LGAA(CBR(F'_2),
            F_1)``, as the authors' public code does. Defaults to False
            (the paper's order, eq. 1-2).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 fusion_cfg: ConfigType = dict(type='LGAA', reduction=4),
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 reduced_first: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if len(in_channels) != 3:
            raise ValueError('SemanticFusionModule: in_channels must give the '
                             f'channels of F_1, F_2, F_3, got {in_channels}')
        c1, c2, c3 = in_channels
        self.in_channels = tuple(in_channels)
        self.align_corners = align_corners
        self.reduced_first = reduced_first
        self.reduce3 = ConvModule(
            c3, c2, 1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.fuse2 = build_pair_fusion(fusion_cfg, c2, norm_cfg)
        self.reduce2 = ConvModule(
            c2, c1, 1, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.fuse1 = build_pair_fusion(fusion_cfg, c1, norm_cfg)

    def forward(self, f1: Tensor, f2: Tensor, f3: Tensor) -> Tensor:
        """Fuse the three deepest backbone levels into F_H.

        Args:
            f1 (Tensor): F_1, (B, C_1, H_1, W_1).
            f2 (Tensor): F_2, (B, C_2, H_2, W_2).
            f3 (Tensor): F_3, (B, C_3, H_3, W_3).

        Returns:
            Tensor: F_H, (B, C_1, H_1, W_1).
        """
        f2p = self._fuse(self.fuse2, f2,
                         _to_size(self.reduce3(f3), f2, self.align_corners))
        return self._fuse(self.fuse1, f1,
                          _to_size(self.reduce2(f2p), f1, self.align_corners))

    def _fuse(self, fusion: nn.Module, finer: Tensor,
              reduced: Tensor) -> Tensor:
        """``fusion(finer, reduced)``, or the other order if asked."""
        if self.reduced_first:
            return fusion(reduced, finer)
        return fusion(finer, reduced)


@MODELS.register_module()
class LSAFConvBlock(BaseModule):
    """LSAFNet's decoder ConvBlock ``f(high, low)`` (section II-C, eq. 13-14).

    Upsample ``high`` to ``low``'s size (bilinear), concatenate, two
    residual blocks (ResNet basic blocks, the first with a 1x1 projection
    shortcut), then a depthwise dilated 3x3 conv -> BN -> ReLU for spatial
    context (the paper: "depthwise convolution"; METHODS.md: "a dilated 3x3
    conv"). ``depthwise=False`` makes that conv a full 3x3 conv (the
    authors' public code).

    With ``low_channels=0`` the block has one input: ``f(high)`` is the
    same stack on ``high`` alone (no upsampling), the public code's entry
    block of the change decoder.

    Args:
        high_channels (int): Channels of the coarser input.
        low_channels (int): Channels of the finer input (0: no second
            input).
        out_channels (int): Output channels.
        dilation (int): Dilation of the spatial conv. Defaults to 2.
        depthwise (bool): Depthwise (True, the paper) or full (False, the
            public code) spatial conv. Defaults to True.
        norm_cfg (dict): Normalisation layer config. Defaults to BN.
        align_corners (bool): ``align_corners`` of the upsampling.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 high_channels: int,
                 low_channels: int,
                 out_channels: int,
                 dilation: int = 2,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 depthwise: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        if high_channels < 1 or low_channels < 0 or out_channels < 1:
            raise ValueError(
                'LSAFConvBlock: high_channels and out_channels must be '
                'positive and low_channels non-negative, got '
                f'{high_channels}, {low_channels}, {out_channels}')
        in_channels = high_channels + low_channels
        self.high_channels = high_channels
        self.low_channels = low_channels
        self.align_corners = align_corners
        shortcut = None
        if in_channels != out_channels:
            shortcut = ConvModule(
                in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.res1 = BasicBlock(
            in_channels, out_channels, downsample=shortcut, norm_cfg=norm_cfg)
        self.res2 = BasicBlock(out_channels, out_channels, norm_cfg=norm_cfg)
        self.spatial = ConvModule(
            out_channels,
            out_channels,
            3,
            padding=dilation,
            dilation=dilation,
            groups=out_channels if depthwise else 1,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU'))

    def forward(self, high: Tensor, low: Optional[Tensor] = None) -> Tensor:
        """Combine a coarse and a fine map.

        Args:
            high (Tensor): (B, C_high, h, w).
            low (Tensor, optional): (B, C_low, H, W); None (only) when the
                block was built with ``low_channels=0``.

        Returns:
            Tensor: (B, out_channels, H, W) (``(h, w)`` without ``low``).
        """
        if (low is None) != (self.low_channels == 0):
            raise ValueError(f'LSAFConvBlock: built for low_channels='
                             f'{self.low_channels}, called with '
                             f'{"no" if low is None else "a"} second input')
        low_c = 0 if low is None else low.shape[1]
        if high.shape[1] != self.high_channels or low_c != self.low_channels:
            raise ValueError(
                f'LSAFConvBlock: built for {self.high_channels} + '
                f'{self.low_channels} channels, got {high.shape[1]} + '
                f'{low_c}')
        if low is None:
            x = high
        else:
            x = torch.cat([_to_size(high, low, self.align_corners), low],
                          dim=1)
        return self.spatial(self.res2(self.res1(x)))


@MODELS.register_module()
class SKDateFusion(BaseModule):
    """Selective-kernel fusion of two dates, then ``|difference|``.

    The entry of the authors' public change decoder (not in the paper)::

        s = GAP(F_1 + F_2);  z = LeakyReLU_0.2(Conv1x1(s))
        a_t = softmax over t of Conv1x1_t(z)       (t = 1, 2; per channel)
        out = cat([a_1 F_1 + a_2 F_2, |F_1 - F_2|])

    Both 1x1 convs are bias-free; the hidden width is
    ``max(C // reduction, min_hidden)``.

    Args:
        channels (int): Channels C of each input (the output has 2C).
        reduction (int): Reduction ratio of the hidden width. Defaults to 4.
        min_hidden (int): Lower bound of the hidden width. Defaults to 4.
        negative_slope (float): Slope of the LeakyReLU. Defaults to 0.2.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 4,
                 min_hidden: int = 4,
                 negative_slope: float = 0.2,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        hidden = max(
            _check_channels(type(self).__name__, channels, reduction),
            min_hidden)
        self.channels = channels
        self.squeeze = nn.Conv2d(channels, hidden, 1, bias=False)
        self.act = nn.LeakyReLU(negative_slope)
        self.select = nn.ModuleList(
            [nn.Conv2d(hidden, channels, 1, bias=False) for _ in range(2)])

    def forward(self, feat_1: Tensor, feat_2: Tensor) -> Tensor:
        """Fuse the two dates.

        Args:
            feat_1 (Tensor): Date 1, (B, C, H, W).
            feat_2 (Tensor): Date 2, (B, C, H, W).

        Returns:
            Tensor: (B, 2C, H, W).
        """
        _check_pair(type(self).__name__, feat_1, feat_2, self.channels)
        z = self.act(
            self.squeeze((feat_1 + feat_2).mean(dim=(2, 3), keepdim=True)))
        att = torch.stack([conv(z) for conv in self.select]).softmax(dim=0)
        fused = att[0] * feat_1 + att[1] * feat_2
        return torch.cat([fused, torch.abs(feat_1 - feat_2)], dim=1)


@MODELS.register_module()
class LSAFPerDateClassifier(BaseModule):
    """The public code's semantic classifier of one date.

    ``Conv1x1(ReLU(BN(Conv1x1(f(F'_L, F_C)))))`` with ``f`` a one-scale
    :class:`LSAFConvBlock` over the concatenation of the date's decoder
    output ``F'_L`` and the change feature ``F_C`` (same size).

    Args:
        feat_channels (int): Channels of ``F'_L``.
        change_channels (int): Channels of ``F_C``.
        channels (int): Output channels of the ConvBlock.
        hidden_channels (int): Width of the 1x1 conv-BN-ReLU.
        num_outputs (int): Logits.
        dilation (int): Dilation of the ConvBlock's spatial conv.
        depthwise (bool): Depthwise spatial conv in the ConvBlock.
        norm_cfg (dict): Normalisation layer config.
        align_corners (bool): ``align_corners`` of resizing.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 feat_channels: int,
                 change_channels: int,
                 channels: int,
                 hidden_channels: int,
                 num_outputs: int,
                 dilation: int = 2,
                 depthwise: bool = True,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        self.block = LSAFConvBlock(feat_channels, change_channels, channels,
                                   dilation, norm_cfg, align_corners,
                                   depthwise)
        self.hidden = ConvModule(
            channels,
            hidden_channels,
            1,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU'))
        self.conv_out = nn.Conv2d(hidden_channels, num_outputs, 1)

    def forward(self, feat: Tensor, change_feat: Tensor) -> Tensor:
        """Logits ``(B, num_outputs, H, W)`` of one date."""
        return self.conv_out(self.hidden(self.block(feat, change_feat)))
