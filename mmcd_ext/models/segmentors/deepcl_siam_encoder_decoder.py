"""DeepCL as a plug-in: a contrastive loss on the paired backbone levels of
any :class:`SiamEncoderDecoder`, and the optional knowledge prior."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from mmcd_ext.registry import MODELS
from .siam_encoder_decoder import SiamEncoderDecoder


@MODELS.register_module()
class DeepCLSiamEncoderDecoder(SiamEncoderDecoder):
    """A Siamese change detector trained with DeepCL's contrastive loss.

    The host network is any ``SiamEncoderDecoder`` config (backbone, neck,
    decode head); a DeepCL config inherits it and only sets
    ``type='DeepCLSiamEncoderDecoder'`` and ``contrastive=dict(...)``. The
    backbone still runs once on both dates; during training the date-A and
    date-B levels it returns (``extract_bitemporal_feat``) are also given to
    the contrastive loss (``HardSampleContrastiveLoss`` by default) with the
    change label, next to the host's decode (and auxiliary) losses.

    Knowledge prior (``prior=True``): the per-pixel distance map ``d`` of
    each contrastive level, (B, 1, h, w), is concatenated as one extra
    channel to a fused level that the decode head reads (``prior_indices``;
    resized bilinearly when the sizes differ); the segmentor raises the
    head's ``in_channels`` of that level by one per map itself
    (:meth:`add_prior_channels`), so the config keeps the host's head.
    With ``detach_prior=True`` (default) the maps enter the head as fixed
    inputs: the decode loss does not reach the backbone through
    them, only through the host's own path, and the metric is shaped by the
    contrastive loss alone. Without the prior, inference is exactly the
    host's (nothing extra is computed); with it, one distance per chosen
    level is added.

    Args:
        contrastive (dict): The DeepCL branch:

            * ``loss`` (dict): Loss config. Defaults to
              ``dict(type='HardSampleContrastiveLoss')``.
            * ``in_indices`` (Sequence[int], optional): Backbone levels (as
              returned by the backbone, shallow to deep) paired by the loss.
              None takes every level. Defaults to None.
            * ``prior`` (bool): Feed the distance maps to the decode head.
              Defaults to False.
            * ``prior_indices`` (Sequence[int], optional): For each entry of
              ``in_indices``, the fused level (neck output) that receives
              its distance map. None uses ``in_indices`` (the neck keeps the
              backbone's levels, as ``BitemporalFusionNeck`` does).
              Defaults to None.
            * ``detach_prior`` (bool): Stop the gradient of the decode
              loss through the distance maps. Defaults to True.

        **kwargs: ``SiamEncoderDecoder`` arguments (``backbone``,
            ``decode_head``, ``neck``, ``auxiliary_head``, ``train_cfg``,
            ``test_cfg``, ``data_preprocessor``, ``init_cfg``).
    """

    CONTRASTIVE_KEYS = ('loss', 'in_indices', 'prior', 'prior_indices',
                        'detach_prior')

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 contrastive: ConfigType = dict(
                     loss=dict(type='HardSampleContrastiveLoss')),
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        prior_cfg = dict(contrastive or {})
        if prior_cfg.get('prior', False):
            targets = prior_cfg.get('prior_indices')
            if targets is None:
                targets = prior_cfg.get('in_indices')
            decode_head = self.add_prior_channels(decode_head, targets)
            if isinstance(auxiliary_head, (list, tuple)):
                auxiliary_head = [
                    self.add_prior_channels(h, targets) for h in auxiliary_head
                ]
            elif auxiliary_head is not None:
                auxiliary_head = self.add_prior_channels(
                    auxiliary_head, targets)
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
        cfg = dict(copy.deepcopy(contrastive or {}))
        unknown = set(cfg) - set(self.CONTRASTIVE_KEYS)
        if unknown:
            raise ValueError(
                f'DeepCLSiamEncoderDecoder: unknown contrastive keys '
                f'{sorted(unknown)}; allowed: {self.CONTRASTIVE_KEYS}')
        loss_cfg = dict(type='HardSampleContrastiveLoss')
        loss_cfg.update(cfg.get('loss') or {})
        self.contrastive_loss = MODELS.build(loss_cfg)
        if not hasattr(self.contrastive_loss, 'forward_levels') or \
                not hasattr(self.contrastive_loss, 'pair_distance'):
            raise TypeError(
                f'DeepCLSiamEncoderDecoder: the contrastive loss '
                f'{loss_cfg["type"]} needs forward_levels() and '
                f'pair_distance() (as HardSampleContrastiveLoss has)')
        in_indices = cfg.get('in_indices')
        self.cl_indices = None if in_indices is None else \
            self._index_list(in_indices, 'in_indices')
        self.with_prior = bool(cfg.get('prior', False))
        prior_indices = cfg.get('prior_indices')
        if prior_indices is not None:
            prior_indices = self._index_list(prior_indices, 'prior_indices')
            if self.cl_indices is None or \
                    len(prior_indices) != len(self.cl_indices):
                raise ValueError(
                    f'DeepCLSiamEncoderDecoder: prior_indices '
                    f'{prior_indices} needs one entry per in_indices entry '
                    f'({self.cl_indices}); set in_indices explicitly')
        self.prior_indices = prior_indices
        self.detach_prior = bool(cfg.get('detach_prior', True))

    @staticmethod
    def add_prior_channels(head: ConfigType,
                           targets: Optional[Sequence[int]]) -> dict:
        """A copy of a head config reading one more channel per prior map.

        The head reads fused level ``in_index[j]`` with ``in_channels[j]``
        channels (or one level: two ints); each distance map attached to
        that level adds one channel.

        Args:
            head (dict): The host's head config (``in_channels`` of the
                host, without the prior).
            targets (Sequence[int], optional): Fused levels receiving a map
                (``prior_indices``, else ``in_indices``); None: every level.

        Returns:
            dict: The head config with ``in_channels`` raised.
        """
        head = copy.deepcopy(dict(head))
        in_channels = head.get('in_channels')
        in_index = head.get('in_index', -1)
        if in_channels is None:
            raise ValueError('DeepCLSiamEncoderDecoder: the decode head '
                             'config has no in_channels to add the prior '
                             'channels to (model.decode_head.in_channels)')
        if isinstance(targets, int):
            targets = [targets]

        def extra(level: int) -> int:
            if targets is None:
                return 1
            return sum(1 for t in targets if int(t) == level)

        if isinstance(in_channels, (list, tuple)):
            index = list(in_index) if isinstance(in_index, (list, tuple)) \
                else list(range(len(in_channels)))
            if len(index) != len(in_channels):
                raise ValueError(
                    f'DeepCLSiamEncoderDecoder: decode head in_channels '
                    f'{list(in_channels)} and in_index {index} differ in '
                    f'length')
            head['in_channels'] = [
                int(c) + extra(int(i)) for c, i in zip(in_channels, index)
            ]
        else:
            level = in_index[0] if isinstance(in_index, (list, tuple)) \
                else in_index
            head['in_channels'] = int(in_channels) + extra(int(level))
        return head

    @staticmethod
    def _index_list(indices: Sequence[int], name: str) -> List[int]:
        if isinstance(indices, int):
            indices = [indices]
        indices = [int(i) for i in indices]
        if not indices or any(i < 0 for i in indices):
            raise ValueError(f'DeepCLSiamEncoderDecoder: {name} must be a '
                             f'non-empty list of indices >= 0, got {indices}')
        return indices

    def contrastive_levels(self, num_levels: int) -> List[int]:
        """Backbone levels paired by the loss, checked against the count."""
        if self.cl_indices is None:
            return list(range(num_levels))
        if max(self.cl_indices) >= num_levels:
            raise ValueError(
                f'DeepCLSiamEncoderDecoder: contrastive in_indices '
                f'{self.cl_indices} but the backbone returns {num_levels} '
                f'levels')
        return list(self.cl_indices)

    def attach_prior(self, fused: List[Tensor], dists: List[Tensor],
                     levels: List[int]) -> List[Tensor]:
        """Concatenate the distance maps onto the fused levels.

        Args:
            fused (list[Tensor]): Neck outputs, each (B, C_j, H_j, W_j).
            dists (list[Tensor]): Distance map of each contrastive level,
                (B, 1, h_i, w_i).
            levels (list[int]): The contrastive levels, one per map.

        Returns:
            list[Tensor]: The fused levels, those chosen by
            ``prior_indices`` with one extra channel per map,
            (B, C_j + k, H_j, W_j).
        """
        targets = self.prior_indices or levels
        if max(targets) >= len(fused):
            raise ValueError(
                f'DeepCLSiamEncoderDecoder: the prior goes to fused levels '
                f'{targets} but the neck returns {len(fused)}; set '
                f'contrastive.prior_indices')
        out = list(fused)
        for dist, target in zip(dists, targets):
            if self.detach_prior:
                dist = dist.detach()
            size = out[target].shape[2:]
            if dist.shape[2:] != size:
                dist = resize(
                    dist, size=size, mode='bilinear', align_corners=False)
            out[target] = torch.cat([out[target], dist], dim=1)
        return out

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Fused levels of a pair (with the distance maps if ``prior``).

        Args:
            inputs (Tensor): Both dates, (B, 2C, H, W).

        Returns:
            list[Tensor]: The levels the decode head reads.
        """
        if not self.with_prior:
            return super().extract_feat(inputs)
        feats_a, feats_b = self.extract_bitemporal_feat(inputs)
        levels = self.contrastive_levels(len(feats_a))
        dists = [
            self.contrastive_loss.pair_distance(feats_a[i], feats_b[i])
            for i in levels
        ]
        return self.attach_prior(self.fuse(feats_a, feats_b), dists, levels)

    @staticmethod
    def stack_labels(data_samples: SampleList) -> Tensor:
        """The change labels of a batch, (B, 1, H, W)."""
        if not data_samples or any('gt_sem_seg' not in s
                                   for s in data_samples):
            raise ValueError('DeepCLSiamEncoderDecoder: the contrastive '
                             'loss needs gt_sem_seg in every data sample')
        return torch.stack([s.gt_sem_seg.data for s in data_samples])

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Host losses plus one contrastive loss per level.

        Args:
            inputs (Tensor): Both dates, (B, 2C, H, W).
            data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: ``decode.*`` (and ``aux*``) of the host and
            ``contrastive.loss_level{i}`` for each backbone level ``i``.
        """
        feats_a, feats_b = self.extract_bitemporal_feat(inputs)
        levels = self.contrastive_levels(len(feats_a))
        label = self.stack_labels(data_samples).to(inputs.device)
        cl_losses, dists = self.contrastive_loss.forward_levels(
            [feats_a[i] for i in levels], [feats_b[i] for i in levels], label)
        fused = self.fuse(feats_a, feats_b)
        if self.with_prior:
            fused = self.attach_prior(fused, dists, levels)
        losses = dict()
        losses.update(self._decode_head_forward_train(fused, data_samples))
        if self.with_auxiliary_head:
            losses.update(
                self._auxiliary_head_forward_train(fused, data_samples))
        for level, value in zip(levels, cl_losses):
            losses[f'contrastive.loss_level{level}'] = value
        return losses
