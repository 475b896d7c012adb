"""TTPHead against eq. 3 written with functional ops."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.models.decode_heads.ttp_head import TTPHead


def build(multi_level=True, **kwargs):
    head = TTPHead(
        in_channels=16,
        channels=8,
        level_channels=8,
        multi_level=multi_level,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=None,
        dropout_ratio=0.0,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss',
            use_sigmoid=True,
            avg_non_ignore=True),
        **kwargs)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for param in head.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
    return head.eval()


def ln2d(x, norm):
    mean = x.mean(1, keepdim=True)
    var = (x - mean).square().mean(1, keepdim=True)
    x = (x - mean) / torch.sqrt(var + norm.eps)
    return x * norm.weight[:, None, None] + norm.bias[:, None, None]


def conv_relu(x, module):
    return F.relu(F.conv2d(x, module.conv.weight, module.conv.bias))


def eq3(head, x):
    """Eq. 3 with the head's weights, every step written out."""
    t1, norm, _, t2 = head.up4
    up4 = F.conv_transpose2d(
        F.gelu(
            ln2d(F.conv_transpose2d(x, t1.weight, t1.bias, stride=2), norm)),
        t2.weight,
        t2.bias,
        stride=2)
    up2 = F.conv_transpose2d(x, head.up2.weight, head.up2.bias, stride=2)
    b, c, h, w = x.shape
    down2 = x.view(b, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))
    extra = down2[:, :, ::2, ::2]
    levels = [up4, up2, x, down2, extra]
    size = (4 * h, 4 * w)
    feats = [
        F.interpolate(
            conv_relu(level, proj),
            size=size,
            mode='bilinear',
            align_corners=False)
        for level, proj in zip(levels, head.level_projs)
    ]
    fused = conv_relu(torch.cat(feats, dim=1), head.fusion)
    return F.conv2d(fused, head.conv_seg.weight, head.conv_seg.bias)


def test_levels_and_output_follow_eq3():
    head = build()
    x = torch.randn(2, 16, 8, 8)
    levels = head.build_levels(x)
    assert [tuple(t.shape[1:]) for t in levels] == [(8, 32, 32), (8, 16, 16),
                                                    (16, 8, 8), (16, 4, 4),
                                                    (16, 2, 2)]
    with torch.no_grad():
        out = head(x)
        expected = eq3(head, x)
    assert out.shape == (2, 1, 32, 32)  # 1/4 of a 128 input
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_single_level_ablation():
    head = build(multi_level=False)
    assert head.num_levels == 1
    assert not hasattr(head, 'up4')
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        out = head(x)
        feat = F.interpolate(
            conv_relu(x, head.level_projs[0]),
            size=(32, 32),
            mode='bilinear',
            align_corners=False)
        expected = F.conv2d(
            conv_relu(feat, head.fusion), head.conv_seg.weight,
            head.conv_seg.bias)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_binary_cross_entropy_and_threshold():
    head = build()
    x = torch.randn(2, 16, 8, 8)
    label = torch.randint(0, 2, (2, 1, 128, 128))
    label[0, 0, :4] = 255  # ignored
    samples = []
    for i in range(2):
        s = SegDataSample(gt_sem_seg=PixelData(data=label[i]))
        s.set_metainfo(
            dict(
                img_shape=(128, 128),
                ori_shape=(128, 128),
                pad_shape=(128, 128)))
        samples.append(s)
    losses = head.loss_by_feat(head(x), samples)
    logits = F.interpolate(
        head(x), size=(128, 128), mode='bilinear', align_corners=False)[:, 0]
    target = label[:, 0]
    valid = target != 255
    expected = F.binary_cross_entropy_with_logits(logits[valid],
                                                  target[valid].float())
    torch.testing.assert_close(
        losses['loss_ce'], expected, atol=1e-5, rtol=1e-5)
    pred = head.predict_by_feat(head(x), [dict(img_shape=(128, 128))])
    assert pred.shape == (2, 1, 128, 128)


def test_bad_input_is_an_error():
    with pytest.raises(TypeError, match='one fused map'):
        TTPHead(in_channels=[8, 8], channels=8, num_classes=2)
    head = build()
    with pytest.raises(ValueError, match='16 channels'):
        head(torch.randn(1, 8, 4, 4))


def test_per_level_fusion_equals_concatenation_in_training(monkeypatch):
    """Proj2 applied per level before the resize (the default) against
    Proj2 on the concatenation (eq. 3 as written): same output and same
    gradient of every parameter and of the input, in float64 with BN in
    training mode."""
    torch.manual_seed(0)
    head = TTPHead(
        in_channels=16,
        channels=8,
        level_channels=8,
        num_classes=2,
        out_channels=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        dropout_ratio=0.0,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', use_sigmoid=True))
    head = head.double().train()
    assert head.fusion_commutes()
    x = torch.randn(2, 16, 8, 6, dtype=torch.float64, requires_grad=True)
    params = [x] + list(head.parameters())

    def run():
        out = head(x)
        return [out] + list(torch.autograd.grad(out.square().sum(), params))

    fast = run()
    monkeypatch.setattr(TTPHead, 'fusion_commutes', lambda self: False)
    written = run()
    assert fast[0].shape == (2, 1, 32, 24)
    for a, b in zip(fast, written):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fusion_that_does_not_commute_runs_as_written(monkeypatch):
    head = build()
    assert head.fusion_commutes()
    head.fusion.order = ('norm', 'conv', 'act')  # no norm here: same math
    assert not head.fusion_commutes()
    calls = []
    monkeypatch.setattr(
        head.fusion, 'forward',
        lambda x: calls.append(x.shape) or conv_relu(x, head.fusion))
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(head(x), eq3(head, x))
    assert calls == [(1, 5 * 8, 32, 32)]  # Proj2 on the concatenation
