"""Write the seeded synthetic bitemporal data sets (the demo's data).

Usage::

    python tools/misc/make_synthetic_data.py --layout levir \\
        --out data/synthetic_levir --seed 0
    python tools/misc/make_synthetic_data.py --layout second \\
        --out data/synthetic_second --seed 0 --num-train 50 --size 128

The same arguments always give byte-identical files. An existing non-empty
output directory is refused unless ``--force`` is given (then the PNGs and
meta.json of a previous run there are replaced) or it is a run of this
script that stopped half-way (it holds the hidden ``.unfinished`` marker and
no meta.json; it is written again). Every file is written atomically and
``meta.json`` last, so its presence means the data set is complete. See
``docs/synthetic_data.md``.
"""
import argparse
import inspect
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from mmengine.utils import ProgressBar

from mmcd_ext.datasets.synthetic import (PseudoChangeParams,
                                         generate_levir_like,
                                         generate_second_like)

#: The generator of each layout; its keyword defaults are the tool's.
GENERATORS: Dict[str, Callable[..., dict]] = dict(
    levir=generate_levir_like, second=generate_second_like)


def _default(layout: str, arg: str) -> Any:
    """Default of one keyword argument of a layout's generator."""
    return inspect.signature(GENERATORS[layout]).parameters[arg].default


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write a seeded synthetic bitemporal change data set.')
    parser.add_argument(
        '--layout',
        required=True,
        choices=sorted(GENERATORS),
        help='levir: binary building change (A, B, label); '
        'second: semantic change (im1, im2, label1, label2)')
    parser.add_argument(
        '--out',
        default=None,
        help='output directory (default: '
        'data/synthetic_<layout>)')
    parser.add_argument('--seed', type=int, default=0, help='data-set seed')
    parser.add_argument(
        '--size',
        type=int,
        default=None,
        help='image side in pixels (default: '
        f'{_default("levir", "size")})')
    for split in ('train', 'val', 'test'):
        arg = f'num_{split}'
        parser.add_argument(
            f'--num-{split}',
            type=int,
            default=None,
            help=f'{split} images (default: levir '
            f'{_default("levir", arg)}, second {_default("second", arg)})')
    parser.add_argument(
        '--no-pseudo',
        action='store_true',
        help='switch every pseudo-change off (clean pairs)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a non-empty output directory')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress bar and no summary')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Generate the data set.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        int: Exit code (0 on success).
    """
    args = parse_args(argv)
    out = args.out or f'data/synthetic_{args.layout}'
    given = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        size=args.size)
    bar: Optional[ProgressBar] = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:  # started by the first image: no bar on a refusal
            bar = ProgressBar(total, file=sys.stdout)
        bar.update()

    start = time.time()
    try:
        meta = GENERATORS[args.layout](
            out,
            seed=args.seed,
            pseudo=PseudoChangeParams.disabled() if args.no_pseudo else None,
            overwrite=args.force,
            progress=None if args.quiet else progress,
            **{
                k: v
                for k, v in given.items() if v is not None
            })
    except (FileExistsError, ValueError) as err:
        print(f'make_synthetic_data: error: {err}', file=sys.stderr)
        return 2
    if not args.quiet:
        if bar is not None:
            print()  # the bar does not end its line
        counts = meta['counts']
        fractions = [
            info['changed_fraction'] for split in meta['samples'].values()
            for info in split.values()
        ]
        mean = sum(fractions) / max(len(fractions), 1)
        print(f'[synthetic] wrote {sum(counts.values())} pairs '
              f'({counts["train"]} train, {counts["val"]} val, '
              f'{counts["test"]} test) of {meta["size"]}x{meta["size"]} px '
              f'to {out} in {time.time() - start:.1f} s; mean changed '
              f'fraction {mean:.3f}; seed {args.seed}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
