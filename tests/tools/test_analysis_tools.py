"""Tests of the analysis tools, print_config and the launch scripts.

Covers ``tools/analysis/get_flops.py``, ``tools/analysis/benchmark.py``,
``tools/misc/print_config.py`` and ``tools/{dist,slurm}_{train,test}.sh``.
Every config is a tiny model written into ``tmp_path``.
"""
import importlib.util
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
from types import ModuleType
from typing import Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from torch import nn

from mmcd_ext.registry import MODELS
from mmcd_ext.utils.analysis import human, parse_shape

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# mmseg's advice warnings (deprecated `pretrained`, binary heads, ...) are
# about the tiny test configs, not the tools
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning:mmseg')


def _load(rel_path: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, rel_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


get_flops = _load('tools/analysis/get_flops.py', 'get_flops_tool')
benchmark = _load('tools/analysis/benchmark.py', 'benchmark_tool')
print_config = _load('tools/misc/print_config.py', 'print_config_tool')


@MODELS.register_module(name='ToolsTestConvBackbone', force=True)
class ToolsTestConvBackbone(BaseModule):
    """One 3x3 conv (stride 1, padding 1): FLOPs easy to work out by hand.

    Args:
        in_channels (int): Input channels (2C). Defaults to 4.
        out_channels (int): Output channels. Defaults to 8.
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """(B, in, H, W) -> ((B, out, H, W), )."""
        return (self.conv(x), )


# Plain mmseg EncoderDecoder on the 2C-channel pair (early fusion), tiny
# ResNet; the pretrained path does not exist, so any attempt to read it
# would fail the tests. Test-time padding to a multiple of 32.
RESNET_CFG = """
default_scope = 'mmcd_ext'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained='/nonexistent/resnet18_pretrained.pth',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[128.0] * 6, std=[64.0] * 6,
        size_divisor=32, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='ResNetV1c', depth=18, in_channels=6, stem_channels=8,
        base_channels=8, out_indices=(3, ), frozen_stages=1,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCNHead', in_channels=64, channels=16, num_convs=1,
        concat_input=False, num_classes=2, norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=64, channels=8, num_convs=1,
        concat_input=False, num_classes=2, norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
"""

# One 3x3 conv + FCNHead with no convs (only its 1x1 classifier), no data
# preprocessor: FLOPs and params by hand.
CONV_CFG = """
default_scope = 'mmcd_ext'
model = dict(
    type='EncoderDecoder',
    backbone=dict(type='ToolsTestConvBackbone', in_channels=4,
                  out_channels=8),
    decode_head=dict(
        type='FCNHead', in_channels=8, channels=8, num_convs=0,
        concat_input=False, dropout_ratio=0.0, num_classes=2,
        loss_decode=dict(type='CrossEntropyLoss')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
"""

# The lead's Siamese model: shared backbone on both dates, |A - B| fusion.
SIAM_CFG = """
default_scope = 'mmcd_ext'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=dict(
        type='DualInputSegDataPreProcessor', mean=[123.7, 116.3, 103.5],
        std=[58.4, 57.1, 57.4], bgr_to_rgb=True, size_divisor=32,
        test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='mmseg.ResNetV1c', depth=18, in_channels=3, stem_channels=8,
        base_channels=8, out_indices=(0, 1, 2, 3), norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained',
                      checkpoint='/nonexistent/resnet18.pth')),
    neck=dict(type='BitemporalFusionNeck', policy='abs_diff'),
    decode_head=dict(
        type='mmseg.FCNHead', in_channels=64, in_index=3, channels=16,
        num_convs=1, concat_input=False, num_classes=2, norm_cfg=norm_cfg,
        loss_decode=dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
"""


def _write(tmp_path, text: str, name: str = 'tiny_cfg.py') -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _built_model(cfg_path: str) -> nn.Module:
    """The config's model, built directly from the registry."""
    return MODELS.build(Config.fromfile(cfg_path).model)


# --------------------------------------------------------------------------
# get_flops.py
# --------------------------------------------------------------------------


def test_get_flops_param_counts_match_model(tmp_path, capsys):
    cfg = _write(tmp_path, RESNET_CFG)
    out_json = tmp_path / 'flops.json'
    result = get_flops.main(
        [cfg, '--shape', '60', '--out-json',
         str(out_json)])

    model = _built_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert result['params'] == total
    assert result['trainable_params'] == trainable
    assert trainable < total  # frozen_stages=1 froze the stem and layer1
    assert sum(m['params'] for m in result['modules'].values()) == total
    assert result['modules']['auxiliary_head']['params'] == sum(
        p.numel() for p in model.auxiliary_head.parameters())
    # one pair of 3-channel dates, padded 60 -> 64 by test_cfg size_divisor
    assert result['input_shape'] == [3, 60, 60]
    assert result['model_input_shape'] == [1, 6, 64, 64]
    assert result['flops'] > 0

    saved = json.loads(out_json.read_text())
    assert saved['params'] == total and saved['flops'] == result['flops']
    printed = capsys.readouterr().out
    assert f'({total:,})' in printed and 'padded' in printed


def test_get_flops_hand_computed(tmp_path):
    cfg = _write(tmp_path, CONV_CFG)
    # C=2 channels per date -> 4 input channels; 16x16 pair
    result = get_flops.main([cfg, '--shape', '16', '--in-channels', '2'])
    # one multiply-accumulate per weight per output pixel (biases free):
    conv3x3 = 16 * 16 * (8 * 4 * 3 * 3)  # 73728
    conv_seg = 16 * 16 * (2 * 8 * 1 * 1)  # 4096
    assert result['flops'] == conv3x3 + conv_seg == 77824
    assert result['params'] == (8 * 4 * 9 + 8) + (2 * 8 + 2) == 314
    assert result['model_input_shape'] == [1, 4, 16, 16]

    # rectangular H W: FLOPs scale with the pixel count
    rect = get_flops.main([cfg, '--shape', '16', '8', '--in-channels', '2'])
    assert rect['flops'] == 77824 // 2
    assert rect['model_input_shape'] == [1, 4, 16, 8]


def test_get_flops_siamese_model_without_pretrained(tmp_path):
    cfg = _write(tmp_path, SIAM_CFG)
    result = get_flops.main([cfg, '--shape', '32', '--show-table'])
    model = _built_model(cfg)
    assert result['params'] == sum(p.numel() for p in model.parameters())
    assert result['model_input_shape'] == [1, 6, 32, 32]
    assert 'backbone' in result['table']


def test_get_flops_bad_input(tmp_path):
    with pytest.raises(ValueError, match='--shape'):
        parse_shape([1, 2, 3])
    with pytest.raises(ValueError, match='--shape'):
        parse_shape([0])
    missing = str(tmp_path / 'missing_cfg.py')
    with pytest.raises(FileNotFoundError, match='missing_cfg.py'):
        get_flops.main([missing, '--shape', '32'])
    no_model = _write(tmp_path, "default_scope = 'mmcd_ext'\n", 'nomodel.py')
    with pytest.raises(KeyError, match='nomodel.py'):
        get_flops.main([no_model])


def test_human():
    assert human(999) == '999'
    assert human(1234567) == '1.235M'
    assert human(8.1e9) == '8.100G'


# --------------------------------------------------------------------------
# benchmark.py
# --------------------------------------------------------------------------


def test_benchmark_writes_positive_throughput(tmp_path, capsys):
    cfg = _write(tmp_path, RESNET_CFG)
    out_json = tmp_path / 'bench.json'
    out = benchmark.main([
        cfg, '--shape', '32', '--batch-size', '2', '--iters', '2', '--warmup',
        '1', '--mode', 'both', '--out-json',
        str(out_json)
    ])
    saved = json.loads(out_json.read_text())
    assert saved['results'].keys() == {'infer', 'train'}
    assert saved['torch_threads'] == torch.get_num_threads()
    assert saved['model_input_shape'] == [2, 6, 32, 32]
    for mode, r in saved['results'].items():
        assert r['pairs_per_s_overall'] > 0, mode
        assert r['pairs_per_s_mean'] > 0 and r['time_mean'] > 0
        # overall rate = pairs / total time = B / mean time
        assert r['pairs_per_s_overall'] == pytest.approx(2 / r['time_mean'])
        assert r['peak_memory_bytes'] > 0
    assert np.isfinite(saved['results']['train']['loss'])
    assert out['results']['train']['loss'] == saved['results']['train']['loss']
    printed = capsys.readouterr().out
    assert 'infer' in printed and 'train' in printed and 'pairs/s' in printed


def test_benchmark_siamese_scd_labels_and_padding(tmp_path):
    """--scd fills gt_sem_seg_a/b; 30 px inputs are padded to 32."""
    cfg = _write(tmp_path, SIAM_CFG)
    out = benchmark.main([
        cfg, '--shape', '30', '--batch-size', '2', '--iters', '1', '--warmup',
        '0', '--mode', 'train', '--scd', '5', '--threads', '1'
    ])
    assert out['torch_threads'] == 1
    assert out['scd_classes'] == 5
    assert out['results']['train']['pairs_per_s_overall'] > 0


def test_benchmark_loads_checkpoint(tmp_path):
    cfg = _write(tmp_path, CONV_CFG)
    model = _built_model(cfg)
    ckpt = tmp_path / 'ckpt.pth'
    # Runner-style: numpy scalars in meta (needs mmcd_ext's allow-list)
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(iter=np.int64(3))), ckpt)
    out = benchmark.main([
        cfg, '--checkpoint',
        str(ckpt), '--shape', '16', '--in-channels', '2', '--iters', '1',
        '--warmup', '0', '--mode', 'infer', '--cfg-options',
        'model.data_preprocessor.type=SegDataPreProcessor'
    ])
    assert out['results'].keys() == {'infer'}
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        benchmark.main([
            cfg, '--checkpoint',
            str(tmp_path / 'nope.pth'), '--mode', 'infer'
        ])
    # loaded strictly: weights of another model are an error, not a warning
    state = model.state_dict()
    state.pop('decode_head.conv_seg.weight')
    torch.save(dict(state_dict=state), tmp_path / 'partial.pth')
    with pytest.raises(ValueError, match='partial.pth does not fit'):
        benchmark.main([
            cfg, '--checkpoint',
            str(tmp_path / 'partial.pth'), '--mode', 'infer'
        ])


def test_make_batch_fields():
    gen = torch.Generator().manual_seed(0)
    batch = benchmark.make_batch(
        3, 8, 6, in_channels=2, scd_classes=4, generator=gen)
    assert len(batch['inputs']) == len(batch['data_samples']) == 3
    for img, sample in zip(batch['inputs'], batch['data_samples']):
        assert img.shape == (4, 8, 6) and img.dtype == torch.uint8
        change = sample.gt_sem_seg.data
        assert change.shape == (1, 8, 6) and change.dtype == torch.int64
        assert set(change.unique().tolist()) <= {0, 1}
        for key in ('gt_sem_seg_a', 'gt_sem_seg_b'):
            sem = getattr(sample, key).data
            assert sem.shape == (1, 8, 6)
            assert (sem[change == 0] == 0).all()  # 0 = no change
            assert sem[change == 1].min() >= 1
            assert sem[change == 1].max() <= 3
        assert sample.metainfo['ori_shape'] == (8, 6)
    binary = benchmark.make_batch(1, 8, 8)
    assert 'gt_sem_seg_a' not in binary['data_samples'][0]
    # seeded: the same generator seed gives the same batch
    again = benchmark.make_batch(3, 8, 6, 2, 4,
                                 torch.Generator().manual_seed(0))
    assert torch.equal(again['inputs'][2], batch['inputs'][2])


def test_summarize_hand_worked():
    # B=2, iterations of 0.5 s and 0.25 s -> rates 4 and 8 pairs/s
    s = benchmark.summarize([0.5, 0.25], batch_size=2)
    assert s['time_mean'] == pytest.approx(0.375)
    assert s['time_std'] == pytest.approx(np.sqrt(2 * 0.125**2))
    assert s['pairs_per_s_mean'] == pytest.approx(6.0)
    assert s['pairs_per_s_std'] == pytest.approx(np.sqrt(8.0))
    assert s['pairs_per_s_overall'] == pytest.approx(4 / 0.75)
    one = benchmark.summarize([0.1], batch_size=1)
    assert one['time_std'] == 0.0 and one['pairs_per_s_mean'] == \
        pytest.approx(10.0)


def test_benchmark_bad_input(tmp_path):
    cfg = _write(tmp_path, CONV_CFG)
    for bad in (['--batch-size',
                 '0'], ['--iters', '0'], ['--warmup',
                                          '-1'], ['--scd',
                                                  '1'], ['--threads', '0']):
        with pytest.raises(SystemExit):
            benchmark.parse_args([cfg] + bad)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='no CUDA'):
            benchmark.main([cfg, '--device', 'cuda'])
    # no optim_wrapper in CONV_CFG: training cannot be benchmarked
    with pytest.raises(KeyError, match='optim_wrapper'):
        benchmark.main([
            cfg, '--shape', '16', '--in-channels', '2', '--iters', '1',
            '--warmup', '0', '--mode', 'train'
        ])


