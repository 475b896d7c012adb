"""Print a config with every ``_base_`` merged and every override applied.

Usage::

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--dump OUT.py [--overwrite]]

``--cfg-options`` takes mmengine's ``key=value`` overrides (the same syntax
as ``tools/train.py``), e.g. ``train_dataloader.batch_size=4``. ``--dump``
writes atomically; it never writes over CONFIG, and replaces an existing
file only with ``--overwrite``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.fileio import dump

from mmcd_ext.utils.atomic_files import check_output_file, write_text
from mmcd_ext.utils.cli import tool_errors
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
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='let --dump replace an existing file (never CONFIG itself)')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')
    return parser.parse_args(argv)


def config_text(cfg: Config, path: str) -> str:
    """The text of ``cfg`` in the format of ``path``'s suffix.

    Args:
        cfg (Config): The resolved config.
        path (str): ``.py``, ``.json``, ``.yaml`` or ``.yml`` file name.

    Returns:
        str: What ``cfg.dump(path)`` would write.
    """
    ext = osp.splitext(path)[1].lstrip('.')
    if ext == 'py':
        return cfg.pretty_text
    return dump(cfg.to_dict(), file_format=ext)


def main(argv: Optional[List[str]] = None) -> None:
    """Print (and optionally dump) the resolved config.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.
    """
    args = parse_args(argv)
    if args.dump:  # refuse early
        check_output_file(args.dump, [args.config], args.overwrite)
    cfg = read_config(args.config, args.cfg_options)
    print(f'Config ({args.config}):\n{cfg.pretty_text}')
    if args.dump:
        write_text(args.dump, config_text(cfg, args.dump))
        print(f'Resolved config written to {args.dump}')


if __name__ == '__main__':
    with tool_errors('tools/misc/print_config.py', '--debug' in sys.argv[1:]):
        main()
