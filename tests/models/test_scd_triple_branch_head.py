"""SCDTripleBranchHead (LSAFNet) and SCDSiamEncoderDecoder."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.registry import MODELS

K = 4  # classes with "no change"
IN_CHANNELS = [8, 8, 16, 16, 16]
SIZE = 32


def build_head(**kwargs):
    cfg = dict(
        type='SCDTripleBranchHead',
        in_channels=IN_CHANNELS,
        channels=8,
        num_classes=K,
        norm_cfg=dict(type='BN'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def backbone_feats(batch=2, seed=0):
    """Five levels of both dates stacked, (2B, C, H, W); F_1..F_3 at 1/8."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [SIZE // 2, SIZE // 4, SIZE // 8, SIZE // 8, SIZE // 8]
    return [
        torch.randn(2 * batch, c, s, s, generator=gen)
        for c, s in zip(IN_CHANNELS, sizes)
    ]


def sample(label_a, label_b):
    """A data sample with semantic labels and the derived change label."""
    change = (label_a != 0).long()
    change[label_a == 255] = 255
    ds = SegDataSample(
        gt_sem_seg=PixelData(data=change[None]),
        gt_sem_seg_a=PixelData(data=label_a[None]),
        gt_sem_seg_b=PixelData(data=label_b[None]))
    ds.set_metainfo(
        dict(
            img_shape=(SIZE, SIZE),
            ori_shape=(SIZE, SIZE),
            pad_shape=(SIZE, SIZE)))
    return ds


def labels(seed=0):
    gen = torch.Generator().manual_seed(seed)
    label_a = torch.randint(1, K, (SIZE, SIZE), generator=gen)
    label_b = torch.randint(1, K, (SIZE, SIZE), generator=gen)
    unchanged = torch.rand(SIZE, SIZE, generator=gen) < 0.5
    label_a[unchanged] = 0
    label_b[unchanged] = 0
    label_a[0, :4] = 255
    label_b[0, :4] = 255
    return label_a, label_b


