"""Speed and memory of TTP's SAM encoder: fused vs eager attention vs
activation checkpointing.

Usage::

    python tools/analysis/ttp_benchmark.py [--config CONFIG] [--shape 512]
        [--batch-size 2] [--rounds 3] [--iters 2] [--warmup 1]
        [--threads 2] [--variants fused eager checkpoint]
        [--modes infer train] [--skip-diff] [--out-json FILE]

Variants (``--cfg-options`` on ``configs/ttp/ttp_sam-b_levir.py``):

* ``fused`` -- the default: ``scaled_dot_product_attention`` with the
  relative-position bias as ``attn_mask``;
* ``eager`` -- ``model.backbone.attn_impl=eager`` (softmax written out);
* ``checkpoint`` -- fused plus ``model.backbone.with_cp=True`` (activation
  checkpointing of every encoder block).

Each measurement is one run of ``tools/analysis/benchmark.py CONFIG --shape
S --batch-size B --mode MODE --iters N --warmup K --threads T`` in a fresh
process (so the process' peak RSS belongs to that variant and mode alone),
on random weights and random pairs (no data, no checkpoint). The variants
are interleaved, round after round (fused, eager, checkpoint, fused, ...),
so a load change on a shared machine hits all of them; the table gives the
median and the range over the rounds of the per-round mean time per
iteration, and the largest peak RSS.

Unless ``--skip-diff``, the fused and eager encoders are also compared on
the same weights and input: a SAM-B ``SAMLoRAViT`` at the config's input
size with every weight random (relative position tables, LoRA ``up`` and
gate projections included, so every term is exercised), ``2 B`` images,
max absolute difference of the outputs (the requirement: < 1e-4).
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from mmcd_ext.utils.atomic_files import write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

VARIANTS = {
    'fused': ['model.backbone.attn_impl=fused'],
    'eager': ['model.backbone.attn_impl=eager'],
    'checkpoint':
    ['model.backbone.attn_impl=fused', 'model.backbone.with_cp=True'],
}
MODES = ('infer', 'train')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='TTP encoder: fused vs eager attention vs activation '
        'checkpointing (time and peak memory).')
    parser.add_argument('--config', default='configs/ttp/ttp_sam-b_levir.py')
    parser.add_argument(
        '--shape',
        type=int,
        default=512,
        help='input side per date. Default: 512')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=2,
        help='image pairs per step. Default: 2')
    parser.add_argument(
        '--rounds', type=int, default=3, help='interleaved rounds. Default: 3')
    parser.add_argument(
        '--iters',
        type=int,
        default=2,
        help='timed iterations per run. Default: 2')
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed iterations per run. Default: 1')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='torch threads (and OMP_NUM_THREADS) of each '
        'run. Default: 2')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=list(VARIANTS),
        choices=list(VARIANTS))
    parser.add_argument(
        '--modes', nargs='+', default=list(MODES), choices=list(MODES))
    parser.add_argument(
        '--skip-diff',
        action='store_true',
        help='skip the fused-vs-eager output comparison')
    parser.add_argument(
        '--out-json', default=None, help='also write the results as JSON')
    args = parser.parse_args(argv)
    for name in ('shape', 'batch_size', 'rounds', 'iters', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def run_one(args: argparse.Namespace, variant: str, mode: str, workdir: str,
            index: int) -> Dict[str, object]:
    """One ``benchmark.py`` run in a fresh process; returns its result."""
    out_json = osp.join(workdir, f'{index}_{variant}_{mode}.json')
    cmd = [
        sys.executable, 'tools/analysis/benchmark.py', args.config, '--shape',
        str(args.shape), '--batch-size',
        str(args.batch_size), '--mode', mode, '--iters',
        str(args.iters), '--warmup',
        str(args.warmup), '--threads',
        str(args.threads), '--out-json', out_json, '--cfg-options',
        *VARIANTS[variant]
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print('$ ' + ' '.join(cmd), flush=True)
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{variant}/{mode} failed:\n'
                           f'{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}')
    with open(out_json) as f:
        return json.load(f)['results'][mode]


def fused_eager_difference(args: argparse.Namespace) -> Dict[str, float]:
    """Max |fused - eager| of a random SAM-B encoder (see module doc)."""
    import torch

    from mmcd_ext.apis import init_model
    torch.set_num_threads(args.threads)
    # the config's encoder at the benchmark's input size, random weights
    model = init_model(
        osp.join(REPO_ROOT, args.config),
        cfg_options={
            'model.backbone.img_size': args.shape,
            'model.backbone.attn_impl': 'fused'
        }).backbone
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('bias') or '.ln' in name or 'norm' in name:
                continue
            if 'rel_pos' in name:  # SAM's tables reach |x| ~ 1
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
            elif name == 'pos_embed' or '.lora_up' in name or \
                    name.startswith('gates.'):
                param.copy_(torch.randn(param.shape, generator=gen) * 0.02)
    x = torch.randn(
        2 * args.batch_size, 3, args.shape, args.shape, generator=gen)
    with torch.no_grad():
        start = time.perf_counter()
        fused = model(x)[0]
        fused_s = time.perf_counter() - start
        model.set_attn_impl('eager')
        start = time.perf_counter()
        eager = model(x)[0]
        eager_s = time.perf_counter() - start
    return dict(
        max_abs_diff=float((fused - eager).abs().max()),
        max_abs_output=float(fused.abs().max()),
        fused_forward_s=fused_s,
        eager_forward_s=eager_s)


def summarise(runs: List[Dict[str, object]]) -> Dict[str, float]:
    """Median and range of the per-run mean times; max peak memory."""
    times = [float(r['time_mean']) for r in runs]
    return dict(
        time_median=statistics.median(times),
        time_min=min(times),
        time_max=max(times),
        times=times,
        peak_mib=max(r['peak_memory_bytes'] for r in runs) / 2**20)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    runs: Dict[str, Dict[str, List[Dict[str, object]]]] = {
        v: {
            m: []
            for m in args.modes
        }
        for v in args.variants
    }
    with tempfile.TemporaryDirectory(prefix='ttp_bench_') as workdir:
        index = 0
        for _ in range(args.rounds):
            for variant in args.variants:
                for mode in args.modes:
                    runs[variant][mode].append(
                        run_one(args, variant, mode, workdir, index))
                    index += 1
    table = {
        v: {
            m: summarise(r)
            for m, r in modes.items()
        }
        for v, modes in runs.items()
    }
    diff = None if args.skip_diff else fused_eager_difference(args)
    print(f'\n{args.config}, {args.batch_size} pairs of {args.shape}x'
          f'{args.shape} ({2 * args.batch_size} images through the encoder),'
          f' {args.threads} threads, {args.rounds} interleaved rounds of '
          f'{args.iters} timed (+{args.warmup} warm-up) iterations\n')
    header = '| variant |'
    rule = '|---|'
    for mode in args.modes:
        header += f' {mode} s/iter, median (range) | {mode} peak RSS (MiB) |'
        rule += '---|---|'
    print(header)
    print(rule)
    for variant, modes in table.items():
        row = f'| {variant} |'
        for mode in args.modes:
            s = modes[mode]
            row += (f' {s["time_median"]:.2f} ({s["time_min"]:.2f}-'
                    f'{s["time_max"]:.2f}) | {s["peak_mib"]:.0f} |')
        print(row)
    if diff is not None:
        print(f'\nfused vs eager, same random weights: max |diff| = '
              f'{diff["max_abs_diff"]:.3g} (max |output| = '
              f'{diff["max_abs_output"]:.3g})')
    result = dict(
        config=args.config,
        shape=args.shape,
        batch_size=args.batch_size,
        rounds=args.rounds,
        iters=args.iters,
        warmup=args.warmup,
        threads=args.threads,
        machine=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        results=table,
        fused_vs_eager=diff)
    if args.out_json:
        write_text(args.out_json, json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
