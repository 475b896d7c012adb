"""LSAFNet vs. a Siamese baseline on the synthetic SECOND-layout scenes.

Usage::

    python tools/analysis/lsafnet_synthetic_benchmark.py
        [--data-root data/synthetic_second]
        [--work-dir work_dirs/lsafnet_bench]
        [--variants lsafnet baseline] [--seed 0] [--threads 2]
        [--cfg-options k=v ...] [--out-json FILE]

Variants: ``lsafnet`` (``configs/lsafnet/lsafnet_r34_synthetic-second-128.py``)
and ``baseline`` (``..._siam-baseline.py``: the same encoder, SS decoder,
losses and schedule without LGAA, LGCE and late-stage fusion), optionally
``base`` (Table III's "Base": no LGAA, no LGCE, late fusion kept; the
baseline config with ``model.decode_head.change_from=decoder``). Each
variant is trained and then tested, one after the other (never two jobs at
once):

1. ``tools/train.py CONFIG --work-dir WORK/VARIANT --cfg-options
   randomness.seed=SEED data_root=DATA [k=v ...]``,
2. ``tools/test.py CONFIG CHECKPOINT --work-dir WORK/VARIANT/test
   --cfg-options data_root=DATA [k=v ...]``.

Each command is printed first; at the end a Markdown table of the test-split
OA, mIoU, SeK, Fscd (percent), the parameter count and the wall-clock seconds
of training and testing is printed and the same numbers are written to
``--out-json`` (default ``WORK/results.json``). Missing data are generated
with ``tools/misc/make_synthetic_data.py --layout second --size 128 --seed
0``. Child processes get ``OMP_NUM_THREADS=--threads``.
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
RUNNER = ToolRunner(REPO_ROOT, 'lsafnet benchmark')
run = RUNNER.run
count_parameters = RUNNER.count_parameters
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

LSAFNET = 'configs/lsafnet/lsafnet_r34_synthetic-second-128.py'
BASELINE = 'configs/lsafnet/lsafnet_r34_synthetic-second-128_siam-baseline.py'
CONFIGS = {
    'lsafnet': (LSAFNET, []),
    'baseline': (BASELINE, []),
    'base': (BASELINE, ['model.decode_head.change_from=decoder']),
}
NAMES = {
    'lsafnet': 'LSAFNet (LGAA, LGCE, late fusion)',
    'baseline': 'Siamese baseline (middle fusion, no LGAA/LGCE)',
    'base': 'Base (late fusion, no LGAA/LGCE)',
}
KEYS = ('OA', 'mIoU', 'SeK', 'Fscd')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring).

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synthetic_second')
    parser.add_argument('--work-dir', default='work_dirs/lsafnet_bench')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['lsafnet', 'baseline'],
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
    """Train and test every variant, then print and save the table.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.
    """
    args = parse_args(argv)
    py = sys.executable
    if not osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        run([
            py, 'tools/misc/make_synthetic_data.py', '--layout', 'second',
            '--size', '128', '--out', args.data_root, '--seed', '0'
        ], args.threads)
    data_opt = [f'data_root={args.data_root}']
    rows = []
    for variant in args.variants:
        config, extra = CONFIGS[variant]
        options = [*extra, *args.cfg_options]
        work = osp.join(args.work_dir, variant)
        ckpt, train_s, test_s, metrics = RUNNER.train_and_test(
            config, work, args.seed, [*data_opt, *options], args.threads)
        rows.append(
            dict(
                variant=variant,
                model=NAMES[variant],
                config=config,
                options=extra,
                checkpoint=ckpt,
                params=count_parameters(config, options),
                train_seconds=round(train_s, 1),
                test_seconds=round(test_s, 1),
                **{k: metrics[k]
                   for k in KEYS}))

    print('\n| model | ' + ' | '.join(KEYS) + ' | params | train s | test s |')
    print('| --- |' + ' ---: |' * (len(KEYS) + 3))
    for row in rows:
        print(f'| {row["model"]} | ' + ' | '.join(f'{row[k]:.2f}'
                                                  for k in KEYS) +
              f' | {row["params"] / 1e6:.3f} M | '
              f'{row["train_seconds"]:.0f} | {row["test_seconds"]:.0f} |')
    out = osp.join(REPO_ROOT, args.out_json
                   or osp.join(args.work_dir, 'results.json'))
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
