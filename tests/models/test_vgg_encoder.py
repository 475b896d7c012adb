"""VGGEncoder: levels and strides, ImageNet weight layouts, clear errors."""
import pytest
import torch
import torchvision
from torchvision.models.vgg import cfgs, make_layers

from mmcd_ext.models.backbones import VGGEncoder

TINY = dict(channels=(8, 16, 16, 32, 32), depths=(2, 2, 3, 3, 3))


@pytest.mark.parametrize('deep_level,deep_size', [('pool5', 2),
                                                  ('relu5_3', 4)])
def test_output_shapes_and_strides(deep_level, deep_size):
    model = VGGEncoder(
        arch=TINY, norm_cfg=dict(type='BN'), deep_level=deep_level)
    model.init_weights()
    outs = model(torch.rand(2, 3, 64, 64))
    shapes = [tuple(o.shape) for o in outs]
    assert shapes == [(2, 8, 64, 64), (2, 16, 32, 32), (2, 16, 16, 16),
                      (2, 32, 8, 8), (2, 32, deep_size, deep_size)]
    assert model.out_channels == (8, 16, 16, 32, 32)
    # skips are ReLU outputs, taken before pooling
    assert all((o >= 0).all() for o in outs)


def test_out_indices_select_levels():
    model = VGGEncoder(arch=TINY, out_indices=(1, 4))
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 32, 32), (1, 32, 2, 2)]
    assert model.out_channels == (16, 32)


def tv_features(batch_norm):
    """torchvision's own VGG-16 layer builder (what vgg16() / vgg16_bn()
    put under ``features``), without the heavy classifier."""
    return make_layers(cfgs['D'], batch_norm=batch_norm)


def test_vgg16_has_torchvision_keys(torchvision_vgg16):
    features = {
        k
        for k in torchvision_vgg16.state_dict() if k.startswith('features.')
    }
    features_bn = {f'features.{k}' for k in tv_features(True).state_dict()}
    assert set(VGGEncoder().state_dict()) == features
    assert set(VGGEncoder(norm_cfg=dict(type='BN')).state_dict()) == \
        features_bn


@pytest.fixture(scope='module')
def torchvision_vgg16():
    torch.manual_seed(1)
    return torchvision.models.vgg16(weights=None).eval()


def save_torchvision_layout(model, path):
    """A torchvision checkpoint: the bare state dict (the 400 MB fully
    connected layers are left out to keep the test fast; the last one stays
    so the classifier is present and must be dropped on load)."""
    state = {
        k: v
        for k, v in model.state_dict().items()
        if k.startswith('features.') or k.startswith('classifier.6')
    }
    torch.save(state, path)


def test_load_torchvision_checkpoint(tmp_path, torchvision_vgg16):
    path = tmp_path / 'vgg16-random.pth'
    save_torchvision_layout(torchvision_vgg16, path)
    model = VGGEncoder(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    torch.testing.assert_close(
        model.features[28].weight,
        torchvision_vgg16.features[28].weight,
        rtol=0,
        atol=0)
    # the levels are torchvision's relu1_2, relu2_2, relu3_3, relu4_3, pool5
    model.eval()
    x = torch.rand(1, 3, 32, 32)
    outs = model(x)
    with torch.no_grad():
        for out, end in zip(outs, (4, 9, 16, 23, 31)):
            ref = torchvision_vgg16.features[:end](x)
            torch.testing.assert_close(out, ref)


def test_load_torchvision_bn_checkpoint(tmp_path):
    torch.manual_seed(2)
    tv = torch.nn.Module()
    tv.features = tv_features(True)
    for m in tv.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    tv.eval()
    path = tmp_path / 'vgg16_bn-random.pth'
    save_torchvision_layout(tv, path)
    model = VGGEncoder(
        norm_cfg=dict(type='BN'),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    model.eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        deep = model(x)[4]
        torch.testing.assert_close(deep, tv.features(x))


@pytest.mark.slow
def test_load_mmpretrain_checkpoint(tmp_path):
    from mmpretrain.models.backbones.vgg import VGG
    torch.manual_seed(3)
    ref = VGG(16, norm_cfg=dict(type='BN'), out_indices=(4, ))
    ref.init_weights()
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    ref.eval()
    state = {f'backbone.{k}': v for k, v in ref.state_dict().items()}
    path = tmp_path / 'mmpretrain_vgg16bn.pth'
    torch.save(dict(meta=dict(), state_dict=state), path)
    model = VGGEncoder(
        norm_cfg=dict(type='BN'),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    model.eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        # mmpretrain's stage-5 output is pool5
        torch.testing.assert_close(model(x)[4], ref(x)[0])


def test_mismatched_checkpoint_lists_keys(tmp_path, torchvision_vgg16):
    path = tmp_path / 'plain.pth'
    save_torchvision_layout(torchvision_vgg16, path)
    model = VGGEncoder(
        norm_cfg=dict(type='BN'),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(KeyError) as err:
        model.init_weights()
    msg = str(err.value)
    assert 'plain.pth' in msg
    assert 'features.1.running_mean' in msg  # missing: BN of this model
    assert 'features.2.weight' in msg  # unexpected: plain VGG's 2nd conv
    assert 'without BN' in msg


def test_wrong_width_checkpoint_is_a_shape_error(tmp_path):
    torch.save(VGGEncoder(arch=TINY).state_dict(), tmp_path / 'tiny.pth')
    other = dict(channels=(8, 16, 16, 32, 16), depths=(2, 2, 3, 3, 3))
    model = VGGEncoder(
        arch=other,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'tiny.pth')))
    with pytest.raises(ValueError, match=r'features\.24\.weight'):
        model.init_weights()


def test_missing_checkpoint_says_where_to_get_it(tmp_path):
    model = VGGEncoder(
        arch=TINY,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match='vgg16-397923af.pth'):
        model.init_weights()


@pytest.mark.parametrize('arch', [
    'vgg19',
    dict(channels=(8, 8, 8, 8), depths=(2, 2, 3, 3, 3)),
    dict(channels=(8, ) * 5, depths=(2, 2, 3, 3, 0)),
    dict(channels=(8, ) * 5)
])
def test_bad_arch_is_rejected(arch):
    with pytest.raises(ValueError, match='VGGEncoder'):
        VGGEncoder(arch=arch)


def test_bad_deep_level_is_rejected():
    with pytest.raises(ValueError, match='deep_level'):
        VGGEncoder(arch=TINY, deep_level='pool4')


def test_frozen_stages_and_norm_eval():
    model = VGGEncoder(
        arch=TINY, norm_cfg=dict(type='BN'), frozen_stages=2, norm_eval=True)
    model.train()
    frozen = [p.requires_grad for p in model.features[:13].parameters()]
    trainable = [p.requires_grad for p in model.features[13:].parameters()]
    assert not any(frozen) and all(trainable)
    assert all(not m.training for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
