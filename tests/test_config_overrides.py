"""Configs users extend in a few lines: overrides reach the model or fail.

A child config written into ``tmp_path`` (outside ``configs/``) inherits a
model base and a dataset base (or a method config) and changes the
backbone, the data root and the crop size; every dependent setting follows.
The weights key ``model.backbone.init_cfg.checkpoint`` of each method, set
from a child config or ``--cfg-options``, loads a tiny weights file written
by the test; a wrong size combination fails when the config is read,
naming the key.
"""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmcd_ext.registry import MODELS
from mmcd_ext.utils.config_utils import read_config
from mmcd_ext.utils.launch import syncbn_to_bn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE = osp.join(ROOT, 'configs', '_base_')
KEY = 'model.backbone.init_cfg.checkpoint'
TINY_SAM = dict(
    embed_dims=32,
    num_layers=2,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1])
# a dict replacing the base's arch name
REPLACE_SAM = dict(TINY_SAM, _delete_=True)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def config_path(*parts):
    return osp.join(ROOT, 'configs', *parts)


def build(cfg):
    """The segmentor of ``cfg`` on CPU (BN instead of SyncBN)."""
    syncbn_to_bn(cfg)
    return MODELS.build(cfg.model)


def one_batch(cfg, name='train_dataloader'):
    loader = cfg[name]
    loader.update(num_workers=0, persistent_workers=False, batch_size=2)
    return next(iter(Runner.build_dataloader(loader)))


# ------------------------------------------------------------ composition
def test_five_line_child_of_model_and_dataset_bases(tmp_path, tiny_levir_root):
    bases = [
        osp.join(BASE, 'models', 'ttp_sam-b.py'),
        osp.join(BASE, 'datasets', 'levir_cd-1024.py'),
        osp.join(BASE, 'default_runtime.py'),
        osp.join(BASE, 'schedules', 'ttp_adamw_300e.py'),
    ]
    path = write(
        tmp_path, 'child.py', f'_base_ = {bases!r}\n'
        f'data_root = {tiny_levir_root!r}\n'
        'crop_size = (32, 32)\n'
        f'model = dict(backbone=dict(arch={REPLACE_SAM!r}, window_size=2))\n')
    assert len(open(path).read().splitlines()) == 4
    cfg = read_config(path)
    for name in LOADERS:
        assert cfg[name].dataset.data_root == tiny_levir_root
    crop = [
        s for s in cfg.train_dataloader.dataset.pipeline
        if s['type'] == 'RandomCrop'
    ]
    assert [tuple(s['crop_size']) for s in crop] == [(32, 32)]
    # the model base's 512 / 256 sliding window follows the crop
    assert tuple(cfg.model.test_cfg.crop_size) == (32, 32)
    assert tuple(cfg.model.test_cfg.stride) == (16, 16)
    model = build(cfg)
    assert model.backbone.embed_dims == 32
    assert len(model.backbone.layers) == 2
    assert model.backbone.global_attn_indexes == [1]
    batch = one_batch(cfg)
    assert [tuple(x.shape) for x in batch['inputs']] == [(6, 32, 32)] * 2
    assert batch['data_samples'][0].img_path.startswith(tiny_levir_root)
    # the 64 x 64 test scenes are read by 32 x 32 windows
    model.eval()
    with torch.no_grad():
        out = model.test_step(one_batch(cfg, 'test_dataloader'))
    assert out[0].pred_sem_seg.data.shape[-2:] == (64, 64)


def test_child_of_method_config_and_cfg_options_reach_dependents(
        tmp_path, tiny_levir_root):
    method = config_path('ttp', 'ttp_sam-b_levir.py')
    path = write(
        tmp_path, 'ttp_256.py', f'_base_ = {method!r}\n'
        'crop_size = (256, 256)\n'
        f'data_root = {tiny_levir_root!r}\n')
    cfg = read_config(path)
    assert tuple(cfg.model.test_cfg.crop_size) == (256, 256)
    assert tuple(cfg.model.test_cfg.stride) == (128, 128)
    assert tuple(cfg.train_dataloader.dataset.pipeline[2].crop_size) == \
        (256, 256)
    for name in LOADERS:
        assert cfg[name].dataset.data_root == tiny_levir_root
    # the same through --cfg-options on the method config itself
    cfg = read_config(method,
                      dict(crop_size=(128, 128), data_root=tiny_levir_root))
    assert tuple(cfg.model.test_cfg.crop_size) == (128, 128)
    assert tuple(cfg.model.test_cfg.stride) == (64, 64)
    assert tuple(cfg.train_dataloader.dataset.pipeline[2].crop_size) == \
        (128, 128)
    assert cfg.test_dataloader.dataset.data_root == tiny_levir_root
    # plain mmengine keeps the stale copies: what the check is for
    raw = Config.fromfile(path)
    assert tuple(raw.model.test_cfg.crop_size) == (512, 512)


