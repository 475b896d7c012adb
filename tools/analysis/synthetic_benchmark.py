"""Train and score method variants on the synthetic scenes, several seeds.

Usage::

    python tools/analysis/synthetic_benchmark.py --suite {frnet,lsafnet,deepcl}
        [--data-root DATA] [--work-dir WORK] [--variants V ...]
        [--seeds S ...] [--threads 2] [--reuse] [--cfg-options k=v ...]
        [--out-json FILE]

One script for the three synthetic benchmarks (it replaces
``frnet_synthetic_benchmark.py``, ``lsafnet_synthetic_benchmark.py`` and
``deepcl_synthetic_benchmark.py``). A suite, a row of :data:`SUITES`, names
its variants (config + overrides), the data, the default seeds, the metrics
and how they are measured:

* ``frnet``: FrNet (``configs/frnet/frnet_vgg16_synthetic-256.py``) and its
  Base Model (``..._base.py``, no Hopfield block) on the LEVIR-layout data;
  change-class F1, Precision, Recall, IoU, OA, Kappa from ``tools/test.py``.
* ``lsafnet``: LSAFNet (``configs/lsafnet/lsafnet_r34_synthetic-second-128
  .py``) and a Siamese baseline (``..._siam-baseline.py``), optionally
  ``base`` (Table III's "Base": the baseline with
  ``model.decode_head.change_from=decoder``) on the SECOND-layout data; OA,
  mIoU, SeK, Fscd from ``tools/test.py``.
* ``deepcl``: the half-width baseline host
  (``configs/deepcl/baseline_r18-w32_synthetic-256.py``), ``deepcl`` (loss +
  prior), ``noprior`` and ``bcl`` (``gamma = 0``), seeds 0 1 2; the test
  split is predicted with :class:`mmcd_ext.apis.ChangeDetector` and scored
  from counts pooled over the split: change-class F1, Precision, Recall,
  IoU, ``FPR_pseudo`` (share of the ``pseudo/`` mask pixels - unchanged
  pixels carrying only a pseudo-change, docs/synthetic_data.md - predicted
  changed) and ``FPR_other`` (the same on the other unchanged pixels).

For every seed, then every variant (one training at a time), it runs
``tools/train.py CONFIG --work-dir WORK/VARIANT/seedS --cfg-options
randomness.seed=S data_root=DATA [variant overrides] [k=v ...]`` and then
the suite's evaluation (``tools/test.py CONFIG CHECKPOINT --work-dir
WORK/VARIANT/seedS/test --cfg-options data_root=DATA ...``, or the
in-process pseudo-change scoring), printing each command first. Every run
writes ``WORK/VARIANT/seedS/scores.json``; with ``--reuse`` a run whose file
exists is not trained again. At the end it prints a Markdown table of the
runs (metrics in percent, parameters, wall-clock seconds of training and
evaluation), with several seeds the mean and sample standard deviation per
variant, and for ``deepcl`` the per-seed differences to ``host``; all
numbers go to ``--out-json`` (default ``WORK/results.json``). Missing data
are made with ``tools/misc/make_synthetic_data.py`` (seed 0). Child
processes get ``OMP_NUM_THREADS=--threads``, the in-process evaluation as
many torch threads.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import DictAction

from mmcd_ext.utils.atomic_files import write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

LEVIR_DATA = ('--layout', 'levir', '--seed', '0')
SECOND_DATA = ('--layout', 'second', '--size', '128', '--seed', '0')
CHANGE_KEYS = ('F1', 'Precision', 'Recall', 'IoU')


@dataclass(frozen=True)
class Variant:
    """One model of a suite.

    Args:
        config (str): Config path relative to the repository.
        name (str): Name in the tables.
        options (tuple[str]): ``key=value`` overrides of this variant, for
            training, evaluation and the parameter count. Defaults to ().
    """
    config: str
    name: str
    options: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A benchmark: variants, data, seeds, metrics and their evaluation.

    Args:
        variants (dict[str, Variant]): The variants by command-line name.
        default_variants (tuple[str]): Variants run without ``--variants``.
        data_root (str): Default ``--data-root``.
        data_args (tuple[str]): ``make_synthetic_data.py`` arguments (besides
            ``--out``) that make the data.
        seeds (tuple[int]): Default ``--seeds``.
        metrics (tuple[str]): Metrics of the tables, in percent.
        evaluation (str): ``'test_tool'`` (``tools/test.py`` and the metrics
            it writes) or ``'pseudo_change'`` (in-process prediction scored
            with the pseudo-change false positives).
        reference (str, optional): Variant the others are compared with,
            seed by seed. Defaults to None.
        diff_keys (tuple[str]): Metrics of those printed differences.
            Defaults to ().
        param_digits (int): Decimals of the parameter count (millions) in
            the table. Defaults to 2.
    """
    variants: Dict[str, Variant]
    default_variants: Tuple[str, ...]
    data_root: str
    data_args: Tuple[str, ...]
    seeds: Tuple[int, ...]
    metrics: Tuple[str, ...]
    evaluation: str
    reference: Optional[str] = None
    diff_keys: Tuple[str, ...] = field(default_factory=tuple)
    param_digits: int = 2


