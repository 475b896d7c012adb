"""DeepCLSiamEncoderDecoder: attachment by config, prior, inference cost,
and a tiny DeepCL + baseline config through tools/train.py and test.py."""
import glob
import json
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F
from cd_testing import run_tool, shrink_config
from mmengine.config import Config, ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.models.losses import HardSampleContrastiveLoss
from mmcd_ext.models.segmentors import DeepCLSiamEncoderDecoder
from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 64
NORM = dict(type='BN', requires_grad=True)


def tiny_cfg(deepcl=True, prior=False, **contrastive):
    """A ResNet-18 (8 base channels) / FCN host, with or without DeepCL."""
    widths = [8, 16, 32, 64]  # the segmentor adds the prior's channels
    cfg = dict(
        type='SiamEncoderDecoder',
        backbone=dict(
            type='mmseg.ResNet',
            depth=18,
            num_stages=4,
            stem_channels=8,
            out_indices=(0, 1, 2, 3),
            base_channels=8,
            norm_cfg=NORM),
        neck=dict(type='BitemporalFusionNeck', policy='abs_diff'),
        decode_head=dict(
            type='mmseg.UPerHead',
            in_channels=widths,
            in_index=[0, 1, 2, 3],
            pool_scales=(1, 2),
            channels=8,
            num_classes=2,
            norm_cfg=NORM,
            loss_decode=dict(type='mmseg.CrossEntropyLoss')),
        test_cfg=dict(mode='whole'))
    if deepcl:
        cfg['type'] = 'DeepCLSiamEncoderDecoder'
        cfg['contrastive'] = dict(
            loss=dict(type='HardSampleContrastiveLoss', gamma=0.0),
            prior=prior,
            **contrastive)
    return ConfigDict(cfg)


def samples(n=2, size=SIZE):
    out = []
    for i in range(n):
        label = torch.zeros(1, size, size, dtype=torch.long)
        label[:, 8 + 8 * i:40, 16:48] = 1
        label[:, :4] = 255
        ds = SegDataSample(gt_sem_seg=PixelData(data=label))
        ds.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        out.append(ds)
    return out


def inputs(n=2, size=SIZE):
    return torch.randn(
        n, 6, size, size, generator=torch.Generator().manual_seed(0))


def bcl(dist, label, margin):
    """Batch-balanced contrastive loss written out (gamma = 0)."""
    u, c = label == 0, label == 1
    return (dist[u]**2).sum() / u.sum() + \
        (torch.clamp(margin - dist[c], min=0)**2).sum() / c.sum()


def normalized_distance(a, b):
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    return (a - b).norm(dim=1, keepdim=True)


@pytest.mark.parametrize('prior', [False, True])
def test_loss_runs_backbone_once_and_matches_formula(prior):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(prior=prior)).train()
    assert isinstance(model.contrastive_loss, HardSampleContrastiveLoss)
    calls = []
    model.backbone.register_forward_hook(
        lambda mod, args, out: calls.append(args[0].shape[0]))
    x, data_samples = inputs(), samples()
    losses = model.loss(x, data_samples)
    assert calls == [4]  # both dates of 2 pairs in one call
    assert set(losses) >= {
        'decode.loss_ce', 'contrastive.loss_level0', 'contrastive.loss_level3'
    }
    # the same numbers from the backbone run on each date on its own
    model.eval()  # BN with running stats: same output for any batch split
    with torch.no_grad():
        losses = model.loss(x, data_samples)
        feats_a = model.backbone(x[:, :3])
        feats_b = model.backbone(x[:, 3:])
    label = torch.stack([s.gt_sem_seg.data for s in data_samples])
    for level, (fa, fb) in enumerate(zip(feats_a, feats_b)):
        step = SIZE // fa.shape[-1]
        expected = bcl(
            normalized_distance(fa, fb), label[:, :, ::step, ::step],
            1.0) / 4  # mean of 4
        torch.testing.assert_close(
            losses[f'contrastive.loss_level{level}'],
            expected,
            rtol=1e-4,
            atol=1e-6)


def test_contrastive_gradient_reaches_backbone():
    model = MODELS.build(tiny_cfg()).train()
    losses = model.loss(inputs(), samples())
    losses['contrastive.loss_level2'].backward()
    assert model.backbone.layer3[0].conv1.weight.grad.abs().sum() > 0
    assert model.backbone.layer4[0].conv1.weight.grad is None or \
        model.backbone.layer4[0].conv1.weight.grad.abs().sum() == 0


def test_without_prior_inference_is_the_hosts(monkeypatch):
    torch.manual_seed(0)
    host = MODELS.build(tiny_cfg(deepcl=False)).eval()
    deepcl = MODELS.build(tiny_cfg(deepcl=True, prior=False)).eval()
    assert set(deepcl.state_dict()) == set(host.state_dict())
    deepcl.load_state_dict(host.state_dict())

    def forbidden(*args, **kwargs):
        raise AssertionError('a distance was computed at inference')

    monkeypatch.setattr(deepcl.contrastive_loss, 'pair_distance', forbidden)
    x, data_samples = inputs(), samples()
    with torch.no_grad():
        ref = host.predict(x, samples())
        out = deepcl.predict(x, data_samples)
    for r, o in zip(ref, out):
        torch.testing.assert_close(o.seg_logits.data, r.seg_logits.data)


