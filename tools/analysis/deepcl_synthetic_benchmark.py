"""DeepCL against its host on the synthetic LEVIR-layout scenes.

Usage::

    python tools/analysis/deepcl_synthetic_benchmark.py
        [--data-root data/synthetic_levir] [--work-dir work_dirs/deepcl_bench]
        [--variants host deepcl noprior bcl] [--seeds 0 1 2] [--threads 2]
        [--reuse] [--cfg-options k=v ...] [--out-json FILE]

Variants (``configs/deepcl/``):

* ``host``: ``baseline_r18-w32_synthetic-256.py``, the demo's Siamese
  ResNet-18 / UPerNet baseline at half width on 400 iterations;
* ``deepcl``: ``deepcl_baseline-r18-w32_synthetic-256.py``, the same host
  with DeepCL's contrastive loss and knowledge prior;
* ``noprior``: ``..._noprior.py``, DeepCL's loss without the prior;
* ``bcl``: ``..._bcl.py``, DeepCL with ``gamma = 0`` (every pixel weighted
  alike: STANet's batch-balanced contrastive loss) and the prior.

For every seed, then every variant (one training at a time), it runs
``tools/train.py CONFIG --work-dir WORK/VARIANT/seedS --cfg-options
randomness.seed=S data_root=DATA [k=v ...]`` (printing the command), then
predicts the test split with the final checkpoint
(:class:`mmcd_ext.apis.ChangeDetector`, the config's test pipeline) and
scores, from counts pooled over the split:

* change-class ``F1``, ``Precision``, ``Recall``, ``IoU`` (percent), as
  ``ChangeDetectionMetric`` computes them;
* ``FPR_pseudo``: the share of the pixels of the ``pseudo/`` masks (unchanged
  pixels that carry only a pseudo-change: seasonal tint, re-tinted fields,
  cars, moved shadows, misregistered edges; see docs/synthetic_data.md)
  predicted changed, in percent;
* ``FPR_other``: the same on the remaining unchanged pixels.

It prints a per-run table, the mean and sample standard deviation over the
seeds of each variant, the per-seed differences to ``host``, and writes all
numbers to ``--out-json`` (default ``WORK/results.json``). With ``--reuse``
a run whose ``WORK/VARIANT/seedS/scores.json`` exists is not trained again.
The data are made by ``tools/misc/make_synthetic_data.py --layout levir
--seed 0`` when ``DATA`` does not exist. Child processes and the
evaluation use ``--threads`` threads.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmcd_ext.utils.atomic_files import write_text
from mmcd_ext.utils.tool_runs import ToolRunner

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNNER = ToolRunner(REPO_ROOT, 'deepcl benchmark')
run = RUNNER.run
last_checkpoint = RUNNER.last_checkpoint
count_parameters = RUNNER.count_parameters
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

CONFIGS = {
    'host': 'configs/deepcl/baseline_r18-w32_synthetic-256.py',
    'deepcl': 'configs/deepcl/deepcl_baseline-r18-w32_synthetic-256.py',
    'noprior':
    'configs/deepcl/deepcl_baseline-r18-w32_synthetic-256_noprior.py',
    'bcl': 'configs/deepcl/deepcl_baseline-r18-w32_synthetic-256_bcl.py',
}
NAMES = {
    'host': 'host (half-width baseline)',
    'deepcl': '+ DeepCL (loss + prior)',
    'noprior': '+ DeepCL loss, no prior',
    'bcl': '+ DeepCL with gamma=0 (plain BCL) + prior',
}
KEYS = ('F1', 'Precision', 'Recall', 'IoU', 'FPR_pseudo', 'FPR_other')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/synthetic_levir')
    parser.add_argument('--work-dir', default='work_dirs/deepcl_bench')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['host', 'deepcl', 'noprior', 'bcl'],
        choices=list(CONFIGS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='threads of the trainings and the evaluation')
    parser.add_argument(
        '--reuse',
        action='store_true',
        help='keep runs whose scores.json exists')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value overrides for every variant')
    parser.add_argument('--out-json', default=None)
    return parser.parse_args(argv)


def read_mask(path: str) -> np.ndarray:
    """A 0/255 single-channel PNG as a bool array (H, W)."""
    import cv2
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(f'deepcl benchmark: cannot read {path}')
    return mask > 127


def pseudo_counts(pred: np.ndarray, label: np.ndarray,
                  pseudo: np.ndarray) -> np.ndarray:
    """False positives on pseudo-change pixels and on the other unchanged.

    Args:
        pred (np.ndarray): Predicted change, bool (H, W).
        label (np.ndarray): True change, bool (H, W).
        pseudo (np.ndarray): Pixels carrying only a pseudo-change, bool
            (H, W); must not overlap ``label``.

    Returns:
        np.ndarray: ``int64`` ``[FP on pseudo, #pseudo, FP on the other
        unchanged, #other unchanged]``.
    """
    if pred.shape != label.shape or pred.shape != pseudo.shape:
        raise ValueError(f'deepcl benchmark: shapes differ: prediction '
                         f'{pred.shape}, label {label.shape}, pseudo mask '
                         f'{pseudo.shape}')
    if np.any(pseudo & label):
        raise ValueError('deepcl benchmark: the pseudo-change mask overlaps '
                         'the change label')
    other = ~label & ~pseudo
    return np.array([
        np.count_nonzero(pred & pseudo),
        np.count_nonzero(pseudo),
        np.count_nonzero(pred & other),
        np.count_nonzero(other)
    ],
                    dtype=np.int64)


def scores_from_counts(confusion: Sequence[int],
                       pseudo: Sequence[int]) -> Dict[str, float]:
    """Percent scores from pooled ``[TP, FP, FN, TN]`` and pseudo counts."""
    from mmcd_ext.evaluation.functional import binary_change_scores
    scores = binary_change_scores(*confusion)
    out = {k: 100.0 * scores[k] for k in ('F1', 'Precision', 'Recall', 'IoU')}
    fp_pseudo, n_pseudo, fp_other, n_other = (int(v) for v in pseudo)
    out['FPR_pseudo'] = 100.0 * fp_pseudo / max(n_pseudo, 1)
    out['FPR_other'] = 100.0 * fp_other / max(n_other, 1)
    return out


def evaluate(config: str,
             checkpoint: str,
             data_root: str,
             options: List[str],
             batch_size: int = 4) -> dict:
    """Predict the test split and score it (see the module docstring)."""
    from mmengine.config import DictAction

    from mmcd_ext.apis import ChangeDetector
    from mmcd_ext.evaluation.functional import binary_confusion
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    cfg_options = parser.parse_args(
        ['--o', f'data_root={data_root}', *options]).o
    detector = ChangeDetector(
        osp.join(REPO_ROOT, config), checkpoint, cfg_options=cfg_options)
    root = osp.join(REPO_ROOT, data_root, 'test')
    names = sorted(
        osp.basename(p) for p in glob.glob(osp.join(root, 'A', '*.png')))
    if not names:
        sys.exit(f'deepcl benchmark: no test images in {root}/A')
    results = detector.predict([osp.join(root, 'A', n) for n in names],
                               [osp.join(root, 'B', n) for n in names],
                               batch_size=batch_size)
    confusion = np.zeros(4, dtype=np.int64)
    pseudo = np.zeros(4, dtype=np.int64)
    for name, result in zip(names, results):
        label = read_mask(osp.join(root, 'label', name))
        mask = read_mask(osp.join(root, 'pseudo', name))
        pred = result.change.astype(bool)
        confusion += binary_confusion(
            pred.astype(np.uint8), label.astype(np.uint8), name=name)
        pseudo += pseudo_counts(pred, label, mask)
    return dict(
        num_images=len(names),
        confusion=confusion.tolist(),
        pseudo_counts=pseudo.tolist(),
        **scores_from_counts(confusion, pseudo))


def summarize(rows: List[dict], variants: Sequence[str]) -> dict:
    """Mean and sample std over seeds per variant, and paired differences
    of each variant to ``host`` on the seeds both have."""
    summary = {}
    for variant in variants:
        own = [r for r in rows if r['variant'] == variant]
        if not own:
            continue
        entry = dict(seeds=[r['seed'] for r in own])
        for key in KEYS:
            values = [r[key] for r in own]
            entry[key] = statistics.mean(values)
            entry[key + '_std'] = (
                statistics.stdev(values) if len(values) > 1 else 0.0)
        host = {r['seed']: r for r in rows if r['variant'] == 'host'}
        if variant != 'host' and host:
            diffs = {
                key: [
                    r[key] - host[r['seed']][key] for r in own
                    if r['seed'] in host
                ]
                for key in KEYS
            }
            entry['diff_to_host'] = {
                key:
                dict(
                    per_seed=vals,
                    mean=statistics.mean(vals) if vals else None)
                for key, vals in diffs.items()
            }
        summary[variant] = entry
    return summary


def print_tables(rows: List[dict], summary: dict) -> None:
    """Markdown tables of the runs, the means and the differences."""
    print('\n| variant | seed | ' + ' | '.join(KEYS) + ' | train s |')
    print('| --- | ---: |' + ' ---: |' * (len(KEYS) + 1))
    for r in rows:
        print(f'| {NAMES[r["variant"]]} | {r["seed"]} | ' +
              ' | '.join(f'{r[k]:.2f}'
                         for k in KEYS) + f' | {r["train_seconds"]:.0f} |')
    print('\n| variant | seeds | ' + ' | '.join(KEYS) + ' |')
    print('| --- | --- |' + ' ---: |' * len(KEYS))
    for variant, s in summary.items():
        print(f'| {NAMES[variant]} | {len(s["seeds"])} | ' +
              ' | '.join(f'{s[k]:.2f} ± {s[k + "_std"]:.2f}'
                         for k in KEYS) + ' |')
    for variant, s in summary.items():
        if 'diff_to_host' in s:
            parts = []
            for k in ('F1', 'FPR_pseudo'):
                d = s['diff_to_host'][k]
                per = ', '.join(f'{v:+.2f}' for v in d['per_seed'])
                parts.append(f'{k} {d["mean"]:+.2f} ({per})')
            print(f'\n{NAMES[variant]} - host, per seed: ' + '; '.join(parts))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    py = sys.executable
    if not osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        run([
            py, 'tools/misc/make_synthetic_data.py', '--layout', 'levir',
            '--out', args.data_root, '--seed', '0'
        ], args.threads)
    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            config = CONFIGS[variant]
            work = osp.join(args.work_dir, variant, f'seed{seed}')
            score_file = osp.join(REPO_ROOT, work, 'scores.json')
            if args.reuse and osp.isfile(score_file):
                with open(score_file) as f:
                    rows.append(json.load(f))
                print(f'\nreusing {score_file}', flush=True)
                continue
            train_s = run([
                py, 'tools/train.py', config, '--work-dir', work,
                '--cfg-options', f'randomness.seed={seed}',
                f'data_root={args.data_root}', *args.cfg_options
            ], args.threads)
            ckpt = last_checkpoint(osp.join(REPO_ROOT, work))
            start = time.time()
            scores = evaluate(config, ckpt, args.data_root, args.cfg_options)
            row = dict(
                variant=variant,
                seed=seed,
                config=config,
                checkpoint=ckpt,
                params=count_parameters(config, args.cfg_options),
                train_seconds=round(train_s, 1),
                test_seconds=round(time.time() - start, 1),
                **scores)
            write_text(score_file, json.dumps(row, indent=2))
            print(
                f'\n{variant} seed {seed}: ' + ', '.join(f'{k} {row[k]:.2f}'
                                                         for k in KEYS),
                flush=True)
            rows.append(row)
    summary = summarize(rows, args.variants)
    print_tables(rows, summary)
    out = osp.join(REPO_ROOT, args.out_json
                   or osp.join(args.work_dir, 'results.json'))
    os.makedirs(osp.dirname(out), exist_ok=True)
    write_text(
        out,
        json.dumps(
            dict(
                seeds=args.seeds,
                data_root=args.data_root,
                threads=args.threads,
                machine=platform.machine(),
                cpu_count=os.cpu_count(),
                cfg_options=args.cfg_options,
                rows=rows,
                summary=summary),
            indent=2))
    print(f'\nresults: {out}')


if __name__ == '__main__':
    main()
