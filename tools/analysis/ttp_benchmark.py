"""Speed and memory of TTP's SAM encoder: our variants against a reference
built from ``segment_anything``'s ``ImageEncoderViT``.

Usage::

    OMP_NUM_THREADS=2 python tools/analysis/ttp_benchmark.py --shape 512 \
        --batch-size 2 --rounds 3 [--iters 1] [--warmup 1] [--threads 2] \
        [--variants default cp-mlp cp-all sam-reference] \
        [--modes train infer] [--baseline-repo PATH] [--out-json FILE]

Variants (``configs/ttp/ttp_sam-b_levir.py`` with random weights):

* ``default`` -- the config as it is (``attn_impl='fused'``, no
  checkpointing);
* ``fused-mask``, ``eager`` -- ``model.backbone.attn_impl`` switched;
* ``cp-mlp``, ``cp-attn``, ``cp-windowed``, ``cp-all`` --
  ``model.backbone.with_cp`` at that level;
* ``sam-reference`` -- the same segmentor, head, LoRA (``QKVLoRALinear``
  on every block's ``qkv``) and time-travelling gates (after the global
  blocks), around ``segment_anything``'s ``ImageEncoderViT`` instead of
  ``SAMLoRAViT``: the public implementation as the reference;
* ``baseline`` (only with ``--baseline-repo PATH``) -- the ``default``
  variant run from another checkout of this repository (e.g. the commit
  before a change), so old and new code are measured side by side;
* ``default-no-malloc``, ``baseline-malloc`` -- every variant's process
  first tunes glibc's malloc as the tools do
  (``mmcd_ext/utils/cpu_malloc.py``) except ``baseline`` (the old
  checkout's tools did not); these two swap that, so the effect of the
  allocator and of the code changes can be told apart.

Each measurement is this script's ``--worker`` mode in a fresh process (so
the process' peak RSS belongs to that variant and mode alone): build the
model, run ``--warmup`` untimed and ``--iters`` timed steps (train =
``train_step`` with the config's optimizer wrapper, infer = ``test_step``
under ``no_grad``) on random pairs, report the mean time and the peak RSS.
The variants are interleaved, round after round, so a load change on a
shared machine hits all of them. The ``cp-*`` variants run in ``train``
mode only (checkpointing acts in training; their inference is
``default``'s). The table gives the median over the rounds
of each run's mean time, its ratio to the first variant (and to
``sam-reference`` if measured), to the FLOP floor, and the largest peak RSS.

Two in-process reports of the encoder alone (``--layers`` blocks, no
timing processes): ``--cpu-time`` (CPU seconds per attention path:
legacy / eager / fused_mask / fused, training and inference) and
``--activations`` (bytes autograd keeps for backward per ``attn_impl`` and
``with_cp`` level, and a ``torch.profiler`` table by operator).

FLOP floor: the encoder's forward multiply-adds counted analytically
(:func:`encoder_gflop`, 2 FLOPs each, SAM's padded windows included as SAM
computes them: 225 GFLOP per 512x512 image for SAM-B), divided by
``--peak-gflops`` (the machine's fp32 matrix-product rate; measured before
the runs by timing ``addmm`` at the encoder's product shapes with
``--threads`` threads unless given); a train step's floor is twice the
forward (frozen weights: the backward pass needs the input gradients
only).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

VARIANTS: Dict[str, Dict[str, object]] = {
    'default': {},
    'fused-mask': {
        'model.backbone.attn_impl': 'fused_mask'
    },
    'eager': {
        'model.backbone.attn_impl': 'eager'
    },
    'cp-mlp': {
        'model.backbone.with_cp': 'mlp'
    },
    'cp-attn': {
        'model.backbone.with_cp': 'attn'
    },
    'cp-windowed': {
        'model.backbone.with_cp': 'windowed'
    },
    'cp-all': {
        'model.backbone.with_cp': 'all'
    },
    'sam-reference': {},
    'default-no-malloc': {},
    'baseline': {},
    'baseline-malloc': {},
}
# variants run from --baseline-repo
BASELINE_VARIANTS = ('baseline', 'baseline-malloc')
# variants whose process does not tune glibc's malloc (the tools do:
# mmcd_ext/utils/cpu_malloc.py); the old checkout's tools did not
MALLOC_OFF = ('default-no-malloc', 'baseline')
# product shapes of SAM-B's q/k/v, MLP and projection matmuls (4 images at
# 512 px: 4096 tokens) for the measured matrix-product rate
PEAK_SHAPES = ((4096, 768, 2304), (4096, 768, 3072), (4096, 3072, 768),
               (4096, 768, 768))
MODES = ('train', 'infer')
TINY_ARCH = dict(
    embed_dims=32,
    num_layers=4,
    num_heads=2,
    feedforward_channels=64,
    global_attn_indexes=[1, 3])
SAM_ARCHS = {
    'base':
    dict(
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        feedforward_channels=3072,
        global_attn_indexes=[2, 5, 8, 11]),
    'tiny':
    TINY_ARCH,
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='TTP encoder variants against a segment_anything '
        'reference (time and peak memory, interleaved processes).')
    parser.add_argument('--config', default='configs/ttp/ttp_sam-b_levir.py')
    parser.add_argument(
        '--arch',
        default='base',
        choices=sorted(SAM_ARCHS),
        help="encoder size: 'base' (SAM-B, the config) or 'tiny' (32 "
        'channels, 4 blocks: for tests). Default: base')
    parser.add_argument('--shape', type=int, default=512)
    parser.add_argument('--window', type=int, default=14)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--iters', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--variants',
        nargs='+',
        default=[
            'default', 'cp-mlp', 'cp-windowed', 'cp-all', 'sam-reference'
        ],
        choices=list(VARIANTS))
    parser.add_argument(
        '--modes', nargs='+', default=list(MODES), choices=list(MODES))
    parser.add_argument(
        '--baseline-repo',
        default=None,
        help='another checkout of this repository whose default is run as '
        "the 'baseline' variant")
    parser.add_argument(
        '--peak-gflops',
        type=float,
        default=None,
        help='fp32 matrix-product rate of the machine for the FLOP floor. '
        "Default: measured (best addmm rate at the encoder's shapes)")
    parser.add_argument('--out-json', default=None)
    parser.add_argument(
        '--activations',
        action='store_true',
        help='instead of the timing runs: bytes saved for backward per '
        'attn_impl / with_cp and an operator profile, of the encoder alone '
        'with --layers blocks')
    parser.add_argument(
        '--cpu-time',
        action='store_true',
        help='instead of the timing runs: CPU seconds of the encoder alone '
        '(--layers blocks) per attention path, in-process')
    parser.add_argument('--layers', type=int, default=3)
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--mode', default='train', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ('shape', 'window', 'batch_size', 'rounds', 'iters',
                 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if args.shape % 16:
        parser.error(f'--shape must be a multiple of 16 (the SAM patch), '
                     f'got {args.shape}')
    if args.peak_gflops is not None and args.peak_gflops <= 0:
        parser.error('--peak-gflops must be > 0')
    if args.worker is None:
        for name in BASELINE_VARIANTS:
            if name in args.variants and not args.baseline_repo:
                parser.error(f'variant {name!r} needs --baseline-repo PATH')
        if args.baseline_repo and not osp.isfile(
                osp.join(args.baseline_repo, args.config)):
            parser.error(f'--baseline-repo {args.baseline_repo}: no '
                         f'{args.config} there')
        if args.baseline_repo and 'baseline' not in args.variants:
            args.variants.append('baseline')
    return args


def encoder_gflop(arch: dict,
                  shape: int,
                  window: int,
                  padded: bool = True) -> float:
    """Forward GFLOP (2 per multiply-add) of a SAM encoder on one image.

    Patch embedding, per block the q/k/v and output projections, the
    attention products ``q k^T`` and ``a v`` and the MLP, and the neck
    (1x1 to 256, 3x3 256 to 256). Norms, softmax, GELU and additions are
    not counted.

    Args:
        arch (dict): ``embed_dims``, ``num_layers``,
            ``feedforward_channels``, ``global_attn_indexes``.
        shape (int): Input side.
        window (int): Window of the windowed blocks.
        padded (bool): Count the projections of windowed blocks on the
            padded grid, as SAM computes them. Defaults to True.

    Returns:
        float: GFLOP.
    """
    c = arch['embed_dims']
    f = arch['feedforward_channels']
    side = shape // 16
    tokens = side * side
    side_p = -(-side // window) * window
    macs = tokens * c * 3 * 16 * 16  # patch embedding
    for i in range(arch['num_layers']):
        if i in arch['global_attn_indexes']:
            proj_tokens = tokens
            attn = 2 * tokens * tokens * c
        else:
            proj_tokens = side_p * side_p if padded else tokens
            windows = (side_p // window)**2
            attn = windows * 2 * (window * window)**2 * c
        macs += proj_tokens * 4 * c * c + attn + tokens * 2 * c * f
    macs += tokens * c * 256 + tokens * 256 * 256 * 9  # neck
    return 2 * macs / 1e9


# ------------------------------------------------------------------ worker
def _load_benchmark_helpers():
    """``tools/analysis/benchmark.py`` of this checkout, as a module."""
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py')
    spec = importlib.util.spec_from_file_location('_mmcd_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SAMReferenceEncoder:
    """Builder of the reference: segment_anything's ``ImageEncoderViT`` with
    our LoRA and gates around it (see the module doc)."""

    @staticmethod
    def build(arch: dict, shape: int, window: int, lora_cfg: Optional[dict],
              gate_cfg: Optional[dict], out_channels: int):
        import functools

        import torch
        from segment_anything.modeling.image_encoder import ImageEncoderViT
        from torch import nn

        from mmcd_ext.models.layers.qkv_lora import QKVLoRALinear
        from mmcd_ext.models.layers.time_travelling_gate import \
            TimeTravellingGate

        class Reference(nn.Module):

            def __init__(self) -> None:
                super().__init__()
                self.encoder = ImageEncoderViT(
                    img_size=shape,
                    patch_size=16,
                    embed_dim=arch['embed_dims'],
                    depth=arch['num_layers'],
                    num_heads=arch['num_heads'],
                    mlp_ratio=arch['feedforward_channels'] /
                    arch['embed_dims'],
                    out_chans=out_channels,
                    qkv_bias=True,
                    norm_layer=functools.partial(nn.LayerNorm, eps=1e-6),
                    use_rel_pos=True,
                    window_size=window,
                    global_attn_indexes=tuple(arch['global_attn_indexes']))
                for p in self.encoder.parameters():
                    p.requires_grad_(False)
                if lora_cfg is not None:
                    for blk in self.encoder.blocks:
                        blk.attn.qkv = QKVLoRALinear.from_linear(
                            blk.attn.qkv, **lora_cfg)
                        blk.attn.qkv.weight.requires_grad_(False)
                        blk.attn.qkv.bias.requires_grad_(False)
                self.gates = nn.ModuleDict()
                if gate_cfg is not None:
                    for i in arch['global_attn_indexes']:
                        self.gates[str(i)] = TimeTravellingGate(
                            embed_dims=arch['embed_dims'], **gate_cfg)

            def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
                enc = self.encoder
                x = enc.patch_embed(x)
                if enc.pos_embed is not None:
                    x = x + enc.pos_embed
                for i, blk in enumerate(enc.blocks):
                    x = blk(x)
                    if str(i) in self.gates:
                        x = self.gates[str(i)](x)
                return (enc.neck(x.permute(0, 3, 1, 2)), )

        return Reference()


def worker(args: argparse.Namespace) -> Dict[str, object]:
    """Build one variant and time one mode (runs in its own process)."""
    import torch

    if args.worker not in MALLOC_OFF:
        # this script's own module, so the old checkout's runs can use it
        spec = importlib.util.spec_from_file_location(
            'cpu_malloc',
            osp.join(REPO_ROOT, 'mmcd_ext', 'utils', 'cpu_malloc.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.tune_cpu_malloc(environ={})
    from mmcd_ext.apis import init_model
    helpers = _load_benchmark_helpers()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    variant = args.worker
    arch = SAM_ARCHS[args.arch]
    options: Dict[str, object] = {
        'model.backbone.img_size': args.shape,
        'model.backbone.window_size': args.window,
        'model.backbone.init_cfg': None,
        'model.test_cfg': dict(mode='whole'),
    }
    if args.arch != 'base':
        options['model.backbone.arch'] = dict(arch, _delete_=True)
    options.update(VARIANTS[variant])
    model = init_model(args.config, None, 'cpu', options)
    if variant == 'sam-reference':
        bcfg = model.cfg.model.backbone
        ours = model.backbone
        arch = dict(
            embed_dims=ours.embed_dims,
            num_layers=ours.num_layers,
            num_heads=ours.layers[0].attn.num_heads,
            feedforward_channels=ours.layers[0].ffn.feedforward_channels,
            global_attn_indexes=list(ours.global_attn_indexes))
        model.backbone = SAMReferenceEncoder.build(
            arch, args.shape, args.window, bcfg.get('lora_cfg'),
            bcfg.get('gate_cfg'), bcfg.get('out_channels', 256))
    trainable = sum(p.numel() for p in model.backbone.parameters()
                    if p.requires_grad)
    hparams = argparse.Namespace(
        shape=[args.shape],
        batch_size=args.batch_size,
        in_channels=3,
        scd=None,
        device='cpu',
        iters=args.iters,
        warmup=args.warmup,
        config=args.config)
    generator = torch.Generator().manual_seed(0)
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = helpers.benchmark_mode(args.mode, model, model.cfg, hparams,
                                    generator)
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of this process per step (all threads; warm-up included)
    cpu = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime)
    result['cpu_s_per_step'] = cpu / (args.iters + args.warmup)
    result['backbone_trainable_params'] = trainable
    result['backbone_type'] = type(model.backbone).__name__
    return result


def activation_report(args: argparse.Namespace) -> str:
    """Bytes kept for the backward pass and an operator profile, in-process.

    Builds the encoder alone (``SAMLoRAViT`` with the config's LoRA and
    gates, random weights, ``--arch``, ``--layers`` blocks with the last of
    every 3 global as in SAM-B), runs one training forward/backward on
    ``2 * --batch-size`` random images per (``attn_impl``, ``with_cp``)
    pair and sums the sizes of the tensors autograd saves
    (``saved_tensors_hooks``). Then profiles one default step
    (``torch.profiler``, table by operator, sorted by self CPU time).

    Returns:
        str: The report (Markdown).
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    from mmcd_ext.models.backbones.sam_lora_vit import CP_LEVELS, SAMLoRAViT
    torch.set_num_threads(args.threads)
    arch = dict(SAM_ARCHS[args.arch])
    arch['num_layers'] = args.layers
    arch['global_attn_indexes'] = list(range(2, args.layers, 3))
    model = SAMLoRAViT(
        arch=arch,
        img_size=args.shape,
        window_size=args.window,
        lora_cfg=dict(rank=16, alpha=16, mode='separate')).train()
    x = torch.randn(2 * args.batch_size, 3, args.shape, args.shape)

    def saved_mib(impl: str, level: str) -> float:
        model.set_attn_impl(impl)
        model.with_cp = level
        total = [0]

        def pack(tensor):
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)[0]
        out.sum().backward()
        return total[0] / 2**20

    lines = [
        f'{args.arch} encoder, {args.layers} blocks (global: '
        f'{arch["global_attn_indexes"]}), {2 * args.batch_size} images of '
        f'{args.shape}x{args.shape}, window {args.window}: MiB saved for '
        'backward', '', '| attn_impl | with_cp | saved MiB |', '|---|---|---|'
    ]
    for impl in ('eager', 'fused_mask', 'fused'):
        lines.append(f'| {impl} | none | {saved_mib(impl, "none"):.1f} |')
    for level in CP_LEVELS[1:]:
        lines.append(f'| fused | {level} | {saved_mib("fused", level):.1f} |')
    model.set_attn_impl('fused')
    model.with_cp = 'none'
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(x)[0].sum().backward()
    lines += [
        '', 'torch.profiler, one default forward + backward:', '', '```',
        prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=15),
        '```'
    ]
    return '\n'.join(lines)


