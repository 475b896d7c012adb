"""Print a config with every ``_base_`` merged and every override applied.

Usage::

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--dump OUT.py]

``--cfg-options`` takes mmengine's ``key=value`` overrides (the same syntax
as ``tools/train.py``), e.g. ``train_dataloader.batch_size=4``.
"""
import argparse
from typing import List, Optional

from mmengine.config import DictAction

from mmcd_ext.utils.config_utils import read_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: ``config``, ``cfg_options`` and ``dump``.
    """
    parser = argparse.ArgumentParser(
        description='Print the fully resolved config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs '
        '(lists: key="[a,b]" or key=a,b; nested: key="[(a,b),(c,d)]"; '
        'quotes needed, no spaces)')
    parser.add_argument(
        '--dump',
        default=None,
        help='also write the resolved config to this file (.py, .json or '
        '.yaml); nothing is written without it')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Print (and optionally dump) the resolved config.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.
    """
    args = parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    print(f'Config ({args.config}):\n{cfg.pretty_text}')
    if args.dump:
        cfg.dump(args.dump)
        print(f'Resolved config written to {args.dump}')


if __name__ == '__main__':
    main()
