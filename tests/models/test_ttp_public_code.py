"""TTP's public-code switches against transcriptions of the public code.

The references below are written from open-cd's ``SimpleFPN``,
``MLPSegHead`` (mmseg ``SegformerHead``) and peft's ``bias='lora_only'``,
with functional ops on the modules' own tensors.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmcd_ext.models.backbones.sam_lora_vit import SAMLoRAViT
from mmcd_ext.models.decode_heads.ttp_mlp_head import TTPMLPHead
from mmcd_ext.models.necks.ttp_simple_fpn import TTPSimpleFPN
from mmcd_ext.registry import MODELS
from mmcd_ext.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PUBLIC_L = 'configs/ttp/ttp_sam-l_levir_public-code.py'
PUBLIC_B = 'configs/ttp/ttp_sam-b_levir_public-code.py'
TINY = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])
PUBLIC_GATE = dict(
    proj2_hidden=True,
    sequential_update=True,
    init_mode='public',
    trainable=False)
LN2D = dict(type='mmpretrain.LN2d', requires_grad=True)


@pytest.fixture(autouse=True, scope='module')
def registered():
    register_all_modules()


def randomise(module, seed=0):
    """Seeded values for every parameter and BN statistic."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                value = torch.randn(tensor.shape, generator=gen) * 0.2
                if name.endswith('running_var'):
                    value = value.abs() + 0.5
                tensor.copy_(value)
    return module


# ------------------------------------------------------ q/k/v biases
def encoder(**kwargs):
    return SAMLoRAViT(
        arch=TINY, img_size=64, window_size=2, out_channels=16, **kwargs)


def qkv_biases(num_layers=4):
    return {f'layers.{i}.attn.qkv.bias' for i in range(num_layers)}


def test_train_qkv_bias_trains_exactly_the_qkv_biases():
    model = encoder(train_qkv_bias=True)
    names = set(model.trainable_parameter_names())
    lora = {n for n in names if '.lora_' in n}
    gates = {n for n in names if n.startswith('gates.')}
    assert lora == {
        f'layers.{i}.attn.qkv.{p}'
        for i in range(4)
        for p in ('lora_down.weight', 'lora_up')
    }
    assert gates == {
        n
        for n, _ in model.named_parameters() if n.startswith('gates.')
    } and gates
    assert names == lora | gates | qkv_biases()
    # the other biases of the blocks stay frozen
    assert not model.layers[0].attn.proj.bias.requires_grad
    assert not model.layers[0].ffn.layers[1].bias.requires_grad
    # and it survives init_weights (which re-freezes)
    model.init_weights()
    assert set(model.trainable_parameter_names()) == names
    rows = {(g, t): n for g, n, t in model.parameter_table()}
    assert rows[('SAM q/k/v biases', True)] == 4 * 3 * 32


def test_qkv_biases_frozen_by_default_and_public_gates_frozen():
    assert not qkv_biases() & set(encoder().trainable_parameter_names())
    model = encoder(
        train_qkv_bias=True,
        gate_placement='windowed',
        gate_cfg=PUBLIC_GATE,
        lora_cfg=dict(rank=4, alpha=32, dropout=0.01, mode='joint'))
    names = set(model.trainable_parameter_names())
    # peft bias='lora_only': LoRA + the biases of the LoRA-wrapped qkv
    assert names == qkv_biases() | {
        f'layers.{i}.attn.qkv.{p}'
        for i in range(4)
        for p in ('lora_down.weight', 'lora_up')
    }


def test_qkv_bias_gets_a_gradient_and_moves():
    model = randomise(encoder(train_qkv_bias=True, gate_cfg=None))
    model.train()
    before = model.layers[1].attn.qkv.bias.detach().clone()
    frozen = model.layers[1].attn.proj.bias.detach().clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.1)
    model(torch.randn(2, 3, 64, 64))[0].square().mean().backward()
    opt.step()
    assert not torch.equal(model.layers[1].attn.qkv.bias, before)
    assert torch.equal(model.layers[1].attn.proj.bias, frozen)


# ------------------------------------------------------- the pyramid
def ln2d(x, weight, bias, eps=1e-5):
    """LayerNorm over the channels of an NCHW map (mmpretrain LN2d)."""
    mean = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * weight[:, None, None] + \
        bias[:, None, None]


