"""SAMLoRAViT against segment_anything's encoder and mmpretrain's ViTSAM."""
import functools

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import ViTSAM
from segment_anything.modeling.image_encoder import ImageEncoderViT

from mmcd_ext.models.backbones.sam_lora_vit import (SAMLoRAViT,
                                                    resize_sam_position)
from mmcd_ext.models.layers.qkv_lora import (QKVLoRALinear,
                                             merge_lora_state_dict)
from mmcd_ext.models.layers.sam_attention import decomposed_rel_pos_bias

TINY = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])
BASE = dict(
    embed_dims=768,
    num_layers=12,
    num_heads=12,
    feedforward_channels=3072,
    global_attn_indexes=[2, 5, 8, 11])


def sam_encoder(arch, img_size, window, out_chans):
    """segment_anything's ImageEncoderViT with SAM's own settings."""
    return ImageEncoderViT(
        img_size=img_size,
        patch_size=16,
        embed_dim=arch['embed_dims'],
        depth=arch['num_layers'],
        num_heads=arch['num_heads'],
        mlp_ratio=arch['feedforward_channels'] / arch['embed_dims'],
        out_chans=out_chans,
        qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=window,
        global_attn_indexes=tuple(arch['global_attn_indexes']))


def randomise(module, seed=0):
    """Fill every parameter with seeded noise (SAM zero-inits positions)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.05)
    return module


def official_checkpoint(tmp_path, encoder, name='sam.pth'):
    """Save an encoder like Meta's files: image_encoder.* plus decoder keys."""
    state = {'image_encoder.' + k: v for k, v in encoder.state_dict().items()}
    state['mask_decoder.iou_token.weight'] = torch.zeros(1, 4)
    state['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'] = \
        torch.zeros(2, 4)
    path = str(tmp_path / name)
    torch.save(state, path)
    return path


def ours(arch, img_size, window, out_chans, checkpoint=None, **kwargs):
    kwargs.setdefault('gate_cfg', None)
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint) \
        if checkpoint else None
    model = SAMLoRAViT(
        arch=arch,
        img_size=img_size,
        window_size=window,
        out_channels=out_chans,
        init_cfg=init_cfg,
        **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('attn_impl', ['fused', 'eager'])
def test_equals_segment_anything_tiny(tmp_path, attn_impl):
    ref = randomise(sam_encoder(TINY, 64, 2, 16)).eval()
    path = official_checkpoint(tmp_path, ref)
    model = ours(TINY, 64, 2, 16, path, attn_impl=attn_impl)
    # LoRA present but zero (up = 0), so it must not change anything
    assert isinstance(model.layers[0].attn.qkv, QKVLoRALinear)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)
        (out, ) = model(x)
    assert out.shape == expected.shape == (2, 16, 4, 4)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def resize_like_sam_checkpoint(state, grid, global_len, global_blocks):
    """Resize positions written out directly: bicubic abs, linear rel."""
    state = dict(state)
    pos = state['pos_embed'].permute(0, 3, 1, 2)
    state['pos_embed'] = F.interpolate(
        pos, size=grid, mode='bicubic',
        align_corners=False).permute(0, 2, 3, 1)
    for i in global_blocks:
        for axis in 'hw':
            key = f'blocks.{i}.attn.rel_pos_{axis}'
            table = state[key].t().unsqueeze(0)  # (1, C, L)
            state[key] = F.interpolate(
                table, size=global_len, mode='linear').squeeze(0).t()
    return state


