"""Parameters and FLOPs of a change detection model.

Usage::

    python tools/analysis/get_flops.py CONFIG --shape H [W]
        [--in-channels C] [--cfg-options k=v ...] [--show-table]
        [--out-json FILE]

The model sees one image pair per call: a random tensor ``(1, 2C, H, W)``
(date A channels then date B channels) goes through the model's data
preprocessor (normalisation, test-time padding) and then through
``model(inputs, mode='tensor')``, i.e. ``_forward`` = ``extract_feat`` +
decode head, like mmseg's ``tools/analysis/get_flops.py`` for single images.
The FLOPs come from mmengine's ``get_model_complexity_info``, which counts
one multiply-accumulate as one FLOP and ignores element-wise operations.
Auxiliary heads and losses are not on this path, so they add parameters but
no FLOPs.

The model is built without ``init_weights()``, so no pretrained checkpoint
(``init_cfg``/``pretrained`` in the config) is read: the tool works before any
weights are downloaded.
"""
import argparse
import json
import sys
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmseg.structures import SegDataSample
from torch import nn

from mmcd_ext.apis import init_model
from mmcd_ext.utils.analysis import count_parameters, human, parse_shape
from mmcd_ext.utils.atomic_files import write_text
from mmcd_ext.utils.cli import tool_errors


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of a change detection model for '
        'one image pair')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[512],
        help='input size of each date: H (square) or H W. Defaults to 512')
    parser.add_argument(
        '--in-channels',
        type=int,
        default=3,
        help='channels C of ONE date; the model input has 2C channels. '
        'Defaults to 3')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    parser.add_argument(
        '--show-table',
        action='store_true',
        help="also print mmengine's per-module FLOPs/params table")
    parser.add_argument(
        '--out-json', default=None, help='also write the results as JSON')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')
    return parser.parse_args(argv)


def make_pair_input(model: nn.Module,
                    height: int,
                    width: int,
                    in_channels: int,
                    seed: int = 0) -> torch.Tensor:
    """A preprocessed random image pair, as the model sees it at test time.

    Args:
        model (nn.Module): Model whose ``data_preprocessor`` is applied.
        height (int): Height H of each date.
        width (int): Width W of each date.
        in_channels (int): Channels C of one date.
        seed (int): Seed of the random image. Defaults to 0.

    Returns:
        torch.Tensor: ``(1, 2C, H', W')``; H', W' differ from H, W only when
        the preprocessor pads at test time.
    """
    gen = torch.Generator().manual_seed(seed)
    pair = torch.randint(
        0,
        256, (2 * in_channels, height, width),
        generator=gen,
        dtype=torch.uint8)
    meta = dict(
        img_shape=(height, width),
        ori_shape=(height, width),
        pad_shape=(height, width))
    batch = dict(inputs=[pair], data_samples=[SegDataSample(metainfo=meta)])
    preprocessor = getattr(model, 'data_preprocessor', None)
    inputs = preprocessor(batch, False)['inputs'] if preprocessor \
        is not None else batch['inputs']
    if isinstance(inputs, (list, tuple)):  # a preprocessor that only casts
        inputs = torch.stack([x.float() for x in inputs])
    return inputs


def get_flops(config: Union[str, Config],
              shape: Tuple[int, int],
              in_channels: int = 3,
              show_table: bool = False,
              cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Parameters and FLOPs of a config's model for one image pair.

    Args:
        config (str | Config): Config file or object.
        shape (tuple[int, int]): ``(H, W)`` of each date.
        in_channels (int): Channels C of one date. Defaults to 3.
        show_table (bool): Also return mmengine's per-module table.
            Defaults to False.
        cfg_options (dict, optional): Overrides merged into the config.
            Defaults to None.

    Returns:
        dict: ``input_shape`` (per date), ``model_input_shape``
        ``(1, 2C, H', W')``, ``params``/``trainable_params`` (ints),
        ``flops`` (int), ``activations`` (int), ``modules`` (per top-level
        submodule: params and trainable params) and ``table`` (str, empty
        unless ``show_table``).
    """
    height, width = shape
    if in_channels <= 0:
        raise ValueError(f'--in-channels must be positive, got {in_channels}')
    model = init_model(config, cfg_options=cfg_options)
    inputs = make_pair_input(model, height, width, in_channels)
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=(inputs, ), show_table=show_table, show_arch=False)
    total, trainable = count_parameters(model)
    modules = {}
    for name, child in model.named_children():
        n, t = count_parameters(child)
        modules[name] = dict(params=n, trainable_params=t)
    return dict(
        input_shape=[in_channels, height, width],
        model_input_shape=list(inputs.shape),
        params=total,
        trainable_params=trainable,
        flops=int(info['flops']),
        activations=int(info['activations']),
        modules=modules,
        table=info.get('out_table', '') if show_table else '')


def format_result(result: Dict[str, object], config: str) -> str:
    """Readable table of :func:`get_flops`'s result.

    Args:
        result (dict): Output of :func:`get_flops`.
        config (str): Config path, for the header.

    Returns:
        str: The table.
    """
    c, h, w = result['input_shape']
    model_shape = tuple(result['model_input_shape'])
    rows = [
        ('config', config),
        ('input per date', f'({c}, {h}, {w})'),
        ('model input',
         f'{model_shape}' + ('  (padded by the data preprocessor)'
                             if tuple(model_shape[-2:]) != (h, w) else '')),
        ('FLOPs', f'{human(result["flops"])}  ({result["flops"]:,})'),
        ('activations', human(result['activations'])),
        ('params', f'{human(result["params"])}  ({result["params"]:,})'),
        ('trainable params', f'{human(result["trainable_params"])}  '
         f'({result["trainable_params"]:,})'),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ['=' * 64]
    lines += [f'{k:<{width}}  {v}' for k, v in rows]
    lines.append('-' * 64)
    name_w = max([len('module')] + [len(k) for k in result['modules']])
    lines.append(f'{"module":<{name_w}}  {"params":>12}  {"trainable":>12}')
    for name, m in result['modules'].items():
        lines.append(f'{name:<{name_w}}  {human(m["params"]):>12}  '
                     f'{human(m["trainable_params"]):>12}')
    lines.append('=' * 64)
    lines.append('FLOPs count one multiply-accumulate as one operation '
                 "(mmengine's convention) and skip element-wise ops; check "
                 'the unsupported-operator warnings above before quoting '
                 'them.')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    """Compute and print the complexity of a config's model.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        dict: The result of :func:`get_flops`.
    """
    args = parse_args(argv)
    shape = parse_shape(args.shape)
    result = get_flops(args.config, shape, args.in_channels, args.show_table,
                       args.cfg_options)
    if result['table']:
        print(result['table'])
    print(format_result(result, args.config))
    if args.out_json:
        out = {k: v for k, v in result.items() if k != 'table'}
        out['config'] = args.config
        write_text(args.out_json, json.dumps(out, indent=2))
        print(f'Results written to {args.out_json}')
    return result


if __name__ == '__main__':
    with tool_errors('tools/analysis/get_flops.py', '--debug' in sys.argv[1:]):
        main()
