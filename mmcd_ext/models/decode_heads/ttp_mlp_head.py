"""The MLP head of TTP's public code (open-cd ``MLPSegHead``)."""
from typing import Sequence, Tuple, Union

import torch
from mmseg.models.decode_heads.segformer_head import SegformerHead
from mmseg.models.utils import resize
from torch import Tensor

from mmcd_ext.registry import MODELS


@MODELS.register_module()
class TTPMLPHead(SegformerHead):
    """SegFormer's all-MLP head with every level resized to ``out_size``.

    mmseg's ``SegformerHead`` (per level a 1x1 conv-norm-act to
    ``channels``, concatenation, a 1x1 conv-norm-act fusion, ``conv_seg``)
    resizes every projected level to the first level's size; the public
    code (open-cd ``MLPSegHead``) resizes them to a fixed ``out_size``
    instead, (128, 128) for 512 inputs (1/4). mmseg's loss and prediction
    then resize the logits to the label / image size.

    Module names are ``SegformerHead``'s (``convs.<i>``, ``fusion_conv``,
    ``conv_seg``), as in the public code.

    Args:
        out_size (int | tuple[int, int]): Size every level is resized to
            (bilinear, ``align_corners``).
        **kwargs: ``SegformerHead`` / ``BaseDecodeHead`` arguments
            (``in_channels``, ``in_index``, ``channels``, ``num_classes``,
            ``norm_cfg``, ``loss_decode`` ...).
    """

    def __init__(self, out_size: Union[int, Tuple[int, int]],
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(out_size, int):
            out_size = (out_size, out_size)
        if len(out_size) != 2 or min(out_size) < 1:
            raise ValueError(f'TTPMLPHead out_size must be a positive int or '
                             f'(h, w), got {out_size}')
        self.out_size = tuple(int(s) for s in out_size)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Project, resize to ``out_size``, fuse and classify.

        Args:
            inputs (Sequence[Tensor]): Levels, (B, in_channels[i], h_i, w_i).

        Returns:
            Tensor: Logits, (B, out_channels, *out_size).
        """
        levels = self._transform_inputs(inputs)
        projected = [
            resize(
                conv(level),
                size=self.out_size,
                mode=self.interpolate_mode,
                align_corners=self.align_corners)
            for conv, level in zip(self.convs, levels)
        ]
        return self.cls_seg(self.fusion_conv(torch.cat(projected, dim=1)))