def check_resized_load(tmp_path, arch, ckpt_size, size, window, out_chans):
    big = randomise(sam_encoder(arch, ckpt_size, window, out_chans))
    path = official_checkpoint(tmp_path, big)
    grid = (size // 16, size // 16)
    ref = sam_encoder(arch, size, window, out_chans)
    ref.load_state_dict(
        resize_like_sam_checkpoint(big.state_dict(), grid, 2 * grid[0] - 1,
                                   arch['global_attn_indexes']))
    ref.eval()
    model = ours(arch, size, window, out_chans, path)
    assert model.pos_embed.shape == (1, *grid, arch['embed_dims'])
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = ref(x)
        (out, ) = model(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_loads_larger_checkpoint_with_resized_positions_tiny(tmp_path):
    check_resized_load(tmp_path, TINY, 256, 64, 2, 16)


@pytest.mark.slow
def test_equals_segment_anything_base_from_1024_checkpoint(tmp_path):
    # a base-sized encoder saved at SAM's 1024 input, loaded at 64
    check_resized_load(tmp_path, BASE, 1024, 64, 14, 256)


def test_loads_mmpretrain_vitsam_checkpoint(tmp_path):
    ref = randomise(
        ViTSAM(arch=dict(TINY), img_size=64, window_size=2, out_channels=16))
    ref.eval()
    path = str(tmp_path / 'vitsam.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in ref.state_dict().items()
            }
        }, path)
    model = ours(TINY, 64, 2, 16, path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x)[0], ref(x)[0], atol=1e-5, rtol=1e-5)


def test_position_adapter_matches_vitsam_load_hooks():
    src = randomise(
        ViTSAM(arch=dict(TINY), img_size=128, window_size=2, out_channels=16))
    dst = ViTSAM(arch=dict(TINY), img_size=64, window_size=2, out_channels=16)
    dst.load_state_dict(src.state_dict())  # mmpretrain's hooks resize
    own = dst.state_dict()
    resized = []
    for key, value in src.state_dict().items():
        shape = tuple(own[key].shape)
        out = resize_sam_position(key, value, shape)
        if tuple(value.shape) != shape:
            resized.append(key)
            torch.testing.assert_close(out, own[key], msg=key)
        else:
            assert out is value, key
    # pos_embed and the h/w tables of the two global blocks
    assert len(resized) == 5 and 'pos_embed' in resized
    head = torch.zeros(3, 4)
    assert resize_sam_position('channel_reduction.0.weight', head,
                               (5, 4)) is head


def test_official_checkpoint_keys_all_accounted_for(tmp_path):
    encoder = randomise(sam_encoder(TINY, 64, 2, 16))
    path = official_checkpoint(tmp_path, encoder)
    model = SAMLoRAViT(arch=TINY, img_size=64, window_size=2, out_channels=16)
    # LoRA and gates are not expected; prompt encoder / decoder are dropped
    assert model.load_sam_checkpoint(path, strict=True) == ([], [])
    state = {
        'image_encoder.' + k: v
        for k, v in encoder.state_dict().items() if k != 'neck.0.weight'
    }
    state['image_encoder.extra.weight'] = torch.zeros(1)
    partial = str(tmp_path / 'partial.pth')
    torch.save(state, partial)
    assert model.load_sam_checkpoint(partial) == ([
        'channel_reduction.0.weight'
    ], ['extra.weight'])
    with pytest.raises(KeyError, match='channel_reduction.0.weight'):
        model.load_sam_checkpoint(partial, strict=True)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    model = SAMLoRAViT(
        arch=TINY,
        img_size=64,
        window_size=2,
        out_channels=16,
        gate_cfg=None,
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'no.pth')))
    with pytest.raises(FileNotFoundError, match='sam_vit_b_01ec64.pth'):
        model.init_weights()


def test_unknown_checkpoint_layout_is_an_error(tmp_path):
    path = str(tmp_path / 'odd.pth')
    torch.save({'encoder.weight': torch.zeros(1)}, path)
    model = SAMLoRAViT(
        arch=TINY, img_size=64, window_size=2, out_channels=16, gate_cfg=None)
    with pytest.raises(
            ValueError, match='SAMLoRAViT: unrecognised checkpoint layout'):
        model.load_sam_checkpoint(path)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match='missing'):
        SAMLoRAViT(arch=dict(embed_dims=8, num_layers=2))
    with pytest.raises(ValueError, match='Unknown SAM arch'):
        SAMLoRAViT(arch='gigantic')
    with pytest.raises(ValueError, match='gate_placement'):
        SAMLoRAViT(arch=TINY, img_size=64, gate_placement='everywhere')
    with pytest.raises(ValueError, match='attn_impl'):
        SAMLoRAViT(arch=TINY, img_size=64, attn_impl='flash')
    model = SAMLoRAViT(arch=TINY, img_size=64, window_size=2)
    with pytest.raises(ValueError, match='even batch'):
        model(torch.randn(3, 3, 64, 64))


