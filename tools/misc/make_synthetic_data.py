"""Write the seeded synthetic bitemporal data sets (the demo's data).

Usage::

    python tools/misc/make_synthetic_data.py --layout levir \\
        --out data/synthetic_levir --seed 0
    python tools/misc/make_synthetic_data.py --layout second \\
        --out data/synthetic_second --seed 0 --num-train 50 --size 128

The same arguments always give byte-identical files. An existing non-empty
output directory is refused unless ``--force`` is given (then the PNGs and
meta.json of a previous run there are replaced). ``meta.json`` is written
last, so its presence means the data set is complete. See
``docs/synthetic_data.md``.
"""
import argparse
import sys
import time
from typing import List, Optional

from mmcd_ext.datasets.synthetic import (PseudoChangeParams,
                                         generate_levir_like,
                                         generate_second_like)

# Per-layout defaults of the image counts (train, val, test).
DEFAULT_COUNTS = dict(levir=(200, 40, 40), second=(120, 30, 30))


class ProgressPrinter:
    """Print ``prefix: done/total`` at most every 10% of the work.

    Args:
        prefix (str): Text printed before the counter.
        total (int): Number of steps.
    """

    def __init__(self, prefix: str, total: int) -> None:
        self.prefix = prefix
        self.total = total
        self.step = max(1, total // 10)

    def __call__(self, done: int) -> None:
        """Report ``done`` finished steps.

        Args:
            done (int): Finished steps so far.
        """
        if done == self.total or done % self.step == 0:
            print(f'{self.prefix}: {done}/{self.total}', flush=True)


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
        choices=['levir', 'second'],
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
        default=256,
        help='image side in pixels (default: 256)')
    for i, split in enumerate(('train', 'val', 'test')):
        parser.add_argument(
            f'--num-{split}',
            type=int,
            default=None,
            help=f'{split} images (default: levir '
            f'{DEFAULT_COUNTS["levir"][i]}, second '
            f'{DEFAULT_COUNTS["second"][i]})')
    parser.add_argument(
        '--no-pseudo',
        action='store_true',
        help='switch every pseudo-change off (clean pairs)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a non-empty output directory')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress output')
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
    defaults = DEFAULT_COUNTS[args.layout]
    counts = [
        n if n is not None else d
        for n, d in zip((args.num_train, args.num_val,
                         args.num_test), defaults)
    ]
    total = sum(counts)
    progress = None if args.quiet else ProgressPrinter(
        f'[synthetic] {args.layout} -> {out}', total)
    generate = (
        generate_levir_like
        if args.layout == 'levir' else generate_second_like)
    pseudo = PseudoChangeParams.disabled() if args.no_pseudo else None
    start = time.time()
    try:
        meta = generate(
            out,
            num_train=counts[0],
            num_val=counts[1],
            num_test=counts[2],
            size=args.size,
            seed=args.seed,
            pseudo=pseudo,
            overwrite=args.force,
            progress=None if progress is None else
            (lambda done, _total: progress(done)))
    except (FileExistsError, ValueError) as err:
        print(f'make_synthetic_data: error: {err}', file=sys.stderr)
        return 2
    if not args.quiet:
        fractions = [
            info['changed_fraction'] for split in meta['samples'].values()
            for info in split.values()
        ]
        mean = sum(fractions) / max(len(fractions), 1)
        print(f'[synthetic] wrote {total} pairs ({counts[0]} train, '
              f'{counts[1]} val, {counts[2]} test) of {args.size}x'
              f'{args.size} px to {out} in {time.time() - start:.1f} s; '
              f'mean changed fraction {mean:.3f}; seed {args.seed}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
