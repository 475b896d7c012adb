"""Scenes per second and peak memory per process of distributed inference.

Usage::

    python tools/analysis/dist_infer_benchmark.py \\
        [--config configs/baseline/baseline_r18_synthetic-256.py] \\
        [--scenes 4] [--size 2048] [--procs 1 2] [--tile 512] \\
        [--overlap 0] [--work-dir DIR] [--out-json FILE]

Writes ``--scenes`` synthetic ``size x size`` 3-band GeoTIFF pairs (a few
planted changes) into two folders and a checkpoint of the config's model
with random weights (the speed does not depend on the weights), then, for
each process count N, runs ``tools/infer.py --launcher pytorch`` under
torchrun with N processes on the whole folder (each process takes a share
of the scenes). Every process writes its own peak resident set size
(``ru_maxrss`` of itself) to a file at exit, so the figure is per process,
not the sum. The wall time is the whole command, start-up (imports, model
building) included. The load average is recorded before and after: on a
shared machine it says how many cores the run really had.
"""
import argparse
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Environment variable naming the folder a worker writes its RSS into.
RSS_DIR_ENV = 'MMCD_BENCH_RSS_DIR'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Scenes/s and peak RSS per process of tools/infer.py '
        'under torchrun, 1 vs N processes, on synthetic GeoTIFF pairs')
    parser.add_argument(
        '--config',
        default=osp.join(REPO_ROOT, 'configs', 'baseline',
                         'baseline_r18_synthetic-256.py'),
        help='model config (random weights are used); default: the demo '
        'baseline')
    parser.add_argument(
        '--scenes', type=int, default=4, help='scene pairs; default 4')
    parser.add_argument(
        '--size', type=int, default=2048, help='scene side (px); default 2048')
    parser.add_argument(
        '--procs',
        type=int,
        nargs='+',
        default=[1, 2],
        help='process counts to compare; default 1 2')
    parser.add_argument(
        '--tile', type=int, default=512, help='tile side; default 512')
    parser.add_argument(
        '--overlap', type=int, default=0, help='tile overlap; default 0')
    parser.add_argument(
        '--batch-size', type=int, default=4, help='tiles per call; default 4')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='OMP_NUM_THREADS per process; default 1')
    parser.add_argument(
        '--work-dir', help='folder for scenes and outputs (default: temp)')
    parser.add_argument(
        '--keep', action='store_true', help='keep the work folder')
    parser.add_argument('--out-json', help='also write the rows here')
    args = parser.parse_args(argv)
    for name in ('scenes', 'size', 'tile', 'batch_size', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if any(n < 1 for n in args.procs):
        parser.error('--procs must be >= 1')
    return args


def worker(argv: List[str]) -> int:
    """One torchrun process: tools/infer.py, then its own peak RSS."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'infer_tool', osp.join(REPO_ROOT, 'tools', 'infer.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    code = tool.main(argv)
    rank = os.environ.get('RANK', '0')
    with open(osp.join(os.environ[RSS_DIR_ENV], f'rank{rank}.json'), 'w') as f:
        json.dump(
            dict(
                rank=int(rank),
                peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                / 1024.0), f)
    return code


def run(args: argparse.Namespace, work: str, cfg: str, ckpt: str, procs: int,
        port: int) -> Dict[str, object]:
    """One torchrun launch over the folder; returns its row."""
    out = osp.join(work, f'out_{procs}')
    rss_dir = osp.join(work, f'rss_{procs}')
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(rss_dir, ignore_errors=True)
    os.makedirs(rss_dir)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        f'--nproc_per_node={procs}', '--master_addr=127.0.0.1',
        f'--master_port={port}',
        osp.abspath(__file__), '--worker', cfg, ckpt, '--launcher', 'pytorch',
        '--a-dir',
        osp.join(work, 'A'), '--b-dir',
        osp.join(work, 'B'), '--out', out, '--tile',
        str(args.tile), '--overlap',
        str(args.overlap), '--batch-size',
        str(args.batch_size), '--no-progress'
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        PYTHONPATH=os.pathsep.join(
            [REPO_ROOT] + [p for p in [os.environ.get('PYTHONPATH')] if p]),
        **{RSS_DIR_ENV: rss_dir})
    load_before = os.getloadavg()
    start = time.monotonic()
    log = osp.join(work, f'log_{procs}.txt')
    with open(log, 'w') as f:
        proc = subprocess.run(
            cmd, cwd=REPO_ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        print(open(log).read()[-3000:], file=sys.stderr)
        raise RuntimeError(f'{procs} process(es) failed (log {log})')
    ranks = []
    for name in sorted(os.listdir(rss_dir)):
        with open(osp.join(rss_dir, name)) as f:
            ranks.append(json.load(f))
    return dict(
        processes=procs,
        scenes=args.scenes,
        size=args.size,
        seconds=round(seconds, 1),
        scenes_per_s=round(args.scenes / seconds, 4),
        peak_rss_mib_per_process=[round(r['peak_rss_mib']) for r in ranks],
        load_avg_before=[round(x, 2) for x in load_before],
        load_avg_after=[round(x, 2) for x in os.getloadavg()])


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--worker']:
        return worker(argv[1:])
    args = parse_args(argv)
    import torch

    from mmcd_ext.apis import init_model
    from mmcd_ext.utils.analysis import write_synthetic_scene_pair
    work = args.work_dir or tempfile.mkdtemp(prefix='dist_infer_bench_')
    os.makedirs(work, exist_ok=True)
    try:
        torch.manual_seed(0)
        ckpt = osp.join(work, 'random.pth')
        model = init_model(args.config)
        torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
        del model
        for i in range(args.scenes):
            for folder in ('A', 'B'):
                os.makedirs(osp.join(work, folder), exist_ok=True)
            write_synthetic_scene_pair(
                osp.join(work, 'A', f'scene{i}.tif'),
                osp.join(work, 'B', f'scene{i}.tif'),
                args.size,
                seed=i,
                strip=256,
                period=300,
                square=50,
                pixel=1.0,
                x0=500000.0 + i * args.size,
                tiled=False)
        rows = []
        for k, procs in enumerate(args.procs):
            row = run(args, work, args.config, ckpt, procs, 29700 + k)
            rows.append(row)
            print(json.dumps(row), flush=True)
        if args.out_json:
            with open(args.out_json, 'w') as f:
                json.dump(rows, f, indent=2)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