def cpu_time_report(args: argparse.Namespace) -> str:
    """CPU seconds of the encoder alone per attention path, in-process.

    ``SAMLoRAViT`` (``--arch``, ``--layers`` blocks as in
    :func:`activation_report`, no neck, no gates) on ``2 * --batch-size``
    random images; per round and path one training forward + backward and
    one ``no_grad`` forward, timed with ``time.process_time`` (the CPU time
    of this process: on a machine shared with other jobs it moves far less
    than wall time; use ``--threads 1``). Paths: ``legacy`` (mmpretrain's
    block code with the eager attention: the code before the padding-aware
    windows), ``eager``, ``fused_mask``, ``fused``.

    Returns:
        str: The report (Markdown): minimum and all rounds per path.
    """
    import torch
    from mmpretrain.models.backbones.vit_sam import TransformerEncoderLayer

    from mmcd_ext.models.backbones.sam_lora_vit import SAMBlock, SAMLoRAViT
    torch.set_num_threads(args.threads)
    arch = dict(SAM_ARCHS[args.arch])
    arch['num_layers'] = args.layers
    arch['global_attn_indexes'] = list(range(2, args.layers, 3))
    model = SAMLoRAViT(
        arch=arch,
        img_size=args.shape,
        window_size=args.window,
        out_channels=0,
        gate_cfg=None).train()
    x = torch.randn(2 * args.batch_size, 3, args.shape, args.shape)
    paths = ('legacy', 'eager', 'fused_mask', 'fused')

    def use(path: str) -> None:
        for layer in model.layers:
            layer.__class__ = TransformerEncoderLayer if path == 'legacy' \
                else SAMBlock
        model.set_attn_impl('eager' if path == 'legacy' else path)

    def step(train: bool) -> float:
        start = time.process_time()
        if train:
            model.zero_grad()
            model(x)[0].sum().backward()
        else:
            with torch.no_grad():
                model(x)
        return time.process_time() - start

    times: Dict[Tuple[str, str], List[float]] = {}
    for mode in args.modes:
        use('fused')
        step(mode == 'train')  # warm-up
        for _ in range(args.rounds):
            for path in paths:
                use(path)
                times.setdefault((path, mode),
                                 []).append(step(mode == 'train'))
    use('fused')
    lines = [
        f'{args.arch} encoder, {args.layers} blocks (global: '
        f'{arch["global_attn_indexes"]}), {2 * args.batch_size} images of '
        f'{args.shape}x{args.shape}, {args.threads} thread(s): CPU seconds',
        '', '| path | mode | min | x legacy | rounds |',
        '|---|---|---|---|---|'
    ]
    for mode in args.modes:
        for path in paths:
            t = times[(path, mode)]
            ratio = min(t) / min(times[('legacy', mode)])
            lines.append(f'| {path} | {mode} | {min(t):.2f} | {ratio:.2f} | '
                         f'{", ".join(f"{v:.2f}" for v in t)} |')
    return '\n'.join(lines)


