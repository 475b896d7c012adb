"""Fold the LoRA adapters of a trained TTP checkpoint into the SAM weights.

Usage::

    python tools/model_converters/merge_lora.py SRC DST

Every ``QKVLoRALinear`` adapter in ``SRC`` (keys ``*.qkv.lora_down.weight``,
``*.qkv.lora_up``, ``*.qkv.lora_scaling``) is merged into its ``*.qkv.weight``
(``W = W0 + s * up @ down`` per q/k/v adapter) and removed; everything else
(gates, head, optimizer-free ``meta``) is copied. The outputs do not change
(up to float rounding). Test the merged file with the same config and
``--cfg-options model.backbone.lora_cfg=None``. No config is needed: the
adapter scale is stored in the checkpoint. In Python,
``SAMLoRAViT.merge_lora()`` does the same on a built model.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

import mmcd_ext  # noqa: F401  (allow-lists Runner checkpoint types)
from mmcd_ext.models.layers.qkv_lora import merge_lora_state_dict


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Merge LoRA adapters into the frozen q/k/v weights.')
    parser.add_argument(
        'src',
        help='trained checkpoint (Runner format or a '
        'plain state dict)')
    parser.add_argument('dst', help='output checkpoint')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Merge; returns the exit code."""
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(f'error: {args.src} not found', file=sys.stderr)
        return 1
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    wrapped = isinstance(ckpt, dict) and isinstance(
        ckpt.get('state_dict'), dict)
    state = ckpt['state_dict'] if wrapped else ckpt
    merged = merge_lora_state_dict(state)
    count = sum(k.endswith('.lora_up') for k in state)
    if count == 0:
        print(
            f'error: no LoRA adapters (*.lora_up keys) in {args.src}',
            file=sys.stderr)
        return 1
    out = {'state_dict': merged}
    if wrapped and 'meta' in ckpt:
        out['meta'] = ckpt['meta']
    torch.save(out, args.dst)
    print(f'merged {count} LoRA adapters: {args.src} -> {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