def reference_simple_fpn(x, s, num_outs=5):
    """open-cd SimpleFPN.forward written out with the tensors ``s``."""
    up = F.conv_transpose2d(x, s['fpn1.0.weight'], s['fpn1.0.bias'], 2)
    up = F.gelu(ln2d(up, s['fpn1.1.weight'], s['fpn1.1.bias']))
    x4 = F.conv_transpose2d(up, s['fpn1.3.weight'], s['fpn1.3.bias'], 2)
    x2 = F.conv_transpose2d(x, s['fpn2.0.weight'], s['fpn2.0.bias'], 2)
    half = F.max_pool2d(x, kernel_size=2, stride=2)
    outs = []
    for j, level in enumerate((x4, x2, x, half)):
        lat = F.conv2d(level, s[f'lateral_convs.{j}.conv.weight'])
        lat = ln2d(lat, s[f'lateral_convs.{j}.ln.weight'],
                   s[f'lateral_convs.{j}.ln.bias'])
        out = F.conv2d(lat, s[f'fpn_convs.{j}.conv.weight'], padding=1)
        outs.append(
            ln2d(out, s[f'fpn_convs.{j}.ln.weight'],
                 s[f'fpn_convs.{j}.ln.bias']))
    while len(outs) < num_outs:
        # F.max_pool2d(outs[-1], 1, stride=2) of the public code
        outs.append(outs[-1][:, :, ::2, ::2])
    return outs


def tiny_fpn(**kwargs):
    return randomise(
        TTPSimpleFPN(
            backbone_channel=32,
            in_channels=[8, 16, 32, 32],
            out_channels=8,
            num_outs=5,
            norm_cfg=LN2D,
            **kwargs))


def test_pyramid_levels_shapes_and_channels():
    fpn = tiny_fpn().eval()
    a, b = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    outs = fpn([a], [b])
    assert [tuple(o.shape) for o in outs] == [(2, 8, 32, 32), (2, 8, 16, 16),
                                              (2, 8, 8, 8), (2, 8, 4, 4),
                                              (2, 8, 2, 2)]
    # inner widths: x4 512 -> 256 -> 128, x2 512 -> 256 (here 32/16/8)
    assert fpn.fpn1[0].out_channels == 16 and fpn.fpn1[3].out_channels == 8
    assert fpn.fpn2[0].out_channels == 16
    assert [c.conv.in_channels for c in fpn.lateral_convs] == [8, 16, 32, 32]
    # no bias in the lateral / 3x3 convs, no activation after them
    for conv in list(fpn.lateral_convs) + list(fpn.fpn_convs):
        assert conv.conv.bias is None and not conv.with_activation
    assert fpn.fpn_convs[0].conv.kernel_size == (3, 3)


def test_pyramid_equals_public_equations():
    fpn = tiny_fpn().eval()
    a, b = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    outs = fpn([a], [b])
    ref = reference_simple_fpn(torch.cat([a, b], 1), fpn.state_dict())
    assert len(outs) == len(ref) == 5
    for got, want in zip(outs, ref):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_fifth_level_subsamples_the_half_level_output():
    fpn = tiny_fpn().eval()
    x = torch.randn(1, 32, 6, 6)
    outs = fpn.pyramid(x)
    # from the 1/2 level's output (after its 3x3 conv), not from its input
    torch.testing.assert_close(outs[4], outs[3][:, :, ::2, ::2])
    assert outs[4].shape[-2:] == (2, 2)
    assert not torch.allclose(outs[4], fpn.fpn4(x)[:, :8, ::2, ::2])


def test_pyramid_bad_arguments():
    with pytest.raises(ValueError, match='in_channels must be'):
        TTPSimpleFPN(backbone_channel=32, in_channels=[8, 16, 32, 16])
    with pytest.raises(ValueError, match='num_outs'):
        TTPSimpleFPN(
            backbone_channel=32, in_channels=[8, 16, 32, 32], num_outs=3)
    fpn = tiny_fpn()
    with pytest.raises(ValueError, match='expects 32 fused channels'):
        fpn.pyramid(torch.randn(1, 16, 4, 4))


