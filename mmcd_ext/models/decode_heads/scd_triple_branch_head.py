"""LSAFNet's triple-branch head: two semantic branches and a change branch."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmcd_ext.registry import MODELS
from ..layers.lsafnet_blocks import (LSAFConvBlock, LSAFPerDateClassifier,
                                     SemanticFusionModule, SKDateFusion,
                                     build_pair_fusion)

CHANGE_FROM = ('decoder', 'encoder')
CD_ENTRIES = ('lgaa', 'sk')
SEMANTIC_INPUTS = ('lgce', 'raw')
SEMANTIC_CLASSIFIERS = ('shared', 'per_date')


@MODELS.register_module()
class SCDTripleBranchHead(BaseDecodeHead):
    """Semantic fusion, shared SS decoder and CD decoder of LSAFNet.

    Input: the five backbone levels of BOTH dates stacked on the batch axis
    (date A first), ``[F_L, F_M, F_1, F_2, F_3]`` each ``(2B, C_i, H_i,
    W_i)`` (what :class:`SCDSiamEncoderDecoder` passes). Per date, with
    shared weights:

    * SFM (eq. 1-2): ``F_H`` from ``F_1, F_2, F_3``;
    * SS decoder (section II-C): ``F'_H = LGCE(F_H)`` (eq. 6-8),
      ``F'_M = f(F'_H, F_M)``, ``F'_L = f(F'_M, F_L)`` with ``f`` the
      :class:`LSAFConvBlock`; a 1x1 classifier on ``F'_L`` gives the
      semantic logits X_1 / X_2 over the ``num_classes - 1`` land-cover
      classes (logit ``j`` is dataset class ``j + 1``; class 0, "no change",
      has no logit).

    Then the CD decoder (eq. 9-14) joins the dates late:
    ``F~_H = LGAA(F'_H1, F'_H2)``, ``F~'_H = ReLU(BN(Conv1x1(F~_H)))``,
    ``F~'_M = |F'_M1 - F'_M2|``, ``F~'_L = |F'_L1 - F'_L2|``,
    ``F'_C = f(F~'_H, F~'_M)``, ``F_C = f(F'_C, F~'_L)``, and a 1x1
    classifier gives the change logit X_C.

    ``change_from='encoder'`` is NOT LSAFNet: the CD decoder then reads the
    encoder-side maps (``F_H`` of the SFM, ``F_M``, ``F_L``) instead of the
    SS decoders' outputs, a middle-stage fusion Siamese baseline (used for
    the synthetic comparison, see ``configs/lsafnet/README.md``).

    ``forward`` returns ``(X_1, X_2, X_C)`` at 1/2 of the input size:
    ``(B, K-1, H/2, W/2)`` twice (``K`` with ``no_change_logit``) and
    ``(B, 1, H/2, W/2)``. The public-code switches (``cd_entry``,
    ``semantic_input``, ``semantic_classifier``, ``no_change_logit``,
    ``classifier_channels``, ``block_depthwise``, ``sfm_reduced_first``,
    ``per_date_bn``) build the authors' released model instead; see
    ``configs/lsafnet/README.md``. For inference
    :meth:`predict_by_feat` stacks them into ONE tensor
    ``cat([X_1, X_2, X_C], dim=1)`` of ``out_channels = 2 (K - 1) + 1``
    channels, so mmseg's whole and slide inference work unchanged; the
    segmentor splits it again.

    Losses (eq. 15-18, weights from the configs of the three losses):
    ``loss_change`` on X_C against the binary change label
    (``gt_sem_seg``), ``loss_semantic`` on X_1 / X_2 against
    ``gt_sem_seg_a`` / ``gt_sem_seg_b`` minus 1 with "no change" (0)
    ignored, and ``loss_consistency`` (eq. 17) on X_1, X_2 and the change
    label.

    Args:
        in_channels (Sequence[int]): Channels of F_L, F_M, F_1, F_2, F_3,
            e.g. ``[64, 64, 128, 256, 512]``.
        channels (int): Output channels of the SS decoder's ConvBlocks
            (``F'_M``, ``F'_L``).
        num_classes (int): Classes of the data set INCLUDING "no change"
            (7 for SECOND, 5 for Landsat-SCD).
        cd_channels (int, optional): Width of the CD decoder (the 1x1
            reduction and its ConvBlocks). Defaults to None (``channels``).
        fusion_cfg (dict): Two-input fusion of the SFM. Defaults to
            ``dict(type='LGAA', reduction=4)``; the ablation without LGAA
            uses ``dict(type='ConcatMLPFusion')``.
        cd_fusion_cfg (dict, optional): Two-input fusion of eq. 9.
            Defaults to None (the same as ``fusion_cfg``).
        lgce_cfg (dict, optional): The LGCE of the SS decoder. Defaults to
            ``dict(type='LGCE', reduction=4)``; None is the identity.
        change_from (str): 'decoder' (LSAFNet, late-stage fusion) or
            'encoder' (the middle-stage baseline). Defaults to 'decoder'.
        block_dilation (int): Dilation of the ConvBlocks' depthwise conv.
            Defaults to 2.
        change_threshold (float): Change probability above which a pixel
            is predicted changed. Defaults to 0.5.
        cd_entry (str): Entry of the CD decoder. 'lgaa' (the paper, eq.
            9-10): ``CBR1x1(LGAA(F'_H1, F'_H2))``; 'sk' (the public code):
            :class:`SKDateFusion` (softmax over the dates, concatenated with
            ``|F'_H1 - F'_H2|``) then a one-input ConvBlock. Defaults to
            'lgaa'.
        semantic_input (str): What the SS decoder's first ConvBlock reads:
            'lgce' (the paper: ``F'_H = LGCE(F_H)``) or 'raw' (the public
            code: ``F_H``; LGCE's output then feeds only the CD decoder).
            Defaults to 'lgce'.
        semantic_classifier (str): 'shared' (the paper: one 1x1 conv on
            ``F'_L`` for both dates) or 'per_date' (the public code: one
            :class:`LSAFPerDateClassifier` per date on ``cat(F'_L, F_C)``).
            Defaults to 'shared'.
        no_change_logit (bool): The semantic classifiers also output a "no
            change" logit (``num_classes`` logits; logit j = class j; class
            0 ignored by the CE, left out of the consistency loss, and the
            prediction is ``argmax`` over all of them where changed), as the
            public code does. Defaults to False (``num_classes - 1``
            logits).
        classifier_channels (int, optional): Hidden width of a two-layer
            change classifier ``Conv1x1(ReLU(BN(Conv1x1(F_C))))`` and of the
            per-date semantic classifiers (the public code: 64). Defaults to
            None (one 1x1 conv; required with 'per_date').
        block_depthwise (bool): Depthwise (the paper) or full (the public
            code) dilated 3x3 conv in every ConvBlock. Defaults to True.
        sfm_reduced_first (bool): The SFM passes the reduced coarse map as
            LGAA's first input (the public code). Defaults to False.
        per_date_bn (bool): Run the SFM and SS decoder on each date
            separately, so training BN statistics are per date (the public
            code) instead of over both dates. Defaults to False.
        loss_change (dict): Loss on X_C (binary CE, eq. 16). Defaults to
            ``mmseg.CrossEntropyLoss(use_sigmoid=True)``, weight 1.
        loss_semantic (dict): Loss on X_1 and on X_2 (CE, eq. 15); its
            ``loss_weight`` is the 0.5 of eq. 18. Defaults to
            ``mmseg.CrossEntropyLoss``, weight 0.5.
        loss_consistency (dict, optional): Eq. 17. Defaults to
            ``SemanticConsistencyLoss``, weight 1; None leaves it out.
        **kwargs: Other ``BaseDecodeHead`` arguments (``in_index``,
            ``norm_cfg``, ``dropout_ratio``, ``align_corners``,
            ``ignore_index``, ``init_cfg``, ...). Without ``init_cfg``
            every conv of the head is Kaiming-normal (fan-in, ReLU gain)
            with zero bias and every BN weight 1 / bias 0 (the paper's
            Kaiming initialisation; the public code's ``initialize_weights``).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 num_classes: int,
                 cd_channels: Optional[int] = None,
                 fusion_cfg: ConfigType = dict(type='LGAA', reduction=4),
                 cd_fusion_cfg: OptConfigType = None,
                 lgce_cfg: OptConfigType = dict(type='LGCE', reduction=4),
                 change_from: str = 'decoder',
                 block_dilation: int = 2,
                 change_threshold: float = 0.5,
                 cd_entry: str = 'lgaa',
                 semantic_input: str = 'lgce',
                 semantic_classifier: str = 'shared',
                 no_change_logit: bool = False,
                 classifier_channels: Optional[int] = None,
                 block_depthwise: bool = True,
                 sfm_reduced_first: bool = False,
                 per_date_bn: bool = False,
                 loss_change: ConfigType = dict(
                     type='mmseg.CrossEntropyLoss',
                     use_sigmoid=True,
                     avg_non_ignore=True,
                     loss_weight=1.0,
                     loss_name='loss_bcd'),
                 loss_semantic: ConfigType = dict(
                     type='mmseg.CrossEntropyLoss',
                     use_sigmoid=False,
                     avg_non_ignore=True,
                     loss_weight=0.5,
                     loss_name='loss_ss'),
                 loss_consistency: OptConfigType = dict(
                     type='SemanticConsistencyLoss', loss_weight=1.0),
                 **kwargs) -> None:
        name = type(self).__name__
        if len(in_channels) != 5:
            raise ValueError(f'{name}: in_channels must list F_L, F_M, F_1, '
                             f'F_2, F_3, got {in_channels}')
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'{name}: num_classes counts "no change" plus '
                             f'at least one class, got {num_classes!r}')
        if change_from not in CHANGE_FROM:
            raise ValueError(f'{name}: change_from must be one of '
                             f'{CHANGE_FROM}, got {change_from!r}')
        if not 0.0 < change_threshold < 1.0:
            raise ValueError(f'{name}: change_threshold must be in (0, 1), '
                             f'got {change_threshold}')
        for key, value, allowed in (('cd_entry', cd_entry, CD_ENTRIES),
                                    ('semantic_input', semantic_input,
                                     SEMANTIC_INPUTS), ('semantic_classifier',
                                                        semantic_classifier,
                                                        SEMANTIC_CLASSIFIERS)):
            if value not in allowed:
                raise ValueError(f'{name}: {key} must be one of {allowed}, '
                                 f'got {value!r}')
        if classifier_channels is not None and (not isinstance(
                classifier_channels, int) or classifier_channels < 1):
            raise ValueError(f'{name}: classifier_channels must be None or a '
                             f'positive int, got {classifier_channels!r}')
        if semantic_classifier == 'per_date' and classifier_channels is None:
            raise ValueError(f'{name}: semantic_classifier=\'per_date\' '
                             'needs classifier_channels (the hidden width)')
        if change_from == 'encoder' and (cd_entry != 'lgaa'
                                         or semantic_input != 'lgce'):
            raise ValueError(f'{name}: change_from=\'encoder\' (the '
                             'Siamese baseline) is built with cd_entry='
                             '\'lgaa\' and semantic_input=\'lgce\' only')
        kwargs.setdefault('in_index', [0, 1, 2, 3, 4])
        # Kaiming for the whole head unless an init_cfg is given
        kwargs.setdefault('init_cfg', None)
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            num_classes=num_classes,
            loss_decode=loss_semantic,
            **kwargs)
        c_l, c_m, c_1, c_2, c_3 = in_channels
        cd_channels = cd_channels or channels
        norm_cfg = self.norm_cfg or dict(type='BN', requires_grad=True)
        # semantic logits per date; logit j is class j + offset
        self.no_change_logit = no_change_logit
        self.semantic_label_offset = 0 if no_change_logit else 1
        self.num_semantic = num_classes - self.semantic_label_offset
        # one stacked logit tensor at inference: X_1, X_2, X_C
        self.out_channels = 2 * self.num_semantic + 1
        self.change_from = change_from
        self.change_threshold = change_threshold
        self.cd_entry = cd_entry
        self.semantic_input = semantic_input
        self.semantic_classifier = semantic_classifier
        self.per_date_bn = per_date_bn
        blk = dict(
            dilation=block_dilation,
            norm_cfg=norm_cfg,
            align_corners=self.align_corners,
            depthwise=block_depthwise)

        # semantic branches (shared by both dates)
        self.sfm = SemanticFusionModule((c_1, c_2, c_3),
                                        fusion_cfg,
                                        norm_cfg,
                                        self.align_corners,
                                        reduced_first=sfm_reduced_first)
        if lgce_cfg is None:
            self.lgce = nn.Identity()
        else:
            self.lgce = MODELS.build(
                dict(
                    lgce_cfg,
                    channels=c_1,
                    norm_cfg=lgce_cfg.get('norm_cfg', norm_cfg)))
        self.ss_block_m = LSAFConvBlock(c_1, c_m, channels, **blk)
        self.ss_block_l = LSAFConvBlock(channels, c_l, channels, **blk)
        if semantic_classifier == 'shared':
            # BaseDecodeHead's classifier
            self.conv_seg = nn.Conv2d(channels, self.num_semantic, 1)
        else:
            self.conv_seg = None
            self.sem_cls = nn.ModuleList([
                LSAFPerDateClassifier(channels, cd_channels, channels,
                                      classifier_channels, self.num_semantic,
                                      **blk) for _ in range(2)
            ])

        # change branch
        if change_from == 'decoder':
            cd_in = (c_1, channels, channels)  # F'_H, F'_M, F'_L
        else:
            cd_in = (c_1, c_m, c_l)  # F_H, F_M, F_L
        if cd_entry == 'lgaa':
            self.cd_fusion = build_pair_fusion(cd_fusion_cfg or fusion_cfg,
                                               cd_in[0], norm_cfg)
            self.cd_reduce = ConvModule(
                cd_in[0],
                cd_channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=dict(type='ReLU'))
        else:
            self.cd_sk = SKDateFusion(cd_in[0])
            self.cd_block_h = LSAFConvBlock(2 * cd_in[0], 0, cd_channels,
                                            **blk)
        self.cd_block_m = LSAFConvBlock(cd_channels, cd_in[1], cd_channels,
                                        **blk)
        self.cd_block_l = LSAFConvBlock(cd_channels, cd_in[2], cd_channels,
                                        **blk)
        if classifier_channels is None:
            self.conv_change = nn.Conv2d(cd_channels, 1, 1)
        else:
            self.cd_cls_hidden = ConvModule(
                cd_channels,
                classifier_channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=dict(type='ReLU'))
            self.conv_change = nn.Conv2d(classifier_channels, 1, 1)

        self.loss_change = MODELS.build(loss_change)
        self.loss_semantic = self.loss_decode
        self.loss_consistency = None if loss_consistency is None else \
            MODELS.build(loss_consistency)

    def init_weights(self) -> None:
        """Kaiming-normal convs (fan-in), zero biases, BN 1 / 0.

        With an ``init_cfg`` (e.g. ``Pretrained``) mmengine's initialisation
        runs instead.
        """
        if self.init_cfg is not None:
            super().init_weights()
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode='fan_in', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module,
                            (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                if module.weight is not None:
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)
        self._is_init = True

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def semantic_branch(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """SFM and SS decoder on one or both dates (shared weights).

        Args:
            feats (Sequence[Tensor]): ``[F_L, F_M, F_1, F_2, F_3]``,
                (N, C_i, H_i, W_i) each.

        Returns:
            dict[str, Tensor]: ``F_H`` (N, C_1, H_1, W_1), ``F'_H`` (same),
            ``F'_M`` (N, channels, H_M, W_M), ``F'_L`` (N, channels, H_L,
            W_L) and, with the shared classifier, the semantic logits ``X``
            (N, K-1, H_L, W_L).
        """
        f_l, f_m, f_1, f_2, f_3 = feats
        f_h = self.sfm(f_1, f_2, f_3)
        f_h_dec = self.lgce(f_h)
        ss_in = f_h_dec if self.semantic_input == 'lgce' else f_h
        f_m_dec = self.ss_block_m(ss_in, f_m)
        f_l_dec = self.ss_block_l(f_m_dec, f_l)
        out = dict(F_H=f_h, FH_dec=f_h_dec, FM_dec=f_m_dec, FL_dec=f_l_dec)
        if self.semantic_classifier == 'shared':
            out['X'] = self.cls_seg(f_l_dec)
        return out

    def change_branch(self, high: Tuple[Tensor, Tensor], mid: Tuple[Tensor,
                                                                    Tensor],
                      low: Tuple[Tensor, Tensor]) -> Tensor:
        """CD decoder (eq. 9-14) and the change classifier.

        Args:
            high (tuple[Tensor, Tensor]): ``F'_H1, F'_H2``, (B, C_1, h, w).
            mid (tuple[Tensor, Tensor]): ``F'_M1, F'_M2``, (B, C_m, H_M,
                W_M).
            low (tuple[Tensor, Tensor]): ``F'_L1, F'_L2``, (B, C_l, H_L,
                W_L).

        Returns:
            tuple[Tensor, Tensor]: X_C, (B, 1, H_L, W_L), and the change
            feature F_C, (B, cd_channels, H_L, W_L).
        """
        if self.cd_entry == 'lgaa':
            f_h = self.cd_reduce(self.cd_fusion(*high))  # eq. 9-10
        else:
            f_h = self.cd_block_h(self.cd_sk(*high))
        f_m = torch.abs(mid[0] - mid[1])  # eq. 11
        f_l = torch.abs(low[0] - low[1])  # eq. 12
        f_c = self.cd_block_l(self.cd_block_m(f_h, f_m), f_l)  # eq. 13-14
        x_c = f_c
        if hasattr(self, 'cd_cls_hidden'):
            x_c = self.cd_cls_hidden(x_c)
        return self.conv_change(x_c), f_c

    def forward(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Semantic logits of both dates and the change logit.

        Args:
            inputs (list[Tensor]): Backbone levels of both dates stacked on
                the batch axis, (2B, C_i, H_i, W_i) each.

        Returns:
            tuple[Tensor, Tensor, Tensor]: X_1 and X_2, (B, K-1, H_L, W_L),
            and X_C, (B, 1, H_L, W_L).
        """
        feats = self._transform_inputs(inputs)
        if feats[0].shape[0] % 2:
            raise ValueError(f'{type(self).__name__}: expects both dates '
                             'stacked on the batch axis (an even batch), got '
                             f'{feats[0].shape[0]}')
        batch = feats[0].shape[0] // 2
        if self.per_date_bn:
            per_date = [
                self.semantic_branch([f[:batch] for f in feats]),
                self.semantic_branch([f[batch:] for f in feats])
            ]
            out = {
                key: torch.cat([per_date[0][key], per_date[1][key]])
                for key in per_date[0]
            }
        else:
            out = self.semantic_branch(feats)

        def pair(x: Tensor) -> Tuple[Tensor, Tensor]:
            return x[:batch], x[batch:]

        if self.change_from == 'decoder':
            x_c, f_c = self.change_branch(
                pair(out['FH_dec']), pair(out['FM_dec']), pair(out['FL_dec']))
        else:
            x_c, f_c = self.change_branch(
                pair(out['F_H']), pair(feats[1]), pair(feats[0]))
        if self.semantic_classifier == 'shared':
            x_1, x_2 = pair(out['X'])
        else:
            f_l_1, f_l_2 = pair(out['FL_dec'])
            x_1 = self.sem_cls[0](self.dropout_if_any(f_l_1), f_c)
            x_2 = self.sem_cls[1](self.dropout_if_any(f_l_2), f_c)
        return x_1, x_2, x_c

    def dropout_if_any(self, x: Tensor) -> Tensor:
        """``BaseDecodeHead``'s dropout (if ``dropout_ratio`` > 0)."""
        return x if self.dropout is None else self.dropout(x)

    # ------------------------------------------------------------------
    # inference and losses
    # ------------------------------------------------------------------
    def predict_by_feat(self, seg_logits: Tuple[Tensor, Tensor, Tensor],
                        batch_img_metas: List[dict]) -> Tensor:
        """Stack X_1, X_2, X_C and resize to the input size.

        Args:
            seg_logits (tuple[Tensor, Tensor, Tensor]): Output of
                :meth:`forward`.
            batch_img_metas (list[dict]): Meta information of the inputs.

        Returns:
            Tensor: (B, 2 (K-1) + 1, H, W).
        """
        return super().predict_by_feat(
            torch.cat(seg_logits, dim=1), batch_img_metas)

    def split_logits(self, stacked: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Split a stacked logit tensor into X_1, X_2, X_C (dim 1 or -3)."""
        if stacked.shape[-3] != self.out_channels:
            raise ValueError(f'{type(self).__name__}: expected '
                             f'{self.out_channels} stacked channels, got '
                             f'{stacked.shape[-3]}')
        k = self.num_semantic
        return (stacked.narrow(-3, 0, k), stacked.narrow(-3, k, k),
                stacked.narrow(-3, 2 * k, 1))

    def _labels(self, samples: List[SegDataSample], field: str) -> Tensor:
        """Stack ``field`` of every sample, (B, H, W) long."""
        maps = []
        for sample in samples:
            if field not in sample:
                raise KeyError(
                    f'{type(self).__name__}: a data sample has no "{field}". '
                    'Semantic change detection needs gt_sem_seg (change), '
                    'gt_sem_seg_a and gt_sem_seg_b (load them with '
                    'LoadSCDAnnotations and pack with PackCDInputs)')
            maps.append(sample.get(field).data)
        return torch.stack(maps, dim=0).squeeze(1).long()

    def semantic_target(self, label: Tensor) -> Tensor:
        """Dataset classes 1..K-1 -> logits 0..K-2; "no change" ignored.

        With ``no_change_logit`` the classes keep their index (logit j is
        class j) and "no change" is still ignored.

        Args:
            label (Tensor): (B, H, W), 0 = no change, ``ignore_index``
                ignored.

        Returns:
            Tensor: (B, H, W), ``label - 1`` or ``ignore_index``.
        """
        ignored = (label == 0) | (label == self.ignore_index)
        bad = ~ignored & ((label < 0) | (label >= self.num_classes))
        if bad.any():
            raise ValueError(
                f'{type(self).__name__}: semantic labels must be class '
                f'indices 0..{self.num_classes - 1} or {self.ignore_index}, '
                f'got {torch.unique(label[bad]).tolist()}')
        return torch.where(ignored, torch.full_like(label, self.ignore_index),
                           label - self.semantic_label_offset)

    def loss_by_feat(self, seg_logits: Tuple[Tensor, Tensor, Tensor],
                     batch_data_samples: List[SegDataSample]) -> dict:
        """Eq. 18: ``L_BCD + 0.5 (L_SS1 + L_SS2) + L_SC`` (config weights).

        Args:
            seg_logits (tuple[Tensor, Tensor, Tensor]): X_1, X_2, X_C.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_sem_seg`` (change 0/1/255), ``gt_sem_seg_a`` and
                ``gt_sem_seg_b`` (classes, 0 = no change).

        Returns:
            dict[str, Tensor]: ``loss_bcd``, ``loss_ss_a``, ``loss_ss_b``,
            ``loss_sc`` (names from the loss configs) and ``acc_change``.
        """
        change = self._labels(batch_data_samples, 'gt_sem_seg')
        label_a = self._labels(batch_data_samples, 'gt_sem_seg_a')
        label_b = self._labels(batch_data_samples, 'gt_sem_seg_b')
        size = change.shape[-2:]
        x_1, x_2, x_c = (
            resize(
                x,
                size=size,
                mode='bilinear',
                align_corners=self.align_corners) for x in seg_logits)
        valid = change != self.ignore_index
        if (valid & (change > 1)).any():
            raise ValueError(f'{type(self).__name__}: the change label must '
                             f'hold 0, 1 or {self.ignore_index}')
        losses = dict()
        losses[self.loss_change.loss_name] = self.loss_change(
            x_c, change, ignore_index=self.ignore_index)
        name = self.loss_semantic.loss_name
        for date, logits, label in (('a', x_1, label_a), ('b', x_2, label_b)):
            losses[f'{name}_{date}'] = self.loss_semantic(
                logits,
                self.semantic_target(label),
                ignore_index=self.ignore_index)
        if self.loss_consistency is not None:
            # on the land-cover classes only (not a "no change" logit)
            first = 1 - self.semantic_label_offset
            losses[self.loss_consistency.loss_name] = self.loss_consistency(
                x_1[:, first:],
                x_2[:, first:],
                change,
                ignore_index=self.ignore_index)
        with torch.no_grad():
            pred = (x_c.squeeze(1).sigmoid() > self.change_threshold).long()
            hits = ((pred == change) & valid).sum()
            losses['acc_change'] = 100.0 * hits / valid.sum().clamp(min=1)
        return losses
