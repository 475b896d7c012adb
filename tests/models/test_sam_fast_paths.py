"""SAMLoRAViT's fast paths against mmpretrain's SAM block and attention.

Padding-aware windows, the augmented-q/k fused attention and selective
activation checkpointing must give the outputs and gradients of the plain
implementation (mmpretrain's ``TransformerEncoderLayer.forward`` with
``Attention.forward``: zero padding, window partition, written-out softmax).
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.vit_sam import (Attention,
                                                 TransformerEncoderLayer,
                                                 window_partition,
                                                 window_unpartition)

from mmcd_ext.models.backbones.sam_lora_vit import (CP_LEVELS, SAMBlock,
                                                    SAMLoRAViT)
from mmcd_ext.models.layers.sam_attention import (SAMAttention,
                                                  augmented_rel_pos_attention,
                                                  decomposed_rel_pos_bias)

TINY = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])


def tiny_model(seed=0, **kwargs):
    """A tiny SAMLoRAViT (window 4) with every parameter random and
    trainable, so every gradient path is checked."""
    kwargs.setdefault('lora_cfg', dict(rank=4, alpha=8, mode='separate'))
    model = SAMLoRAViT(
        arch=TINY, img_size=80, window_size=4, out_channels=16, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if '.ln' in name and name.endswith('weight'):
                param.copy_(1 + 0.1 * noise)
            elif 'rel_pos' in name:
                param.copy_(0.5 * noise)
            else:
                param.copy_(0.1 * noise)
    for param in model.parameters():
        param.requires_grad_(True)
    return model.train()


def reference_copy(model):
    """The same weights run by mmpretrain's block and attention code."""
    ref = copy.deepcopy(model)
    for layer in ref.layers:
        layer.__class__ = TransformerEncoderLayer
        layer.attn.__class__ = Attention
    return ref


def outputs_and_grads(model, x):
    model.zero_grad()
    out = model(x)[0]
    weight = torch.linspace(-1, 1, out.numel()).view_as(out)
    (out * weight).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return out.detach(), grads


def assert_close_rel(actual, expected, rtol=1e-5):
    scale = expected.abs().max().clamp_min(1e-12)
    err = (actual - expected).abs().max() / scale
    assert err <= rtol, f'relative error {err:.3g} > {rtol}'


@pytest.fixture(scope='module')
def reference_results():
    model = tiny_model()
    results = {}
    for shape in ((80, 80), (80, 48)):  # 5x5 and 5x3 grids, window 4
        x = torch.randn(
            2, 3, *shape, generator=torch.Generator().manual_seed(1))
        results[shape] = (x, outputs_and_grads(reference_copy(model), x))
    return model, results


@pytest.mark.parametrize('attn_impl', ['fused', 'fused_mask', 'eager'])
@pytest.mark.parametrize('with_cp', CP_LEVELS)
def test_fast_paths_equal_reference(reference_results, attn_impl, with_cp):
    model, results = reference_results
    model.set_attn_impl(attn_impl)
    model.with_cp = with_cp
    assert all(isinstance(layer, SAMBlock) for layer in model.layers)
    for shape, (x, (ref_out, ref_grads)) in results.items():
        out, grads = outputs_and_grads(model, x)
        assert out.shape == ref_out.shape
        assert_close_rel(out, ref_out)
        assert grads.keys() == ref_grads.keys()
        for name, grad in ref_grads.items():
            # the bias of q/k/v receives the padded tokens' gradient too
            assert grad is not None and grad.abs().sum() > 0, name
            assert_close_rel(grads[name], grad)


def test_padded_tokens_get_exactly_the_qkv_bias():
    """forward_windowed equals zero-pad + partition + attention + crop,
    also with a nonzero LoRA update and without a q/k/v bias."""
    for qkv_bias in (True, False):
        model = tiny_model(seed=3, qkv_bias=qkv_bias)
        attn = model.layers[0].attn
        assert isinstance(attn, SAMAttention)
        assert (attn.qkv.bias is not None) == qkv_bias
        x = torch.randn(
            2, 5, 7, 32, generator=torch.Generator().manual_seed(2))
        windows, pad_hw = window_partition(x, 4)
        expected = window_unpartition(
            Attention.forward(attn, windows), 4, pad_hw, (5, 7))
        for impl in ('fused', 'fused_mask', 'eager'):
            attn.attn_impl = impl
            assert_close_rel(attn.forward_windowed(x, 4), expected)
        # the padded q/k/v of the reference are the bias, nothing else
        zero = torch.zeros(1, 32)
        fill = attn.qkv.bias if qkv_bias else torch.zeros(96)
        torch.testing.assert_close(attn.qkv(zero)[0], fill, rtol=0, atol=0)