def test_prior_concatenates_distance_maps():
    model = MODELS.build(tiny_cfg(prior=True)).eval()
    x = inputs()
    with torch.no_grad():
        fused = model.extract_feat(x)
        feats_a = model.backbone(x[:, :3])
        feats_b = model.backbone(x[:, 3:])
    for f, fa, fb in zip(fused, feats_a, feats_b):
        assert f.shape[1] == fa.shape[1] + 1
        torch.testing.assert_close(
            f[:, :-1], (fa - fb).abs(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            f[:, -1:], normalized_distance(fa, fb), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        out = model.predict(x, samples())
    assert out[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)


@pytest.mark.parametrize('detach', [True, False])
def test_prior_detach_and_resize_to_another_level(detach):
    # FrNet-like mapping: the map of backbone level 3 goes to fused level 1
    model = MODELS.build(
        tiny_cfg(in_indices=[3], prior_indices=[1], detach_prior=detach))
    fused = [torch.zeros(1, 2, 8, 8), torch.zeros(1, 3, 4, 4)]
    dist = torch.rand(1, 1, 2, 2, requires_grad=True)
    out = model.attach_prior(fused, [dist], [3])
    assert out[0].shape == (1, 2, 8, 8) and out[1].shape == (1, 4, 4, 4)
    torch.testing.assert_close(
        out[1][:, 3:],
        F.interpolate(
            dist.detach(), size=(4, 4), mode='bilinear', align_corners=False))
    if detach:
        assert not out[1].requires_grad
    else:
        out[1].sum().backward()
        assert dist.grad is not None and dist.grad.abs().sum() > 0


def test_bad_contrastive_settings():
    with pytest.raises(ValueError, match='unknown contrastive keys'):
        MODELS.build(tiny_cfg(levels=[0]))
    with pytest.raises(ValueError, match='one entry per in_indices'):
        MODELS.build(tiny_cfg(prior_indices=[0]))
    model = MODELS.build(tiny_cfg(in_indices=[5]))
    with pytest.raises(ValueError, match='returns 4 levels'):
        model.loss(inputs(), samples())
    model = MODELS.build(
        tiny_cfg(prior=True, in_indices=[3], prior_indices=[7]))
    with pytest.raises(ValueError, match='neck returns 4'):
        model.extract_feat(inputs())


# ------------------------------------------------------------ configs
# each DeepCL config and the host config it must equal apart from the
# segmentor type, the contrastive branch and the prior's head channels
HOSTS = {
    'deepcl_baseline-r18_levir-256.py':
    'configs/baseline/baseline_r18_levir-256.py',
    'deepcl_baseline-r18_levir-256_noprior.py':
    'configs/baseline/baseline_r18_levir-256.py',
    'deepcl_frnet-vgg16_levir-256.py':
    'configs/frnet/frnet_vgg16_levir-256.py',
    'deepcl_baseline-r18-w32_synthetic-256.py':
    'configs/deepcl/baseline_r18-w32_synthetic-256.py',
    'deepcl_baseline-r18-w32_synthetic-256_noprior.py':
    'configs/deepcl/baseline_r18-w32_synthetic-256.py',
    'deepcl_baseline-r18-w32_synthetic-256_bcl.py':
    'configs/deepcl/baseline_r18-w32_synthetic-256.py',
    'deepcl_ttp-sam-b_levir.py': 'configs/ttp/ttp_sam-b_levir.py',
}
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'deepcl', 'deepcl_*.py')))


def test_every_deepcl_config_has_a_host():
    assert CONFIGS
    assert {osp.basename(p) for p in CONFIGS} <= set(HOSTS)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_deepcl_config_is_its_host_plus_the_branch(path):
    cfg = Config.fromfile(path)
    host = Config.fromfile(osp.join(ROOT, HOSTS[osp.basename(path)]))
    model = cfg.model.to_dict()
    ref = host.model.to_dict()
    assert model.pop('type') == 'DeepCLSiamEncoderDecoder'
    assert ref.pop('type') == 'SiamEncoderDecoder'
    branch = model.pop('contrastive')
    channels = model['decode_head'].pop('in_channels')
    ref_channels = ref['decode_head'].pop('in_channels')
    assert channels == ref_channels  # the config keeps the host's head
    assert model == ref  # nothing else of the host is touched
    assert branch['loss']['type'] == 'HardSampleContrastiveLoss'
    assert branch['prior'] == ('noprior' not in path)
    # the prior adds one channel per distance map to its fused level
    expected = list(ref_channels) if isinstance(ref_channels, (list, tuple)) \
        else [ref_channels]
    if branch['prior']:
        for target in branch.get('prior_indices') or branch['in_indices']:
            expected[target] += 1
    head = DeepCLSiamEncoderDecoder.add_prior_channels(
        cfg.model.decode_head,
        (branch.get('prior_indices') or branch['in_indices'])
        if branch['prior'] else [])
    got = head['in_channels']
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    assert got == expected


SYNTHETIC = 'configs/deepcl/deepcl_baseline-r18-w32_synthetic-256.py'


def tiny_synthetic(data_root=None, work_dir=None, max_iters=3):
    cfg = shrink_config(
        Config.fromfile(osp.join(ROOT, SYNTHETIC)),
        data_root=data_root,
        work_dir=work_dir,
        crop=(SIZE, SIZE),
        max_iters=max_iters)
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.decode_head.update(in_channels=[8, 16, 32, 64], channels=8)
    return cfg


def run(args, **kwargs):
    return run_tool(args, ROOT, **kwargs)


@pytest.mark.slow
def test_tiny_deepcl_baseline_trains_and_tests_with_tools(
        tmp_path, tiny_levir_root):
    data_root = tiny_levir_root
    cfg = tiny_synthetic(str(data_root), str(tmp_path / 'work'))
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    proc = run([sys.executable, 'tools/train.py', path])
    log = proc.stdout + proc.stderr
    assert 'contrastive.loss_level0' in log
    ckpt = tmp_path / 'work' / 'iter_3.pth'
    assert ckpt.is_file()
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
