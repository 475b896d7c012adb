"""Every config under configs/ loads, builds, and takes a training step."""
import glob
import os.path as osp

import pytest
import torch
from cd_testing import shrink_config
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def is_semantic_change_config(cfg: Config) -> bool:
    """Semantic change configs are scored by SCDMetric."""
    return cfg.get('val_evaluator', {}).get('type') == 'SCDMetric'


def scd_sample(size: int, num_classes: int) -> SegDataSample:
    """Semantic change labels (0 = no change) and the derived change label."""
    label_a = torch.randint(1, num_classes, (1, size, size))
    label_b = torch.randint(1, num_classes, (1, size, size))
    unchanged = torch.rand(1, size, size) < 0.5
    label_a[unchanged] = 0
    label_b[unchanged] = 0
    return SegDataSample(
        gt_sem_seg=PixelData(data=(label_a != 0).long()),
        gt_sem_seg_a=PixelData(data=label_a),
        gt_sem_seg_b=PixelData(data=label_b))


def test_configs_found():
    assert any('baseline_r18_levir-256' in p for p in CONFIGS)


# Configs whose full-size model takes about a minute or more to build and
# step on the 2-core CI CPU (TTP's SAM ViT-L and ViT-H encoders, 300M and
# 630M parameters, ~7 GB peak for ViT-H): built and stepped like every other
# config, but marked slow.
SLOW_CONFIGS = ('ttp_sam-l_', 'ttp_sam-h_')


def _config_param(path):
    slow = any(osp.basename(path).startswith(s) for s in SLOW_CONFIGS)
    return pytest.param(
        path,
        id=osp.relpath(path, ROOT),
        marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize('path', [_config_param(p) for p in CONFIGS])
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmcd_ext'
    assert 'mmcd_ext' in cfg.custom_imports['imports']
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        Compose(cfg[name]['dataset']['pipeline'])  # every transform exists
    small = shrink_config(cfg)
    model = MODELS.build(small.model)
    model.init_weights()
    model.train()
    size = 64
    semantic = is_semantic_change_config(cfg)
    samples = []
    for _ in range(2):
        if semantic:
            ds = scd_sample(size, cfg.model.decode_head.num_classes)
        else:
            ds = SegDataSample(
                gt_sem_seg=PixelData(
                    data=torch.randint(0, 2, (1, size, size))))
        ds.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        samples.append(ds)
    data = dict(
        inputs=[
            torch.randint(0, 255, (6, size, size), dtype=torch.uint8)
            for _ in range(2)
        ],
        data_samples=samples)
    data = model.data_preprocessor(data, training=True)
    losses = model.loss(**data)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert out[0].pred_sem_seg.data.shape[-2:] == (size, size)
    if semantic:  # what SCDMetric reads
        for key in ('pred_sem_seg_a', 'pred_sem_seg_b'):
            assert out[0].get(key).data.shape[-2:] == (size, size)