# ------------------------------------------------------- the MLP head
def tiny_head(out_size=(16, 16), **kwargs):
    return randomise(
        TTPMLPHead(
            out_size=out_size,
            in_channels=[8] * 5,
            in_index=[0, 1, 2, 3, 4],
            channels=8,
            dropout_ratio=0.0,
            num_classes=2,
            norm_cfg=dict(type='BN', requires_grad=True),
            align_corners=False,
            loss_decode=dict(
                type='mmseg.CrossEntropyLoss',
                use_sigmoid=False,
                avg_non_ignore=False,
                loss_weight=1.0),
            **kwargs),
        seed=3)


def conv_bn_relu(x, s, prefix):
    x = F.conv2d(x, s[prefix + 'conv.weight'])
    x = F.batch_norm(
        x,
        s[prefix + 'bn.running_mean'],
        s[prefix + 'bn.running_var'],
        s[prefix + 'bn.weight'],
        s[prefix + 'bn.bias'],
        training=False,
        eps=1e-5)
    return F.relu(x)


def reference_mlp_head(levels, s, out_size):
    """open-cd MLPSegHead.forward (inference) written out."""
    projected = [
        F.interpolate(
            conv_bn_relu(x, s, f'convs.{k}.'),
            size=out_size,
            mode='bilinear',
            align_corners=False) for k, x in enumerate(levels)
    ]
    fused = conv_bn_relu(torch.cat(projected, 1), s, 'fusion_conv.')
    return F.conv2d(fused, s['conv_seg.weight'], s['conv_seg.bias'])


def test_mlp_head_out_size_and_equations():
    head = tiny_head(out_size=(12, 12)).eval()
    levels = [torch.randn(2, 8, s, s) for s in (32, 16, 8, 4, 2)]
    out = head(levels)
    assert out.shape == (2, 2, 12, 12)  # fixed, not the first level's 32
    torch.testing.assert_close(
        out,
        reference_mlp_head(levels, head.state_dict(), (12, 12)),
        rtol=1e-5,
        atol=1e-5)
    assert TTPMLPHead(
        out_size=5, in_channels=[8], in_index=[0], channels=4,
        num_classes=2).out_size == (5, 5)
    with pytest.raises(ValueError, match='out_size'):
        TTPMLPHead(
            out_size=(0, 4),
            in_channels=[8],
            in_index=[0],
            channels=4,
            num_classes=2)


def test_two_class_ce_averages_over_all_pixels():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    head = tiny_head()
    logits = torch.randn(2, 2, 16, 16)
    labels = torch.randint(0, 2, (2, 32, 32))
    labels[:, :5] = 255  # ignored
    samples = []
    for label in labels:
        sample = SegDataSample(gt_sem_seg=PixelData(data=label[None]))
        samples.append(sample)
    loss = head.loss_by_feat(logits, samples)['loss_ce']
    up = F.interpolate(
        logits, size=(32, 32), mode='bilinear', align_corners=False)
    per_pixel = F.cross_entropy(up, labels, ignore_index=255, reduction='none')
    # avg_non_ignore=False: the sum over valid pixels / all pixels
    torch.testing.assert_close(loss, per_pixel.sum() / labels.numel())


# ---------------------------------------------------- whole model, config
def tiny_public_model():
    cfg = Config.fromfile(osp.join(ROOT, PUBLIC_B))
    cfg.model.backbone.update(
        arch=TINY,
        img_size=64,
        window_size=2,
        out_channels=16,
        init_cfg=None,
        lora_cfg=dict(rank=4, alpha=32, dropout=0.01, mode='joint'))
    cfg.model.neck.update(
        backbone_channel=32, in_channels=[8, 16, 32, 32], out_channels=8)
    cfg.model.decode_head.update(
        in_channels=[8] * 5,
        channels=8,
        out_size=(16, 16),
        norm_cfg=dict(type='BN', requires_grad=True))
    return MODELS.build(cfg.model)


