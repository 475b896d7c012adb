"""Siamese encoder-decoder for binary change detection."""
from typing import List, Optional, Tuple

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.models.backbones.pretrained import drop_empty_pretrained
from mmcd_ext.registry import MODELS


@MODELS.register_module()
class SiamEncoderDecoder(EncoderDecoder):
    """Shared-weight (Siamese) encoder, a fusion neck and a decode head.

    The input holds both dates concatenated on the channel axis,
    ``(B, 2C, H, W)`` (see ``docs/architecture.md``). The backbone runs
    **once** on the two dates stacked along the batch axis, ``(2B, C, H, W)``,
    so a backbone may let the dates interact (TTP's time-travelling gate does);
    every returned level is then split back into date A and date B and fused
    by ``neck(feats_a, feats_b)``. Without a neck the levels are concatenated
    on the channel axis. ``whole`` and ``slide`` inference, test-time
    augmentation and post-processing are mmseg's ``EncoderDecoder``'s.

    Args:
        backbone (ConfigType): Backbone config, applied to each date.
        decode_head (ConfigType): Decode head config (mmseg heads work).
        neck (OptConfigType): Fusion neck taking ``(feats_a, feats_b)``, e.g.
            ``BitemporalFusionNeck``. Defaults to None (concatenation).
        auxiliary_head (OptConfigType): Auxiliary head(s) on the fused
            levels. Defaults to None.
        train_cfg (OptConfigType): Training config. Defaults to None.
        test_cfg (OptConfigType): Testing config, e.g.
            ``dict(mode='slide', crop_size=(512, 512), stride=(256, 256))``.
            Defaults to None.
        data_preprocessor (OptConfigType): Data preprocessor config, usually
            ``DualInputSegDataPreProcessor``. Defaults to None.
        pretrained (str, optional): Deprecated; use the backbone's
            ``init_cfg``. Defaults to None.
        init_cfg (OptMultiConfig): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        # Pretrained without a checkpoint = from scratch, for any backbone
        # (mmseg's ResNet would try to load None)
        backbone = drop_empty_pretrained(backbone)
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)

    @staticmethod
    def split_dates(inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Split ``(B, 2C, H, W)`` into date A and B, each ``(B, C, H, W)``."""
        channels = inputs.shape[1]
        if channels % 2:
            raise ValueError(
                f'SiamEncoderDecoder expects both dates concatenated on the '
                f'channel axis (an even number of channels), got {channels}')
        return inputs[:, :channels // 2], inputs[:, channels // 2:]

    def extract_bitemporal_feat(
            self, inputs: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Run the shared backbone on both dates in one batched call.

        Args:
            inputs (Tensor): Both dates, (B, 2C, H, W).

        Returns:
            tuple[list[Tensor], list[Tensor]]: The levels of date A and of
            date B, each level (B, C_i, H_i, W_i).
        """
        img_a, img_b = self.split_dates(inputs)
        batch = img_a.shape[0]
        feats = self.backbone(torch.cat([img_a, img_b], dim=0))
        if isinstance(feats, Tensor):
            feats = [feats]
        feats_a = [f[:batch] for f in feats]
        feats_b = [f[batch:] for f in feats]
        return feats_a, feats_b

    def fuse(self, feats_a: List[Tensor],
             feats_b: List[Tensor]) -> List[Tensor]:
        """Fuse paired levels with the neck (concatenation without one)."""
        if self.with_neck:
            return list(self.neck(feats_a, feats_b))
        return [torch.cat([fa, fb], dim=1) for fa, fb in zip(feats_a, feats_b)]

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Fused multi-level features of a pair, (B, C_i, H_i, W_i) each."""
        feats_a, feats_b = self.extract_bitemporal_feat(inputs)
        return self.fuse(feats_a, feats_b)
