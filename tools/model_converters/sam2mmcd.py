"""Convert a SAM image-encoder checkpoint to SAMLoRAViT's key layout.

Usage::

    python tools/model_converters/sam2mmcd.py SRC DST [--img-size S]
        [--window-size W] [--prefix P] [--overwrite] [--debug]

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
``2 S / 16 - 1``. Reading, key conversion and resizing are
``SAMLoRAViT``'s own (``mmcd_ext/models/backbones/pretrained.py`` with
``SAM_KEY_RULES``, ``SAM_PREFIXES`` and ``resize_sam_position``), so the
result equals what the backbone loads from the original file; converting
is optional, ``init_cfg`` reads every layout directly.

``DST`` is written atomically (a temporary file in its folder, renamed when
complete); it may not be ``SRC`` (symbolic links resolved), and an existing
``DST`` is replaced only with ``--overwrite``. Errors are one line (exit 1);
``--debug`` shows the traceback.
"""
import argparse
import sys
from typing import Dict, Optional, Sequence, Tuple

from torch import Tensor

from mmcd_ext.models.backbones.pretrained import (convert_state_dict,
                                                  fit_state_dict,
                                                  read_pretrained)
from mmcd_ext.models.backbones.sam_lora_vit import (SAM_KEY_RULES,
                                                    SAM_PREFIXES,
                                                    SAM_WEIGHTS_HINT,
                                                    resize_sam_position)
from mmcd_ext.utils.atomic_files import check_output_file
from mmcd_ext.utils.converter_cli import (add_output_options, converter_parser,
                                          run_converter, save_checkpoint)

OWNER = 'sam2mmcd'


def position_shapes(state: Dict[str, Tensor],
                    img_size: int,
                    window_size: int,
                    patch_size: int = 16) -> Dict[str, Tuple[int, ...]]:
    """Shapes of every key at another input size (the resize target).

    Args:
        state (dict[str, Tensor]): Encoder state dict in our layout.
        img_size (int): Target input side.
        window_size (int): Window of the windowed blocks (their tables,
            ``2 * window - 1`` long, keep their shape).
        patch_size (int): Patch side. Defaults to 16.

    Returns:
        dict[str, tuple[int, ...]]: ``pos_embed`` at (1, S/16, S/16, C),
        the global blocks' relative tables at (2 S/16 - 1, C), every other
        key at its own shape.
    """
    if img_size % patch_size:
        raise ValueError(f'--img-size {img_size} is not a multiple of the '
                         f'patch size {patch_size}')
    grid = img_size // patch_size
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    if 'pos_embed' in shapes:
        shapes['pos_embed'] = (1, grid, grid, shapes['pos_embed'][-1])
    for key, shape in shapes.items():
        if '.rel_pos_' in key and shape[0] != 2 * window_size - 1:
            shapes[key] = (2 * grid - 1, shape[1])
    return shapes


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = converter_parser(
        'Convert a SAM encoder checkpoint (official, mmpretrain '
        'or segment_anything layout) to SAMLoRAViT keys.')
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
    add_output_options(parser)
    return parser.parse_args(argv)


def convert(args: argparse.Namespace) -> None:
    """Read, convert and (atomically) save; see the module docstring.

    Args:
        args (argparse.Namespace): The parsed command line.

    Raises:
        ValueError: If DST is SRC, or SRC is unusable or not a SAM encoder.
        FileExistsError: If DST exists and ``--overwrite`` is not given.
    """
    check_output_file(args.dst, [args.src], args.overwrite)
    raw = read_pretrained(args.src, OWNER, 'SRC', SAM_WEIGHTS_HINT)
    state, prefix = convert_state_dict(
        raw, SAM_KEY_RULES, SAM_PREFIXES, owner=OWNER, source=args.src)
    if not any(k.startswith('layers.') for k in state):
        raise ValueError(f'{OWNER}: unrecognised SAM checkpoint layout '
                         f'in {args.src!r}: expected keys starting with '
                         f"{', '.join(SAM_PREFIXES)} 'blocks.' or "
                         f"'layers.', got e.g. {list(raw)[:5]}")
    if args.img_size is not None:
        state, _, _ = fit_state_dict(
            state,
            position_shapes(state, args.img_size, args.window_size),
            resize_sam_position,
            owner=OWNER,
            source=args.src)
    save_checkpoint(
        {'state_dict': {
            args.prefix + k: v
            for k, v in state.items()
        }}, args.dst)
    stripped = f'prefix {prefix!r} stripped' if prefix else 'no prefix'
    print(f'{args.src} ({stripped}): {len(state)} tensors -> {args.dst}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        int: Exit code 0; an error exits with code 1 and one line on stderr.
    """
    return run_converter('tools/model_converters/sam2mmcd.py', parse_args,
                         convert, argv)


if __name__ == '__main__':
    sys.exit(main())