# --------------------------------------------------------------------------
# print_config.py
# --------------------------------------------------------------------------


def test_print_config_resolves_bases_and_overrides(tmp_path, capsys):
    _write(tmp_path, RESNET_CFG, 'base_cfg.py')
    leaf = _write(
        tmp_path, "_base_ = './base_cfg.py'\n"
        "model = dict(decode_head=dict(channels=32))\n", 'leaf_cfg.py')
    dumped = tmp_path / 'resolved.py'
    print_config.main([
        leaf, '--cfg-options', 'model.decode_head.num_classes=3', '--dump',
        str(dumped)
    ])
    printed = capsys.readouterr().out
    assert 'num_classes=3' in printed
    assert 'channels=32' in printed  # the leaf's override
    assert 'ResNetV1c' in printed  # inherited from the base
    resolved = Config.fromfile(str(dumped))
    assert resolved.model.decode_head.num_classes == 3
    assert resolved.model.decode_head.channels == 32
    assert resolved.model.backbone.depth == 18
    with pytest.raises(FileNotFoundError, match='absent.py'):
        print_config.main([str(tmp_path / 'absent.py')])


def test_print_config_dump_never_overwrites_silently(tmp_path):
    leaf = _write(tmp_path, RESNET_CFG, 'cfg.py')
    with open(leaf, 'rb') as f:
        original = f.read()
    with pytest.raises(ValueError, match='is the input'):
        print_config.main([leaf, '--dump', leaf, '--overwrite'])
    dumped = tmp_path / 'resolved.json'
    dumped.write_text('mine')
    with pytest.raises(FileExistsError, match='--overwrite'):
        print_config.main([leaf, '--dump', str(dumped)])
    assert dumped.read_text() == 'mine'
    print_config.main([leaf, '--dump', str(dumped), '--overwrite'])
    assert json.loads(dumped.read_text())['model']['backbone']['depth'] == 18
    with open(leaf, 'rb') as f:
        assert f.read() == original


