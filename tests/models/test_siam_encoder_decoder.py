"""SiamEncoderDecoder: one batched backbone call, correct split, inference."""
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.registry import MODELS


def tiny_model(policy='abs_diff', test_cfg=None):
    norm = dict(type='BN', requires_grad=True)
    cfg = dict(
        type='SiamEncoderDecoder',
        backbone=dict(
            type='mmseg.ResNet',
            depth=18,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            base_channels=8,
            norm_cfg=norm),
        neck=dict(type='BitemporalFusionNeck', policy=policy),
        decode_head=dict(
            type='mmseg.FCNHead',
            in_channels=64,
            in_index=3,
            channels=8,
            num_convs=1,
            num_classes=2,
            norm_cfg=norm,
            loss_decode=dict(type='mmseg.CrossEntropyLoss')),
        test_cfg=test_cfg or dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg))


def samples(n, size):
    out = []
    for _ in range(n):
        ds = SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(0, 2, (1, size, size))))
        ds.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        out.append(ds)
    return out


def test_backbone_runs_once_on_both_dates():
    model = tiny_model().eval()
    calls = []
    model.backbone.register_forward_hook(
        lambda mod, inp, out: calls.append(inp[0].shape))
    x = torch.randn(3, 6, 64, 64)
    feats_a, feats_b = model.extract_bitemporal_feat(x)
    assert calls == [torch.Size([6, 3, 64, 64])]
    # the split equals running the backbone on each date on its own
    ref_a = model.backbone(x[:, :3])
    ref_b = model.backbone(x[:, 3:])
    for fa, fb, ra, rb in zip(feats_a, feats_b, ref_a, ref_b):
        torch.testing.assert_close(fa, ra, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fb, rb, rtol=1e-5, atol=1e-5)
    fused = model.extract_feat(x)
    torch.testing.assert_close(
        fused[3], (ref_a[3] - ref_b[3]).abs(), rtol=1e-5, atol=1e-5)


def test_identical_dates_give_zero_difference_features():
    model = tiny_model().eval()
    img = torch.randn(1, 3, 32, 32)
    fused = model.extract_feat(torch.cat([img, img], dim=1))
    assert all(float(f.abs().max()) == 0 for f in fused)


def test_odd_channels_rejected():
    model = tiny_model()
    try:
        model.extract_feat(torch.randn(1, 5, 32, 32))
    except ValueError as err:
        assert 'even number of channels' in str(err)
    else:
        raise AssertionError('5-channel input was accepted')


def test_loss_and_predict_whole_and_slide():
    model = tiny_model()
    x = torch.randn(2, 6, 64, 64)
    losses = model.loss(x, samples(2, 64))
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    assert model.backbone.conv1.weight.grad is not None

    model.eval()
    preds = model.predict(x, samples(2, 64))
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert set(preds[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}

    slide = tiny_model(
        test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    slide.load_state_dict(model.state_dict())
    slide.eval()
    logits = slide.inference(x, [s.metainfo for s in samples(2, 64)])
    assert logits.shape == (2, 2, 64, 64)
    # a window covering the whole image makes slide equal to whole
    full = tiny_model(
        test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    full.load_state_dict(model.state_dict())
    full.eval()
    metas = [s.metainfo for s in samples(2, 64)]
    torch.testing.assert_close(
        full.inference(x, metas), model.inference(x, metas))
