"""init_model: configs as files and objects, overrides, checkpoints, scope."""
import numpy as np
import pytest
import torch
from cd_stub_models import save_checkpoint, stub_config
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from mmcd_ext.apis import init_model
from mmcd_ext.utils.checkpoint import CheckpointError

# A tiny Siamese ResNet with SyncBN and a pretrained file that does not
# exist: reading it (init_weights) or running SyncBN on CPU would fail.
SIAM_CFG = """
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=dict(
        type='DualInputSegDataPreProcessor', mean=[0.0] * 3, std=[1.0] * 3),
    backbone=dict(
        type='mmseg.ResNetV1c', depth=18, in_channels=3, stem_channels=8,
        base_channels=8, out_indices=(3, ), norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained',
                      checkpoint='/nonexistent/resnet18.pth')),
    neck=dict(type='BitemporalFusionNeck', policy='abs_diff'),
    decode_head=dict(
        type='mmseg.FCNHead', in_channels=64, channels=16, num_convs=1,
        concat_input=False, num_classes=2, norm_cfg=norm_cfg),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
"""


@pytest.fixture
def siam_cfg(tmp_path):
    path = tmp_path / 'siam_cfg.py'
    path.write_text(SIAM_CFG)
    return str(path)


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        torch.equal(sa[k], sb[k]) for k in sa)


def test_config_file_without_checkpoint(siam_cfg):
    model = init_model(siam_cfg)
    assert type(model).__name__ == 'SiamEncoderDecoder'
    assert not model.training
    assert model.cfg.filename == siam_cfg
    assert model.dataset_meta is None
    # SyncBN became BN on CPU, so the model runs without a process group
    norms = [m for m in model.modules() if isinstance(m, nn.SyncBatchNorm)]
    assert not norms
    assert isinstance(model.backbone.stem[1], nn.modules.batchnorm._BatchNorm)
    # the pretrained file named in init_cfg was never read
    assert not model.backbone._is_init
    with torch.no_grad():
        out = model(torch.rand(1, 6, 32, 32), mode='tensor')
    assert out.shape[:2] == (1, 2)
    # train_cfg is kept: the model can be trained as configured
    assert model.train_cfg == dict()


def test_config_object_is_not_modified_and_gives_the_same_model(siam_cfg):
    cfg = Config.fromfile(siam_cfg)
    before = cfg.pretty_text
    torch.manual_seed(0)
    from_obj = init_model(cfg, cfg_options={'model.decode_head.channels': 4})
    assert cfg.pretty_text == before
    assert cfg.model.decode_head.channels == 16
    torch.manual_seed(0)
    from_file = init_model(
        siam_cfg, cfg_options={'model.decode_head.channels': 4})
    assert _same_state(from_obj, from_file)


def test_cfg_options_reach_the_model(siam_cfg):
    model = init_model(
        siam_cfg,
        cfg_options={
            'model.decode_head.channels': 4,
            'model.decode_head.num_classes': 3
        })
    assert model.decode_head.channels == 4
    assert model.decode_head.conv_seg.out_channels == 3
    assert model.cfg.model.decode_head.channels == 4


def test_checkpoint_weights_and_meta_are_loaded(tmp_path):
    cfg = stub_config('fcn')
    path = str(tmp_path / 'iter_1.pth')
    torch.manual_seed(123)
    meta = dict(
        classes=('unchanged', 'changed'), palette=[[0, 0, 0], [1, 1, 1]])
    save_checkpoint(cfg, path, dataset_meta=meta)
    saved = torch.load(path, weights_only=True)['state_dict']
    torch.manual_seed(7)  # other random weights before loading
    fresh = init_model(cfg)
    key = 'decode_head.convs.0.conv.weight'
    assert not torch.equal(fresh.state_dict()[key], saved[key])
    model = init_model(cfg, path)
    torch.testing.assert_close(model.decode_head.convs[0].conv.weight,
                               saved[key])
    for name, value in saved.items():
        torch.testing.assert_close(model.state_dict()[name], value)
    assert model.dataset_meta['classes'] == ('unchanged', 'changed')
    assert model.dataset_meta['palette'] == [[0, 0, 0], [1, 1, 1]]


