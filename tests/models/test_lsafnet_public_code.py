"""LSAFNet's public-code switches against transcriptions of the public code.

The public code is STORMTROOPERRR/RSISCD (``models/SCD.py``,
``models/loss.py``, ``train.py``); each test writes the public equation out
directly and compares it with the switch.
"""
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.models.layers.lsafnet_blocks import (LSAFConvBlock,
                                                   SemanticFusionModule,
                                                   SKDateFusion)
from mmcd_ext.models.losses.class_balanced_bce_loss import class_balanced_bce
from mmcd_ext.registry import MODELS

K = 4  # classes with "no change"
IN_CHANNELS = [8, 8, 16, 16, 16]
SIZE = 32

PUBLIC = dict(
    channels=16,
    cd_channels=12,
    classifier_channels=6,
    fusion_cfg=dict(type='LGAA', reduction=4, public_code_doubling=True),
    sfm_reduced_first=True,
    semantic_input='raw',
    cd_entry='sk',
    semantic_classifier='per_date',
    no_change_logit=True,
    block_depthwise=False,
    per_date_bn=True,
    loss_change=dict(type='ClassBalancedBCELoss'))


def randomise(module, seed=0):
    """Random weights, biases and BN statistics (so no term is trivial)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                if name.endswith('running_var'):
                    tensor.copy_(torch.rand(tensor.shape, generator=gen) + .5)
                else:
                    tensor.copy_(
                        torch.randn(tensor.shape, generator=gen) * 0.3)
    return module


def build_head(**kwargs):
    cfg = dict(
        type='SCDTripleBranchHead',
        in_channels=IN_CHANNELS,
        channels=8,
        num_classes=K,
        dropout_ratio=0.0,  # the public code has none
        norm_cfg=dict(type='BN'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def backbone_feats(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [SIZE // 2, SIZE // 4, SIZE // 8, SIZE // 8, SIZE // 8]
    return [
        torch.randn(2 * batch, c, s, s, generator=gen)
        for c, s in zip(IN_CHANNELS, sizes)
    ]


def sample(label_a, label_b):
    ds = SegDataSample(
        gt_sem_seg=PixelData(data=(label_a != 0).long()[None]),
        gt_sem_seg_a=PixelData(data=label_a[None]),
        gt_sem_seg_b=PixelData(data=label_b[None]))
    ds.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    return ds


def labels(seed=0, batch=2):
    gen = torch.Generator().manual_seed(seed)
    label_a = torch.randint(1, K, (batch, SIZE, SIZE), generator=gen)
    label_b = torch.randint(1, K, (batch, SIZE, SIZE), generator=gen)
    unchanged = torch.rand(batch, SIZE, SIZE, generator=gen) < 0.5
    label_a[unchanged] = 0
    label_b[unchanged] = 0
    return label_a, label_b


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------
def test_class_balanced_bce_equals_the_public_weighted_bce():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=gen, dtype=torch.float64)
    label = (torch.rand(2, 8, 8, generator=gen) < 0.3).long()
    # models/loss.py weighted_BCE_logits, written out pixel by pixel
    flat_x, flat_y = logits.flatten().tolist(), label.flatten().tolist()
    n_pos = sum(flat_y) + 1e-12
    n_neg = len(flat_y) - sum(flat_y) + 1e-12
    expected = 0.0
    for x, y in zip(flat_x, flat_y):
        p = 1.0 / (1.0 + math.exp(-x))
        bce = -(y * math.log(p) + (1 - y) * math.log(1 - p))
        expected += 0.25 * bce / n_pos if y else 0.75 * bce / n_neg
    assert class_balanced_bce(logits, label).item() == pytest.approx(
        expected, rel=1e-10)
    loss = MODELS.build(dict(type='ClassBalancedBCELoss', loss_weight=2.0))
    assert loss(logits, label).item() == pytest.approx(2 * expected)
    assert loss.loss_name == 'loss_bcd'
    # ignored pixels count in neither class
    ignored = label.clone()
    ignored[0] = 255
    only = class_balanced_bce(logits[1:], label[1:])
    torch.testing.assert_close(class_balanced_bce(logits, ignored), only)
    with pytest.raises(ValueError, match='0, 1 or 255'):
        class_balanced_bce(logits, label * 2)


def test_semantic_losses_use_the_no_change_logit_as_the_public_code():
    head = build_head(**PUBLIC).train()
    label_a, label_b = labels()
    samples = [sample(label_a[i], label_b[i]) for i in range(2)]
    gen = torch.Generator().manual_seed(3)
    x1, x2 = (torch.randn(2, K, SIZE, SIZE, generator=gen) for _ in '12')
    xc = torch.randn(2, 1, SIZE, SIZE, generator=gen)
    losses = head.loss_by_feat((x1, x2, xc), samples)
    # train.py: CE with ignore_index 0 on the K logits, x 0.5 per date
    for date, x, lab in (('a', x1, label_a), ('b', x2, label_b)):
        expected = 0.5 * F.cross_entropy(x, lab, ignore_index=0)
        torch.testing.assert_close(losses[f'loss_ss_{date}'], expected)
    # ChangeSimilarity on softmax(X[:, 1:]): cosine embedding, margin 0
    change = (label_a > 0).float()
    target = (1 - 2 * change).flatten()
    vec = [
        x[:, 1:].softmax(1).permute(0, 2, 3, 1).reshape(-1, K - 1)
        for x in (x1, x2)
    ]
    expected_sc = F.cosine_embedding_loss(vec[0], vec[1], target, margin=0.)
    torch.testing.assert_close(losses['loss_sc'], expected_sc)
    torch.testing.assert_close(losses['loss_bcd'],
                               class_balanced_bce(xc, (label_a > 0).long()))


# ---------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------
def test_sk_fusion_equals_the_public_ctfa():
    fusion = randomise(SKDateFusion(16)).eval()
    assert fusion.squeeze.weight.shape == (4, 16, 1, 1)
    assert SKDateFusion(8).squeeze.weight.shape[0] == 4  # max(C / 4, 4)
    gen = torch.Generator().manual_seed(1)
    f1, f2 = (torch.randn(2, 16, 5, 6, generator=gen) for _ in '12')
    # CTFA: z = LeakyReLU_0.2(W_du GAP(f1 + f2)); a = softmax over dates
    s = (f1 + f2).mean(dim=(2, 3))  # (B, C)
    z = F.leaky_relu(s @ fusion.squeeze.weight[:, :, 0, 0].T, 0.2)
    logits = torch.stack(
        [z @ conv.weight[:, :, 0, 0].T for conv in fusion.select], dim=1)
    att = logits.softmax(dim=1)[..., None, None]  # (B, 2, C, 1, 1)
    expected = torch.cat([att[:, 0] * f1 + att[:, 1] * f2, (f1 - f2).abs()],
                         dim=1)
    with torch.no_grad():
        torch.testing.assert_close(fusion(f1, f2), expected)


def test_conv_block_full_dilated_conv_and_single_input():
    full = LSAFConvBlock(8, 4, 6, dilation=2, depthwise=False)
    assert full.spatial.conv.weight.shape == (6, 6, 3, 3)
    assert full.spatial.conv.dilation == (2, 2)
    assert LSAFConvBlock(8, 4, 6).spatial.conv.weight.shape == (6, 1, 3, 3)
    single = randomise(LSAFConvBlock(8, 0, 6, depthwise=False)).eval()
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        expected = single.spatial(single.res2(single.res1(x)))
        torch.testing.assert_close(single(x), expected)
    with pytest.raises(ValueError, match='low_channels=0'):
        single(x, x)
    with pytest.raises(ValueError, match='second input'):
        full(x)


def test_sfm_reduced_first_swaps_lgaa_arguments():
    paper = randomise(SemanticFusionModule((8, 12, 16))).eval()
    public = SemanticFusionModule((8, 12, 16), reduced_first=True).eval()
    public.load_state_dict(paper.state_dict())
    gen = torch.Generator().manual_seed(0)
    f1, f2, f3 = (torch.randn(2, c, 4, 4, generator=gen) for c in (8, 12, 16))
    with torch.no_grad():
        # models/SCD.py Encoder: LGAA(CBR(F_3), F_2), LGAA(CBR(.), F_1)
        f2p = public.fuse2(public.reduce3(f3), f2)
        expected = public.fuse1(public.reduce2(f2p), f1)
        torch.testing.assert_close(public(f1, f2, f3), expected)
        assert not torch.allclose(paper(f1, f2, f3), expected)


# ---------------------------------------------------------------------------
# the head
# ---------------------------------------------------------------------------
def test_public_head_layout_and_shapes():
    head = build_head(**PUBLIC)
    assert head.conv_seg is None
    assert head.num_semantic == K and head.out_channels == 2 * K + 1
    for cls in head.sem_cls:  # DecoderBlock(C + C_cd -> C), CBR, conv
        assert cls.block.res1.conv1.in_channels == 16 + 12
        assert cls.hidden.conv.weight.shape == (6, 16, 1, 1)
        assert cls.conv_out.weight.shape == (K, 6, 1, 1)
    assert head.sem_cls[0].conv_out is not head.sem_cls[1].conv_out
    assert head.cd_cls_hidden.conv.weight.shape == (6, 12, 1, 1)
    assert head.conv_change.weight.shape == (1, 6, 1, 1)
    assert head.cd_block_h.res1.conv1.in_channels == 2 * 16  # SK + |diff|
    assert not hasattr(head, 'cd_fusion')
    x1, x2, xc = head.eval()(backbone_feats())
    assert x1.shape == x2.shape == (2, K, SIZE // 2, SIZE // 2)
    assert xc.shape == (2, 1, SIZE // 2, SIZE // 2)
    with pytest.raises(ValueError, match='classifier_channels'):
        build_head(semantic_classifier='per_date')
    with pytest.raises(ValueError, match='cd_entry'):
        build_head(cd_entry='concat')


def test_public_head_forward_equals_the_public_equations():
    head = randomise(build_head(**PUBLIC)).eval()
    feats = backbone_feats()
    with torch.no_grad():
        x1, x2, xc = head(feats)
        fl, fm, f1, f2, f3 = feats
        fh = head.sfm(f1, f2, f3)
        # SSDecoder: the raw F_H feeds the blocks, LGCE only the CD decoder
        fm_dec = head.ss_block_m(fh, fm)
        fl_dec = head.ss_block_l(fm_dec, fl)
        fh_dec = head.lgce(fh)
        # CRDecoder: CTFA(F'_H1, F'_H2) -> block1 -> (|dM|) -> (|dL|)
        x = head.cd_block_h(head.cd_sk(fh_dec[:2], fh_dec[2:]))
        x = head.cd_block_m(x, (fm_dec[:2] - fm_dec[2:]).abs())
        f_c = head.cd_block_l(x, (fl_dec[:2] - fl_dec[2:]).abs())
        torch.testing.assert_close(xc,
                                   head.conv_change(head.cd_cls_hidden(f_c)))
        for i, x_t in enumerate((x1, x2)):
            cls = head.sem_cls[i]
            inp = torch.cat([fl_dec[2 * i:2 * i + 2], f_c], dim=1)
            body = cls.block.spatial(cls.block.res2(cls.block.res1(inp)))
            torch.testing.assert_close(x_t, cls.conv_out(cls.hidden(body)))


def test_per_date_bn_normalises_each_date_on_its_own():
    stacked = randomise(build_head(**dict(PUBLIC, per_date_bn=False)))
    per_date = build_head(**PUBLIC)
    per_date.load_state_dict(stacked.state_dict())
    feats = backbone_feats()
    feats[0][2:] += 3.0  # date B differs in distribution
    head = per_date.train()
    with torch.no_grad():
        x1, x2, xc = head(feats)
        # the public code: SFM and SS decoder called once per date
        a, b = (
            head.semantic_branch([f[s] for f in feats])
            for s in (slice(0, 2), slice(2, 4)))
        h = head.cd_block_h(head.cd_sk(a['FH_dec'], b['FH_dec']))
        h = head.cd_block_m(h, (a['FM_dec'] - b['FM_dec']).abs())
        f_c = head.cd_block_l(h, (a['FL_dec'] - b['FL_dec']).abs())
        torch.testing.assert_close(xc,
                                   head.conv_change(head.cd_cls_hidden(f_c)))
        torch.testing.assert_close(x1, head.sem_cls[0](a['FL_dec'], f_c))
        torch.testing.assert_close(x2, head.sem_cls[1](b['FL_dec'], f_c))
        mixed = stacked.train()(feats)
    assert not torch.allclose(x1, mixed[0])
    # eval: the same running statistics, the two modes agree
    per_date.load_state_dict(stacked.state_dict())
    with torch.no_grad():
        for a, b in zip(per_date.eval()(feats), stacked.eval()(feats)):
            torch.testing.assert_close(a, b)


def test_head_init_is_kaiming_fan_in_with_zero_bias():
    head = build_head(**dict(PUBLIC, channels=32, cd_channels=32))
    head.init_weights()
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    biased = [m for m in convs if m.bias is not None]
    assert biased and all((m.bias == 0).all() for m in biased)
    big = [m for m in convs if m.weight.numel() >= 4096]
    assert big
    for conv in big:
        fan_in = conv.weight[0].numel()
        std = conv.weight.std().item()
        assert std == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.1)
    for bn in (m for m in head.modules() if isinstance(m, nn.BatchNorm2d)):
        assert (bn.weight == 1).all() and (bn.bias == 0).all()
    # the paper default too (BaseDecodeHead's Normal(0.01) no longer used)
    paper = build_head(channels=32)
    paper.init_weights()
    assert (paper.conv_seg.bias == 0).all()
    assert paper.conv_seg.weight.std().item() > 0.1


# ---------------------------------------------------------------------------
# segmentor
# ---------------------------------------------------------------------------
def tiny_segmentor(**kwargs):
    cfg = dict(
        type='SCDSiamEncoderDecoder',
        data_preprocessor=dict(
            type='DualInputSegDataPreProcessor',
            mean=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            std=[2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
        backbone=dict(
            type='ResNetWithStem',
            depth=18,
            stem_channels=8,
            base_channels=8,
            strides=(1, 2, 1, 1),
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN')),
        decode_head=dict(
            type='SCDTripleBranchHead',
            in_channels=[8, 8, 16, 32, 64],
            num_classes=K,
            dropout_ratio=0.0,
            norm_cfg=dict(type='BN'),
            **dict(PUBLIC, channels=16)))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_per_date_backbone_and_per_date_normalisation():
    model = tiny_segmentor(per_date_backbone=True).train()
    stacked = tiny_segmentor().train()
    stacked.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(0)
    img = torch.randn(2, 6, SIZE, SIZE, generator=gen)
    img[:, 3:] = img[:, 3:] * 3 + 2
    with torch.no_grad():
        feats = model.extract_feat(img)
        alone = [model.backbone(img[:, :3]), model.backbone(img[:, 3:])]
        for level, a, b in zip(feats, *alone):
            torch.testing.assert_close(level, torch.cat([a, b]))
        assert not torch.allclose(feats[-1], stacked.extract_feat(img)[-1])
    # dataset/SECOND.py: (img_A - MEAN_A) / STD_A, (img_B - MEAN_B) / STD_B
    raw = torch.randint(0, 255, (6, 8, 8), dtype=torch.uint8, generator=gen)
    out = model.data_preprocessor(
        dict(inputs=[raw], data_samples=[SegDataSample()]))['inputs'][0]
    mean = torch.tensor([1., 2., 3., 4., 5., 6.])[:, None, None]
    std = torch.tensor([2., 3., 4., 5., 6., 7.])[:, None, None]
    torch.testing.assert_close(out, (raw.float() - mean) / std)


def test_prediction_with_the_no_change_logit():
    model = tiny_segmentor(per_date_backbone=True).eval()
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 2 * K + 1, SIZE, SIZE, generator=gen)
    out = model.postprocess_result(logits)[0]
    change = (logits[0, 2 * K:] > 0).long()
    # train.py: argmax over all K logits (0 possible) times the change mask
    torch.testing.assert_close(out.pred_sem_seg_a.data,
                               logits[0, :K].argmax(0, keepdim=True) * change)
    torch.testing.assert_close(
        out.pred_sem_seg_b.data,
        logits[0, K:2 * K].argmax(0, keepdim=True) * change)


# ---------------------------------------------------------------------------
# the public-code configs
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('dataset,classes,lr,mean,std', [
    ('second', 7, 0.07, [113.40, 114.08, 116.45, 111.07, 114.04, 118.18
                         ], [48.30, 46.27, 48.14, 49.41, 47.01, 47.94]),
    ('landsat', 5, 0.1, [141.53, 139.20, 137.73, 137.36, 136.50, 135.144
                         ], [81.99, 83.31, 83.89, 85.97, 86.01, 86.81]),
])
def test_public_code_configs_set_every_switch(dataset, classes, lr, mean, std):
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(root, 'configs', 'lsafnet',
                 f'lsafnet_r34_{dataset}_public-code.py'))
    head = cfg.model.decode_head
    for key, value in PUBLIC.items():
        if key not in ('channels', 'cd_channels', 'classifier_channels',
                       'loss_change'):
            assert head[key] == value, key
    assert (head.channels, head.cd_channels,
            head.classifier_channels) == (128, 128, 64)
    assert head.num_classes == classes and head.dropout_ratio == 0
    assert dict(head.loss_change) == dict(
        type='ClassBalancedBCELoss',
        weight_pos=0.25,
        weight_neg=0.75,
        loss_weight=1.0,
        loss_name='loss_bcd')
    assert head.loss_semantic.loss_weight == 0.5
    assert head.loss_consistency.type == 'SemanticConsistencyLoss'
    assert cfg.model.per_date_backbone is True
    pre = cfg.model.data_preprocessor
    assert pre.mean == mean and pre.std == std and pre.bgr_to_rgb
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.backbone.strides == (1, 2, 1, 1)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    assert cfg.param_scheduler[0].power == 1.5
