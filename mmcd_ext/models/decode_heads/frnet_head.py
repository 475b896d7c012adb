"""FrNet's U-Net style decoder."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class FrNetHead(BaseDecodeHead):
    """U-Net style decoder over skip differences, started from a top map.

    Input (from :class:`FrNetNeck`): the skip levels ``|F1^l - F2^l|``
    from shallow to deep, then the top map ``T`` (the Hopfield output ``H``
    for FrNet, the projected deep difference for the base model), e.g. for
    VGG-16 at 256x256: (64, 256), (128, 128), (256, 64), (512, 32) and
    ``T`` (16, 16) as (channels, size).

    Decoding, from the deepest skip level ``l = L-1`` down to ``l = 0``::

        x = T
        x = ConvBNReLU3x3_l(cat([up(x), |F1^l - F2^l|]))   # up: bilinear
                                                            # to level l (x2)
        logits = conv_seg(x)                                # at level 0

    The upsampling goes to the size of the next skip level, which is x2 for
    inputs divisible by 32 (and also covers a top already at the deepest
    skip's size, e.g. the ``relu5_3`` deep level). Only ``forward`` is
    written; losses and prediction are ``BaseDecodeHead``'s.

    Args:
        in_channels (Sequence[int]): Channels of the skip levels (shallow to
            deep), then of ``T``, e.g. ``[64, 128, 256, 512, 16]``.
        channels (int): Output channels of the last (full-resolution)
            decoder block, fed to ``conv_seg``.
        decoder_channels (Sequence[int], optional): Output channels of the
            decoder block of every skip level, shallow to deep; the first
            must equal ``channels``. Defaults to None
            (``channels * 2**l``, e.g. 64, 128, 256, 512).
        num_convs (int): 3x3 conv-norm-act layers per block. Defaults to 1.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``in_index``, ``norm_cfg``, ``loss_decode``, ...);
            ``input_transform`` is always ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 decoder_channels: Optional[Sequence[int]] = None,
                 num_convs: int = 1,
                 **kwargs) -> None:
        if kwargs.pop('input_transform', 'multiple_select') != \
                'multiple_select':
            raise ValueError('FrNetHead: input_transform is always '
                             "'multiple_select'")
        if not isinstance(in_channels, (list, tuple)) or \
                len(in_channels) < 2:
            raise ValueError(f'FrNetHead: in_channels lists the skip levels '
                             f'and the top map (at least 2 entries), got '
                             f'{in_channels!r}')
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            input_transform='multiple_select',
            **kwargs)
        num_skips = len(in_channels) - 1
        if decoder_channels is None:
            decoder_channels = [channels * 2**i for i in range(num_skips)]
        decoder_channels = list(decoder_channels)
        if len(decoder_channels) != num_skips or \
                decoder_channels[0] != channels:
            raise ValueError(f'FrNetHead: decoder_channels needs one entry '
                             f'per skip level ({num_skips}), the first equal '
                             f'to channels={channels}; got '
                             f'{decoder_channels}')
        if num_convs < 1:
            raise ValueError(f'FrNetHead: num_convs must be >= 1, got '
                             f'{num_convs}')
        self.decoder_channels = decoder_channels
        blocks: List[nn.Module] = []
        for level in range(num_skips):
            above = (
                in_channels[-1] if level == num_skips -
                1 else decoder_channels[level + 1])
            layers = []
            c_in = above + in_channels[level]
            for _ in range(num_convs):
                layers.append(
                    ConvModule(
                        c_in,
                        decoder_channels[level],
                        3,
                        padding=1,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=self.norm_cfg,
                        act_cfg=self.act_cfg))
                c_in = decoder_channels[level]
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)  # index = skip level

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Decode the fused levels.

        Args:
            inputs (list[Tensor]): Neck outputs; the selected ones are the
                skip differences (B, C_l, H_l, W_l), shallow to deep, then
                the top map (B, C_T, H_T, W_T).

        Returns:
            Tensor: Logits, (B, num_classes, H_0, W_0) (the size of the
            shallowest skip level, the input size for VGG's relu1_2).
        """
        feats = self._transform_inputs(inputs)
        *skips, x = feats
        for level in reversed(range(len(skips))):
            skip = skips[level]
            x = resize(
                x,
                size=skip.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            x = self.blocks[level](torch.cat([x, skip], dim=1))
        return self.cls_seg(x)