def test_frnet_hopfield_size_follows_the_crop(tmp_path):
    method = config_path('frnet', 'frnet_vgg16_levir-256.py')
    path = write(tmp_path, 'frnet_512.py', f'_base_ = {method!r}\n'
                 'crop_size = (512, 512)\n')
    cfg = read_config(path)
    assert tuple(cfg.model.neck.hopfield.feat_size) == (16, 16)
    cfg = read_config(method, {'crop_size': (128, 128)})
    assert tuple(cfg.model.neck.hopfield.feat_size) == (4, 4)
    # a model base + a dataset base of another size: derived as well
    bases = [
        osp.join(BASE, 'models', 'frnet_vgg16.py'),
        osp.join(BASE, 'datasets', 'levir_cd-1024.py'),
        osp.join(BASE, 'default_runtime.py'),
        osp.join(BASE, 'schedules', 'frnet_adam_50k.py'),
    ]
    path = write(tmp_path, 'frnet_1024.py', f'_base_ = {bases!r}\n')
    assert tuple(read_config(path).model.neck.hopfield.feat_size) == (16, 16)


# ------------------------------------------------------- wrong sizes fail
def test_frnet_crop_not_a_multiple_of_32_names_the_key(tmp_path):
    method = config_path('frnet', 'frnet_vgg16_levir-256.py')
    path = write(tmp_path, 'bad.py', f'_base_ = {method!r}\n'
                 'crop_size = (100, 100)\n')
    with pytest.raises(ValueError, match=r'model\.neck\.hopfield\.feat_size'):
        read_config(path)
    with pytest.raises(ValueError, match=r'model\.neck\.hopfield\.feat_size'):
        read_config(method, {'crop_size': (200, 200)})


def test_frnet_explicit_feat_size_disagreeing_names_the_key(tmp_path):
    method = config_path('frnet', 'frnet_vgg16_levir-256.py')
    path = write(
        tmp_path, 'bad.py', f'_base_ = {method!r}\n'
        'model = dict(neck=dict(hopfield=dict(feat_size=(16, 16))))\n')
    with pytest.raises(
            ValueError, match=r'feat_size = \(16, 16\) \(should '
            r'be \(8, 8\)'):
        read_config(path)


def test_ttp_sliding_window_disagreeing_names_the_keys(tmp_path):
    method = config_path('ttp', 'ttp_sam-b_levir.py')
    path = write(
        tmp_path, 'bad.py', f'_base_ = {method!r}\n'
        'crop_size = (256, 256)\n'
        'model = dict(test_cfg=dict(crop_size=(384, 384)))\n')
    with pytest.raises(ValueError, match=r'model\.test_cfg\.crop_size'):
        read_config(path)
    with pytest.raises(ValueError, match=r'model\.test_cfg\.stride'):
        read_config(method, {'model.test_cfg.stride': (1024, 1024)})


def test_lsafnet_sliding_window_disagreeing_names_the_key(tmp_path):
    method = config_path('lsafnet', 'lsafnet_r34_second.py')
    path = write(
        tmp_path, 'bad.py', f'_base_ = {method!r}\n'
        "model = dict(test_cfg=dict(mode='slide', crop_size=(256, 256), "
        'stride=(128, 128)))\n')
    with pytest.raises(
            ValueError,
            match=r'model\.test_cfg\.crop_size = '
            r'\(256, 256\) \(should be \(512, 512\)'):
        read_config(path)


def test_baseline_random_crop_disagreeing_names_the_key(tmp_path):
    method = config_path('baseline', 'baseline_r18_synthetic-256.py')
    path = write(
        tmp_path, 'bad.py', f'_base_ = {method!r}\n'
        'crop_size = (64, 64)\n'
        "train_dataloader = dict(dataset=dict(pipeline=[dict(type="
        "'LoadBitemporalImages'), dict(type='LoadCDAnnotations'), "
        "dict(type='RandomCrop', crop_size=(96, 96)), "
        "dict(type='PackCDInputs')]))\n")
    with pytest.raises(
            ValueError,
            match=r'train_dataloader\.dataset\.pipeline\[2\]'
            r'\.crop_size'):
        read_config(path)
    # only the variable: the crop follows
    path = write(tmp_path, 'ok.py', f'_base_ = {method!r}\n'
                 'crop_size = (64, 64)\n')
    cfg = read_config(path)
    assert tuple(cfg.train_dataloader.dataset.pipeline[2].crop_size) == \
        (64, 64)


# ----------------------------------------------------------- weights key
# method config, tiny variant (a child config's model dict), the
# backbone tensor compared after init_weights
METHODS = {
    'ttp':
    (('ttp', 'ttp_sam-b_levir.py'),
     dict(
         backbone=dict(arch=REPLACE_SAM, window_size=2, out_channels=8),
         decode_head=dict(in_channels=16, channels=8,
                          level_channels=8)), 'patch_embed.projection.weight'),
    'frnet':
    (('frnet', 'frnet_vgg16_levir-256.py'),
     dict(
         backbone=dict(
             arch=dict(
                 _delete_=True,
                 channels=(8, 16, 16, 32, 32),
                 depths=(2, 2, 3, 3, 3))),
         neck=dict(in_channels=32),
         decode_head=dict(in_channels=[8, 16, 16, 32, 16],
                          channels=8)), 'features.0.weight'),
    'lsafnet': (('lsafnet', 'lsafnet_r34_second.py'),
                dict(
                    backbone=dict(stem_channels=8, base_channels=8),
                    decode_head=dict(
                        in_channels=[8, 8, 16, 32, 64],
                        channels=8,
                        cd_channels=8)), 'layer1.0.conv1.weight'),
    'baseline': (('baseline', 'baseline_r18_levir-256.py'),
                 dict(
                     backbone=dict(stem_channels=8, base_channels=8),
                     decode_head=dict(in_channels=[8, 16, 32, 64],
                                      channels=8)), 'layer1.0.conv1.weight'),
}