def test_augmented_attention_equals_bias_softmax():
    gen = torch.Generator().manual_seed(4)
    h, w, c = 3, 5, 8
    q, k, v = (
        torch.randn(2, 2, h * w, c, generator=gen, requires_grad=True)
        for _ in range(3))
    rel_h = torch.randn(2 * h - 1, c, generator=gen, requires_grad=True)
    rel_w = torch.randn(2 * w - 1, c, generator=gen, requires_grad=True)
    scale = c**-0.5
    leaves = (q, k, v, rel_h, rel_w)
    grid_q, grid_k, grid_v = (t.unflatten(-2, (h, w)) for t in (q, k, v))
    out = augmented_rel_pos_attention(grid_q, grid_k, grid_v, rel_h, rel_w,
                                      scale)
    grads = torch.autograd.grad(out.square().sum(), leaves)
    # widths padded to a multiple of 8 (the CUDA setting): same result
    aligned = augmented_rel_pos_attention(
        grid_q, grid_k, grid_v, rel_h, rel_w, scale, align=8)
    assert aligned.shape == out.shape
    assert_close_rel(aligned, out)
    bias = decomposed_rel_pos_bias(q, rel_h, rel_w, (h, w), (h, w))
    logits = (q * scale) @ k.transpose(-2, -1) + bias
    expected = F.softmax(logits, dim=-1) @ v
    expected_grads = torch.autograd.grad(expected.square().sum(), leaves)
    assert_close_rel(out, expected)
    for got, want in zip(grads, expected_grads):
        assert_close_rel(got, want)


def saved_bytes(model, x):
    """Bytes of the tensors autograd keeps for the backward pass."""
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)[0]
    out.sum().backward()
    return total[0]


def test_checkpoint_levels_keep_less_for_backward():
    model = tiny_model(seed=5)
    model.freeze_sam()  # the real setting: only LoRA and gates train
    x = torch.randn(2, 3, 80, 80, generator=torch.Generator().manual_seed(6))
    saved = {}
    for level in CP_LEVELS:
        model.with_cp = level
        saved[level] = saved_bytes(model, x)
    assert saved['all'] < saved['windowed'] < saved['none']
    assert saved['mlp'] < saved['none'] and saved['attn'] < saved['none']
    # eval / no_grad: no checkpointing, same outputs
    model.eval()
    with torch.no_grad():
        model.with_cp = 'all'
        a = model(x)[0]
        model.with_cp = 'none'
        b = model(x)[0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_with_cp_values():
    model = tiny_model()
    model.with_cp = True
    assert model.with_cp == 'all'
    assert [layer.cp_level for layer in model.layers] == ['block'] * 4
    model.with_cp = 'windowed'  # blocks 1 and 3 are global
    assert [layer.cp_level
            for layer in model.layers] == ['block', 'none', 'block', 'none']
    model.with_cp = 'mlp'
    assert {layer.cp_level for layer in model.layers} == {'mlp'}
    model.with_cp = False
    assert model.with_cp == 'none'
    assert {layer.cp_level for layer in model.layers} == {'none'}
    with pytest.raises(ValueError, match='with_cp'):
        model.with_cp = 'blocks'
    with pytest.raises(ValueError, match='with_cp'):
        SAMLoRAViT(arch=TINY, img_size=64, window_size=4, with_cp='some')
    built = SAMLoRAViT(arch=TINY, img_size=64, window_size=4, with_cp='attn')
    assert {layer.cp_level for layer in built.layers} == {'attn'}


@pytest.mark.parametrize('size', [(9, 11), (8, 8), (3, 2)])
def test_window_groups_equal_padded_windows_with_grads(size):
    """The 'fused' windowed path (whole windows, last window row / column
    and corner attended as separate query groups, several windows per
    group at 9x11) against zero-pad + partition + mmpretrain's attention +
    crop: outputs and the gradients of the input and every parameter."""
    model = tiny_model(seed=5)
    attn = model.layers[0].attn
    assert attn.attn_impl == 'fused' and attn.use_rel_pos
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, *size, 32, generator=gen, requires_grad=True)
    weight = torch.randn(2, *size, 32, generator=gen)
    params = [x] + [p for p in attn.parameters() if p.requires_grad]

    def run(fn):
        out = fn()
        return [out] + list(torch.autograd.grad((out * weight).sum(), params))

    def reference():
        windows, pad_hw = window_partition(x, 4)
        return window_unpartition(
            Attention.forward(attn, windows), 4, pad_hw, size)

    got = run(lambda: attn.forward_windowed(x, 4))
    want = run(reference)
    assert got[0].shape == (2, *size, 32)
    for a, b in zip(got, want):
        assert_close_rel(a, b)