# -------------------------------------------------------------- orchestra
def measure_peak_gflops(threads: int, repeats: int = 5) -> float:
    """Best fp32 ``addmm`` rate at the encoder's product shapes.

    Args:
        threads (int): Torch threads.
        repeats (int): Timed calls per shape (after one warm-up).
            Defaults to 5.

    Returns:
        float: GFLOP/s (2 FLOPs per multiply-add), the best over shapes
        and calls.
    """
    import torch
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    best = 0.0
    for m, k, n in PEAK_SHAPES:
        a = torch.randn(m, k, generator=generator)
        b = torch.randn(k, n, generator=generator)
        bias = torch.randn(n, generator=generator)
        torch.addmm(bias, a, b)
        for _ in range(repeats):
            start = time.perf_counter()
            torch.addmm(bias, a, b)
            best = max(best, 2 * m * k * n / (time.perf_counter() - start))
    return best / 1e9


def run_one(args: argparse.Namespace, variant: str, mode: str, workdir: str,
            index: int) -> Dict[str, object]:
    """One worker run in a fresh process; returns its result."""
    out_json = osp.join(workdir, f'{index}_{variant}_{mode}.json')
    cwd = REPO_ROOT
    if variant in BASELINE_VARIANTS:
        cwd = osp.abspath(args.baseline_repo)
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--worker', variant, '--mode', mode, '--config',
        args.config, '--arch', args.arch, '--shape',
        str(args.shape), '--window',
        str(args.window), '--batch-size',
        str(args.batch_size), '--iters',
        str(args.iters), '--warmup',
        str(args.warmup), '--threads',
        str(args.threads), '--out-json', out_json
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=cwd)
    print(f'[{time.strftime("%H:%M:%S")}] {variant} {mode}', flush=True)
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{variant}/{mode} failed:\n'
                           f'{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')
    with open(out_json) as f:
        return json.load(f)