def tiny_child(tmp_path, method, checkpoint=None):
    """A child config of the method config: tiny widths (and weights)."""
    parts, model, _ = METHODS[method]
    model = copy.deepcopy(model)
    if checkpoint is not None:
        model['backbone']['init_cfg'] = dict(checkpoint=checkpoint)
    text = f'_base_ = {config_path(*parts)!r}\nmodel = {model!r}\n'
    return write(tmp_path, f'{method}_tiny.py', text)


def tiny_weights(tmp_path, method):
    """A state dict of the tiny backbone, shifted away from any init."""
    cfg = read_config(tiny_child(tmp_path, method))
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg['init_cfg'] = None
    if backbone_cfg.get('norm_cfg', {}) and \
            backbone_cfg['norm_cfg'].get('type') == 'SyncBN':
        backbone_cfg['norm_cfg'] = dict(type='BN', requires_grad=True)
    backbone = MODELS.build(backbone_cfg)
    state = {
        k: v + 0.5 if v.is_floating_point() else v
        for k, v in backbone.state_dict().items()
    }
    path = str(tmp_path / f'{method}_weights.pth')
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize('method', list(METHODS))
@pytest.mark.parametrize('route', ['child', 'cfg-options'])
def test_weights_key_reaches_init(tmp_path, method, route):
    weights, state = tiny_weights(tmp_path, method)
    if route == 'child':
        cfg = read_config(tiny_child(tmp_path, method, weights))
    else:
        cfg = read_config(tiny_child(tmp_path, method), {KEY: weights})
    assert cfg.model.backbone.init_cfg.checkpoint == weights
    model = build(cfg)
    model.init_weights()
    name = METHODS[method][2]
    got = model.backbone.state_dict()[name]
    assert torch.equal(got, state[name])


@pytest.mark.parametrize('method', list(METHODS))
def test_weights_key_via_mmengine_merge_from_dict(tmp_path, method):
    weights, state = tiny_weights(tmp_path, method)
    cfg = Config.fromfile(tiny_child(tmp_path, method))
    cfg.merge_from_dict({KEY: weights})
    model = build(cfg)
    model.init_weights()
    name = METHODS[method][2]
    assert torch.equal(model.backbone.state_dict()[name], state[name])


class ListHandler(logging.Handler):

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.mark.parametrize('method,level', [('ttp', logging.WARNING),
                                          ('frnet', logging.WARNING),
                                          ('lsafnet', logging.INFO)])
def test_scratch_training_is_logged_naming_the_key(tmp_path, method, level):
    cfg = read_config(tiny_child(tmp_path, method))
    if method == 'ttp':  # the TTP base points at SAM's file by default
        cfg.model.backbone.init_cfg.checkpoint = None
    handler = ListHandler()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        build(cfg)
    finally:
        logger.removeHandler(handler)
    hits = [r for r in handler.records if KEY in r.getMessage()]
    assert hits and all(r.levelno == level for r in hits)


def test_missing_weights_file_names_the_key(tmp_path):
    cfg = read_config(
        tiny_child(tmp_path, 'ttp'), {KEY: str(tmp_path / 'absent.pth')})
    model = build(cfg)
    with pytest.raises(FileNotFoundError, match=KEY):
        model.init_weights()


def test_cross_dataset_configs_are_short():
    for parts in (('ttp', 'ttp_sam-b_whu-cd-256.py'),
                  ('frnet', 'frnet_vgg16_whu-cd-256.py'),
                  ('ttp', 'ttp_sam-l_s2looking.py'),
                  ('lsafnet', 'lsafnet_r50_second.py')):
        lines = [
            line for line in open(config_path(*parts)).read().splitlines()
            if line.strip() and not line.strip().startswith('#')
        ]
        assert len(lines) <= 6, parts
        read_config(config_path(*parts))  # reconciles without error


def test_mmengine_placeholders_in_a_child(tmp_path):
    method = config_path('frnet', 'frnet_vgg16_levir-256.py')
    path = write(
        tmp_path, 'child.py', f'_base_ = {method!r}\n'
        'crop_size = (128, 128)\n'
        'depth = {{_base_.model.backbone.arch}}\n')
    cfg = read_config(path)
    assert cfg.depth == 'vgg16'
    assert tuple(cfg.model.neck.hopfield.feat_size) == (4, 4)
