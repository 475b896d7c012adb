"""FrNetHead: the U-Net style decoder, checked layer by layer by hand."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.models.decode_heads import FrNetHead

IN_CHANNELS = [8, 16, 16, 32, 16]


def neck_outputs(batch=2, size=64, top_stride=16, seed=0):
    """Skip differences at strides 1, 2, 4, 8 and a top map."""
    rng = np.random.default_rng(seed)
    shapes = [(8, size, size), (16, size // 2, size // 2),
              (16, size // 4, size // 4), (32, size // 8, size // 8),
              (16, size // top_stride, size // top_stride)]
    return [
        torch.from_numpy(
            np.abs(rng.standard_normal((batch, *s))).astype(np.float32))
        for s in shapes
    ]


def make_head(**kwargs):
    cfg = dict(
        in_channels=IN_CHANNELS,
        channels=8,
        num_classes=2,
        norm_cfg=dict(type='BN'),
        dropout_ratio=0.0)
    cfg.update(kwargs)
    return FrNetHead(**cfg)


def randomise_bn(module):
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)


def conv_bn_relu_by_hand(x, block):
    conv, bn = block.conv, block.bn
    y = F.conv2d(x, conv.weight, conv.bias, padding=1)
    y = (y - bn.running_mean[None, :, None, None]
         ) / torch.sqrt(bn.running_var[None, :, None, None] + bn.eps)
    y = y * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
    return torch.relu(y)


@pytest.mark.parametrize('top_stride', [16, 8])
def test_decoder_by_hand(top_stride):
    head = make_head()
    randomise_bn(head)
    head.eval()
    inputs = neck_outputs(top_stride=top_stride)
    with torch.no_grad():
        out = head(inputs)
        x = inputs[4]
        for level in (3, 2, 1, 0):
            skip = inputs[level]
            x = F.interpolate(
                x, size=skip.shape[2:], mode='bilinear', align_corners=False)
            x = conv_bn_relu_by_hand(
                torch.cat([x, skip], dim=1), head.blocks[level][0])
        ref = head.conv_seg(x)
    assert out.shape == (2, 2, 64, 64)
    torch.testing.assert_close(out, ref)


def test_default_decoder_widths_double_per_level():
    head = make_head()
    assert head.decoder_channels == [8, 16, 32, 64]
    # block l sees the block above (or the top) plus skip l
    assert [b[0].conv.in_channels for b in head.blocks] == \
        [16 + 8, 32 + 16, 64 + 16, 16 + 32]
    assert head.conv_seg.in_channels == 8


def test_custom_widths_and_num_convs():
    head = make_head(decoder_channels=[8, 8, 12, 12], num_convs=2)
    assert [len(b) for b in head.blocks] == [2, 2, 2, 2]
    assert head.blocks[3][0].conv.in_channels == 16 + 32
    assert head.blocks[3][1].conv.in_channels == 12
    out = head(neck_outputs(size=32))
    assert out.shape == (2, 2, 32, 32)


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(decoder_channels=[16, 16, 32, 64]),  # first != channels
        dict(decoder_channels=[8, 16, 32]),  # one too few
        dict(num_convs=0),
        dict(input_transform='resize_concat'),
        dict(in_channels=[8]),
    ])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='FrNetHead'):
        make_head(**kwargs)


def test_loss_and_gradients():
    head = make_head()
    head.train()
    inputs = neck_outputs(size=32)
    samples = []
    for i in range(2):
        label = torch.from_numpy(
            np.random.default_rng(i).integers(0, 2, (1, 32, 32)))
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(32, 32), pad_shape=(32, 32)))
        samples.append(sample)
    losses = head.loss(inputs, samples, train_cfg=dict())
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for level, block in enumerate(head.blocks):
        assert block[0].conv.weight.grad.abs().sum() > 0, level
