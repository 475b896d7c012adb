"""Convert a SAM image-encoder checkpoint to SAMLoRAViT's key layout.

Usage::

    python tools/model_converters/sam2mmcd.py SRC DST [--img-size S]
        [--window-size W] [--prefix P]

``SRC`` is Meta's official SAM checkpoint (``sam_vit_b_01ec64.pth``,
``sam_vit_l_0b3195.pth``, ``sam_vit_h_4b8939.pth``: keys
``image_encoder.*``; the prompt encoder and mask decoder are dropped), an
mmpretrain ViTSAM checkpoint (``backbone.*``) or a segment_anything
``ImageEncoderViT`` state dict (``blocks.*``). ``DST`` gets
``{'state_dict': {P + key: tensor}}`` with our keys (``layers.N.ln1``,
``layers.N.ffn.layers.0.0``, ``channel_reduction.*`` ...; ``P`` defaults to
``backbone.``, so the file also works as ``load_from`` for a TTP
segmentor). With ``--img-size`` the absolute position table is resized
(bicubic) to ``S / 16`` tokens a side and the relative tables of the global
blocks (those whose tables do not match ``--window-size``) linearly to
``2 S / 16 - 1``, as ``SAMLoRAViT`` does when it loads the original file;
converting is optional, ``init_cfg`` reads every layout directly.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmcd_ext.models.backbones.sam_lora_vit import (SAM_WEIGHTS_HINT,
                                                    convert_sam_state_dict)


def resize_positions(state: Dict[str, Tensor],
                     img_size: int,
                     window_size: int,
                     patch_size: int = 16) -> Dict[str, Tensor]:
    """Resize the absolute and global relative position tables.

    Args:
        state (dict[str, Tensor]): Encoder state dict in our layout.
        img_size (int): Target input side.
        window_size (int): Window of the windowed blocks (their tables,
            ``2 * window - 1`` long, are left alone).
        patch_size (int): Patch side. Defaults to 16.

    Returns:
        dict[str, Tensor]: The resized state dict (a new dict).
    """
    if img_size % patch_size:
        raise ValueError(f'--img-size {img_size} is not a multiple of the '
                         f'patch size {patch_size}')
    grid = img_size // patch_size
    state = dict(state)
    if 'pos_embed' in state:
        pos = state['pos_embed'].float().permute(0, 3, 1, 2)
        state['pos_embed'] = F.interpolate(
            pos, size=(grid, grid), mode='bicubic',
            align_corners=False).permute(0, 2, 3, 1)
    length = 2 * grid - 1
    for key, value in list(state.items()):
        if '.rel_pos_' in key and value.shape[0] != 2 * window_size - 1:
            table = value.float().t().unsqueeze(0)  # (1, C, L)
            state[key] = F.interpolate(
                table, size=length, mode='linear').squeeze(0).t()
    return state


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Convert a SAM encoder checkpoint (official, mmpretrain '
        'or segment_anything layout) to SAMLoRAViT keys.')
    parser.add_argument('src', help='source checkpoint')
    parser.add_argument('dst', help='output file')
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help='resize position tables for this input side '
        '(e.g. 512). Default: keep them')
    parser.add_argument(
        '--window-size',
        type=int,
        default=14,
        help='window of the windowed blocks. Default: 14')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="key prefix in DST. Default: 'backbone.'")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion; returns the exit code."""
    args = parse_args(argv)
    if not osp.isfile(args.src):
        print(
            f'error: {args.src} not found. {SAM_WEIGHTS_HINT}',
            file=sys.stderr)
        return 1
    raw = torch.load(args.src, map_location='cpu', weights_only=True)
    state, layout = convert_sam_state_dict(raw)
    if args.img_size is not None:
        state = resize_positions(state, args.img_size, args.window_size)
    torch.save({'state_dict': {
        args.prefix + k: v
        for k, v in state.items()
    }}, args.dst)
    print(f'{args.src} ({layout}): {len(state)} tensors -> {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