def test_public_model_is_concat_pyramid_head():
    model = randomise(tiny_public_model(), seed=5).eval()
    inputs = torch.randn(2, 6, 64, 64)
    with torch.no_grad():
        logits = model._forward(inputs)
        feats = model.backbone(torch.cat([inputs[:, :3], inputs[:, 3:]]))[0]
        fused = torch.cat([feats[:2], feats[2:]], 1)  # date A, date B
        levels = reference_simple_fpn(fused, model.neck.state_dict())
        want = reference_mlp_head(levels, model.decode_head.state_dict(),
                                  (16, 16))
    assert logits.shape == (2, 2, 16, 16)
    torch.testing.assert_close(logits, want, rtol=1e-4, atol=1e-5)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n
            for n in trainable if n.startswith('backbone.')} == {
                f'backbone.layers.{i}.attn.qkv.{p}'
                for i in range(4)
                for p in ('bias', 'lora_down.weight', 'lora_up')
            }
    assert all(p.requires_grad for p in model.neck.parameters())
    assert all(p.requires_grad for p in model.decode_head.parameters())


def test_public_code_config_is_the_public_model():
    cfg = Config.fromfile(osp.join(ROOT, PUBLIC_L))
    backbone = cfg.model.backbone
    assert backbone.arch == 'large'
    assert backbone.lora_cfg == dict(
        rank=16, alpha=32, dropout=0.01, mode='joint')
    assert backbone.train_qkv_bias is True
    assert backbone.gate_placement == 'windowed'
    assert backbone.gate_cfg == PUBLIC_GATE
    assert cfg.model.data_preprocessor.size_divisor == 32
    assert cfg.model.data_preprocessor.test_cfg == dict(size_divisor=32)
    neck = cfg.model.neck
    assert (neck.type, neck.backbone_channel, neck.in_channels,
            neck.out_channels, neck.num_outs) == ('TTPSimpleFPN', 512,
                                                  [128, 256, 512, 512], 256, 5)
    assert neck.norm_cfg.type == 'mmpretrain.LN2d'
    head = cfg.model.decode_head
    assert head.type == 'TTPMLPHead' and head.out_size == (128, 128)
    assert (head.in_channels, head.in_index, head.channels,
            head.num_classes) == ([256] * 5, [0, 1, 2, 3, 4], 256, 2)
    assert 'out_channels' not in head and 'level_channels' not in head
    assert head.loss_decode == dict(
        type='mmseg.CrossEntropyLoss',
        use_sigmoid=False,
        avg_non_ignore=False,
        loss_weight=1.0)
    assert cfg.model.test_cfg == dict(
        mode='slide', crop_size=(512, 512), stride=(256, 256))
    steps = {t['type']: t for t in cfg.train_pipeline}
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline
            ] == [t['type'] for t in cfg.train_pipeline]
    photo = steps['BitemporalPhotoMetricDistortion']
    assert (photo['brightness_delta'], photo['contrast_range'],
            photo['saturation_range'], photo['hue_delta'],
            photo['shared']) == (10, (0.8, 1.2), (0.8, 1.2), 10, False)
    assert steps['BitemporalRandomRotate']['degree'] == 180
    assert steps['RandomCrop']['cat_max_ratio'] == 0.75
    flips = [
        t['direction'] for t in cfg.train_pipeline if t['type'] == 'RandomFlip'
    ]
    assert flips == ['horizontal', 'vertical']
    warmup, cosine = cfg.param_scheduler
    assert (warmup.start_factor, warmup.end) == (1e-4, 5)
    assert (cosine.T_max, cosine.begin, cosine.end) == (300, 5, 300)
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05)


def test_sam_b_public_code_differs_only_in_the_encoder():
    large = Config.fromfile(osp.join(ROOT, PUBLIC_L)).to_dict()
    base = Config.fromfile(osp.join(ROOT, PUBLIC_B)).to_dict()
    assert base['model']['backbone'].pop('arch') == 'base'
    assert large['model']['backbone'].pop('arch') == 'large'
    assert 'sam_vit_b_' in base['model']['backbone'].pop(
        'init_cfg')['checkpoint']
    large['model']['backbone'].pop('init_cfg')
    for cfg in (base, large):
        cfg.pop('sam_checkpoint', None)
        cfg.pop('sam_arch', None)
        cfg.pop('filename', None)
    assert base == large
