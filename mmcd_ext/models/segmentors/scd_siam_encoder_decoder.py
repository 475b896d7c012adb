"""Siamese encoder-decoder for semantic change detection (LSAFNet)."""
from typing import List, Optional

import torch
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.registry import MODELS
from .siam_encoder_decoder import SiamEncoderDecoder


@MODELS.register_module()
class SCDSiamEncoderDecoder(SiamEncoderDecoder):
    """Shared encoder on both dates and a semantic change head.

    The backbone runs once on both dates stacked on the batch axis
    (``(2B, C, H, W)``, date A first) and its levels go to the head
    UNSPLIT: the head (e.g. :class:`SCDTripleBranchHead`) decodes each date
    with shared weights and joins the dates itself (LSAFNet's late-stage
    fusion). There is no fusion neck.

    The head's inference output is one stacked logit tensor
    ``cat([X_1, X_2, X_C])`` (``2 (K-1) + 1`` channels), so mmseg's whole
    and slide inference (``test_cfg.mode``) average it unchanged.
    :meth:`postprocess_result` crops the padding, undoes flips, resizes to
    ``ori_shape``, splits the tensor and sets on every data sample:

    * ``pred_sem_seg``: binary change map, ``sigmoid(X_C) > threshold``
      (the head's ``change_threshold``), (1, H, W);
    * ``pred_sem_seg_a`` / ``pred_sem_seg_b``: semantic change maps,
      ``argmax(X_t) + 1`` where changed and 0 ("no change") elsewhere,
      (1, H, W) — what ``SCDMetric`` and the SCD visualiser read (``+ 0``
      when the head has a "no change" logit, its
      ``semantic_label_offset``);
    * ``seg_logits``: the stacked logits, (2 (K-1) + 1, H, W).

    Args:
        backbone (ConfigType): Backbone config, e.g. ``ResNetWithStem``.
        decode_head (ConfigType): Head config, e.g. ``SCDTripleBranchHead``.
        neck (OptConfigType): Must be None (the head fuses the dates).
            Defaults to None.
        auxiliary_head (OptConfigType): Must be None. Defaults to None.
        train_cfg (OptConfigType): Training config. Defaults to None.
        test_cfg (OptConfigType): Testing config (``mode`` 'whole' or
            'slide'). Defaults to None.
        data_preprocessor (OptConfigType): Usually
            ``DualInputSegDataPreProcessor``. Defaults to None.
        pretrained (str, optional): Deprecated; use the backbone's
            ``init_cfg``. Defaults to None.
        init_cfg (OptMultiConfig): Initialisation config. Defaults to None.
        per_date_backbone (bool): Run the backbone on each date separately
            so training BN statistics are per date (the authors' public
            code), instead of once on both dates stacked. Equal in eval
            mode. Defaults to False.
    """

    #: Tells the inference API (``ChangeDetector.is_semantic``) and the
    #: TTA model that the samples carry ``pred_sem_seg_a/b``.
    semantic_change = True

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 per_date_backbone: bool = False) -> None:
        if neck is not None or auxiliary_head is not None:
            raise ValueError('SCDSiamEncoderDecoder: the head joins the dates '
                             'itself; neck and auxiliary_head must be None')
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.per_date_backbone = per_date_backbone
        for attr in ('split_logits', 'num_semantic', 'change_threshold'):
            if not hasattr(self.decode_head, attr):
                raise TypeError(
                    'SCDSiamEncoderDecoder needs a semantic change head '
                    '(with split_logits, num_semantic, change_threshold) '
                    f'such as SCDTripleBranchHead, got '
                    f'{type(self.decode_head).__name__}')

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone levels of both dates stacked on the batch axis.

        Args:
            inputs (Tensor): Both dates on the channel axis, (B, 2C, H, W).

        Returns:
            list[Tensor]: (2B, C_i, H_i, W_i) per level, date A first.
        """
        img_a, img_b = self.split_dates(inputs)
        if not self.per_date_backbone:
            return self._levels(self.backbone(torch.cat([img_a, img_b])))
        feats_a = self._levels(self.backbone(img_a))
        feats_b = self._levels(self.backbone(img_b))
        return [torch.cat([a, b]) for a, b in zip(feats_a, feats_b)]

    @staticmethod
    def _levels(feats) -> List[Tensor]:
        """A backbone's output as a list of levels."""
        return [feats] if isinstance(feats, Tensor) else list(feats)

    def _restore(self, logits: Tensor, meta: dict) -> Tensor:
        """Crop padding, undo flips, resize to ``ori_shape``.

        Args:
            logits (Tensor): One sample's stacked logits, (C, H, W).
            meta (dict): Its metainfo.

        Returns:
            Tensor: (C, H_ori, W_ori).
        """
        height, width = logits.shape[-2:]
        padding = meta.get('img_padding_size',
                           meta.get('padding_size', [0, 0, 0, 0]))
        left, right, top, bottom = padding
        logits = logits[None, :, top:height - bottom, left:width - right]
        if meta.get('flip', None):
            direction = meta.get('flip_direction', None)
            if direction not in ('horizontal', 'vertical'):
                raise ValueError('SCDSiamEncoderDecoder: unknown flip '
                                 f'direction {direction!r}')
            logits = logits.flip(
                dims=(3, ) if direction == 'horizontal' else (2, ))
        logits = resize(
            logits,
            size=meta['ori_shape'],
            mode='bilinear',
            align_corners=self.align_corners,
            warning=False)
        return logits[0]

    def postprocess_result(
        self,
        seg_logits: Tensor,
        data_samples: Optional[List[SegDataSample]] = None
    ) -> List[SegDataSample]:
        """Binary and per-date semantic change maps from stacked logits.

        Args:
            seg_logits (Tensor): (B, 2 (K-1) + 1, H, W).
            data_samples (list[SegDataSample], optional): Samples whose
                metainfo gives padding, flip and ``ori_shape``. Defaults to
                None (new samples, no resizing).

        Returns:
            list[SegDataSample]: Samples with ``pred_sem_seg``,
            ``pred_sem_seg_a``, ``pred_sem_seg_b`` and ``seg_logits``.
        """
        head = self.decode_head
        batch = seg_logits.shape[0]
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(batch)]
            restore = False
        else:
            restore = True
        for i in range(batch):
            logits = seg_logits[i]
            if restore:
                logits = self._restore(logits, data_samples[i].metainfo)
            x_1, x_2, x_c = head.split_logits(logits)
            change = (x_c.sigmoid() > head.change_threshold).long()
            offset = getattr(head, 'semantic_label_offset', 1)
            pred_a = (x_1.argmax(dim=0, keepdim=True) + offset) * change
            pred_b = (x_2.argmax(dim=0, keepdim=True) + offset) * change
            data_samples[i].set_data({
                'seg_logits': PixelData(data=logits),
                'pred_sem_seg': PixelData(data=change),
                'pred_sem_seg_a': PixelData(data=pred_a),
                'pred_sem_seg_b': PixelData(data=pred_b),
            })
        return data_samples
