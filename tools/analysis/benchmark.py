"""Training and inference speed of a change detection model.

Usage::

    python tools/analysis/benchmark.py CONFIG --shape H [W]
        [--batch-size B] [--iters N] [--warmup K] [--mode train|infer|both]
        [--device cpu|cuda] [--checkpoint CKPT] [--in-channels C]
        [--scd NUM_CLASSES] [--threads T] [--cfg-options k=v ...]
        [--out-json FILE]

No dataset is read. Every iteration gets a fresh random batch of ``B``
image pairs: ``inputs`` are uint8 tensors ``(2C, H, W)`` (date A channels,
then date B) and each ``SegDataSample`` holds a random binary change label
``gt_sem_seg`` ``(1, H, W)`` in {0, 1}; with ``--scd K`` also semantic labels
``gt_sem_seg_a``/``gt_sem_seg_b`` with classes 1..K-1 on changed pixels and
0 (no change) elsewhere. The batch is made outside the timed region.

* ``train``: ``model.train_step(batch, optim_wrapper)`` -- data
  preprocessing, forward, loss, backward and optimizer step -- with the
  optimizer wrapper built from the config's ``optim_wrapper``.
* ``infer``: ``model.test_step(batch)`` under ``torch.no_grad()`` --
  preprocessing and ``predict`` with the config's ``test_cfg`` (whole or
  slide inference).

``both`` runs ``infer`` first, then ``train``. Reported per mode: seconds per
iteration and pairs per second (mean +- std over the timed iterations, after
``--warmup`` untimed ones), the overall pairs/s, and peak memory: the process'
peak RSS on CPU (``resource.getrusage``; it never decreases, so ``train``
after ``infer`` includes everything before it) or ``max_memory_allocated`` on
CUDA (reset per mode). Without ``--checkpoint`` the weights are random and no
pretrained weights are read (``init_weights()`` is not called); speed does not
depend on them.
"""
import argparse
import json
import platform
import resource
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from mmcd_ext.apis import init_model
from mmcd_ext.utils.analysis import parse_shape
from mmcd_ext.utils.atomic_files import write_text
from mmcd_ext.utils.cli import tool_errors

MODES = ('infer', 'train')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Benchmark training and inference speed of a change '
        'detection model on random image pairs')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--checkpoint',
        default=None,
        help='weights to load, strictly (optional; speed does not depend '
        'on them)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[256],
        help='size of each date: H (square) or H W. Defaults to 256')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=2,
        help='image pairs per iteration. Defaults to 2')
    parser.add_argument(
        '--iters',
        type=int,
        default=10,
        help='timed iterations per mode. Defaults to 10')
    parser.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='untimed iterations before timing. Defaults to 2')
    parser.add_argument(
        '--mode',
        choices=['train', 'infer', 'both'],
        default='both',
        help='what to time. Defaults to both')
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        default='cpu',
        help='device. Defaults to cpu')
    parser.add_argument(
        '--in-channels',
        type=int,
        default=3,
        help='channels C of ONE date; inputs have 2C channels. Defaults to 3')
    parser.add_argument(
        '--scd',
        type=int,
        default=None,
        metavar='NUM_CLASSES',
        help='also fill semantic labels gt_sem_seg_a/b with NUM_CLASSES '
        'classes (0 = no change), for semantic change models')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch intra-op threads (torch.set_num_threads). Defaults to '
        "torch's choice")
    parser.add_argument(
        '--seed', type=int, default=0, help='random seed. Defaults to 0')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    parser.add_argument(
        '--out-json', default=None, help='also write the results as JSON')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'iters', 'in_channels'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if args.scd is not None and args.scd < 2:
        parser.error('--scd NUM_CLASSES must be >= 2 (class 0 is no change)')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


