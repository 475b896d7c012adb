"""The command-line frame shared by the checkpoint converters of
``tools/model_converters``: SRC/DST arguments, ``--overwrite``/``--debug``,
an optional ``--config`` whose model the result must fit, the atomic save
and the one-line errors."""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .atomic import atomic_path
from .cli import add_debug_option, tool_errors


def converter_parser(description: str,
                     src_help: str = 'source checkpoint',
                     dst_help: str = 'output file') -> argparse.ArgumentParser:
    """A parser with the positional ``src`` and ``dst`` arguments.

    Add the tool's own options, then call :func:`add_output_options`.

    Args:
        description (str): The tool's ``--help`` description.
        src_help (str): Help of ``src``. Defaults to 'source checkpoint'.
        dst_help (str): Help of ``dst``. Defaults to 'output file'.

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help=dst_help)
    return parser


def add_config_options(parser: argparse.ArgumentParser,
                       help: str,
                       cfg_options: bool = False) -> None:
    """Add ``--config`` (and ``--cfg-options`` when asked).

    Args:
        parser (argparse.ArgumentParser): The parser.
        help (str): Help of ``--config``.
        cfg_options (bool): Also add ``--cfg-options key=value``.
            Defaults to False.
    """
    parser.add_argument('--config', default=None, help=help)
    if cfg_options:
        from mmengine.config import DictAction
        parser.add_argument(
            '--cfg-options',
            nargs='+',
            action=DictAction,
            default=None,
            help='overrides of --config, key=value')


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--overwrite`` and ``--debug``, the options every converter has.

    Args:
        parser (argparse.ArgumentParser): The parser.
    """
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace DST if it exists (never SRC itself)')
    add_debug_option(parser)


def model_of_config(
    config: str,
    cfg_options: Optional[dict] = None,
    check_cfg: Optional[Callable[[object], None]] = None
) -> Tuple[object, nn.Module]:
    """Build the model of ``config`` without its pretrained backbone file.

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): Overrides merged into the config.
            Defaults to None.
        check_cfg (callable, optional): Called with the config before the
            model is built (to refuse a config that cannot fit).
            Defaults to None.

    Returns:
        tuple: The config and the built model.
    """
    from mmengine.config import Config

    from mmcd_ext.registry import MODELS
    from .set_env import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if check_cfg is not None:
        check_cfg(cfg)
    cfg.model.backbone.init_cfg = None  # no weights file needed
    return cfg, MODELS.build(cfg.model)


def load_into_config(state: Dict[str, Tensor],
                     config: str,
                     owner: str,
                     cfg_options: Optional[dict] = None,
                     check_cfg: Optional[Callable[[object], None]] = None,
                     hint: str = '') -> nn.Module:
    """Load a converted ``state`` with ``strict=True`` into ``config``'s model.

    Args:
        state (dict[str, Tensor]): The converted state dict.
        config (str): Config file path.
        owner (str): Starts the error message (the tool's name).
        cfg_options (dict, optional): Overrides of the config.
            Defaults to None.
        check_cfg (callable, optional): See :func:`model_of_config`.
            Defaults to None.
        hint (str): Appended to the error message. Defaults to ''.

    Returns:
        nn.Module: The model holding ``state``.

    Raises:
        FileNotFoundError: If ``config`` does not exist.
        ValueError: Missing, unexpected or mis-shaped keys, named
            (:func:`~mmcd_ext.utils.checkpoint.state_dict_mismatch`).
    """
    from .checkpoint import state_dict_mismatch

    if not osp.isfile(config):
        raise FileNotFoundError(f'{owner}: --config {config!r} not found')
    _, model = model_of_config(config, cfg_options, check_cfg)
    problem = state_dict_mismatch(model.state_dict(), state, show=6)
    if problem:
        raise ValueError(f'{owner}: the converted checkpoint does not fit '
                         f'{config}: {problem}{hint}')
    model.load_state_dict(state, strict=True)
    return model


def save_checkpoint(obj: dict, dst: str) -> None:
    """``torch.save`` ``obj`` to ``dst`` atomically, creating its folder.

    Args:
        obj (dict): What to save.
        dst (str): The output file.
    """
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    with atomic_path(dst) as tmp:
        torch.save(obj, tmp)


def run_converter(tool: str,
                  parse_args: Callable[[Optional[Sequence[str]]],
                                       argparse.Namespace],
                  run: Callable[[argparse.Namespace], None],
                  argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and run; an error exits 1 with one line on stderr.

    Args:
        tool (str): Name in front of an error line.
        parse_args (callable): The tool's parser function.
        run (callable): The tool's work, given the parsed arguments.
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        int: Exit code 0.
    """
    args = parse_args(argv)
    with tool_errors(tool, args.debug):
        run(args)
    return 0