def summarise(runs: List[Dict[str, object]]) -> Dict[str, object]:
    """Median and range of the per-run mean times; max peak RSS."""
    times = [float(r['time_mean']) for r in runs]
    return dict(
        time_median=statistics.median(times),
        time_min=min(times),
        time_max=max(times),
        times=times,
        peak_mib=max(r['peak_memory_bytes'] for r in runs) / 2**20)


def format_table(table: Dict[str, Dict[str, Dict[str, object]]],
                 modes: List[str], floor_s: Dict[str, float]) -> str:
    """Markdown table: time, ratios and memory per variant and mode.

    Ratios are to the first variant and, when measured, to ``baseline``
    and ``sam-reference`` (same mode).
    """
    variants = list(table)
    refs = [variants[0]] + [
        r for r in ('baseline', 'sam-reference')
        if r in table and r != variants[0]
    ]
    header = ('| variant | mode | s/step median (range) | ' +
              ''.join(f'x {r} | ' for r in refs) +
              'x floor | peak RSS MiB | ' + ''.join(f'mem x {r} | '
                                                    for r in refs)).rstrip()
    lines = [header, '|' + '---|' * (header.count('|') - 1)]
    for mode in modes:
        for v in variants:
            if mode not in table[v]:
                continue
            s = table[v][mode]
            row = (f'| {v} | {mode} | {s["time_median"]:.2f} '
                   f'({s["time_min"]:.2f}-{s["time_max"]:.2f}) |')
            for r in refs:
                if mode not in table[r]:
                    row += ' - |'
                    continue
                ratio = s['time_median'] / table[r][mode]['time_median']
                row += f' {ratio:.2f} |'
            row += (f' {s["time_median"] / floor_s[mode]:.2f} |'
                    f' {s["peak_mib"]:.0f} |')
            for r in refs:
                if mode not in table[r]:
                    row += ' - |'
                    continue
                row += f' {s["peak_mib"] / table[r][mode]["peak_mib"]:.2f} |'
            lines.append(row)
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark (or one worker); returns the exit code."""
    args = parse_args(argv)
    if args.activations:
        print(activation_report(args))
        return 0
    if args.cpu_time:
        print(cpu_time_report(args))
        return 0
    if args.worker is not None:
        result = worker(args)
        with open(args.out_json, 'w') as f:
            json.dump(result, f)
        return 0
    runs: Dict[str, Dict[str, List[Dict[str, object]]]] = {
        v: {
            m: []
            for m in args.modes
        }
        for v in args.variants
    }
    if args.peak_gflops is None:
        args.peak_gflops = measure_peak_gflops(args.threads)
        print(f'measured fp32 matrix-product rate: '
              f'{args.peak_gflops:.0f} GFLOP/s ({args.threads} threads)')
    load_before = os.getloadavg()
    loads = []
    with tempfile.TemporaryDirectory(prefix='ttp_bench_') as workdir:
        index = 0
        for done in range(1, args.rounds + 1):
            for variant in args.variants:
                for mode in args.modes:
                    if mode == 'infer' and variant.startswith('cp-'):
                        continue  # checkpointing acts in training only
                    runs[variant][mode].append(
                        run_one(args, variant, mode, workdir, index))
                    loads.append(os.getloadavg()[0])
                    index += 1
                    # after every run, so a cut-short run leaves a table
                    report(args, runs, done - 1, load_before, loads)
            report(args, runs, done, load_before, loads)
    return 0


def report(args: argparse.Namespace,
           runs: Dict[str, Dict[str, List[Dict[str, object]]]], done: int,
           load_before: Tuple[float, float,
                              float], loads: List[float]) -> Dict[str, object]:
    """Print the table of the rounds done so far (and write the JSON)."""
    table = {
        v: {
            m: summarise(r)
            for m, r in modes.items() if r
        }
        for v, modes in runs.items()
    }
    arch = SAM_ARCHS[args.arch]
    images = 2 * args.batch_size
    gflop = encoder_gflop(arch, args.shape, args.window)
    gflop_real = encoder_gflop(arch, args.shape, args.window, padded=False)
    infer_floor = images * gflop / args.peak_gflops
    floor_s = dict(infer=infer_floor, train=2 * infer_floor)
    print(
        f'\n{args.config} ({args.arch} encoder), {args.batch_size} pairs '
        f'of {args.shape}x{args.shape} ({images} images through the '
        f'encoder), {args.threads} threads, {done} of {args.rounds} '
        f'interleaved rounds of {args.iters} timed (+{args.warmup} '
        f'warm-up) steps; 1-min load average {load_before[0]:.1f} at the '
        f'start, {min(loads):.1f}-{max(loads):.1f} after the runs\n'
        f'FLOP floor: {gflop:.1f} GFLOP per image forward '
        f'({gflop_real:.1f} without the window padding) at '
        f'{args.peak_gflops:.0f} GFLOP/s: infer {floor_s["infer"]:.2f} s,'
        f' train {floor_s["train"]:.2f} s per step\n',
        flush=True)
    print(format_table(table, args.modes, floor_s), flush=True)
    result = dict(
        config=args.config,
        arch=args.arch,
        shape=args.shape,
        batch_size=args.batch_size,
        rounds_done=done,
        rounds=args.rounds,
        iters=args.iters,
        warmup=args.warmup,
        threads=args.threads,
        machine=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        load_average=dict(start=load_before, after_runs=loads),
        peak_gflops=args.peak_gflops,
        gflop_per_image=gflop,
        gflop_per_image_unpadded=gflop_real,
        floor_s=floor_s,
        results=table)
    if args.out_json:
        from mmcd_ext.utils.atomic_files import write_text
        write_text(args.out_json, json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    sys.exit(main())
