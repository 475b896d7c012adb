"""The demo (``make demo``): synthetic data -> train -> test -> metrics.

1. writes the seeded synthetic LEVIR-layout scenes to ``data/synthetic_levir``
   (skipped when they are already there with the same seed),
2. trains the Siamese ResNet-18 baseline on CPU with ``tools/train.py``,
3. evaluates the final checkpoint on the test split with ``tools/test.py``,
   writing TP/TN/FP/FN overlays to ``work_dirs/demo/overlays``,
4. prints the metrics table and checks change-F1 >= 0.80.

Every step runs the same command a user would type; they are printed first.
"""
import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/baseline/baseline_r18_synthetic-256.py'
F1_TARGET = 80.0


def run(cmd: list) -> None:
    """Run one step from the repository root, streaming its output."""
    print('\n$ ' + ' '.join(cmd), flush=True)
    start = time.time()
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f'demo: step failed (exit {proc.returncode}): ' +
                 ' '.join(cmd))
    print(f'[demo] step took {time.time() - start:.0f} s', flush=True)


def data_ready(data_root: str, seed: int) -> bool:
    """Whether the synthetic data set exists and was made with ``seed``."""
    meta_file = osp.join(ROOT, data_root, 'meta.json')
    if not osp.isfile(meta_file):
        return False
    with open(meta_file) as f:
        meta = json.load(f)
    return meta.get('seed') == seed


def latest_test_metrics(test_dir: str) -> dict:
    """Metrics json that tools/test.py's logger wrote last in ``test_dir``."""
    files = sorted(
        glob.glob(osp.join(test_dir, '*', '*.json')), key=osp.getmtime)
    if not files:
        sys.exit(f'demo: no metrics json found under {test_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synthetic_levir')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--skip-train',
        action='store_true',
        help='evaluate the checkpoint of an earlier demo run')
    args = parser.parse_args()
    py = sys.executable
    t0 = time.time()

    if data_ready(args.data_root, args.seed):
        print(f'[demo] synthetic data found in {args.data_root}')
    else:
        run([
            py, 'tools/misc/make_synthetic_data.py', '--layout', 'levir',
            '--out', args.data_root, '--seed',
            str(args.seed), '--force'
        ])

    data_opt = [f'data_root={args.data_root}']
    if not args.skip_train:
        run([
            py, 'tools/train.py', CONFIG, '--work-dir', args.work_dir,
            '--cfg-options', f'randomness.seed={args.seed}', *data_opt
        ])
    last = osp.join(ROOT, args.work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        sys.exit(f'demo: no checkpoint in {args.work_dir}; run without '
                 '--skip-train')
    with open(last) as f:
        ckpt = f.read().strip()

    test_dir = osp.join(args.work_dir, 'test')
    run([
        py, 'tools/test.py', CONFIG, ckpt, '--work-dir', test_dir,
        '--show-dir',
        osp.join(args.work_dir, 'overlays'), '--cfg-options', *data_opt
    ])
    metrics = latest_test_metrics(osp.join(ROOT, test_dir))

    keys = ['F1', 'Precision', 'Recall', 'IoU', 'OA', 'Kappa']
    print('\n[demo] Siamese ResNet-18 baseline, synthetic LEVIR-layout test '
          f'split ({CONFIG})')
    print('| ' + ' | '.join(keys) + ' |')
    print('|' + '---|' * len(keys))
    print('| ' + ' | '.join(f'{metrics[k]:.2f}' for k in keys) + ' |')
    print(f'[demo] overlays (TP yellow, FP red, FN green): '
          f'{args.work_dir}/overlays ; total time {time.time() - t0:.0f} s')
    if metrics['F1'] < F1_TARGET:
        sys.exit(f'[demo] change-F1 {metrics["F1"]:.2f} is below the '
                 f'target {F1_TARGET:.0f}')
    print(f'[demo] change-F1 {metrics["F1"]:.2f} >= {F1_TARGET:.0f}: OK')


if __name__ == '__main__':
    main()
