"""Peak memory of large-scene inference against the scene size.

Usage::

    python tools/analysis/infer_memory_benchmark.py \\
        [--sizes 2048 4096] [--tile 512] [--overlap 64] [--batch-size 4] \\
        [--work-dir DIR] [--keep] [--out-json FILE] [--naive]

For each size ``S`` the tool writes a synthetic ``S x S`` 3-band uint8
GeoTIFF pair (deflate-compressed, written in strips, with a few planted
changes), then runs ``tools/infer.py`` on it in a fresh subprocess and reads
that process' peak resident set size from ``os.wait4`` (the kernel's
``ru_maxrss`` of exactly that child). The model is a small Siamese
ResNet-18-style network (16 base channels) with random weights, written with
its config into the work folder; weights do not change memory.

``--naive`` adds, per size, a run of a deliberately unbounded variant in a
subprocess: the whole scene is read into memory and its probabilities are
accumulated in whole-scene arrays (what tiled inference without strips
would do; same tiles, weights and batches), for comparison.

The peak of a run = interpreter + torch/mmseg + model + activations of one
batch of tiles (independent of the scene) + the strip buffers (``tile x
width``, growing with the width only) + GDAL's block cache (capped by
``--gdal-cache-mb``). A scene 4x larger in pixels should therefore need far
less than 4x the memory.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from mmcd_ext.utils.analysis import write_synthetic_scene_pair
from mmcd_ext.utils.atomic_files import write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: The small model the benchmark runs (random weights).
MODEL_CONFIG = '''
default_scope = 'mmcd_ext'
custom_imports = dict(imports=['mmcd_ext'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='SiamEncoderDecoder',
    data_preprocessor=dict(
        type='DualInputSegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=32),
    backbone=dict(
        type='mmseg.ResNet', depth=18, stem_channels=16, base_channels=16,
        num_stages=4, out_indices=(0, 1, 2, 3), norm_cfg=norm_cfg,
        style='pytorch', init_cfg=None),
    neck=dict(type='BitemporalFusionNeck', policy='abs_diff'),
    decode_head=dict(
        type='mmseg.UPerHead', in_channels=[16, 32, 64, 128],
        in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6), channels=32,
        dropout_ratio=0.0, num_classes=2, norm_cfg=norm_cfg,
        align_corners=False),
    test_cfg=dict(mode='whole'))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadBitemporalImages'),
    dict(type='PackCDInputs'),
]))
'''

#: The unbounded comparison: the whole scene and whole-scene accumulators.
NAIVE_SCRIPT = '''
import sys
import numpy as np
import rasterio
from mmcd_ext.apis import ChangeDetector
from mmcd_ext.apis.tiling import TileGrid
cfg, ckpt, path_a, path_b, tile, overlap, batch = sys.argv[1:8]
tile, overlap, batch = int(tile), int(overlap), int(batch)
det = ChangeDetector(cfg, ckpt)
with rasterio.open(path_a) as a, rasterio.open(path_b) as b:
    img_a = a.read(out_dtype='float32').transpose(1, 2, 0)
    img_b = b.read(out_dtype='float32').transpose(1, 2, 0)
grid = TileGrid(img_a.shape[0], img_a.shape[1], tile, overlap)
total = np.zeros(img_a.shape[:2], np.float32)
weight = np.zeros(img_a.shape[:2], np.float32)
rw, cw = grid.window_weights()
windows = [(i, j, y, x) for i, y in enumerate(grid.row_starts)
           for j, x in enumerate(grid.col_starts)]
for k in range(0, len(windows), batch):
    part = windows[k:k + batch]
    crops_a = [img_a[y:y + tile, x:x + tile] for _, _, y, x in part]
    crops_b = [img_b[y:y + tile, x:x + tile] for _, _, y, x in part]
    results = det.predict(crops_a, crops_b, return_probs=True,
                          channel_order='rgb', batch_size=batch)
    for (i, j, y, x), res in zip(part, results):
        w = np.outer(rw[i], cw[j]).astype(np.float32)
        total[y:y + tile, x:x + tile] += w * res.change_prob
        weight[y:y + tile, x:x + tile] += w
change = (total / weight > 0.5).astype(np.uint8)
print(int(change.sum()))
'''


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Peak RSS of tools/infer.py on synthetic GeoTIFF scenes '
        'of growing size')
    parser.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=[2048, 4096],
        help='scene sides in pixels (square scenes). Defaults to 2048 4096')
    parser.add_argument(
        '--tile', type=int, default=512, help='tile side. Defaults to 512')
    parser.add_argument(
        '--overlap', type=int, default=64, help='tile overlap. Defaults to 64')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=4,
        help='tiles per model call. Defaults to 4')
    parser.add_argument(
        '--gdal-cache-mb',
        type=int,
        default=64,
        help='GDAL block cache of the runs. Defaults to 64')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='OMP/torch threads of the runs. Defaults to 2')
    parser.add_argument(
        '--naive',
        action='store_true',
        help='also measure whole-scene accumulation, for comparison')
    parser.add_argument(
        '--work-dir',
        default=None,
        help='where scenes and outputs go. Defaults to a temporary folder, '
        'removed at the end unless --keep')
    parser.add_argument(
        '--keep', action='store_true', help='keep the work folder')
    parser.add_argument(
        '--out-json', default=None, help='also write the results as JSON')
    args = parser.parse_args(argv)
    if any(s < 64 for s in args.sizes):
        parser.error('--sizes must be >= 64')
    return args


def run_measured(cmd: List[str], env: Dict[str, str],
                 log_path: str) -> Dict[str, float]:
    """Run ``cmd``; return its peak RSS (MiB), wall time and exit code.

    ``os.wait4`` returns the resource usage of exactly this child, so runs
    do not contaminate each other (``RUSAGE_CHILDREN`` would report the
    maximum over every child so far).
    """
    start = time.monotonic()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    # Linux reports ru_maxrss in KiB
    return dict(
        peak_rss_mib=usage.ru_maxrss / 1024.0,
        seconds=seconds,
        returncode=proc.returncode)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    import torch

    from mmcd_ext.apis import init_model

    work = args.work_dir or tempfile.mkdtemp(prefix='infer_mem_')
    os.makedirs(work, exist_ok=True)
    cfg_path = osp.join(work, 'small_model.py')
    with open(cfg_path, 'w') as f:
        f.write(MODEL_CONFIG)
    ckpt_path = osp.join(work, 'small_model.pth')
    torch.manual_seed(0)
    model = init_model(cfg_path)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt_path)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    rows = []
    try:
        for size in args.sizes:
            path_a = osp.join(work, f'scene{size}_a.tif')
            path_b = osp.join(work, f'scene{size}_b.tif')
            write_synthetic_scene_pair(path_a, path_b, size)
            cmd = [
                sys.executable,
                osp.join(REPO_ROOT, 'tools', 'infer.py'), cfg_path, ckpt_path,
                '--a', path_a, '--b', path_b, '--out',
                osp.join(work, f'out{size}'), '--tile',
                str(args.tile), '--overlap',
                str(args.overlap), '--batch-size',
                str(args.batch_size), '--gdal-cache-mb',
                str(args.gdal_cache_mb), '--no-progress'
            ]
            log = osp.join(work, f'infer{size}.log')
            row = dict(
                size=size,
                pixels=size * size,
                mode='strips',
                **run_measured(cmd, env, log))
            if row['returncode'] != 0:
                print(open(log).read()[-3000:], file=sys.stderr)
                raise RuntimeError(f'tools/infer.py failed on {size}x{size}'
                                   f' (log {log})')
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.naive:
                script = osp.join(work, 'naive.py')
                with open(script, 'w') as f:
                    f.write(NAIVE_SCRIPT)
                cmd = [
                    sys.executable, script, cfg_path, ckpt_path, path_a,
                    path_b,
                    str(args.tile),
                    str(args.overlap),
                    str(args.batch_size)
                ]
                log = osp.join(work, f'naive{size}.log')
                row = dict(
                    size=size,
                    pixels=size * size,
                    mode='whole-scene',
                    **run_measured(cmd, env, log))
                if row['returncode'] != 0:
                    print(open(log).read()[-3000:], file=sys.stderr)
                    raise RuntimeError(f'naive run failed on {size}x{size}')
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f'tile {args.tile}, overlap {args.overlap}, batch '
          f'{args.batch_size}, GDAL cache {args.gdal_cache_mb} MiB, '
          f'{args.threads} thread(s)')
    print(f'{"mode":<12} {"scene":>11} {"Mpx":>7} {"peak RSS MiB":>13} '
          f'{"seconds":>8}')
    for row in rows:
        print(f'{row["mode"]:<12} {row["size"]:>5}x{row["size"]:<5} '
              f'{row["pixels"] / 1e6:7.1f} {row["peak_rss_mib"]:13.0f} '
              f'{row["seconds"]:8.1f}')
    for mode in ('strips', 'whole-scene'):
        sel = [r for r in rows if r['mode'] == mode]
        if len(sel) >= 2:
            lo, hi = sel[0], sel[-1]
            print(f'{mode}: {hi["pixels"] / lo["pixels"]:.1f}x the pixels '
                  f'-> {hi["peak_rss_mib"] / lo["peak_rss_mib"]:.2f}x the '
                  f'peak RSS (+{hi["peak_rss_mib"] - lo["peak_rss_mib"]:.0f}'
                  ' MiB)')
    if args.out_json:
        write_text(args.out_json,
                   json.dumps(dict(args=vars(args), runs=rows), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
