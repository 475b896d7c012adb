"""tools/model_converters/opencd_ttp2mmcd.py on open-cd's TTP key layout.

The open-cd state dict below is written from open-cd's module names and
shapes (``ViTSAM_Custom`` with ``TimeFusionTransformerEncoderLayer`` blocks
wrapped by peft, ``SequentialNeck([FeatureFusionNeck, SimpleFPN])``,
``MLPSegHead``), at a tiny width.
"""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PUBLIC = osp.join(REPO_ROOT, 'configs', 'ttp',
                  'ttp_sam-b_levir_public-code.py')
EMBED, DEPTH, HEADS, FFN = 32, 4, 2, 64
GLOBAL = (1, 3)
WINDOW, GRID, RANK = 2, 4, 4  # 64 px inputs: 4 x 4 tokens
SAM_OUT = 16  # encoder neck width; fused: 32
FPN_OUT, HEAD_CH = 8, 8


def load_tool():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters',
                    'opencd_ttp2mmcd.py')
    spec = importlib.util.spec_from_file_location('opencd_ttp2mmcd', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def opencd_state_dict(seed=0, peft_base_layer=True):
    """A tiny open-cd TTP state dict, keys and shapes as open-cd saves."""
    gen = torch.Generator().manual_seed(seed)
    state = {}

    def put(key, *shape):
        state[key] = torch.randn(shape, generator=gen) * 0.1

    enc = 'backbone.vision_encoder.base_model.model.'
    head_dim = EMBED // HEADS
    put(enc + 'patch_embed.projection.weight', EMBED, 3, 16, 16)
    put(enc + 'patch_embed.projection.bias', EMBED)
    put(enc + 'pos_embed', 1, GRID, GRID, EMBED)
    for i in range(DEPTH):
        p = f'{enc}layers.{i}.'
        size = GRID if i in GLOBAL else WINDOW
        qkv = p + ('attn.qkv.base_layer.' if peft_base_layer else 'attn.qkv.')
        put(p + 'ln1.weight', EMBED)
        put(p + 'ln1.bias', EMBED)
        put(p + 'attn.rel_pos_h', 2 * size - 1, head_dim)
        put(p + 'attn.rel_pos_w', 2 * size - 1, head_dim)
        put(qkv + 'weight', 3 * EMBED, EMBED)
        put(qkv + 'bias', 3 * EMBED)
        put(p + 'attn.qkv.lora_A.default.weight', RANK, EMBED)
        put(p + 'attn.qkv.lora_B.default.weight', 3 * EMBED, RANK)
        put(p + 'attn.proj.weight', EMBED, EMBED)
        put(p + 'attn.proj.bias', EMBED)
        put(p + 'ln2.weight', EMBED)
        put(p + 'ln2.bias', EMBED)
        put(p + 'ffn.layers.0.0.weight', FFN, EMBED)
        put(p + 'ffn.layers.0.0.bias', FFN)
        put(p + 'ffn.layers.1.weight', EMBED, FFN)
        put(p + 'ffn.layers.1.bias', EMBED)
        if i not in GLOBAL:  # open-cd: `if self.window_size > 0`
            put(p + 'down_channel.weight', 1, 2 * EMBED, 1, 1)
            put(p + 'soft_ffn.0.weight', EMBED, EMBED, 1, 1)
            put(p + 'soft_ffn.0.bias', EMBED)
            put(p + 'soft_ffn.2.weight', EMBED, EMBED, 1, 1)
            put(p + 'soft_ffn.2.bias', EMBED)
    put(enc + 'channel_reduction.0.weight', SAM_OUT, EMBED, 1, 1)
    put(enc + 'channel_reduction.1.weight', SAM_OUT)
    put(enc + 'channel_reduction.1.bias', SAM_OUT)
    put(enc + 'channel_reduction.2.weight', SAM_OUT, SAM_OUT, 3, 3)
    put(enc + 'channel_reduction.3.weight', SAM_OUT)
    put(enc + 'channel_reduction.3.bias', SAM_OUT)
    fpn = 'neck.necks.1.'
    c = 2 * SAM_OUT
    put(fpn + 'fpn1.0.weight', c, c // 2, 2, 2)
    put(fpn + 'fpn1.0.bias', c // 2)
    put(fpn + 'fpn1.1.weight', c // 2)
    put(fpn + 'fpn1.1.bias', c // 2)
    put(fpn + 'fpn1.3.weight', c // 2, c // 4, 2, 2)
    put(fpn + 'fpn1.3.bias', c // 4)
    put(fpn + 'fpn2.0.weight', c, c // 2, 2, 2)
    put(fpn + 'fpn2.0.bias', c // 2)
    for j, ch in enumerate((c // 4, c // 2, c, c)):
        put(f'{fpn}lateral_convs.{j}.conv.weight', FPN_OUT, ch, 1, 1)
        put(f'{fpn}lateral_convs.{j}.ln.weight', FPN_OUT)
        put(f'{fpn}lateral_convs.{j}.ln.bias', FPN_OUT)
        put(f'{fpn}fpn_convs.{j}.conv.weight', FPN_OUT, FPN_OUT, 3, 3)
        put(f'{fpn}fpn_convs.{j}.ln.weight', FPN_OUT)
        put(f'{fpn}fpn_convs.{j}.ln.bias', FPN_OUT)

    def conv_bn(prefix, cin):
        put(prefix + 'conv.weight', HEAD_CH, cin, 1, 1)
        put(prefix + 'bn.weight', HEAD_CH)
        put(prefix + 'bn.bias', HEAD_CH)
        put(prefix + 'bn.running_mean', HEAD_CH)
        state[prefix + 'bn.running_var'] = torch.rand(
            HEAD_CH, generator=gen) + 0.5
        state[prefix + 'bn.num_batches_tracked'] = torch.tensor(7)

    for k in range(5):
        conv_bn(f'decode_head.convs.{k}.', FPN_OUT)
    conv_bn('decode_head.fusion_conv.', 5 * HEAD_CH)
    put('decode_head.conv_seg.weight', 2, HEAD_CH, 1, 1)
    put('decode_head.conv_seg.bias', 2)
    return state


def tiny_public_config(tmp_path):
    """A child of the public-code config at the tiny width."""
    path = tmp_path / 'tiny_public.py'
    fpn_in = [SAM_OUT // 2, SAM_OUT, 2 * SAM_OUT, 2 * SAM_OUT]
    path.write_text(
        f'_base_ = {PUBLIC!r}\n'
        'model = dict(\n'
        '    backbone=dict(\n'
        f'        arch=dict(_delete_=True, embed_dims={EMBED},\n'
        f'                  num_layers={DEPTH},\n'
        f'                  num_heads={HEADS}, feedforward_channels={FFN},\n'
        f'                  global_attn_indexes={list(GLOBAL)}),\n'
        f'        img_size=64, window_size={WINDOW}, out_channels={SAM_OUT},\n'
        f'        lora_cfg=dict(rank={RANK})),\n'
        f'    neck=dict(backbone_channel={2 * SAM_OUT},\n'
        f'              in_channels={fpn_in},\n'
        f'              out_channels={FPN_OUT}),\n'
        f'    decode_head=dict(in_channels=[{FPN_OUT}] * 5,\n'
        f'                     channels={HEAD_CH}, out_size=(16, 16)))\n')
    return str(path)


def save(tmp_path, state, name='opencd.pth'):
    path = str(tmp_path / name)
    torch.save({'meta': {'epoch': 300}, 'state_dict': state}, path)
    return path


@pytest.mark.parametrize('peft_base_layer', [True, False])
def test_converts_and_loads_strict(tmp_path, peft_base_layer):
    from mmengine.config import Config

    from mmcd_ext.registry import MODELS
    from mmcd_ext.utils import register_all_modules

    tool = load_tool()
    theirs = opencd_state_dict(peft_base_layer=peft_base_layer)
    theirs['some_other_module.weight'] = torch.zeros(1)
    src = save(tmp_path, theirs)
    dst = str(tmp_path / 'ours.pth')
    config = tiny_public_config(tmp_path)
    assert tool.main([src, dst, '--config', config]) == 0
    ours = torch.load(dst, map_location='cpu')['state_dict']
    # every open-cd tensor but the foreign one is used, plus one scale per
    # block
    assert len(ours) == len(theirs) - 1 + DEPTH

    register_all_modules()
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(ours, strict=True)

    enc = 'backbone.vision_encoder.base_model.model.'
    qkv = 'attn.qkv.base_layer.' if peft_base_layer else 'attn.qkv.'
    torch.testing.assert_close(model.backbone.layers[2].attn.qkv.bias,
                               theirs[f'{enc}layers.2.{qkv}bias'])
    torch.testing.assert_close(model.neck.fpn1[3].weight,
                               theirs['neck.necks.1.fpn1.3.weight'])
    torch.testing.assert_close(model.decode_head.convs[4].bn.running_var,
                               theirs['decode_head.convs.4.bn.running_var'])
    assert sorted(model.backbone.gates) == ['0', '2']

    # peft's LoRA linear: W x + b + (alpha / r) B A x, alpha 32
    x = torch.randn(5, EMBED)
    for i in range(DEPTH):
        p = f'{enc}layers.{i}.attn.qkv.'
        expected = F.linear(x, theirs[f'{enc}layers.{i}.{qkv}weight'],
                            theirs[f'{enc}layers.{i}.{qkv}bias']) + \
            (32 / RANK) * (x @ theirs[p + 'lora_A.default.weight'].t()
                           @ theirs[p + 'lora_B.default.weight'].t())
        layer = model.backbone.layers[i].attn.qkv
        layer.eval()
        torch.testing.assert_close(layer(x), expected)

    # open-cd's gate (TimeFusionTransformerEncoderLayer, 1x1 convs on NCHW)
    feats = torch.randn(4, GRID, GRID, EMBED)  # 2B tokens, channels last
    xt = feats.permute(0, 3, 1, 2)
    x0, x1 = xt[:2], xt[2:]
    p = f'{enc}layers.0.'

    def soft_ffn(v):
        v = F.conv2d(v, theirs[p + 'soft_ffn.0.weight'],
                     theirs[p + 'soft_ffn.0.bias'])
        return F.conv2d(
            F.gelu(v), theirs[p + 'soft_ffn.2.weight'],
            theirs[p + 'soft_ffn.2.bias'])

    act = torch.sigmoid(
        F.conv2d(torch.cat([x0, x1], 1), theirs[p + 'down_channel.weight']))
    x0 = x0 + soft_ffn(x1 * act)
    x1 = x1 + soft_ffn(x0 * act)
    expected = torch.cat([x0, x1]).permute(0, 2, 3, 1)
    torch.testing.assert_close(model.backbone.gates['0'](feats), expected)


def test_lora_alpha_sets_the_scale(tmp_path):
    tool = load_tool()
    ours, unmapped = tool.convert_state_dict(opencd_state_dict(), lora_alpha=8)
    assert unmapped == []
    key = 'backbone.layers.3.attn.qkv.lora_scaling'
    assert float(ours[key]) == pytest.approx(8 / RANK)
    ours, _ = tool.convert_state_dict(opencd_state_dict())
    assert float(ours[key]) == pytest.approx(32 / RANK)


def test_table_rows_are_unique():
    tool = load_tool()
    ours = [row.ours for row in tool.KEY_TABLE]
    theirs = [row.opencd for row in tool.KEY_TABLE]
    assert len(set(ours)) == len(ours)
    assert len(set(theirs)) == len(theirs)


def test_missing_tensor_is_refused(tmp_path, capsys):
    tool = load_tool()
    theirs = opencd_state_dict()
    del theirs['backbone.vision_encoder.base_model.model.layers.2.ln2.bias']
    src = save(tmp_path, theirs)
    with pytest.raises(SystemExit) as err:
        tool.main([src, str(tmp_path / 'out.pth')])
    assert err.value.code == 1
    message = capsys.readouterr().err
    assert 'missing' in message and 'layers.2.ln2.bias' in message
    assert not osp.exists(tmp_path / 'out.pth')


def test_missing_gate_is_refused():
    tool = load_tool()
    theirs = opencd_state_dict()
    del theirs['backbone.vision_encoder.base_model.model.layers.2.'
               'soft_ffn.2.bias']
    with pytest.raises(KeyError, match=r'layers\.2\.soft_ffn\.2\.bias'):
        tool.convert_state_dict(theirs)


def test_shape_mismatch_is_refused(tmp_path, capsys):
    tool = load_tool()
    theirs = opencd_state_dict()
    theirs['neck.necks.1.fpn_convs.1.conv.weight'] = torch.zeros(
        FPN_OUT, FPN_OUT, 1, 1)
    src = save(tmp_path, theirs)
    config = tiny_public_config(tmp_path)
    with pytest.raises(SystemExit):
        tool.main([src, str(tmp_path / 'out.pth'), '--config', config])
    message = capsys.readouterr().err
    assert 'neck.fpn_convs.1.conv.weight' in message
    assert 'does not fit' in message and 'mis-shaped' in message
    assert not osp.exists(tmp_path / 'out.pth')


def test_wrong_arch_is_refused(tmp_path, capsys):
    tool = load_tool()
    theirs = opencd_state_dict()
    enc = 'backbone.vision_encoder.base_model.model.'
    for key in [k for k in theirs if k.startswith(enc + 'layers.3.')]:
        del theirs[key]  # a 3-block encoder
    src = save(tmp_path, theirs)
    with pytest.raises(SystemExit):
        tool.main([
            src,
            str(tmp_path / 'out.pth'), '--config',
            tiny_public_config(tmp_path)
        ])
    message = capsys.readouterr().err
    assert 'missing' in message and 'backbone.layers.3' in message


def test_gate_weight_of_wrong_rank_is_refused():
    tool = load_tool()
    theirs = opencd_state_dict()
    theirs['backbone.vision_encoder.base_model.model.layers.0.'
           'down_channel.weight'] = torch.zeros(1, 2 * EMBED)
    with pytest.raises(ValueError, match='down_channel'):
        tool.convert_state_dict(theirs)


def test_unmapped_keys_are_reported(tmp_path, capsys):
    tool = load_tool()
    theirs = opencd_state_dict()
    theirs['auxiliary_head.conv_seg.weight'] = torch.zeros(2, 8, 1, 1)
    src = save(tmp_path, theirs)
    assert tool.main([src, str(tmp_path / 'out.pth')]) == 0
    out = capsys.readouterr().out
    assert 'unmapped open-cd key (left out): auxiliary_head.conv_seg.weight' \
        in out
    assert '1 unmapped' in out


def test_not_a_ttp_checkpoint_is_refused(tmp_path, capsys):
    tool = load_tool()
    src = save(tmp_path, {'backbone.layer1.0.conv1.weight': torch.zeros(1)})
    with pytest.raises(SystemExit):
        tool.main([src, str(tmp_path / 'out.pth')])
    message = capsys.readouterr().err
    assert 'missing from the open-cd checkpoint' in message


def test_existing_output_needs_overwrite(tmp_path, capsys):
    tool = load_tool()
    src = save(tmp_path, opencd_state_dict())
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'old')
    with pytest.raises(SystemExit):
        tool.main([src, str(dst)])
    assert dst.read_bytes() == b'old'
    assert tool.main([src, str(dst), '--overwrite']) == 0
    with pytest.raises(SystemExit):
        tool.main([src, src, '--overwrite'])


@pytest.mark.slow
def test_converted_checkpoint_evaluates_with_tools_test(
        tmp_path, tiny_levir_root):
    import glob
    import json
    import sys

    from cd_testing import run_tool, shrink_config
    from mmengine.config import Config

    cfg = shrink_config(
        Config.fromfile(tiny_public_config(tmp_path)),
        data_root=tiny_levir_root,
        crop=(64, 64))
    config = str(tmp_path / 'tiny_public_test.py')
    cfg.dump(config)
    src = save(tmp_path, opencd_state_dict())
    dst = str(tmp_path / 'converted.pth')
    assert load_tool().main([src, dst, '--config', config]) == 0
    run_tool([
        sys.executable, 'tools/test.py', config, dst, '--work-dir',
        str(tmp_path / 'test')
    ], REPO_ROOT)
    files = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        metrics = json.load(f)
    for key in ('Precision', 'Recall', 'F1', 'IoU', 'OA'):
        assert 0.0 <= metrics[key] <= 100.0
