"""FrNet through SiamEncoderDecoder, the configs and the command-line tools."""
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
CONFIGS = {
    'frnet': 'configs/frnet/frnet_vgg16_synthetic-256.py',
    'base': 'configs/frnet/frnet_vgg16_synthetic-256_base.py',
}
PAPER = {
    'frnet': 'configs/frnet/frnet_vgg16_levir-256.py',
    'base': 'configs/frnet/frnet_vgg16_levir-256_base.py',
}
SIZE = 64  # tiny scenes; crops and slide windows of 64 -> 2x2 deep feature


def tiny_config(name, data_root=None, work_dir=None, max_iters=4):
    """The synthetic config, shrunk, with an 8-16 channel VGG."""
    cfg = shrink_config(
        Config.fromfile(osp.join(ROOT, CONFIGS[name])),
        data_root=data_root,
        work_dir=work_dir,
        crop=(SIZE, SIZE),
        max_iters=max_iters)
    widths = (8, 8, 16, 16, 16)
    cfg.model.backbone.arch = dict(channels=widths, depths=(2, 2, 3, 3, 3))
    cfg.model.neck.in_channels = widths[4]
    cfg.model.neck.out_channels = 8
    cfg.model.neck.hopfield.feat_size = (SIZE // 32, SIZE // 32)
    cfg.model.decode_head.in_channels = [*widths[:4], 8]
    cfg.model.decode_head.channels = 8
    return cfg


def batch(model, n=2):
    return binary_cd_batch(model, SIZE, n)


def test_frnet_trains_and_predicts_in_process():
    model = MODELS.build(tiny_config('frnet').model)
    model.init_weights()
    model.train()
    data = batch(model)
    losses = model.loss(**data)
    losses['decode.loss_ce'].backward()
    query = model.neck.hopfield.query
    assert query.shape == (2, 4)
    assert query.grad is not None and query.grad.abs().sum() > 0
    assert model.backbone.features[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_hopfield_sees_both_dates_through_the_segmentor():
    model = MODELS.build(tiny_config('frnet').model).eval()
    seen = {}
    model.neck.hopfield.register_forward_hook(
        lambda mod, args, out: seen.update(args=args))
    data = batch(model, n=1)
    with torch.no_grad():
        model.extract_feat(data['inputs'])
        feats_a, feats_b = model.extract_bitemporal_feat(data['inputs'])
    torch.testing.assert_close(seen['args'][0], feats_a[4])
    torch.testing.assert_close(seen['args'][1], feats_b[4])


@pytest.mark.parametrize('kind', ['synthetic', 'paper'])
def test_base_config_has_no_hopfield_parameters(kind):
    paths = CONFIGS if kind == 'synthetic' else PAPER
    frnet = MODELS.build(Config.fromfile(osp.join(ROOT, paths['frnet'])).model)
    base = MODELS.build(Config.fromfile(osp.join(ROOT, paths['base'])).model)
    hop = {n for n, _ in frnet.named_parameters() if 'hopfield' in n}
    assert 'neck.hopfield.query' in hop
    assert not any('hopfield' in n or 'query' in n
                   for n, _ in base.named_parameters())
    expected = (2, 8 * 8) if kind == 'paper' else (2, 4 * 4)
    assert tuple(frnet.neck.hopfield.query.shape) == expected
    # everything else is the same network
    other = {
        n: p.shape
        for n, p in frnet.named_parameters() if 'hopfield' not in n
    }
    base_other = {
        n: p.shape
        for n, p in base.named_parameters() if 'deep_proj' not in n
    }
    assert other == base_other


def test_paper_config_schedule():
    cfg = Config.fromfile(osp.join(ROOT, PAPER['frnet']))
    assert cfg.optim_wrapper.optimizer == dict(
        type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-5)
    assert cfg.param_scheduler == [
        dict(
            type='PolyLR',
            eta_min=0.0,
            power=1.0,
            by_epoch=False,
            begin=0,
            end=50000)
    ]
    assert cfg.train_cfg.max_iters == 50000
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.model.neck.hopfield.num_queries == 2
    assert cfg.model.neck.hopfield.beta is None  # 1 / sqrt(c_Q)


# ------------------------------------------------------------ tools, slow
def run(args, **kwargs):
    return run_tool(args, ROOT, **kwargs)


@pytest.fixture(scope='module')
def data_root(tiny_levir_root):
    return tiny_levir_root


@pytest.mark.slow
@pytest.mark.parametrize('name', ['frnet', 'base'])
def test_train_then_test_with_tools(tmp_path, data_root, name):
    cfg = tiny_config(
        name, data_root=data_root, work_dir=str(tmp_path / 'work'))
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    run([sys.executable, 'tools/train.py', path])
    ckpt = tmp_path / 'work' / 'iter_4.pth'
    assert ckpt.is_file()
    state = torch.load(ckpt, weights_only=True)['state_dict']
    assert ('neck.hopfield.query' in state) == (name == 'frnet')
    run([
        sys.executable, 'tools/test.py', path,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test')
    ])
    files = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        metrics = json.load(f)
    for key in ('Precision', 'Recall', 'F1', 'IoU', 'OA', 'Kappa'):
        assert 0.0 <= metrics[key] <= 100.0