def test_rel_pos_bias_matches_sam_written_out():
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 4 * 5, 8, generator=gen)
    rel_h = torch.randn(7, 8, generator=gen)
    rel_w = torch.randn(9, 8, generator=gen)
    bias = decomposed_rel_pos_bias(q, rel_h, rel_w, (4, 5), (4, 5))
    expected = torch.empty(2, 3, 20, 20)
    for i in range(20):
        for j in range(20):
            hi, wi, hj, wj = i // 5, i % 5, j // 5, j % 5
            expected[:, :, i, j] = (
                q[:, :, i] @ rel_h[hi - hj + 3] +
                q[:, :, i] @ rel_w[wi - wj + 4])
    torch.testing.assert_close(bias, expected, atol=1e-5, rtol=1e-5)


def test_fused_attention_equals_eager_with_gates_and_lora():
    model = randomise(
        SAMLoRAViT(arch=TINY, img_size=64, window_size=2, out_channels=16),
        seed=3).eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        fused = model(x)[0]
        model.set_attn_impl('eager')
        eager = model(x)[0]
    assert (fused - eager).abs().max() < 1e-4
    assert fused.abs().max() > 0.1


@pytest.mark.parametrize('mode', ['separate', 'joint'])
def test_merged_lora_gives_same_output(mode):
    model = randomise(
        SAMLoRAViT(
            arch=TINY,
            img_size=64,
            window_size=2,
            out_channels=16,
            lora_cfg=dict(rank=4, alpha=8, dropout=0.1, mode=mode)),
        seed=5).eval()
    x = torch.randn(2, 3, 64, 64)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = model(x)[0]
        model.merge_lora()
        after = model(x)[0]
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert not any('lora' in k for k in model.state_dict())
    # the checkpoint-level merge (tools/model_converters/merge_lora.py)
    merged = merge_lora_state_dict(state)
    plain = SAMLoRAViT(
        arch=TINY, img_size=64, window_size=2, out_channels=16,
        lora_cfg=None).eval()
    plain.load_state_dict(merged, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(plain(x)[0], before, atol=1e-5, rtol=1e-5)


def test_lora_update_is_eq1_per_projection():
    layer = QKVLoRALinear(6, 18, rank=2, alpha=4)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        layer.lora_up.copy_(torch.randn(3, 6, 2, generator=gen))
    x = torch.randn(5, 6, generator=gen)
    down = layer.lora_down.weight
    # W*_t = W0_t + (alpha / r) Wa_t Wb_t^T for t in q, k, v separately
    expected = []
    for t in range(3):
        w0 = layer.weight[6 * t:6 * (t + 1)]
        wa = layer.lora_up[t]  # (d, r)
        wb = down[2 * t:2 * (t + 1)].t()  # (d, r)
        w = w0 + 2.0 * wa @ wb.t()
        expected.append(x @ w.t() + layer.bias[6 * t:6 * (t + 1)])
    torch.testing.assert_close(layer(x), torch.cat(expected, dim=1))


PRESETS = {  # (depth, global blocks) from METHODS.md / the SAM paper
    'base': (12, [2, 5, 8, 11]),
    'large': (24, [5, 11, 17, 23]),
    'huge': (32, [7, 15, 23, 31]),
}


@pytest.mark.parametrize('name', list(PRESETS))
@pytest.mark.parametrize('placement', ['global', 'windowed'])
def test_gate_placement(name, placement):
    depth, global_blocks = PRESETS[name]
    # the preset's depth and global blocks at a tiny width
    arch = dict(
        ViTSAM.arch_zoo[name],
        embed_dims=16,
        num_heads=2,
        feedforward_channels=16)
    model = SAMLoRAViT(
        arch=arch, img_size=32, out_channels=8,
        gate_placement=placement).eval()
    expected = global_blocks if placement == 'global' else [
        i for i in range(depth) if i not in global_blocks
    ]
    assert len(model.layers) == depth
    assert sorted(int(k) for k in model.gates) == expected
    assert len(model.gates) == (4 if placement == 'global' else depth - 4)
    # the gates run right after their blocks, in order
    calls = []
    for i, layer in enumerate(model.layers):
        layer.register_forward_hook(lambda *a, i=i: calls.append(('block', i)))
    for key, gate in model.gates.items():
        gate.register_forward_hook(lambda *a, i=int(key): calls.append(
            ('gate', i)))
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    gated = [calls[k - 1][1] for k, c in enumerate(calls) if c[0] == 'gate']
    assert gated == expected
    assert [c for c in calls if c[0] == 'block'] == [('block', i)
                                                     for i in range(depth)]


def test_public_code_gates_are_frozen_and_not_identity():
    model = SAMLoRAViT(
        arch=TINY,
        img_size=64,
        window_size=2,
        out_channels=16,
        gate_placement='windowed',
        gate_cfg=dict(
            proj2_hidden=True,
            sequential_update=True,
            init_mode='public',
            trainable=False))
    model.init_weights()
    assert sorted(model.gates) == ['0', '2']
    names = model.trainable_parameter_names()
    assert names and all('.lora_' in n for n in names)
    x = torch.randn(2, 8, 8, 32)
    assert not torch.allclose(model.gates['0'](x), x)


def test_activation_checkpointing_gives_same_gradients():
    model = randomise(
        SAMLoRAViT(arch=TINY, img_size=64, window_size=2, out_channels=16),
        seed=7)
    model.freeze_sam()
    model.train()
    x = torch.randn(2, 3, 64, 64)
    grads = []
    for with_cp in (False, True):
        model.with_cp = with_cp
        model.zero_grad()
        model(x)[0].square().mean().backward()
        grads.append({
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.grad is not None
        })
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name])