def random_logits(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x1 = torch.randn(batch, K - 1, SIZE, SIZE, generator=gen)
    x2 = torch.randn(batch, K - 1, SIZE, SIZE, generator=gen)
    xc = torch.randn(batch, 1, SIZE, SIZE, generator=gen)
    return x1, x2, xc


def test_forward_shapes_and_stacked_inference_output():
    head = build_head().eval()
    with torch.no_grad():
        x1, x2, xc = head(backbone_feats())
        stacked = head.predict(
            backbone_feats(),
            [dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE))] * 2, {})
    assert x1.shape == x2.shape == (2, K - 1, SIZE // 2, SIZE // 2)
    assert xc.shape == (2, 1, SIZE // 2, SIZE // 2)
    assert head.out_channels == 2 * (K - 1) + 1
    assert stacked.shape == (2, head.out_channels, SIZE, SIZE)
    up = F.interpolate(
        torch.cat([x1, x2, xc], 1),
        size=(SIZE, SIZE),
        mode='bilinear',
        align_corners=False)
    torch.testing.assert_close(stacked, up)
    a, b, c = head.split_logits(stacked)
    torch.testing.assert_close(torch.cat([a, b, c], 1), stacked)


def test_semantic_branch_is_shared_and_dates_meet_only_in_cd_decoder():
    head = build_head().eval()
    feats = backbone_feats()
    with torch.no_grad():
        x1, x2, _ = head(feats)
        # date A alone through the semantic branch gives the same X_1
        alone = head.semantic_branch([f[:2] for f in feats])['X']
        torch.testing.assert_close(x1, alone)
        # changing date B does not touch X_1
        other = [f.clone() for f in feats]
        for f in other:
            f[2:] += 1.0
        x1_other, x2_other, _ = head(other)
    torch.testing.assert_close(x1, x1_other)
    assert not torch.allclose(x2, x2_other)


@pytest.mark.parametrize('change_from', ['decoder', 'encoder'])
def test_cd_decoder_equals_eq_9_to_14(change_from):
    head = build_head(change_from=change_from).eval()
    feats = backbone_feats()
    with torch.no_grad():
        _, _, xc = head(feats)
        out = head.semantic_branch(feats)
        if change_from == 'decoder':  # LSAFNet: SS-decoded features
            h, m, low = out['FH_dec'], out['FM_dec'], out['FL_dec']
        else:  # the baseline: encoder-side features
            h, m, low = out['F_H'], feats[1], feats[0]
        f_h = head.cd_reduce(head.cd_fusion(h[:2], h[2:]))  # eq. 9-10
        f_m = (m[:2] - m[2:]).abs()  # eq. 11
        f_l = (low[:2] - low[2:]).abs()  # eq. 12
        f_c = head.cd_block_l(head.cd_block_m(f_h, f_m), f_l)  # eq. 13-14
        torch.testing.assert_close(xc, head.conv_change(f_c))
    assert type(head.cd_fusion).__name__ == 'LGAA'


def test_semantic_ce_ignores_the_no_change_label():
    head = build_head()
    label_a, label_b = labels()
    samples = [sample(label_a, label_b), sample(label_b, label_a)]
    x1, x2, xc = random_logits()
    base = head.loss_by_feat((x1, x2, xc), samples)
    # change the date-A predictions only where date A says "no change"
    nochange = torch.stack([label_a == 0, label_b == 0])[:, None]
    x1_changed = torch.where(nochange.expand_as(x1), x1 * -3 + 5, x1)
    moved = head.loss_by_feat((x1_changed, x2, xc), samples)
    torch.testing.assert_close(moved['loss_ss_a'], base['loss_ss_a'])
    torch.testing.assert_close(moved['loss_ss_b'], base['loss_ss_b'])
    # ... but on changed pixels it does change
    x1_changed = torch.where(nochange.expand_as(x1), x1, x1 * -3 + 5)
    moved = head.loss_by_feat((x1_changed, x2, xc), samples)
    assert abs(moved['loss_ss_a'] - base['loss_ss_a']) > 1e-3


def direct_losses(x1, x2, xc, la, lb):
    """Eq. 15-18 written out (semantic logit j = dataset class j + 1)."""
    change = (la != 0).long()
    change[la == 255] = 255
    valid = change != 255

    def ce(logits, label):
        keep = (label != 0) & (label != 255)
        logp = logits.log_softmax(1).permute(0, 2, 3, 1)[keep]
        return -logp.gather(1, (label[keep] - 1)[:, None]).mean()

    p = xc[:, 0].sigmoid()[valid]
    y = change[valid].float()
    bcd = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    s1 = x1.softmax(1).permute(0, 2, 3, 1)[valid]
    s2 = x2.softmax(1).permute(0, 2, 3, 1)[valid]
    cos = (s1 * s2).sum(1) / (s1.norm(dim=1) * s2.norm(dim=1))
    sc = torch.where(y == 1, cos, 1 - cos).mean()
    return bcd, ce(x1, la), ce(x2, lb), sc


def test_total_loss_is_eq_18():
    head = build_head()
    la0, lb0 = labels(0)
    la1, lb1 = labels(1)
    samples = [sample(la0, lb0), sample(la1, lb1)]
    x1, x2, xc = random_logits(seed=3)
    losses = head.loss_by_feat((x1, x2, xc), samples)
    bcd, ss1, ss2, sc = direct_losses(x1, x2, xc, torch.stack([la0, la1]),
                                      torch.stack([lb0, lb1]))
    torch.testing.assert_close(losses['loss_bcd'], bcd)
    torch.testing.assert_close(losses['loss_ss_a'], 0.5 * ss1)
    torch.testing.assert_close(losses['loss_ss_b'], 0.5 * ss2)
    torch.testing.assert_close(losses['loss_sc'], sc)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    torch.testing.assert_close(total, bcd + 0.5 * (ss1 + ss2) + sc)


def test_losses_reach_every_part_of_the_head():
    head = build_head()
    la, lb = labels()
    with pytest.raises(ValueError, match='batch of at least 2'):
        head.loss(backbone_feats(batch=1), [sample(la, lb)], {})
    losses = head.loss(backbone_feats(batch=2), [sample(la, lb)] * 2, {})
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    for name in ('sfm.fuse1.local_att.0.conv.weight',
                 'lgce.global_att.1.conv.weight', 'conv_seg.weight',
                 'cd_fusion.local_att.0.conv.weight', 'conv_change.weight'):
        grad = dict(head.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_bad_labels_and_configs_are_named():
    head = build_head()
    x = random_logits()
    zeros = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
    ds = SegDataSample(gt_sem_seg=PixelData(data=zeros))
    with pytest.raises(KeyError, match='gt_sem_seg_a'):
        head.loss_by_feat(x, [ds, ds])
    la, lb = labels()
    la[la == 3] = 9
    with pytest.raises(ValueError, match='class indices'):
        head.loss_by_feat(x, [sample(la, lb)] * 2)
    with pytest.raises(ValueError, match='change_from'):
        build_head(change_from='middle')
    with pytest.raises(ValueError, match='F_L, F_M'):
        build_head(in_channels=[8, 8, 8])


# ------------------------------------------------------------- segmentor
def tiny_segmentor(mode='whole'):
    test_cfg = dict(mode=mode)
    if mode == 'slide':
        test_cfg.update(crop_size=(32, 32), stride=(16, 16))
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='SCDSiamEncoderDecoder',
            data_preprocessor=dict(
                type='DualInputSegDataPreProcessor',
                mean=[0.0] * 3,
                std=[1.0] * 3),
            backbone=dict(
                type='ResNetWithStem',
                depth=18,
                stem_channels=8,
                base_channels=8,
                strides=(1, 2, 1, 1),
                out_indices=(0, 1, 2, 3)),
            decode_head=dict(
                type='SCDTripleBranchHead',
                in_channels=[8, 8, 16, 32, 64],
                channels=8,
                num_classes=K),
            test_cfg=ConfigDict(test_cfg)))


def test_postprocess_masks_semantic_maps_with_the_change_map():
    model = tiny_segmentor().eval()
    x1, x2, xc = random_logits(batch=1, seed=5)
    stacked = torch.cat([x1, x2, xc], 1)
    ds = SegDataSample()
    ds.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    out = model.postprocess_result(stacked, [ds])[0]
    change = (torch.sigmoid(xc[0, 0]) > 0.5).long()
    assert 0 < change.sum() < change.numel()
    torch.testing.assert_close(out.pred_sem_seg.data[0], change)
    for x, key in ((x1, 'pred_sem_seg_a'), (x2, 'pred_sem_seg_b')):
        expected = torch.where(change.bool(), x[0].argmax(0) + 1,
                               torch.zeros_like(change))
        torch.testing.assert_close(out.get(key).data[0], expected)
    # a horizontally flipped sample is flipped back
    flipped = SegDataSample()
    flipped.set_metainfo(
        dict(
            img_shape=(SIZE, SIZE),
            ori_shape=(SIZE, SIZE),
            flip=True,
            flip_direction='horizontal'))
    back = model.postprocess_result(stacked.flip(-1), [flipped])[0]
    torch.testing.assert_close(back.pred_sem_seg_a.data,
                               out.pred_sem_seg_a.data)


@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_segmentor_trains_and_predicts(mode):
    model = tiny_segmentor(mode)
    model.init_weights()
    samples = [sample(*labels(0)), sample(*labels(1))]
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(
            0, 255, (6, SIZE, SIZE), generator=gen, dtype=torch.uint8)
        for _ in range(2)
    ]
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    losses = model.loss(**data)
    assert set(losses) >= {
        'decode.loss_bcd', 'decode.loss_ss_a', 'decode.loss_ss_b',
        'decode.loss_sc'
    }
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.eval()
    big = 48 if mode == 'slide' else SIZE  # slide: 4 windows of 32
    inputs = torch.randn(1, 6, big, big, generator=gen)
    ds = SegDataSample()
    ds.set_metainfo(
        dict(img_shape=(big, big), ori_shape=(big, big), pad_shape=(big, big)))
    with torch.no_grad():
        out = model.predict(inputs, [ds])[0]
        logits = model.inference(inputs, [ds.metainfo])
    for key in ('pred_sem_seg', 'pred_sem_seg_a', 'pred_sem_seg_b'):
        assert out.get(key).data.shape == (1, big, big)
    assert out.pred_sem_seg_a.data.max() <= K - 1
    assert ((out.pred_sem_seg_a.data == 0) == (
        out.pred_sem_seg.data == 0)).all()
    assert logits.shape == (1, 2 * (K - 1) + 1, big, big)
    if mode == 'slide':  # the windows' logits are averaged like mmseg's
        corner = model.decode_head.predict(
            model.extract_feat(inputs[..., :32, :32]),
            [dict(img_shape=(32, 32))], {})
        torch.testing.assert_close(logits[..., :16, :16],
                                   corner[..., :16, :16])


def test_segmentor_refuses_a_neck():
    with pytest.raises(ValueError, match='neck'):
        MODELS.build(
            dict(
                type='SCDSiamEncoderDecoder',
                backbone=dict(type='ResNetWithStem', depth=18),
                neck=dict(type='BitemporalFusionNeck'),
                decode_head=dict(
                    type='SCDTripleBranchHead',
                    in_channels=[64, 64, 128, 256, 512],
                    channels=8,
                    num_classes=K)))
