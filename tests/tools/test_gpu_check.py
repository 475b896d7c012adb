"""Tests of tools/analysis/gpu_check.{sh,py} on a machine without a GPU.

Covered: argument handling (exit 2), the no-CUDA exit (3) before any work,
the run configs every synthetic config gets (fp32 / bf16 AMP), the tiny TTP
config, the SDPA-kernel detection on a real profile, the speed summary, the
mmcv op check's failure message and the report. One worker run on CPU
(slow) trains and evaluates a tiny copy of a synthetic config through the
same hook the GPU runs use.
"""
import importlib.util
import math
import os
import os.path as osp
import subprocess
import sys
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis', 'gpu_check.sh')
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        'gpu_check_tool',
        osp.join(REPO_ROOT, 'tools', 'analysis', 'gpu_check.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def _run_sh(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', SCRIPT, *argv],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHON=sys.executable, **env))


def test_defaults():
    args = gpu_check.parse_args([])
    assert args.iters == 40
    assert args.precisions == ['fp32', 'bf16']
    assert args.configs is None and args.worker is None
    assert not args.no_ttp_tiny and not args.no_ttp_512
    assert (args.ttp_batch_size, args.ttp_iters) == (2, 3)


@pytest.mark.parametrize('argv, message', [
    (['--iters', '6'], '--iters must be >= 7'),
    (['--iters', 'ten'], 'invalid int'),
    (['--precisions', 'fp16'], 'invalid choice'),
    (['--ttp-batch-size', '0'], '--ttp-batch-size must be >= 1'),
    (['--ttp-iters', '0'], '--ttp-iters must be >= 1'),
    (['--configs', 'configs/none.py'], 'configs/none.py does not exist'),
    (['--worker', 'configs/baseline/baseline_r18_synthetic-256.py'
      ], '--worker needs --worker-out'),
    (['--unknown'], 'unrecognized arguments'),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        gpu_check.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_script_bad_arguments_exit_2_before_the_cuda_check():
    proc = _run_sh('--iters', '3')
    assert proc.returncode == 2
    assert '--iters must be >= 7' in proc.stderr
    assert 'no CUDA device' not in proc.stderr


@pytest.mark.skipif(
    not gpu_check.no_nvidia_device(), reason='this machine has an NVIDIA GPU')
def test_script_without_gpu_exits_3_at_once():
    proc = _run_sh('--iters', '10')
    assert proc.returncode == gpu_check.EXIT_NO_CUDA == 3
    assert proc.stdout == ''
    assert proc.stderr.startswith('gpu_check: no CUDA device')
    assert 'nvidia-smi' in proc.stderr
    # nothing was written
    assert not osp.exists(osp.join(REPO_ROOT, 'work_dirs', 'gpu_check'))


def test_main_exits_3_when_torch_sees_no_gpu(monkeypatch, tmp_path, capsys):
    # a machine with the driver's traces but no usable device (hidden by
    # CUDA_VISIBLE_DEVICES, or a driver older than torch's CUDA)
    monkeypatch.setattr(gpu_check, 'no_nvidia_device', lambda: False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    work = tmp_path / 'work'
    assert gpu_check.main(['--work-dir', str(work)]) == 3
    err = capsys.readouterr().err
    assert f'torch {torch.__version__} (CUDA 13.0) sees no GPU' in err
    assert not work.exists()
    monkeypatch.setattr(torch.version, 'cuda', None)
    assert gpu_check.main([]) == 3
    assert 'is a CPU-only build' in capsys.readouterr().err


def test_synthetic_configs_are_every_synthetic_config():
    configs = gpu_check.synthetic_configs()
    expected = []
    for method in sorted(os.listdir(osp.join(REPO_ROOT, 'configs'))):
        folder = osp.join(REPO_ROOT, 'configs', method)
        if method == '_base_' or not osp.isdir(folder):
            continue
        expected += [
            f'configs/{method}/{name}' for name in os.listdir(folder)
            if 'synthetic' in name and name.endswith('.py')
        ]
    assert configs == sorted(expected)
    methods = {c.split('/')[1] for c in configs}
    assert {'baseline', 'deepcl', 'frnet', 'lsafnet'} <= methods
    assert gpu_check.data_layout(
        'configs/lsafnet/lsafnet_r34_synthetic-second-128.py') == 'second'
    assert gpu_check.data_layout(
        'configs/frnet/frnet_vgg16_synthetic-256.py') == 'levir'


@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_run_config_of_every_synthetic_config(precision, tmp_path):
    for config in gpu_check.synthetic_configs():
        cfg = gpu_check.run_config(config, precision, 12, str(tmp_path),
                                   str(tmp_path / 'run'))
        assert cfg.train_cfg == dict(
            type='IterBasedTrainLoop', max_iters=12, val_interval=12), config
        assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            assert cfg[loader].dataset.data_root == str(tmp_path), config
        assert cfg.default_hooks.checkpoint.interval == -1
        assert cfg.default_hooks.checkpoint.save_last is False
        assert cfg.default_hooks.logger.interval == 3
        assert cfg.work_dir == str(tmp_path / 'run')
        wrapper = cfg.optim_wrapper
        if precision == 'bf16':
            assert (wrapper.type, wrapper.dtype) == ('AmpOptimWrapper',
                                                     'bfloat16'), config
        else:
            assert wrapper.type == 'OptimWrapper' and 'dtype' not in wrapper
        # the config's optimizer is kept
        assert wrapper.optimizer.type in ('Adam', 'AdamW', 'SGD'), config


def test_run_config_refuses_an_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match='precision'):
        gpu_check.run_config(gpu_check.synthetic_configs()[0], 'fp16', 10,
                             str(tmp_path), str(tmp_path))


def test_tiny_ttp_config(tmp_path):
    cfg = gpu_check.run_config('ttp-tiny', 'bf16', 10, str(tmp_path),
                               str(tmp_path / 'run'))
    backbone = cfg.model.backbone
    assert backbone.type == 'SAMLoRAViT' and backbone.arch == 'base'
    assert backbone.init_cfg is None  # random weights, no checkpoint read
    assert backbone.img_size == 128
    assert cfg.model.test_cfg == dict(
        mode='slide', crop_size=(128, 128), stride=(128, 128))
    crops = [
        step['crop_size'] for step in cfg.train_dataloader.dataset.pipeline
        if step['type'] == 'RandomCrop'
    ]
    assert crops == [(128, 128)]
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path)
    assert cfg.val_dataloader.dataset.data_prefix.img_path == 'val/A'
    assert cfg.param_scheduler is None  # TTP's are epoch-based
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'


def _profiled_names(fn) -> list:
    with torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return [e.key for e in prof.key_averages()]


def test_attention_kernels_from_a_real_profile():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q, k, v = (torch.randn(1, 2, 16, 8, requires_grad=True) for _ in '123')

    def fused():
        F.scaled_dot_product_attention(q, k, v).sum().backward()

    def math_only():
        with sdpa_kernel(SDPBackend.MATH):
            F.scaled_dot_product_attention(q, k, v).sum().backward()

    def eager():
        attn = (q @ k.transpose(-2, -1) / math.sqrt(8)).softmax(-1)
        (attn @ v).sum().backward()

    assert gpu_check.attention_kernels(_profiled_names(math_only)) == ['math']
    assert gpu_check.attention_kernels(_profiled_names(eager)) == []
    kernels = gpu_check.attention_kernels(_profiled_names(fused))
    assert len(kernels) == 1 and kernels[0] in ('flash (cpu)', 'math')
    # backward operators count too, unknown ones do not
    assert gpu_check.attention_kernels([
        'aten::_scaled_dot_product_efficient_attention_backward',
        'aten::_scaled_dot_product_flash_attention', 'aten::softmax',
        'aten::_scaled_dot_product_flash_attention_for_cpu_x'
    ]) == ['efficient', 'flash']


def test_summarize_run():
    times = [9.0, 8.0, 7.0, 1.0, 1.0, 0.5, 0.25, 0.25]
    losses = [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1]
    out = gpu_check.summarize_run(times, losses, warmup=4)
    assert out['timed_iters'] == 4
    assert out['iters_per_s'] == pytest.approx(4 / 2.0)
    assert out['median_s_per_iter'] == pytest.approx(0.375)
    assert out['loss_finite'] is True
    assert (out['first_loss'], out['last_loss']) == (0.7, 0.1)
    for bad in (float('nan'), float('inf')):
        assert not gpu_check.summarize_run(times, losses[:3] + [bad],
                                           4)['loss_finite']
    assert not gpu_check.summarize_run([], [], 4)['loss_finite']


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the failure without CUDA')
def test_mmcv_op_check_fails_clearly_without_cuda():
    out = gpu_check.mmcv_cuda_op_check()
    assert out['ok'] is False
    assert 'make env' in out['detail'] and 'nvcc' in out['detail']


def _report(ok: bool = True) -> dict:
    run = dict(
        ok=True,
        iters_per_s=12.5,
        peak_memory_bytes=3 * 2**30 // 2,
        attention=['efficient', 'flash'],
        loss_finite=True,
        metrics=dict(F1=71.25, IoU=55.0))
    return dict(
        gpu='Test GPU',
        mmcv_op=dict(ok=True, detail='17 of 200 boxes kept'),
        configs=dict(
            frnet=dict(fp32=run, bf16=dict(run, attention=[])),
            lsafnet=dict(
                fp32=dict(run, metrics=dict(SeK=40.0, mIoU=80.0)),
                bf16=dict(ok=ok, error='worker exit 1'))),
        ttp_batch_size=2,
        ttp_512={
            'fp32': dict(ok=True, s_per_step=0.25, peak_memory_bytes=2**31),
            'bf16': dict(ok=False, error='RuntimeError: boom')
        },
        seconds=301.0)


def test_report_table_and_verdict():
    report = _report()
    text = gpu_check.format_report(report)
    assert ('| frnet | fp32 | 12.50 | 1.50 | efficient, flash | yes | '
            'F1 71.2 | OK |') in text
    assert '| frnet | bf16 | 12.50 | 1.50 | none | yes |' in text
    assert '| lsafnet | fp32 | 12.50 | 1.50 | efficient, flash | yes | '\
        'SeK 40.0 | OK |' in text
    assert '| lsafnet | bf16 | - | - | - | - | - | FAILED: worker exit 1 |' \
        in text
    assert '| fp32 | 0.250 | 2.00 | OK |' in text
    assert '| bf16 | - | - | FAILED: RuntimeError: boom |' in text
    assert text.endswith('total 301 s')
    assert gpu_check.all_ok(report) is False
    report['ttp_512'].pop('bf16')
    report['configs']['lsafnet'].pop('bf16')
    assert gpu_check.all_ok(report) is True
    report['mmcv_op']['ok'] = False
    assert gpu_check.all_ok(report) is False


@pytest.mark.slow
def test_worker_trains_and_evaluates_on_cpu(tiny_levir_root, tmp_path):
    """The GPU runs' code path, on CPU with a tiny data set."""
    import json
    out = tmp_path / 'result.json'
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'analysis', 'gpu_check.py'), '--worker',
        'configs/baseline/baseline_r18_synthetic-256.py', '--worker-out',
        str(out), '--worker-data-root', tiny_levir_root, '--worker-device',
        'cpu', '--iters', '7', '--precisions', 'bf16', 'fp32', '--work-dir',
        str(tmp_path / 'run')
    ],
                          capture_output=True,
                          text=True,
                          timeout=900,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    # mmengine builds AmpOptimWrapper only on an accelerator: the bf16 run
    # fails, is reported, and the fp32 run after it in the same process
    # still trains
    assert results['bf16']['ok'] is False
    assert 'AmpOptimizerWrapper' in results['bf16']['error']
    result = results['fp32']
    assert result['ok'] is True, result
    assert result['timed_iters'] == 2  # 7 iterations, 5 of warm-up
    assert result['iters_per_s'] > 0
    assert result['loss_finite'] is True
    assert 0 < result['last_loss'] < 5
    assert result['attention'] == []  # a CNN: no SDPA call
    assert 0 <= result['metrics']['F1'] <= 100
    assert result['peak_memory_bytes'] is None  # CPU
    # no checkpoint was written
    assert not list((tmp_path / 'run').rglob('*.pth'))
