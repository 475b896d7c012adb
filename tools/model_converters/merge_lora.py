"""Fold the LoRA adapters of a trained TTP checkpoint into the SAM weights.

Usage::

    python tools/model_converters/merge_lora.py SRC DST [--overwrite] [--debug]

Every ``QKVLoRALinear`` adapter in ``SRC`` (keys ``*.qkv.lora_down.weight``,
``*.qkv.lora_up``, ``*.qkv.lora_scaling``) is merged into its ``*.qkv.weight``
(``W = W0 + s * up @ down`` per q/k/v adapter) and removed; everything else
(gates, head, optimizer-free ``meta``) is copied. The outputs do not change
(up to float rounding). Test the merged file with the same config and
``--cfg-options model.backbone.lora_cfg=None``. No config is needed: the
adapter scale is stored in the checkpoint. In Python,
``SAMLoRAViT.merge_lora()`` does the same on a built model.

``DST`` is written atomically (a temporary file in its folder, renamed when
complete); it may not be ``SRC`` (symbolic links resolved), and an existing
``DST`` is replaced only with ``--overwrite``. Errors are one line (exit 1);
``--debug`` shows the traceback.
"""
import argparse
import sys
from typing import Optional, Sequence

import mmcd_ext  # noqa: F401  (allow-lists Runner checkpoint types)
from mmcd_ext.models.layers.qkv_lora import merge_lora_state_dict
from mmcd_ext.utils.atomic_files import check_output_file
from mmcd_ext.utils.checkpoint import read_checkpoint, weights_of
from mmcd_ext.utils.converter_cli import (add_output_options, converter_parser,
                                          run_converter, save_checkpoint)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = converter_parser(
        'Merge LoRA adapters into the frozen q/k/v weights.',
        'trained checkpoint (Runner format or a plain state dict)',
        'output checkpoint')
    add_output_options(parser)
    return parser.parse_args(argv)


def merge(args: argparse.Namespace) -> None:
    """Read, merge and (atomically) save; see the module docstring.

    Args:
        args (argparse.Namespace): The parsed command line.

    Raises:
        ValueError: If DST is SRC, or SRC is unusable or has no adapter.
        FileExistsError: If DST exists and ``--overwrite`` is not given.
        FileNotFoundError: If SRC does not exist.
    """
    check_output_file(args.dst, [args.src], args.overwrite)
    ckpt = read_checkpoint(args.src)
    wrapped = isinstance(ckpt, dict) and isinstance(
        ckpt.get('state_dict'), dict)
    state = weights_of(ckpt, args.src)
    count = sum(k.endswith('.lora_up') for k in state)
    if count == 0:
        raise ValueError(f'no LoRA adapters (*.lora_up keys) in {args.src}')
    merged = merge_lora_state_dict(state)
    out = {'state_dict': merged}
    if wrapped and 'meta' in ckpt:
        out['meta'] = ckpt['meta']
    save_checkpoint(out, args.dst)
    print(f'merged {count} LoRA adapters: {args.src} -> {args.dst}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Merge.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        int: Exit code 0; an error exits with code 1 and one line on stderr.
    """
    return run_converter('tools/model_converters/merge_lora.py', parse_args,
                         merge, argv)


if __name__ == '__main__':
    sys.exit(main())