_LSAFNET = 'configs/lsafnet/lsafnet_r34_synthetic-second-128'
_DEEPCL = 'configs/deepcl/deepcl_baseline-r18-w32_synthetic-256'

SUITES: Dict[str, Suite] = {
    'frnet':
    Suite(
        variants={
            'frnet':
            Variant('configs/frnet/frnet_vgg16_synthetic-256.py', 'FrNet'),
            'base':
            Variant('configs/frnet/frnet_vgg16_synthetic-256_base.py',
                    'Base Model (no Hopfield block)'),
        },
        default_variants=('frnet', 'base'),
        data_root='data/synthetic_levir',
        data_args=LEVIR_DATA,
        seeds=(0, ),
        metrics=(*CHANGE_KEYS, 'OA', 'Kappa'),
        evaluation='test_tool'),
    'lsafnet':
    Suite(
        variants={
            'lsafnet':
            Variant(f'{_LSAFNET}.py', 'LSAFNet (LGAA, LGCE, late fusion)'),
            'baseline':
            Variant(f'{_LSAFNET}_siam-baseline.py',
                    'Siamese baseline (middle fusion, no LGAA/LGCE)'),
            'base':
            Variant(f'{_LSAFNET}_siam-baseline.py',
                    'Base (late fusion, no LGAA/LGCE)',
                    ('model.decode_head.change_from=decoder', )),
        },
        default_variants=('lsafnet', 'baseline'),
        data_root='data/synthetic_second',
        data_args=SECOND_DATA,
        seeds=(0, ),
        metrics=('OA', 'mIoU', 'SeK', 'Fscd'),
        evaluation='test_tool',
        param_digits=3),
    'deepcl':
    Suite(
        variants={
            'host':
            Variant('configs/deepcl/baseline_r18-w32_synthetic-256.py',
                    'host (half-width baseline)'),
            'deepcl':
            Variant(f'{_DEEPCL}.py', '+ DeepCL (loss + prior)'),
            'noprior':
            Variant(f'{_DEEPCL}_noprior.py', '+ DeepCL loss, no prior'),
            'bcl':
            Variant(f'{_DEEPCL}_bcl.py',
                    '+ DeepCL with gamma=0 (plain BCL) + prior'),
        },
        default_variants=('host', 'deepcl', 'noprior', 'bcl'),
        data_root='data/synthetic_levir',
        data_args=LEVIR_DATA,
        seeds=(0, 1, 2),
        metrics=(*CHANGE_KEYS, 'FPR_pseudo', 'FPR_other'),
        evaluation='pseudo_change',
        reference='host',
        diff_keys=('F1', 'FPR_pseudo')),
}


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed; the message says which."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring).

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments, with the suite's defaults filled
        in for ``--data-root``, ``--work-dir``, ``--variants`` and
        ``--seeds``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--suite', required=True, choices=list(SUITES))
    parser.add_argument(
        '--data-root', default=None, help="defaults to the suite's")
    parser.add_argument(
        '--work-dir',
        default=None,
        help='defaults to work_dirs/SUITE_bench (relative to the repository)')
    parser.add_argument(
        '--variants', nargs='+', default=None, help="defaults to the suite's")
    parser.add_argument(
        '--seeds',
        '--seed',
        nargs='+',
        type=int,
        default=None,
        help="randomness.seed of the trainings; defaults to the suite's")
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='threads of the child processes and the evaluation')
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
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    args.data_root = args.data_root or suite.data_root
    args.work_dir = args.work_dir or f'work_dirs/{args.suite}_bench'
    args.variants = args.variants or list(suite.default_variants)
    args.seeds = args.seeds if args.seeds is not None else list(suite.seeds)
    unknown = [v for v in args.variants if v not in suite.variants]
    if unknown:
        parser.error(f'--variants {" ".join(unknown)}: not in suite '
                     f'{args.suite} (choose from {", ".join(suite.variants)})')
    if args.threads < 1:
        parser.error('--threads must be >= 1')
    for option in args.cfg_options:
        if '=' not in option:
            parser.error(f'--cfg-options {option}: expected key=value')
    return args


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``key=value`` strings as the dict ``--cfg-options`` of a tool gives.

    Args:
        options (Sequence[str]): Overrides in mmengine's ``DictAction``
            syntax.

    Returns:
        dict: Dotted keys to parsed values.
    """
    namespace = argparse.Namespace()
    DictAction(
        option_strings=[], dest='cfg_options')(None, namespace, list(options))
    return namespace.cfg_options


def run(cmd: List[str], threads: int) -> float:
    """Run a command from the repository root; return its seconds.

    Args:
        cmd (list[str]): The command.
        threads (int): ``OMP_NUM_THREADS`` of the child.

    Returns:
        float: Wall-clock seconds.

    Raises:
        BenchmarkError: If the command fails.
    """
    print('\n$ ' + ' '.join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.time()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env)
    if proc.returncode != 0:
        raise BenchmarkError(f'command failed (exit {proc.returncode}): ' +
                             ' '.join(cmd))
    return time.time() - start


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint the Runner recorded last in ``work_dir``.

    Args:
        work_dir (str): Work directory of a training (relative to the
            repository or absolute).

    Returns:
        str: Absolute path of the checkpoint.
    """
    marker = osp.join(REPO_ROOT, work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        raise BenchmarkError(f'no last_checkpoint in {work_dir} (did the '
                             'training save a checkpoint?)')
    with open(marker) as f:
        return osp.join(REPO_ROOT, f.read().strip())


def read_test_metrics(test_dir: str) -> Dict[str, float]:
    """The metrics json ``tools/test.py`` wrote last under ``test_dir``.

    Args:
        test_dir (str): ``--work-dir`` of ``tools/test.py``.

    Returns:
        dict[str, float]: The metrics.
    """
    files = sorted(
        glob.glob(osp.join(REPO_ROOT, test_dir, '*', '*.json')),
        key=osp.getmtime)
    if not files:
        raise BenchmarkError(f'no metrics json under {test_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def count_parameters(config: str, options: Sequence[str]) -> int:
    """Parameters of the model a config builds with the overrides.

    Args:
        config (str): Config path relative to the repository.
        options (Sequence[str]): ``key=value`` overrides.

    Returns:
        int: Number of parameters.
    """
    from mmcd_ext.apis import init_model
    from mmcd_ext.utils.analysis import count_parameters as count
    model = init_model(
        osp.join(REPO_ROOT, config), cfg_options=parse_cfg_options(options))
    return count(model)[0]


def read_mask(path: str) -> np.ndarray:
    """A 0/255 single-channel PNG as a bool array (H, W)."""
    import cv2
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(f'cannot read the mask {path}')
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
        raise ValueError(f'shapes differ: prediction {pred.shape}, label '
                         f'{label.shape}, pseudo mask {pseudo.shape}')
    if np.any(pseudo & label):
        raise ValueError('the pseudo-change mask overlaps the change label')
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
    out = {k: 100.0 * scores[k] for k in CHANGE_KEYS}
    fp_pseudo, n_pseudo, fp_other, n_other = (int(v) for v in pseudo)
    out['FPR_pseudo'] = 100.0 * fp_pseudo / max(n_pseudo, 1)
    out['FPR_other'] = 100.0 * fp_other / max(n_other, 1)
    return out


def evaluate_pseudo_change(config: str,
                           checkpoint: str,
                           data_root: str,
                           options: Sequence[str],
                           batch_size: int = 4) -> dict:
    """Predict the test split and score it with the pseudo-change counts.

    Args:
        config (str): Config path relative to the repository.
        checkpoint (str): The trained weights.
        data_root (str): Data root (with ``test/{A,B,label,pseudo}``).
        options (Sequence[str]): ``key=value`` overrides of the config.
        batch_size (int): Pairs per model call. Defaults to 4.

    Returns:
        dict: ``num_images``, pooled ``confusion`` ``[TP, FP, FN, TN]``,
        ``pseudo_counts`` (see :func:`pseudo_counts`) and the scores of
        :func:`scores_from_counts`.
    """
    from mmcd_ext.apis import ChangeDetector
    from mmcd_ext.evaluation.functional import binary_confusion
    detector = ChangeDetector(
        osp.join(REPO_ROOT, config),
        checkpoint,
        cfg_options=parse_cfg_options([f'data_root={data_root}', *options]))
    root = osp.join(REPO_ROOT, data_root, 'test')
    names = sorted(
        osp.basename(p) for p in glob.glob(osp.join(root, 'A', '*.png')))
    if not names:
        raise BenchmarkError(f'no test images in {root}/A')
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


def run_variant(suite: Suite, name: str, seed: int,
                args: argparse.Namespace) -> dict:
    """Train one variant with one seed, evaluate it, count its parameters.

    Args:
        suite (Suite): The suite.
        name (str): The variant.
        seed (int): ``randomness.seed`` of the training.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        dict: The row: ``variant``, ``model``, ``seed``, ``config``,
        ``options``, ``checkpoint``, ``params``, ``train_seconds``,
        ``test_seconds`` and the metrics.
    """
    variant = suite.variants[name]
    options = [*variant.options, *args.cfg_options]
    data_opt = f'data_root={args.data_root}'
    work = osp.join(args.work_dir, name, f'seed{seed}')
    py = sys.executable
    train_s = run([
        py, 'tools/train.py', variant.config, '--work-dir', work,
        '--cfg-options', f'randomness.seed={seed}', data_opt, *options
    ], args.threads)
    ckpt = last_checkpoint(work)
    if suite.evaluation == 'test_tool':
        test_dir = osp.join(work, 'test')
        test_s = run([
            py, 'tools/test.py', variant.config, ckpt, '--work-dir', test_dir,
            '--cfg-options', data_opt, *options
        ], args.threads)
        metrics = read_test_metrics(test_dir)
        scores = {k: metrics[k] for k in suite.metrics}
    else:
        start = time.time()
        scores = evaluate_pseudo_change(variant.config, ckpt, args.data_root,
                                        options)
        test_s = time.time() - start
    return dict(
        variant=name,
        model=variant.name,
        seed=seed,
        config=variant.config,
        options=list(variant.options),
        checkpoint=ckpt,
        params=count_parameters(variant.config, options),
        train_seconds=round(train_s, 1),
        test_seconds=round(test_s, 1),
        **scores)


def summarize(rows: List[dict],
              variants: Sequence[str],
              keys: Sequence[str],
              reference: Optional[str] = None) -> dict:
    """Mean and sample std over the seeds of each variant.

    With a ``reference`` variant, each other variant also gets
    ``diff_to_<reference>``: per metric, its differences to the reference
    on the seeds both have (``per_seed``) and their ``mean``.

    Args:
        rows (list[dict]): One row per run (``variant``, ``seed``, metrics).
        variants (Sequence[str]): Variants, in table order.
        keys (Sequence[str]): Metrics.
        reference (str, optional): The reference variant. Defaults to None.

    Returns:
        dict: Per variant ``seeds``, ``KEY`` and ``KEY_std`` (0 for one
        seed) and the differences.
    """
    summary = {}
    ref = {r['seed']: r for r in rows if r['variant'] == reference}
    for variant in variants:
        own = [r for r in rows if r['variant'] == variant]
        if not own:
            continue
        entry = dict(seeds=[r['seed'] for r in own])
        for key in keys:
            values = [r[key] for r in own]
            entry[key] = statistics.mean(values)
            entry[key + '_std'] = (
                statistics.stdev(values) if len(values) > 1 else 0.0)
        if reference is not None and variant != reference and ref:
            diffs = {
                key: [
                    r[key] - ref[r['seed']][key] for r in own
                    if r['seed'] in ref
                ]
                for key in keys
            }
            entry[f'diff_to_{reference}'] = {
                key:
                dict(
                    per_seed=vals,
                    mean=statistics.mean(vals) if vals else None)
                for key, vals in diffs.items()
            }
        summary[variant] = entry
    return summary


def format_tables(suite: Suite, rows: List[dict], summary: dict) -> str:
    """Markdown tables of the runs, the means and the differences.

    Args:
        suite (Suite): The suite (metrics, names, reference).
        rows (list[dict]): The runs.
        summary (dict): Output of :func:`summarize`.

    Returns:
        str: The tables.
    """
    keys = suite.metrics
    lines = [
        '| model | seed | ' + ' | '.join(keys) +
        ' | params | train s | test s |',
        '| --- | ---: |' + ' ---: |' * (len(keys) + 3)
    ]
    for r in rows:
        lines.append(f'| {r["model"]} | {r["seed"]} | ' +
                     ' | '.join(f'{r[k]:.2f}' for k in keys) +
                     f' | {r["params"] / 1e6:.{suite.param_digits}f} M | '
                     f'{r["train_seconds"]:.0f} | {r["test_seconds"]:.0f} |')
    if any(len(s['seeds']) > 1 for s in summary.values()):
        lines += [
            '', '| model | seeds | ' + ' | '.join(keys) + ' |',
            '| --- | --- |' + ' ---: |' * len(keys)
        ]
        for variant, s in summary.items():
            lines.append(f'| {suite.variants[variant].name} | '
                         f'{len(s["seeds"])} | ' +
                         ' | '.join(f'{s[k]:.2f} ± {s[k + "_std"]:.2f}'
                                    for k in keys) + ' |')
    diff_key = f'diff_to_{suite.reference}'
    for variant, s in summary.items():
        if diff_key not in s:
            continue
        parts = []
        for k in suite.diff_keys:
            d = s[diff_key][k]
            per = ', '.join(f'{v:+.2f}' for v in d['per_seed'])
            parts.append(f'{k} {d["mean"]:+.2f} ({per})')
        lines.append(f'\n{suite.variants[variant].name} - '
                     f'{suite.reference}, per seed: ' + '; '.join(parts))
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run a suite, print its tables and write the results.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        dict: What was written to ``--out-json``.
    """
    args = parse_args(argv)
    suite = SUITES[args.suite]
    import torch
    torch.set_num_threads(args.threads)
    if not osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        run([
            sys.executable, 'tools/misc/make_synthetic_data.py',
            *suite.data_args, '--out', args.data_root
        ], args.threads)
    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            score_file = osp.join(REPO_ROOT, args.work_dir, variant,
                                  f'seed{seed}', 'scores.json')
            if args.reuse and osp.isfile(score_file):
                with open(score_file) as f:
                    rows.append(json.load(f))
                print(f'\nreusing {score_file}', flush=True)
                continue
            row = run_variant(suite, variant, seed, args)
            write_text(score_file, json.dumps(row, indent=2))
            print(
                f'\n{variant} seed {seed}: ' +
                ', '.join(f'{k} {row[k]:.2f}' for k in suite.metrics),
                flush=True)
            rows.append(row)
    summary = summarize(rows, args.variants, suite.metrics, suite.reference)
    print('\n' + format_tables(suite, rows, summary))
    out = osp.join(REPO_ROOT, args.out_json
                   or osp.join(args.work_dir, 'results.json'))
    os.makedirs(osp.dirname(out), exist_ok=True)
    result = dict(
        suite=args.suite,
        seeds=args.seeds,
        data_root=args.data_root,
        threads=args.threads,
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        cfg_options=args.cfg_options,
        rows=rows,
        summary=summary)
    write_text(out, json.dumps(result, indent=2))
    print(f'\nresults: {out}')
    return result


if __name__ == '__main__':
    try:
        main()
    except BenchmarkError as err:
        sys.exit(f'synthetic benchmark: {err}')
