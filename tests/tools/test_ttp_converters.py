"""tools/model_converters/sam2mmcd.py and merge_lora.py (in-process)."""
import functools
import hashlib
import importlib.util
import os
import os.path as osp

import pytest
import torch
from segment_anything.modeling.image_encoder import ImageEncoderViT

from mmcd_ext.models.backbones.sam_lora_vit import SAMLoRAViT

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])


def load_tool(name):
    path = osp.join(REPO_ROOT, 'tools', 'model_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'ttp_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_sam(img_size):
    enc = ImageEncoderViT(
        img_size=img_size,
        patch_size=16,
        embed_dim=32,
        depth=4,
        num_heads=2,
        mlp_ratio=2.0,
        out_chans=16,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=2,
        global_attn_indexes=(1, 3))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    return enc


def test_sam2mmcd_matches_direct_load(tmp_path):
    src = str(tmp_path / 'sam.pth')
    torch.save(
        {
            'image_encoder.' + k: v
            for k, v in random_sam(128).state_dict().items()
        }, src)
    dst = str(tmp_path / 'converted.pth')
    assert load_tool('sam2mmcd').main(
        [src, dst, '--img-size', '64', '--window-size', '2']) == 0
    state = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    assert 'backbone.layers.0.ffn.layers.0.0.weight' in state
    assert state['backbone.pos_embed'].shape == (1, 4, 4, 32)
    assert state['backbone.layers.1.attn.rel_pos_h'].shape == (7, 16)
    assert state['backbone.layers.0.attn.rel_pos_h'].shape == (3, 16)

    def build(path):
        model = SAMLoRAViT(
            arch=TINY,
            img_size=64,
            window_size=2,
            out_channels=16,
            gate_cfg=None,
            init_cfg=dict(type='Pretrained', checkpoint=path))
        model.init_weights()
        return model.eval()

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            build(dst)(x)[0], build(src)(x)[0], atol=1e-5, rtol=1e-5)


def test_merge_lora_tool(tmp_path):
    model = SAMLoRAViT(
        arch=TINY, img_size=64, window_size=2, out_channels=16,
        gate_cfg=None).eval()
    with torch.no_grad():
        for layer in model.layers:
            layer.attn.qkv.lora_up.normal_(0, 0.1)
    src = str(tmp_path / 'trained.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v
                for k, v in model.state_dict().items()
            },
            'meta': dict(note='kept')
        }, src)
    dst = str(tmp_path / 'merged.pth')
    tool = load_tool('merge_lora')
    assert tool.main([src, dst]) == 0
    merged = torch.load(dst, weights_only=True)
    assert merged['meta'] == dict(note='kept')
    assert not any('lora' in k for k in merged['state_dict'])
    plain = SAMLoRAViT(
        arch=TINY,
        img_size=64,
        window_size=2,
        out_channels=16,
        gate_cfg=None,
        lora_cfg=None).eval()
    plain.load_state_dict(
        {
            k[len('backbone.'):]: v
            for k, v in merged['state_dict'].items()
        },
        strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            plain(x)[0], model(x)[0], atol=1e-5, rtol=1e-5)
    # a checkpoint without adapters is an error, not a silent copy
    with pytest.raises(SystemExit) as err:
        tool.main([dst, str(tmp_path / 'again.pth')])
    assert err.value.code == 1
    assert not osp.exists(tmp_path / 'again.pth')


def test_sam2mmcd_refuses_missing_or_unrecognised_files(tmp_path, capsys):
    tool = load_tool('sam2mmcd')
    dst = str(tmp_path / 'out.pth')
    with pytest.raises(SystemExit) as err:
        tool.main([str(tmp_path / 'absent.pth'), dst])
    assert err.value.code == 1
    assert 'sam_vit_b_01ec64.pth' in capsys.readouterr().err
    odd = str(tmp_path / 'odd.pth')
    torch.save({'encoder.weight': torch.zeros(1)}, odd)
    with pytest.raises(SystemExit):
        tool.main([odd, dst])
    line = capsys.readouterr().err
    assert line.startswith('tools/model_converters/sam2mmcd.py: error: ')
    assert 'unrecognised SAM checkpoint layout' in line
    assert len(line.strip().splitlines()) == 1
    assert not osp.exists(dst)
    with pytest.raises(ValueError, match='unrecognised'):
        tool.main([odd, dst, '--debug'])


def _sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _sam_file(tmp_path):
    src = str(tmp_path / 'sam.pth')
    torch.save(
        {
            'image_encoder.' + k: v
            for k, v in random_sam(32).state_dict().items()
        }, src)
    return src


def _lora_file(tmp_path):
    model = SAMLoRAViT(
        arch=TINY, img_size=64, window_size=2, out_channels=16, gate_cfg=None)
    src = str(tmp_path / 'trained.pth')
    torch.save({'state_dict': model.state_dict()}, src)
    return src


@pytest.mark.parametrize('name, make', [('sam2mmcd', _sam_file),
                                        ('merge_lora', _lora_file)])
def test_converters_refuse_input_and_existing_outputs(name, make, tmp_path,
                                                      capsys):
    tool = load_tool(name)
    src = make(tmp_path)
    before = _sha(src)
    link = str(tmp_path / 'link.pth')
    os.symlink(src, link)
    for dst in (src, link):  # the output is the input, even with --overwrite
        with pytest.raises(SystemExit):
            tool.main([src, dst, '--overwrite'])
        assert 'is the input' in capsys.readouterr().err
    dst = str(tmp_path / 'out.pth')
    with open(dst, 'wb') as f:
        f.write(b'mine')
    with pytest.raises(SystemExit):
        tool.main([src, dst])
    assert 'exists; pass --overwrite' in capsys.readouterr().err
    assert open(dst, 'rb').read() == b'mine'
    assert tool.main([src, dst, '--overwrite']) == 0
    assert 'state_dict' in torch.load(dst, weights_only=True)
    assert _sha(src) == before
    # a truncated input is a one-line error from read_checkpoint
    bad = str(tmp_path / 'bad.pth')
    with open(src, 'rb') as f, open(bad, 'wb') as g:
        g.write(f.read()[:200])
    with pytest.raises(SystemExit):
        tool.main([bad, str(tmp_path / 'x.pth')])
    assert 'truncated' in capsys.readouterr().err


@pytest.mark.parametrize('name, make', [('sam2mmcd', _sam_file),
                                        ('merge_lora', _lora_file)])
def test_converters_interrupted_save_changes_nothing(name, make, tmp_path,
                                                     monkeypatch):
    tool = load_tool(name)
    src = make(tmp_path)
    dst = str(tmp_path / 'out.pth')
    with open(dst, 'wb') as f:
        f.write(b'previous result')
    before = {p: _sha(tmp_path / p) for p in os.listdir(tmp_path)}

    def half_save(obj, path):  # writes part of the file, then stops
        with open(path, 'wb') as f:
            f.write(b'PK\x03\x04 half')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', half_save)
    with pytest.raises(KeyboardInterrupt):
        tool.main([src, dst, '--overwrite'])
    assert {p: _sha(tmp_path / p) for p in os.listdir(tmp_path)} == before