def test_runner_meta_and_old_class_names(tmp_path):
    cfg = stub_config('fcn')
    path = str(tmp_path / 'old.pth')
    save_checkpoint(cfg, path)
    ckpt = torch.load(path, weights_only=True)
    # a Runner checkpoint holds numpy scalars (mmcd_ext's allow-list)
    ckpt['meta'] = dict(
        iter=np.int64(3), CLASSES=('a', 'b'), PALETTE=[[1, 2, 3], [4, 5, 6]])
    torch.save(ckpt, path)
    model = init_model(cfg, path)
    assert model.dataset_meta == dict(
        classes=('a', 'b'), palette=[[1, 2, 3], [4, 5, 6]])
    ckpt['meta'] = dict(iter=np.int64(3))
    torch.save(ckpt, path)
    assert init_model(cfg, path).dataset_meta is None


def test_strict_loading(tmp_path):
    cfg = stub_config('fcn')
    path = str(tmp_path / 'partial.pth')
    save_checkpoint(cfg, path)
    ckpt = torch.load(path, weights_only=True)
    saved = dict(ckpt['state_dict'])
    ckpt['state_dict'].pop('decode_head.conv_seg.weight')
    torch.save(ckpt, path)
    with pytest.raises(
            CheckpointError,
            match='partial.pth does not fit.*missing key.*conv_seg.weight'):
        init_model(cfg, path)
    torch.manual_seed(7)
    model = init_model(cfg, path, strict=False)
    key = 'decode_head.convs.0.conv.weight'
    torch.testing.assert_close(model.state_dict()[key], saved[key])


def test_missing_files_and_bad_arguments_are_named(tmp_path, siam_cfg):
    with pytest.raises(FileNotFoundError, match='missing_cfg.py'):
        init_model(str(tmp_path / 'missing_cfg.py'))
    with pytest.raises(FileNotFoundError, match='missing_ckpt.pth'):
        init_model(siam_cfg, str(tmp_path / 'missing_ckpt.pth'))
    with pytest.raises(ValueError, match='URL'):
        init_model(siam_cfg, 'https://example.com/model.pth')
    no_model = tmp_path / 'no_model.py'
    no_model.write_text('x = 1\n')
    with pytest.raises(KeyError, match='no_model.py'):
        init_model(str(no_model))
    with pytest.raises(TypeError, match='file path or an mmengine Config'):
        init_model(dict(model=dict()))
    with pytest.raises(ValueError, match='device'):
        init_model(siam_cfg, device='meta')
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='CUDA'):
            init_model(siam_cfg, device='cuda')


def test_default_scope_is_set(tmp_path, siam_cfg):
    model = init_model(siam_cfg)  # the config sets no scope
    assert model.cfg.default_scope == 'mmcd_ext'
    assert DefaultScope.get_current_instance().scope_name == 'mmcd_ext'
    # a config of another scope: its bare names resolve there
    mmseg_cfg = tmp_path / 'mmseg_cfg.py'
    mmseg_cfg.write_text(
        "default_scope = 'mmseg'\n"
        'model = dict(\n'
        "    type='EncoderDecoder',\n"
        "    backbone=dict(type='ResNetV1c', depth=18,\n"
        '        in_channels=6, stem_channels=8,\n'
        '        base_channels=8, out_indices=(3, )),\n'
        "    decode_head=dict(type='FCNHead', in_channels=64,"
        '\n        channels=8, num_convs=1, num_classes=2))\n')
    try:
        model = init_model(str(mmseg_cfg))
        assert DefaultScope.get_current_instance().scope_name == 'mmseg'
        assert type(model.decode_head).__name__ == 'FCNHead'
    finally:
        init_model(siam_cfg)  # back to mmcd_ext for the other tests
    assert DefaultScope.get_current_instance().scope_name == 'mmcd_ext'
