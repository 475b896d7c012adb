"""TTP through SiamEncoderDecoder, the configs and the command-line tools."""
import glob
import json
import os.path as osp
import sys

import pytest
import torch
from cd_testing import binary_cd_batch, run_tool, shrink_config
from mmengine.config import Config

from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/ttp/ttp_sam-b_levir.py'
SIZE = 64
TINY = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])


def tiny_config(path=CONFIG, data_root=None, work_dir=None, max_iters=3):
    """A TTP config, shrunk, with a 4-block 32-wide SAM encoder."""
    cfg = shrink_config(
        Config.fromfile(osp.join(ROOT, path)),
        data_root=data_root,
        work_dir=work_dir,
        crop=(SIZE, SIZE),
        max_iters=max_iters)
    cfg.model.backbone.update(
        arch=TINY, img_size=SIZE, window_size=2, out_channels=16)
    if cfg.model.get('neck') is not None:  # the public code's pyramid
        cfg.model.neck.update(
            backbone_channel=32, in_channels=[8, 16, 32, 32], out_channels=8)
        cfg.model.decode_head.update(
            in_channels=[8] * 5, channels=8, out_size=(SIZE // 4, SIZE // 4))
    else:
        cfg.model.decode_head.update(
            in_channels=32, channels=8, level_channels=8)
    return cfg


def batch(model, n=2):
    return binary_cd_batch(model, SIZE, n)


def randomise_frozen(model, everything=False):
    """Give the frozen SAM weights (incl. zero position tables) values;
    with ``everything`` also LoRA and the (identity-initialised) gates."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.backbone.named_parameters():
            if everything or not param.requires_grad:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)


def test_only_lora_gates_and_head_train():
    model = MODELS.build(tiny_config().model)
    model.init_weights()
    randomise_frozen(model)
    model.train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {
        n
        for n, _ in model.named_parameters() if n.startswith('decode_head.')
        or '.lora_' in n or n.startswith('backbone.gates.')
    }
    assert trainable == expected
    assert any(n.startswith('backbone.gates.') for n in trainable)
    frozen = {
        n: p.detach().clone()
        for n, p in model.named_parameters() if not p.requires_grad
    }
    lora = {
        n: p.detach().clone()
        for n, p in model.named_parameters() if '.lora_up' in n
    }
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=1e-2,
        weight_decay=0.05)
    data = batch(model)
    for _ in range(2):  # 2 steps: LoRA up and gate Proj2 start at zero
        optimizer.zero_grad()
        losses = model.loss(**data)
        losses['decode.loss_ce'].backward()
        with_grad = {
            n
            for n, p in model.named_parameters() if p.grad is not None
        }
        assert with_grad == expected
        optimizer.step()
    for name, value in frozen.items():
        assert torch.equal(model.state_dict()[name], value), name
    for name, value in lora.items():
        assert not torch.equal(model.state_dict()[name], value), name
    model.eval()
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_backbone_sees_both_dates_stacked():
    model = MODELS.build(tiny_config().model)
    model.init_weights()
    randomise_frozen(model, everything=True)
    model.eval()
    seen = {}
    model.backbone.register_forward_hook(
        lambda mod, args, out: seen.update(x=args[0]))
    data = batch(model)
    inputs = data['inputs']
    with torch.no_grad():
        feats_a, _ = model.extract_bitemporal_feat(inputs)
        torch.testing.assert_close(seen['x'],
                                   torch.cat([inputs[:, :3], inputs[:, 3:]]))
        # through the gates, date A's features depend on date B
        changed = inputs.clone()
        changed[:, 3:] = torch.flip(changed[:, 3:], dims=[-1])
        feats_a2, _ = model.extract_bitemporal_feat(changed)
        assert not torch.allclose(feats_a[0], feats_a2[0])
        # without gates they do not
        model.backbone.gates.clear()
        plain_a, _ = model.extract_bitemporal_feat(inputs)
        plain_a2, _ = model.extract_bitemporal_feat(changed)
        torch.testing.assert_close(plain_a[0], plain_a2[0])


def test_ablation_configs_differ_by_their_component():
    names = {}
    for suffix in ('', '_wo-ttg', '_wo-ttg-ml', '_wo-ttg-ml-lora',
                   '_public-code'):
        path = f'configs/ttp/ttp_sam-b_levir{suffix}.py'
        model = MODELS.build(tiny_config(path).model)
        names[suffix] = {
            n
            for n, p in model.named_parameters() if p.requires_grad
        }
    has = {
        k: (any('gates' in n
                for n in v), any('lora' in n
                                 for n in v), any('up4' in n for n in v))
        for k, v in names.items()
    }
    assert has[''] == (True, True, True)
    assert has['_wo-ttg'] == (False, True, True)
    assert has['_wo-ttg-ml'] == (False, True, False)
    assert has['_wo-ttg-ml-lora'] == (False, False, False)
    # public code: gates frozen, its own pyramid (fpn1) instead of up4
    assert has['_public-code'] == (False, True, False)
    assert any(n.startswith('neck.fpn1.') for n in names['_public-code'])


def test_paper_config_settings():
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05)
    assert cfg.train_cfg.max_epochs == 300
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 5)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR', 5,
                                                       300)
    assert cfg.train_dataloader.batch_size * 4 == 16
    assert cfg.model.test_cfg == dict(
        mode='slide', crop_size=(512, 512), stride=(256, 256))
    assert cfg.model.backbone.lora_cfg.rank == 16
    assert cfg.model.decode_head.loss_decode.use_sigmoid
    for size, arch in (('l', 'large'), ('h', 'huge')):
        other = Config.fromfile(
            osp.join(ROOT, f'configs/ttp/ttp_sam-{size}_levir.py'))
        assert other.model.backbone.arch == arch
        assert f'sam_vit_{size}_' in other.model.backbone.init_cfg.checkpoint
    amp = Config.fromfile(
        osp.join(ROOT, 'configs/ttp/ttp_sam-b_levir_amp-bf16.py'))
    assert amp.optim_wrapper.type == 'AmpOptimWrapper'
    assert amp.optim_wrapper.dtype == 'bfloat16'


# ------------------------------------------------------------ tools, slow
def run(args, **kwargs):
    return run_tool(args, ROOT, **kwargs)


@pytest.mark.slow
def test_train_then_test_with_tools(tmp_path, tiny_levir_root):
    data_root = tiny_levir_root
    # a SAM checkpoint in the official layout, loaded through init_cfg
    sam = MODELS.build(dict(tiny_config().model.backbone, init_cfg=None))
    state = {
        'backbone.' + k: v
        for k, v in sam.state_dict().items()
        if '.lora_' not in k and not k.startswith('gates.')
    }
    ckpt_in = str(tmp_path / 'sam_tiny.pth')
    torch.save(state, ckpt_in)
    cfg = tiny_config(data_root=data_root, work_dir=str(tmp_path / 'work'))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=ckpt_in)
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    proc = run([sys.executable, 'tools/train.py', path])
    log = proc.stdout + proc.stderr
    assert 'SAMLoRAViT parameters' in log
    assert 'SAMLoRAViT: loaded' in log
    ckpt = tmp_path / 'work' / 'iter_3.pth'
    assert ckpt.is_file()
    saved = torch.load(ckpt, weights_only=False)['state_dict']
    assert any('.lora_up' in k for k in saved)
    assert 'backbone.gates.1.proj1.weight' in saved
    run([
        sys.executable, 'tools/test.py', path,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test')
    ])
    files = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        metrics = json.load(f)
    for key in ('Precision', 'Recall', 'F1', 'IoU', 'OA'):
        assert 0.0 <= metrics[key] <= 100.0
