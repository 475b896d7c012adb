"""ResNetWithStem: torchvision weights load and give torchvision's features."""
import pytest
import torch
import torchvision

from mmcd_ext.registry import MODELS


def torchvision_levels(net, x):
    """Stem (before the max-pool) and the four stages, written out."""
    stem = net.relu(net.bn1(net.conv1(x)))
    outs = [stem]
    y = net.maxpool(stem)
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        y = layer(y)
        outs.append(y)
    return outs


@pytest.mark.parametrize('depth', [18, 34])
def test_torchvision_checkpoint_gives_torchvision_features(tmp_path, depth):
    torch.manual_seed(depth)
    tv = getattr(torchvision.models, f'resnet{depth}')(weights=None).eval()
    with torch.no_grad():  # non-trivial BN statistics
        for m in tv.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    path = tmp_path / f'resnet{depth}.pth'
    torch.save(tv.state_dict(), path)
    backbone = MODELS.build(
        dict(
            type='ResNetWithStem',
            depth=depth,
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    backbone.init_weights()
    backbone.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(x)
        ref = torchvision_levels(tv, x)
    assert [o.shape[1] for o in ours] == [64, 64, 128, 256, 512]
    assert [o.shape[-1] for o in ours] == [32, 16, 8, 4, 2]
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)


def test_authors_strides_keep_f1_to_f3_at_one_eighth():
    backbone = MODELS.build(
        dict(
            type='ResNetWithStem',
            depth=18,
            stem_channels=8,
            base_channels=8,
            strides=(1, 2, 1, 1),
            out_indices=(0, 1, 2, 3))).eval()
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 32, 32), (8, 16, 16),
                                                  (16, 8, 8), (32, 8, 8),
                                                  (64, 8, 8)]


def test_missing_or_wrong_checkpoint_is_a_clear_error(tmp_path):
    missing = MODELS.build(
        dict(
            type='ResNetWithStem',
            depth=34,
            init_cfg=dict(
                type='Pretrained', checkpoint=str(tmp_path / 'nope.pth'))))
    with pytest.raises(
            FileNotFoundError,
            match='resnet34-b627a593.pth.*download.pytorch.org'):
        missing.init_weights()
    path = tmp_path / 'r18.pth'
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    wrong = MODELS.build(
        dict(
            type='ResNetWithStem',
            depth=34,
            init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    with pytest.raises(KeyError, match='Missing keys'):
        wrong.init_weights()
    with pytest.raises(ValueError, match='deep_stem'):
        MODELS.build(dict(type='ResNetWithStem', depth=18, deep_stem=True))


@pytest.mark.parametrize('prefix', [None, 'model.'])
def test_segmentor_checkpoint_and_init_cfg_prefix(tmp_path, prefix):
    tiny = dict(
        type='ResNetWithStem', depth=18, stem_channels=8, base_channels=8)
    src = MODELS.build(tiny)
    with torch.no_grad():
        for param in src.parameters():
            param.normal_()
    key_prefix = prefix or 'backbone.'  # default: an mmseg segmentor file
    state = {key_prefix + k: v for k, v in src.state_dict().items()}
    state['decode_head.conv_seg.weight'] = torch.zeros(2, 8, 1, 1)
    path = tmp_path / 'segmentor.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    init_cfg = dict(type='Pretrained', checkpoint=str(path))
    if prefix:
        init_cfg['prefix'] = prefix
    backbone = MODELS.build(dict(tiny, init_cfg=init_cfg))
    backbone.init_weights()
    for key, value in src.state_dict().items():
        torch.testing.assert_close(backbone.state_dict()[key], value)
    absent = MODELS.build(
        dict(tiny, init_cfg=dict(init_cfg, prefix='encoder.')))
    with pytest.raises(KeyError, match="prefix 'encoder.'"):
        absent.init_weights()