# --------------------------------------------------------------------------
# Launch scripts, run from a copy of tools/ next to fake train.py/test.py
# --------------------------------------------------------------------------

FAKE_ENTRY = """
import json, os, sys
rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
keys = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT',
        'PYTHONPATH')
with open(os.path.join(os.environ['OUT_DIR'], f'rank{rank}.json'), 'w') as f:
    json.dump(dict(argv=sys.argv, env={k: os.environ.get(k) for k in keys}),
              f)
"""

FAKE_SRUN = """#!/usr/bin/env bash
exec "{python}" -c 'import json, os, sys
json.dump(dict(argv=sys.argv[1:], pythonpath=os.environ.get("PYTHONPATH")),
          open(os.environ["OUT_FILE"], "w"))' "$@"
"""

SCRIPTS = ('dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh',
           'dist_launch.sh', 'slurm_launch.sh')


@pytest.fixture
def fake_repo(tmp_path):
    """tmp_path/repo/tools with our scripts and argv-recording entries."""
    root = tmp_path / 'repo'
    (root / 'tools').mkdir(parents=True)
    for name in SCRIPTS:
        shutil.copy(osp.join(REPO_ROOT, 'tools', name), root / 'tools')
    for entry in ('train.py', 'test.py'):
        (root / 'tools' / entry).write_text(FAKE_ENTRY)
    (tmp_path / 'cfg.py').write_text('')
    (tmp_path / 'ckpt.pth').write_bytes(b'')
    (tmp_path / 'out').mkdir()
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(cmd, env_extra, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update(env_extra)
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize('script, positional, entry', [
    ('dist_train.sh', ['cfg.py', '2'], ['cfg.py']),
    ('dist_test.sh', ['cfg.py', 'ckpt.pth', '2'], ['cfg.py', 'ckpt.pth']),
])
def test_dist_scripts_launch_ranks(fake_repo, tmp_path, script, positional,
                                   entry):
    port = _free_port()
    proc = _run(['bash', str(fake_repo / 'tools' / script)] + positional +
                ['--work-dir', 'a dir', '--cfg-options', 'x=1'],
                dict(
                    PYTHON=sys.executable,
                    PORT=str(port),
                    OUT_DIR=str(tmp_path / 'out')), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [
        json.loads((tmp_path / 'out' / f'rank{r}.json').read_text())
        for r in (0, 1)
    ]
    entry_py = 'train.py' if 'train' in script else 'test.py'
    for rank, rec in enumerate(records):
        assert rec['env']['RANK'] == str(rank)
        assert rec['env']['WORLD_SIZE'] == '2'
        assert rec['env']['MASTER_PORT'] == str(port)
        assert rec['env']['PYTHONPATH'].split(':')[0] == str(fake_repo)
        assert rec['argv'][0] == str(fake_repo / 'tools' / entry_py)
        # quoting survives: 'a dir' stays one argument
        assert rec['argv'][1:] == entry + [
            '--launcher', 'pytorch', '--work-dir', 'a dir', '--cfg-options',
            'x=1'
        ]


@pytest.mark.parametrize('script, args', [
    ('dist_train.sh', ['cfg.py']),
    ('dist_train.sh', ['cfg.py', 'two']),
    ('dist_train.sh', ['missing.py', '2']),
    ('dist_test.sh', ['cfg.py', 'ckpt.pth']),
    ('dist_test.sh', ['cfg.py', 'missing.pth', '1']),
    ('slurm_train.sh', ['part', 'job', 'cfg.py']),
    ('slurm_test.sh', ['part', 'job']),
])
def test_launch_scripts_reject_bad_arguments(fake_repo, tmp_path, script,
                                             args):
    proc = _run(['bash', str(fake_repo / 'tools' / script)] + args,
                dict(PYTHON=sys.executable), tmp_path)
    assert proc.returncode == 2
    assert any(
        word in proc.stderr
        for word in ('usage', 'positive integer', 'does not exist'))


@pytest.mark.parametrize('script, positional, tail', [
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'work dir'],
     ['cfg.py', '--work-dir=work dir', '--launcher=slurm']),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', 'ckpt.pth'
                       ], ['cfg.py', 'ckpt.pth', '--launcher=slurm']),
])
def test_slurm_scripts_build_srun_command(fake_repo, tmp_path, script,
                                          positional, tail):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(0o755)
    out_file = tmp_path / 'srun.json'
    base_env = dict(
        PATH=f'{bin_dir}:{os.environ["PATH"]}',
        OUT_FILE=str(out_file),
        PYTHON='python3')

    proc = _run(['bash', str(fake_repo / 'tools' / script)] + positional +
                ['--tta'],
                dict(
                    base_env,
                    GPUS='8',
                    GPUS_PER_NODE='4',
                    SRUN_ARGS='--time=10 --mem=1G'), tmp_path)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out_file.read_text())
    argv = rec['argv']
    assert argv[:2] == ['-p', 'part']
    for opt in ('--job-name=job', '--gres=gpu:4', '--ntasks=8',
                '--ntasks-per-node=4', '--cpus-per-task=5',
                '--kill-on-bad-exit=1', '--time=10', '--mem=1G'):
        assert opt in argv, opt
    entry = 'train.py' if 'train' in script else 'test.py'
    i = argv.index('python3')
    assert argv[i:] == ['python3', '-u',
                        str(fake_repo / 'tools' / entry)] + tail + ['--tta']
    assert rec['pythonpath'].split(':')[0] == str(fake_repo)

    # a partition without GPUs: GRES= drops --gres
    proc = _run(['bash', str(fake_repo / 'tools' / script)] + positional,
                dict(base_env, GRES=''), tmp_path)
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(out_file.read_text())['argv']
    assert not any(a.startswith('--gres') for a in argv)
    assert '--ntasks=4' in argv  # defaults
