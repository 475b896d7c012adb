"""Command-line pieces shared by the scripts of ``tools/dataset_converters``.
"""
import argparse

from mmcd_ext.utils.cli import add_debug_option

FORCE_SPLITS_HELP = ('replace existing DST/<split> folders once the new ones '
                     'are complete')


def add_run_options(parser: argparse.ArgumentParser,
                    force_help: str = FORCE_SPLITS_HELP) -> None:
    """Add ``--force``, ``--quiet`` and ``--debug``.

    Args:
        parser (argparse.ArgumentParser): The script's parser.
        force_help (str): Help of ``--force``. Defaults to
            :data:`FORCE_SPLITS_HELP`.
    """
    parser.add_argument('--force', action='store_true', help=force_help)
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    add_debug_option(parser)


def parse_with_patch_size(parser: argparse.ArgumentParser,
                          argv=None,
                          allow_zero: bool = False) -> argparse.Namespace:
    """Parse ``argv`` and refuse a ``--patch-size`` below 1 (below 0 when
    ``allow_zero``) with a usage error.

    Args:
        parser (argparse.ArgumentParser): A parser with ``--patch-size``.
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.
        allow_zero (bool): Whether 0 is accepted. Defaults to False.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args(argv)
    if allow_zero and args.patch_size < 0:
        parser.error(f'--patch-size must be >= 0, got {args.patch_size}')
    if not allow_zero and args.patch_size <= 0:
        parser.error(f'--patch-size must be positive, got {args.patch_size}')
    return args