def make_batch(batch_size: int,
               height: int,
               width: int,
               in_channels: int = 3,
               scd_classes: Optional[int] = None,
               generator: Optional[torch.Generator] = None) -> dict:
    """A random batch shaped like the output of ``PackCDInputs`` + collate.

    Args:
        batch_size (int): Number of image pairs B.
        height (int): Height H of each date.
        width (int): Width W of each date.
        in_channels (int): Channels C of one date. Defaults to 3.
        scd_classes (int, optional): If set, add ``gt_sem_seg_a``/``_b``
            with classes 1..K-1 where the change label is 1 and 0 elsewhere.
            Defaults to None.
        generator (torch.Generator, optional): Random generator. Defaults to
            None (torch's global one).

    Returns:
        dict: ``inputs``: list of B uint8 tensors ``(2C, H, W)``;
        ``data_samples``: list of B ``SegDataSample`` with ``gt_sem_seg``
        (int64 ``(1, H, W)`` in {0, 1}) and, with ``scd_classes``,
        ``gt_sem_seg_a``/``gt_sem_seg_b`` (int64 ``(1, H, W)``).
    """
    inputs, samples = [], []
    meta = dict(
        img_shape=(height, width),
        ori_shape=(height, width),
        pad_shape=(height, width),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        img_path='random_A.png',
        img_path2='random_B.png',
        seg_map_path='random_label.png',
        reduce_zero_label=False)

    def randint(low: int, high: int, dtype: torch.dtype) -> torch.Tensor:
        return torch.randint(
            low, high, (1, height, width), generator=generator, dtype=dtype)

    for _ in range(batch_size):
        inputs.append(
            torch.randint(
                0,
                256, (2 * in_channels, height, width),
                generator=generator,
                dtype=torch.uint8))
        sample = SegDataSample(metainfo=meta)
        change = randint(0, 2, torch.int64)
        sample.gt_sem_seg = PixelData(data=change)
        if scd_classes is not None:
            sample.gt_sem_seg_a = PixelData(
                data=randint(1, scd_classes, torch.int64) * change)
            sample.gt_sem_seg_b = PixelData(
                data=randint(1, scd_classes, torch.int64) * change)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _sync(device: str) -> None:
    """Wait for queued CUDA work so timings are real."""
    if device == 'cuda':
        torch.cuda.synchronize()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return int(usage if platform.system() == 'Darwin' else usage * 1024)


def time_iterations(step: Callable[[], object],
                    make: Callable[[], dict],
                    iters: int,
                    warmup: int,
                    device: str = 'cpu') -> List[float]:
    """Seconds of each timed call of ``step(batch)``.

    Args:
        step (Callable): Called with a fresh batch each iteration.
        make (Callable): Makes the batch (outside the timed region).
        iters (int): Timed iterations.
        warmup (int): Untimed iterations first.
        device (str): ``'cuda'`` synchronises around each call.
            Defaults to 'cpu'.

    Returns:
        list[float]: ``iters`` durations in seconds.
    """
    times = []
    for i in range(warmup + iters):
        batch = make()
        _sync(device)
        start = time.perf_counter()
        step(batch)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def summarize(times: List[float], batch_size: int) -> Dict[str, float]:
    """Statistics of per-iteration durations.

    Args:
        times (list[float]): Seconds per iteration.
        batch_size (int): Image pairs per iteration.

    Returns:
        dict: ``time_mean``/``time_std`` (s/iter), ``pairs_per_s_mean``/
        ``pairs_per_s_std`` (of ``batch_size / t`` over iterations; std with
        ddof=1, 0 for one iteration) and ``pairs_per_s_overall``
        (``batch_size * iters / sum(times)``).
    """
    t = np.asarray(times, dtype=np.float64)
    rate = batch_size / t
    ddof = 1 if len(t) > 1 else 0
    return dict(
        time_mean=float(t.mean()),
        time_std=float(t.std(ddof=ddof)),
        pairs_per_s_mean=float(rate.mean()),
        pairs_per_s_std=float(rate.std(ddof=ddof)),
        pairs_per_s_overall=float(batch_size * len(t) / t.sum()))


def benchmark_mode(mode: str, model: nn.Module, cfg: Config,
                   args: argparse.Namespace,
                   generator: torch.Generator) -> Dict[str, object]:
    """Time one mode.

    Args:
        mode (str): ``'train'`` or ``'infer'``.
        model (nn.Module): The model, already on ``args.device``.
        cfg (Config): The config (for ``optim_wrapper``).
        args (argparse.Namespace): Parsed command-line arguments.
        generator (torch.Generator): Random generator for the batches.

    Returns:
        dict: :func:`summarize`'s statistics plus ``peak_memory_bytes``,
        ``memory_kind`` and, for train, the last ``loss``.
    """
    height, width = parse_shape(args.shape)

    def make() -> dict:
        return make_batch(args.batch_size, height, width, args.in_channels,
                          args.scd, generator)

    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    extra: Dict[str, object] = {}
    if mode == 'train':
        if 'optim_wrapper' not in cfg:
            raise KeyError(f'{args.config}: no `optim_wrapper` in the config;'
                           ' --mode train needs it (or use --mode infer)')
        from mmengine.optim import build_optim_wrapper
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        model.train()
        last: Dict[str, torch.Tensor] = {}

        def step(batch: dict) -> None:
            last.update(model.train_step(batch, optim_wrapper))

        times = time_iterations(step, make, args.iters, args.warmup,
                                args.device)
        loss = float(torch.as_tensor(last['loss']).detach()) \
            if 'loss' in last else float('nan')
        if not np.isfinite(loss):
            raise FloatingPointError(f'{args.config}: training loss is {loss}'
                                     ' on random data; check the config')
        extra['loss'] = loss
    else:
        model.eval()

        def step(batch: dict) -> None:
            with torch.no_grad():
                out = model.test_step(batch)
            if len(out) != args.batch_size:
                raise RuntimeError(
                    f'{args.config}: test_step returned {len(out)} samples '
                    f'for a batch of {args.batch_size}')

        times = time_iterations(step, make, args.iters, args.warmup,
                                args.device)
    result: Dict[str, object] = summarize(times, args.batch_size)
    if args.device == 'cuda':
        result['peak_memory_bytes'] = int(torch.cuda.max_memory_allocated())
        result['memory_kind'] = 'cuda max_memory_allocated'
    else:
        result['peak_memory_bytes'] = peak_rss_bytes()
        result['memory_kind'] = 'process peak RSS'
    result.update(extra)
    return result