@pytest.mark.parametrize('mode', ['separate', 'joint'])
def test_lora_training_and_inference_paths_equal_eq1(mode):
    """The in-place training path and the merged-weight inference path
    against W* = W0 + s up @ down written out, with gradients (float64)."""
    gen = torch.Generator().manual_seed(3)
    layer = QKVLoRALinear(6, 18, rank=2, alpha=3, mode=mode).double()
    with torch.no_grad():
        layer.lora_up.copy_(torch.randn(layer.lora_up.shape, generator=gen))
    layer.weight.requires_grad_(False)
    layer.bias.requires_grad_(False)
    x = torch.randn(2, 3, 4, 6, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    width = 18 // layer.num_adapters
    blocks = []
    for t in range(layer.num_adapters):
        down = layer.lora_down.weight[2 * t:2 * (t + 1)]
        blocks.append(layer.weight[width * t:width * (t + 1)] +
                      1.5 * layer.lora_up[t] @ down)
    expected = x @ torch.cat(blocks).t() + layer.bias
    params = [x, layer.lora_up, layer.lora_down.weight]
    grads = torch.autograd.grad(expected.square().sum(), params)
    out = layer(x)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip(
            torch.autograd.grad(out.square().sum(), params), grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # merged weight, one product
        torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)
    # dropout on the adapter input keeps the two-product path in training
    layer.lora_dropout.p = 0.5
    layer.train()
    with torch.no_grad():
        torch.manual_seed(0)
        dropped = layer(x)
    assert not torch.allclose(dropped, expected)
