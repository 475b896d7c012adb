"""Check that every method trains, evaluates and runs fast on one CUDA GPU.

Usage::

    tools/analysis/gpu_check.sh [--iters 40] [--precisions fp32 bf16]
        [--configs CONFIG ...] [--no-ttp-tiny] [--no-ttp-512]
        [--ttp-batch-size 2] [--ttp-iters 3] [--work-dir work_dirs/gpu_check]
        [--out-json FILE]

What it does (sized to finish within 8 minutes on one recent GPU; not
timed on a GPU yet):

1. ``mmcv.ops.nms`` on CUDA tensors, compared with the CPU op (an mmcv
   built without its CUDA ops fails here);
2. writes small seeded synthetic data sets (LEVIR and SECOND layouts) under
   ``WORK_DIR/data``;
3. every synthetic config (``configs/*/*synthetic*.py``) plus a tiny TTP
   (SAM-B with random weights, 128x128 crops: there is no synthetic TTP
   config) is trained for ``--iters`` iterations in fp32 and in bf16 AMP
   (mmengine's ``AmpOptimWrapper``) and evaluated on the val split, each
   config in its own process. Per run: iterations/s (after 5 warm-up
   iterations), peak ``torch.cuda.max_memory_allocated``, which
   ``scaled_dot_product_attention`` kernels a profiled training iteration
   ran (flash / efficient / cudnn / math; ``none`` when the model calls no
   SDPA, e.g. eager attention), whether every loss stayed finite, and the
   val metric;
4. the TTP SAM-B 512x512 train step (``tools/analysis/benchmark.py``, random
   weights, ``--ttp-batch-size`` pairs) in fp32, bf16 AMP and fp32 with
   activation checkpointing (``model.backbone.with_cp=True``): s/step and
   peak memory.

Exit codes: 0 every check passed, 1 a check failed (the table says which),
2 bad arguments, 3 no CUDA device (checked before anything else runs).
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterable, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXIT_FAILED = 1
EXIT_NO_CUDA = 3
PRECISIONS = ('fp32', 'bf16')
TTP_CONFIG = 'configs/ttp/ttp_sam-b_levir.py'
TTP_TINY = 'ttp-tiny'  # name of the generated tiny TTP run
TTP_TINY_CROP = 128
WARMUP_ITERS = 5
# (name, extra --cfg-options) of the TTP SAM-B 512 train-step variants
TTP_512_VARIANTS = (
    ('fp32', []),
    ('bf16',
     ['optim_wrapper.type=AmpOptimWrapper', 'optim_wrapper.dtype=bfloat16']),
    ('fp32 + checkpointing', ['model.backbone.with_cp=True']),
)
# aten operators of torch's scaled_dot_product_attention backends (forward
# names; the backward ones add ``_backward``)
SDPA_OPS = {
    'aten::_scaled_dot_product_flash_attention': 'flash',
    'aten::_scaled_dot_product_flash_attention_for_cpu': 'flash (cpu)',
    'aten::_scaled_dot_product_efficient_attention': 'efficient',
    'aten::_scaled_dot_product_cudnn_attention': 'cudnn',
    'aten::_scaled_dot_product_fused_attention_overrideable': 'overrideable',
    'aten::_scaled_dot_product_attention_math': 'math',
}


def synthetic_configs(root: str = REPO_ROOT) -> List[str]:
    """Every synthetic-data config, repository-relative, sorted."""
    paths = glob.glob(osp.join(root, 'configs', '*', '*synthetic*.py'))
    return sorted(osp.relpath(p, root) for p in paths)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (exit 2 on a bad one).

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog='tools/analysis/gpu_check.sh',
        description='Train, evaluate and time every synthetic config on one '
        'CUDA GPU in fp32 and bf16 AMP; TTP SAM-B 512 train step; mmcv CUDA '
        'op. Exit 3 without CUDA.')
    parser.add_argument(
        '--iters',
        type=int,
        default=40,
        help='training iterations per config and precision (>= '
        f'{WARMUP_ITERS + 2}). Defaults to 40')
    parser.add_argument(
        '--precisions',
        nargs='+',
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help='Defaults to fp32 bf16')
    parser.add_argument(
        '--configs',
        nargs='+',
        default=None,
        help='configs to train (default: configs/*/*synthetic*.py)')
    parser.add_argument(
        '--no-ttp-tiny',
        action='store_true',
        help=f'skip the tiny TTP (SAM-B, {TTP_TINY_CROP}x{TTP_TINY_CROP} '
        'crops, random weights)')
    parser.add_argument(
        '--no-ttp-512',
        action='store_true',
        help='skip the TTP SAM-B 512x512 train-step timing')
    parser.add_argument(
        '--ttp-batch-size',
        type=int,
        default=2,
        help='pairs per TTP 512 train step. Defaults to 2')
    parser.add_argument(
        '--ttp-iters',
        type=int,
        default=3,
        help='timed TTP 512 train steps (after one warm-up). Defaults to 3')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/gpu_check',
        help='data, logs and results. Defaults to work_dirs/gpu_check')
    parser.add_argument(
        '--out-json', default=None, help='also write the results as JSON')
    # internal: one config in this process (the parent starts these)
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        '--worker-data-root', default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        '--worker-device',
        default='cuda',
        choices=['cuda', 'cpu'],
        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < WARMUP_ITERS + 2:
        parser.error(f'--iters must be >= {WARMUP_ITERS + 2} ({WARMUP_ITERS} '
                     'warm-up iterations are not timed)')
    if args.ttp_batch_size < 1:
        parser.error('--ttp-batch-size must be >= 1')
    if args.ttp_iters < 1:
        parser.error('--ttp-iters must be >= 1')
    for config in args.configs or []:
        if not osp.isfile(osp.join(REPO_ROOT, config)):
            parser.error(f'--configs: {config} does not exist')
    if args.worker is not None and None in (args.worker_out,
                                            args.worker_data_root):
        parser.error('--worker needs --worker-out and --worker-data-root')
    return args


def no_nvidia_device() -> bool:
    """True when this machine shows no sign of an NVIDIA GPU.

    No ``/dev/nvidia<N>`` device file and no ``nvidia-smi`` on ``PATH``: then
    there is no need to import torch (seconds on a busy machine) to know
    that CUDA is unavailable.
    """
    return not glob.glob('/dev/nvidia[0-9]*') and shutil.which(
        'nvidia-smi') is None


def cuda_problem() -> Optional[str]:
    """None when torch sees a CUDA device, else why not (one message)."""
    if no_nvidia_device():
        return ('no CUDA device: no /dev/nvidia* device and no nvidia-smi on '
                'PATH. This check needs one NVIDIA GPU with its driver.')
    try:
        import torch
    except ImportError:
        return (f'no CUDA device: torch is not installed for {sys.executable}'
                ' (run `make env`, or set PYTHON= to the environment\'s '
                'python)')
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return (f'no CUDA device: torch {torch.__version__} is a CPU-only '
                'build. Install a CUDA build of torch (README, "Training on '
                'a GPU") on a machine with an NVIDIA GPU.')
    return (f'no CUDA device: torch {torch.__version__} (CUDA '
            f'{torch.version.cuda}) sees no GPU (no NVIDIA driver, '
            'CUDA_VISIBLE_DEVICES hides it, or the driver is older than '
            'this CUDA build: README, "Training on a GPU").')


def attention_kernels(op_names: Iterable[str]) -> List[str]:
    """``scaled_dot_product_attention`` backends among profiled operators.

    Args:
        op_names (Iterable[str]): Names of the profiled events
            (``prof.key_averages()``'s ``key``).

    Returns:
        list[str]: Sorted backend names (``'flash'``, ``'efficient'``,
        ``'cudnn'``, ``'math'``, ``'flash (cpu)'``, ...); a backward-only
        backend is listed too. Empty when no SDPA operator ran.
    """
    found = set()
    for name in op_names:
        base = name[:-len('_backward')] if name.endswith('_backward') \
            else name
        if base in SDPA_OPS:
            found.add(SDPA_OPS[base])
    return sorted(found)


def tiny_ttp_config(data_root: str):
    """TTP SAM-B with random weights on the synthetic LEVIR layout.

    ``configs/ttp/ttp_sam-b_levir.py`` with: no SAM checkpoint, a
    ``TTP_TINY_CROP`` input size, random crops of that size, sliding
    evaluation with that window, the data loaders and evaluators of
    ``configs/baseline/baseline_r18_synthetic-256.py`` (batch 8).

    Args:
        data_root (str): The synthetic LEVIR-layout data.

    Returns:
        mmengine.Config: The config.
    """
    from mmcd_ext.utils.config_utils import read_config
    crop = (TTP_TINY_CROP, TTP_TINY_CROP)
    cfg = read_config(osp.join(REPO_ROOT, TTP_CONFIG))
    data = read_config(
        osp.join(REPO_ROOT, 'configs/baseline/baseline_r18_synthetic-256.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.img_size = crop[0]
    cfg.model.test_cfg = dict(mode='slide', crop_size=crop, stride=crop)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        cfg[key] = data[key]
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'RandomCrop':
            step['crop_size'] = crop
    cfg.param_scheduler = None  # the config's are epoch-based
    cfg.work_dir = None
    return cfg


def run_config(config: str, precision: str, iters: int, data_root: str,
               work_dir: str):
    """The config of one check run, built from a config file or ``ttp-tiny``.

    Iteration-based loop of ``iters`` iterations with one validation at the
    end, ``InfiniteSampler``, no checkpoint, log every ``iters // 4``
    iterations, seed 0; bf16 wraps the optimizer in ``AmpOptimWrapper``
    (``dtype='bfloat16'``), fp32 in ``OptimWrapper``.

    Args:
        config (str): Config path (repository-relative) or ``'ttp-tiny'``.
        precision (str): ``'fp32'`` or ``'bf16'``.
        iters (int): Training iterations.
        data_root (str): Data root of every dataloader.
        work_dir (str): Work directory of the run.

    Returns:
        mmengine.Config: The config.
    """
    from mmcd_ext.utils.config_utils import (load_tool_config,
                                             propagate_data_root)
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    if config == TTP_TINY:
        cfg = tiny_ttp_config(data_root)
        propagate_data_root(cfg, dict(data_root=data_root))
        cfg.work_dir = work_dir
    else:
        cfg = load_tool_config(
            osp.join(REPO_ROOT, config), dict(data_root=data_root), work_dir)
    if cfg.train_cfg.get('type', 'IterBasedTrainLoop') != \
            'IterBasedTrainLoop':
        cfg.param_scheduler = None
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook',
        interval=max(1, iters // 4),
        log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    wrapper = cfg.optim_wrapper
    wrapper.pop('dtype', None)
    wrapper.pop('loss_scale', None)
    if precision == 'bf16':
        wrapper.type = 'AmpOptimWrapper'
        wrapper.dtype = 'bfloat16'
    else:
        wrapper.type = 'OptimWrapper'
    cfg.randomness = dict(seed=0)
    cfg.launcher = 'none'
    return cfg


def make_check_hook(device: str, profile_iter: int):
    """A hook that times iterations, checks losses and profiles one step.

    Args:
        device (str): ``'cuda'`` synchronises around each iteration.
        profile_iter (int): Index of the training iteration to profile.

    Returns:
        mmengine.hooks.Hook: The hook; after ``runner.train()`` it holds
        ``times`` (s per iteration), ``losses``, ``op_names`` (operators of
        the profiled iteration), ``metrics`` (last validation).
    """
    import torch
    from mmengine.hooks import Hook

    class CheckHook(Hook):
        priority = 'VERY_LOW'

        def __init__(self) -> None:
            self.times: List[float] = []
            self.losses: List[float] = []
            self.op_names: List[str] = []
            self.metrics: Dict[str, float] = {}
            self._prof = None
            self._start = 0.0

        def _sync(self) -> None:
            if device == 'cuda':
                torch.cuda.synchronize()

        def before_train(self, runner) -> None:
            if device == 'cuda':
                torch.cuda.reset_peak_memory_stats()

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == profile_iter:
                activities = [torch.profiler.ProfilerActivity.CPU]
                if device == 'cuda':
                    activities.append(torch.profiler.ProfilerActivity.CUDA)
                self._prof = torch.profiler.profile(activities=activities)
                self._prof.__enter__()
            self._sync()
            self._start = time.perf_counter()

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None) -> None:
            self._sync()
            self.times.append(time.perf_counter() - self._start)
            if self._prof is not None:
                self._prof.__exit__(None, None, None)
                self.op_names = sorted(
                    {e.key
                     for e in self._prof.key_averages()})
                self._prof = None
            loss = (outputs or {}).get('loss')
            self.losses.append(
                float(loss.detach().float()) if torch.is_tensor(loss) else
                float('nan') if loss is None else float(loss))

        def after_val_epoch(self, runner, metrics=None) -> None:
            self.metrics = {
                k: float(v)
                for k, v in (metrics or {}).items()
                if isinstance(v, (int, float))
            }

    return CheckHook()


def summarize_run(times: List[float],
                  losses: List[float],
                  warmup: int = WARMUP_ITERS) -> Dict[str, object]:
    """Speed and loss health of one run.

    Args:
        times (list[float]): Seconds of every training iteration.
        losses (list[float]): Total loss of every iteration.
        warmup (int): Leading iterations left out of the speed.
            Defaults to ``WARMUP_ITERS``.

    Returns:
        dict: ``iters_per_s`` (timed iterations / their summed time),
        ``median_s_per_iter``, ``timed_iters``, ``loss_finite`` (every loss
        finite), ``first_loss``, ``last_loss``.
    """
    timed = times[warmup:] if len(times) > warmup else times
    total = sum(timed)
    return dict(
        iters_per_s=len(timed) / total if total > 0 else float('nan'),
        median_s_per_iter=statistics.median(timed) if timed else float('nan'),
        timed_iters=len(timed),
        loss_finite=bool(losses) and all(math.isfinite(x) for x in losses),
        first_loss=losses[0] if losses else float('nan'),
        last_loss=losses[-1] if losses else float('nan'))


def worker(config: str,
           precisions: List[str],
           iters: int,
           data_root: str,
           work_dir: str,
           out_file: str,
           device: str = 'cuda') -> None:
    """Train + evaluate one config in each precision; write JSON results.

    Args:
        config (str): Config path or ``'ttp-tiny'``.
        precisions (list[str]): ``'fp32'`` and/or ``'bf16'``.
        iters (int): Training iterations per precision.
        data_root (str): Data root.
        work_dir (str): Work directory; one sub-folder per precision.
        out_file (str): JSON file to write: ``{precision: result}``.
        device (str): ``'cuda'``; ``'cpu'`` only for the tests (fp32).
            Defaults to 'cuda'.
    """
    import torch
    from mmengine.runner import Runner

    from mmcd_ext.utils import register_all_modules
    from mmcd_ext.utils.cli import one_line
    register_all_modules(init_default_scope=False)
    results: Dict[str, object] = {}
    for precision in precisions:
        run_dir = osp.join(work_dir, precision)
        try:
            cfg = run_config(config, precision, iters, data_root, run_dir)
            runner = Runner.from_cfg(cfg)
            hook = make_check_hook(device, profile_iter=WARMUP_ITERS - 1)
            runner.register_hook(hook)
            runner.train()
            result = summarize_run(hook.times, hook.losses)
            result.update(
                ok=result['loss_finite'],
                attention=attention_kernels(hook.op_names),
                metrics=hook.metrics,
                peak_memory_bytes=int(torch.cuda.max_memory_allocated())
                if device == 'cuda' else None)
            if not result['loss_finite']:
                result['error'] = 'a training loss was not finite'
        except Exception as err:  # reported in the table, not raised
            result = dict(ok=False, error=one_line(err))
        results[precision] = result
        if device == 'cuda':
            torch.cuda.empty_cache()
    with open(out_file, 'w') as f:
        json.dump(results, f, indent=1)


def mmcv_cuda_op_check() -> Dict[str, object]:
    """``mmcv.ops.nms`` on CUDA tensors against the CPU op.

    Returns:
        dict: ``ok`` and ``detail`` (the kept indices or the error).
    """
    try:
        import torch
        from mmcv.ops import nms
        gen = torch.Generator().manual_seed(0)
        xy = torch.rand(200, 2, generator=gen) * 100
        wh = torch.rand(200, 2, generator=gen) * 30 + 5
        boxes = torch.cat([xy, xy + wh], dim=1)
        scores = torch.rand(200, generator=gen)
        _, keep_cpu = nms(boxes, scores, 0.5)
        _, keep_gpu = nms(boxes.cuda(), scores.cuda(), 0.5)
        same = torch.equal(keep_cpu, keep_gpu.cpu())
        detail = (f'{len(keep_gpu)} of 200 boxes kept, same as the CPU op'
                  if same else 'CUDA and CPU results differ')
        return dict(ok=same, detail=detail)
    except Exception as err:
        return dict(
            ok=False,
            detail=f'{type(err).__name__}: {err} (mmcv was built without '
            'its CUDA ops? rerun `make env` on this machine with nvcc on '
            'PATH: README, "Training on a GPU")')


def ensure_data(work_dir: str) -> Dict[str, str]:
    """Small seeded synthetic data sets for the check runs.

    Returns:
        dict: ``{'levir': root, 'second': root}``.
    """
    roots = {}
    for layout, size in (('levir', 256), ('second', 128)):
        root = osp.join(work_dir, 'data', f'synthetic_{layout}')
        roots[layout] = root
        if osp.isfile(osp.join(root, 'meta.json')):
            continue
        cmd = [
            sys.executable,
            osp.join(REPO_ROOT, 'tools/misc/make_synthetic_data.py'),
            '--layout', layout, '--out', root, '--seed', '0', '--size',
            str(size), '--num-train', '32', '--num-val', '8', '--num-test',
            '4', '--force', '--quiet'
        ]
        subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    return roots


def data_layout(config: str) -> str:
    """``'second'`` for the semantic-change configs, else ``'levir'``."""
    return 'second' if 'second' in osp.basename(config) else 'levir'


def ttp_512_step(variant: List[str], args: argparse.Namespace,
                 out_json: str) -> Dict[str, object]:
    """One ``tools/analysis/benchmark.py`` train-step run of TTP SAM-B 512."""
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools/analysis/benchmark.py'), TTP_CONFIG,
        '--shape', '512', '--batch-size',
        str(args.ttp_batch_size), '--iters',
        str(args.ttp_iters), '--warmup', '1', '--mode', 'train', '--device',
        'cuda', '--out-json', out_json, '--cfg-options',
        'model.backbone.init_cfg=None', *variant
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return dict(ok=False, error=lines[-1] if lines else 'failed')
    with open(out_json) as f:
        train = json.load(f)['results']['train']
    return dict(
        ok=math.isfinite(train.get('loss', float('nan'))),
        s_per_step=train['time_mean'],
        peak_memory_bytes=train['peak_memory_bytes'],
        loss=train.get('loss'))


def gib(n: Optional[int]) -> str:
    """Bytes as GiB with 2 decimals, ``-`` for None."""
    return '-' if n is None else f'{n / 2**30:.2f}'


def main_metric(metrics: Dict[str, float]) -> str:
    """The headline val metric of a run: F1, else SeK, else mIoU."""
    for key in ('F1', 'SeK', 'mIoU'):
        if key in metrics:
            return f'{key} {metrics[key]:.1f}'
    return '-'


def format_report(report: Dict[str, object]) -> str:
    """The tables printed at the end (markdown)."""
    lines = [
        f"GPU: {report['gpu']}",
        f"mmcv CUDA op (nms): {'OK' if report['mmcv_op']['ok'] else 'FAILED'}"
        f" - {report['mmcv_op']['detail']}", '',
        '| config | precision | it/s | peak GiB | SDPA kernels | loss finite'
        ' | val | status |', '| --- | --- | ---: | ---: | --- | --- | --- | '
        '--- |'
    ]
    for config, runs in report['configs'].items():
        for precision, r in runs.items():
            if 'iters_per_s' in r:
                lines.append(
                    f"| {config} | {precision} | {r['iters_per_s']:.2f} | "
                    f"{gib(r.get('peak_memory_bytes'))} | "
                    f"{', '.join(r['attention']) or 'none'} | "
                    f"{'yes' if r['loss_finite'] else 'NO'} | "
                    f"{main_metric(r.get('metrics', {}))} | "
                    f"{'OK' if r['ok'] else 'FAILED'} |")
            else:
                lines.append(f'| {config} | {precision} | - | - | - | - | - '
                             f"| FAILED: {r.get('error', '?')} |")
    if report.get('ttp_512'):
        lines += [
            '', 'TTP SAM-B 512x512 train step '
            f"({report['ttp_batch_size']} pairs, random weights):", '',
            '| variant | s/step | peak GiB | status |',
            '| --- | ---: | ---: | --- |'
        ]
        for name, r in report['ttp_512'].items():
            if r['ok']:
                lines.append(f"| {name} | {r['s_per_step']:.3f} | "
                             f"{gib(r['peak_memory_bytes'])} | OK |")
            else:
                lines.append(
                    f"| {name} | - | - | FAILED: {r.get('error', '?')} |")
    lines += ['', f"total {report['seconds']:.0f} s"]
    return '\n'.join(lines)


def all_ok(report: Dict[str, object]) -> bool:
    """Whether every check of the report passed."""
    runs = [r for c in report['configs'].values() for r in c.values()]
    return (report['mmcv_op']['ok'] and all(r['ok'] for r in runs)
            and all(r['ok'] for r in report.get('ttp_512', {}).values()))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.precisions, args.iters, args.worker_data_root,
               args.work_dir, args.worker_out, args.worker_device)
        return 0
    problem = cuda_problem()
    if problem is not None:
        print(f'gpu_check: {problem}', file=sys.stderr)
        return EXIT_NO_CUDA

    import torch
    t0 = time.time()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    report: Dict[str, object] = dict(
        gpu=f'{props.name}, {props.total_memory / 2**30:.0f} GiB, compute '
        f'{props.major}.{props.minor}; torch {torch.__version__} (CUDA '
        f'{torch.version.cuda}); SDPA enabled: flash '
        f'{torch.backends.cuda.flash_sdp_enabled()}, efficient '
        f'{torch.backends.cuda.mem_efficient_sdp_enabled()}, cudnn '
        f'{torch.backends.cuda.cudnn_sdp_enabled()}; bf16 '
        f'{torch.cuda.is_bf16_supported()}',
        ttp_batch_size=args.ttp_batch_size,
        configs={})
    print(f"gpu_check: {report['gpu']}", flush=True)
    report['mmcv_op'] = mmcv_cuda_op_check()
    roots = ensure_data(work_dir)

    configs = list(args.configs or synthetic_configs())
    if not args.no_ttp_tiny:
        configs.append(TTP_TINY)
    for config in configs:
        name = osp.splitext(osp.basename(config))[0]
        print(
            f'gpu_check: training {name} ({args.iters} iterations, '
            f"{' and '.join(args.precisions)})",
            flush=True)
        run_dir = osp.join(work_dir, 'runs', name)
        os.makedirs(run_dir, exist_ok=True)
        out = osp.join(run_dir, 'result.json')
        cmd = [
            sys.executable,
            osp.abspath(__file__), '--worker', config, '--worker-out', out,
            '--iters',
            str(args.iters), '--work-dir', run_dir, '--worker-data-root',
            roots[data_layout(config)], '--precisions', *args.precisions
        ]
        with open(osp.join(run_dir, 'worker.log'), 'w') as log:
            proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=log, stderr=log)
        if proc.returncode == 0 and osp.isfile(out):
            with open(out) as f:
                report['configs'][name] = json.load(f)
        else:
            report['configs'][name] = {
                p:
                dict(
                    ok=False,
                    error=f'worker exit {proc.returncode}, see '
                    f'{run_dir}/worker.log')
                for p in args.precisions
            }

    if not args.no_ttp_512:
        report['ttp_512'] = {}
        for name, variant in TTP_512_VARIANTS:
            print(f'gpu_check: TTP SAM-B 512 train step, {name}', flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                report['ttp_512'][name] = ttp_512_step(
                    variant, args, osp.join(tmp, 'bench.json'))
    report['seconds'] = time.time() - t0
    print()
    print(format_report(report))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(report, f, indent=1)
    ok = all_ok(report)
    print('gpu_check: ' + ('all checks passed' if ok else 'some checks '
                           'FAILED (see the tables; logs in '
                           f'{work_dir}/runs)'))
    return 0 if ok else EXIT_FAILED


if __name__ == '__main__':
    sys.exit(main())
