"""FrNet vs. its base model on the synthetic LEVIR-layout scenes.

Usage::

    python tools/analysis/frnet_synthetic_benchmark.py
        [--data-root data/synthetic_levir] [--work-dir work_dirs/frnet_bench]
        [--variants frnet base] [--seed 0] [--threads 2]
        [--cfg-options k=v ...] [--out-json FILE]

For each variant (``frnet``: ``configs/frnet/frnet_vgg16_synthetic-256.py``;
``base``: ``..._base.py``, the same network without the Hopfield block) it
runs, one after the other (never two trainings at once),

1. ``tools/train.py CONFIG --work-dir WORK/VARIANT --cfg-options
   randomness.seed=SEED data_root=DATA [k=v ...]``,
2. ``tools/test.py CONFIG WORK/VARIANT/iter_N.pth --work-dir
   WORK/VARIANT/test --cfg-options data_root=DATA [k=v ...]``,

printing each command first, then a Markdown table of the test-split metrics
(change class, percent), the number of parameters and the wall-clock
seconds of training and testing, and writes the same numbers to
``--out-json`` (default ``WORK/results.json``). The synthetic data are made
by ``python tools/misc/make_synthetic_data.py --layout levir --out DATA
--seed 0`` when ``DATA`` does not exist. Child processes get
``OMP_NUM_THREADS=--threads``.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
from typing import List, Optional

from mmcd_ext.utils.atomic_files import write_text
from mmcd_ext.utils.tool_runs import ToolRunner

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNNER = ToolRunner(REPO_ROOT, 'frnet benchmark')
run = RUNNER.run
count_parameters = RUNNER.count_parameters
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

CONFIGS = {
    'frnet': 'configs/frnet/frnet_vgg16_synthetic-256.py',
    'base': 'configs/frnet/frnet_vgg16_synthetic-256_base.py',
}
NAMES = {'frnet': 'FrNet', 'base': 'Base Model (no Hopfield block)'}
KEYS = ('F1', 'Precision', 'Recall', 'IoU', 'OA', 'Kappa')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synthetic_levir')
    parser.add_argument('--work-dir', default='work_dirs/frnet_bench')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['frnet', 'base'],
        choices=sorted(CONFIGS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='OMP_NUM_THREADS of the child processes')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value overrides for train and test')
    parser.add_argument('--out-json', default=None)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    py = sys.executable
    if not osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        run([
            py, 'tools/misc/make_synthetic_data.py', '--layout', 'levir',
            '--out', args.data_root, '--seed', '0'
        ], args.threads)
    data_opt = [f'data_root={args.data_root}']
    rows = []
    for variant in args.variants:
        config = CONFIGS[variant]
        work = osp.join(args.work_dir, variant)
        ckpt, train_s, test_s, metrics = RUNNER.train_and_test(
            config, work, args.seed, [*data_opt, *args.cfg_options],
            args.threads)
        rows.append(
            dict(
                variant=variant,
                model=NAMES[variant],
                config=config,
                checkpoint=ckpt,
                params=count_parameters(config, args.cfg_options),
                train_seconds=round(train_s, 1),
                test_seconds=round(test_s, 1),
                **{k: metrics[k]
                   for k in KEYS}))

    print('\n| model | ' + ' | '.join(KEYS) + ' | params | train s | test s |')
    print('| --- |' + ' ---: |' * (len(KEYS) + 3))
    for row in rows:
        print(f'| {row["model"]} | ' + ' | '.join(f'{row[k]:.2f}'
                                                  for k in KEYS) +
              f' | {row["params"] / 1e6:.2f} M | {row["train_seconds"]:.0f}'
              f' | {row["test_seconds"]:.0f} |')
    out = args.out_json or osp.join(args.work_dir, 'results.json')
    out = osp.join(REPO_ROOT, out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    write_text(
        out,
        json.dumps(
            dict(
                seed=args.seed,
                data_root=args.data_root,
                threads=args.threads,
                machine=platform.machine(),
                cpu_count=os.cpu_count(),
                rows=rows),
            indent=2))
    print(f'\nresults: {out}')


if __name__ == '__main__':
    main()