def run_benchmark(args: argparse.Namespace) -> Dict[str, object]:
    """Build the model and time the requested modes.

    Args:
        args (argparse.Namespace): Parsed command-line arguments.

    Returns:
        dict: Settings (``config``, ``device``, ``input_shape`` per date,
        ``batch_size``, ``iters``, ``warmup``, ``torch_threads``, ...) and
        ``results`` with one entry per mode.
    """
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was given but torch sees no CUDA '
                           'device; use --device cpu')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    height, width = parse_shape(args.shape)
    torch.manual_seed(args.seed)
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    # one process: SyncBN (kept by init_model on CUDA) would need a process
    # group in a train step
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(model)
    cfg = model.cfg
    generator = torch.Generator().manual_seed(args.seed)
    modes = MODES if args.mode == 'both' else (args.mode, )
    results = {
        mode: benchmark_mode(mode, model, cfg, args, generator)
        for mode in modes
    }
    return dict(
        config=args.config,
        checkpoint=args.checkpoint,
        device=args.device,
        input_shape=[args.in_channels, height, width],
        model_input_shape=[
            args.batch_size, 2 * args.in_channels, height, width
        ],
        batch_size=args.batch_size,
        iters=args.iters,
        warmup=args.warmup,
        scd_classes=args.scd,
        torch_threads=torch.get_num_threads(),
        torch_version=torch.__version__,
        unit='image pairs / s',
        results=results)


def format_result(out: Dict[str, object]) -> str:
    """Readable table of :func:`run_benchmark`'s output.

    Args:
        out (dict): Output of :func:`run_benchmark`.

    Returns:
        str: The table.
    """
    c, h, w = out['input_shape']
    lines = [
        '=' * 78,
        f'config: {out["config"]}',
        f'device: {out["device"]}   torch threads: {out["torch_threads"]}   '
        f'torch {out["torch_version"]}',
        f'batch: {out["batch_size"]} pairs of ({c}, {h}, {w}) -> inputs '
        f'{tuple(out["model_input_shape"])}   iters: {out["iters"]} '
        f'(+{out["warmup"]} warm-up)' +
        (f'   SCD classes: {out["scd_classes"]}'
         if out['scd_classes'] else ''),
        '-' * 78,
        f'{"mode":<6} {"time/iter (ms)":>18} {"pairs/s":>18} '
        f'{"overall pairs/s":>15} {"peak mem (MiB)":>15}',
    ]
    for mode, r in out['results'].items():
        t = f'{r["time_mean"] * 1e3:.1f} ± {r["time_std"] * 1e3:.1f}'
        rate = f'{r["pairs_per_s_mean"]:.2f} ± {r["pairs_per_s_std"]:.2f}'
        mem = r['peak_memory_bytes'] / 2**20
        lines.append(f'{mode:<6} {t:>18} {rate:>18} '
                     f'{r["pairs_per_s_overall"]:>15.2f} {mem:>15.1f}')
    kind = next(iter(out['results'].values()))['memory_kind']
    lines.append('-' * 78)
    lines.append(f'peak memory: {kind}' +
                 (' (cumulative: train includes infer)' if
                  out['device'] == 'cpu' and len(out['results']) > 1 else ''))
    lines.append('=' * 78)
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    """Run the benchmark, print the table, optionally write JSON.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        dict: The output of :func:`run_benchmark`.
    """
    args = parse_args(argv)
    out = run_benchmark(args)
    print(format_result(out))
    if args.out_json:
        write_text(args.out_json, json.dumps(out, indent=2))
        print(f'Results written to {args.out_json}')
    return out


if __name__ == '__main__':
    with tool_errors('tools/analysis/benchmark.py', '--debug' in sys.argv[1:]):
        main()
