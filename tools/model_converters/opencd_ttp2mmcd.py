"""Convert a TTP checkpoint trained with open-cd to our public-code layout.

Usage::

    python tools/model_converters/opencd_ttp2mmcd.py SRC DST
        [--lora-alpha A] [--config CFG [--cfg-options K=V ...]]
        [--overwrite] [--debug]

``SRC`` is a checkpoint saved by open-cd's ``TimeTravellingPixels``
(``configs/ttp/ttp_vit-sam-l_512x512_300e_levircd.py``; the authors'
KyanChen/TTP repository trains the same model): ``VisionTransformerTurner``
(peft around ``ViTSAM_Custom`` with ``TimeFusionTransformerEncoderLayer``
blocks), ``SequentialNeck(FeatureFusionNeck, SimpleFPN)`` and
``MLPSegHead``. ``DST`` gets ``{'state_dict': ...}`` in the layout of
``configs/ttp/ttp_sam-l_levir_public-code.py`` (``SAMLoRAViT`` with joint
LoRA and windowed gates, ``TTPSimpleFPN``, ``TTPMLPHead``).

The key mapping is the table :data:`KEY_TABLE` below, one row per tensor:
our name, the open-cd name and how the tensor changes. In the open-cd
names ``[...]`` is optional (peft >= 0.7 wraps the ``qkv`` layer as
``qkv.base_layer``, older peft does not; without peft the encoder sits at
``backbone.vision_encoder.``) and ``{i}``, ``{g}``, ``{j}``, ``{k}`` stand
for the block, gated block, pyramid level and head level indices.

Checks (each a one-line error, exit 1):

* every open-cd key that matches no row is listed (the conversion goes on;
  they are left out of ``DST``);
* missing: a row with no tensor for an index its group has elsewhere (e.g.
  block 3 without ``ln2.bias``), or no tensor at all;
* shape: a tensor whose shape differs from the row's transform's
  expectation;
* with ``--config``: the config's model is built (without loading SAM
  weights) and must accept ``DST`` with ``load_state_dict(strict=True)``;
  missing or unexpected keys and shape mismatches are named.

open-cd does not store LoRA's ``alpha`` (peft's scale ``alpha / r``): the
public tuner sets ``lora_alpha=32`` in its default dict and the public
config does not change it, so ``--lora-alpha`` defaults to 32 (scale 2.0
for ``r = 16``). ``DST`` is written atomically, never over ``SRC``, and
replaces an existing file only with ``--overwrite``.
"""
import argparse
import re
import sys
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmcd_ext.models.backbones.pretrained import read_pretrained
from mmcd_ext.utils.atomic_files import check_output_file
from mmcd_ext.utils.converter_cli import (add_config_options,
                                          add_output_options, converter_parser,
                                          load_into_config, run_converter,
                                          save_checkpoint)

OWNER = 'opencd_ttp2mmcd'
HINT = ('a checkpoint saved by open-cd (or KyanChen/TTP) training TTP, '
        'e.g. work_dirs/ttp_vit-sam-l_512x512_300e_levircd/best_*.pth')

# open-cd encoder prefix: VisionTransformerTurner.vision_encoder, a peft
# PeftModel (base_model: LoraModel, model: ViTSAM_Custom)
ENC = 'backbone.vision_encoder.[base_model.model.]'
# open-cd neck: SequentialNeck(necks=[FeatureFusionNeck, SimpleFPN])
FPN = 'neck.necks.1.'


def same(value: Tensor) -> Tensor:
    """The tensor unchanged."""
    return value


def conv1x1_to_linear(value: Tensor) -> Tensor:
    """A 1x1 conv weight (O, I, 1, 1) as a linear weight (O, I)."""
    if value.dim() != 4 or value.shape[2:] != (1, 1):
        raise ValueError(f'expected a 1x1 conv weight (O, I, 1, 1), got '
                         f'{tuple(value.shape)}')
    return value.flatten(1)


def lora_b_to_up(value: Tensor) -> Tensor:
    """peft ``lora_B`` (3d, r) as one joint adapter ``lora_up`` (1, 3d, r)."""
    if value.dim() != 2:
        raise ValueError(f'expected lora_B of shape (3d, r), got '
                         f'{tuple(value.shape)}')
    return value.unsqueeze(0)


def lora_a_to_down(value: Tensor) -> Tensor:
    """peft ``lora_A`` (r, d): the joint adapter's ``lora_down`` (r, d)."""
    if value.dim() != 2:
        raise ValueError(f'expected lora_A of shape (r, d), got '
                         f'{tuple(value.shape)}')
    return value


class Row(NamedTuple):
    """One tensor: our key, the open-cd key, the transform."""
    ours: str
    opencd: str
    transform: Callable[[Tensor], Tensor] = same


def _ln(ours: str, theirs: str) -> List[Row]:
    return [Row(f'{ours}.{p}', f'{theirs}.{p}') for p in ('weight', 'bias')]


def _bn(ours: str, theirs: str) -> List[Row]:
    return [
        Row(f'{ours}.{p}', f'{theirs}.{p}')
        for p in ('weight', 'bias', 'running_mean', 'running_var',
                  'num_batches_tracked')
    ]


# our key (segmentor state dict) | open-cd key | transform
KEY_TABLE: Tuple[Row, ...] = (
    # ---- SAM encoder (ViTSAM_Custom)
    *_ln('backbone.patch_embed.projection', ENC + 'patch_embed.projection'),
    Row('backbone.pos_embed', ENC + 'pos_embed'),
    *_ln('backbone.layers.{i}.ln1', ENC + 'layers.{i}.ln1'),
    Row('backbone.layers.{i}.attn.rel_pos_h',
        ENC + 'layers.{i}.attn.rel_pos_h'),
    Row('backbone.layers.{i}.attn.rel_pos_w',
        ENC + 'layers.{i}.attn.rel_pos_w'),
    Row('backbone.layers.{i}.attn.qkv.weight',
        ENC + 'layers.{i}.attn.qkv.[base_layer.]weight'),
    Row('backbone.layers.{i}.attn.qkv.bias',
        ENC + 'layers.{i}.attn.qkv.[base_layer.]bias'),
    # peft LoRA on the fused qkv (adapter 'default') = our joint adapter
    Row('backbone.layers.{i}.attn.qkv.lora_down.weight',
        ENC + 'layers.{i}.attn.qkv.lora_A.default.weight', lora_a_to_down),
    Row('backbone.layers.{i}.attn.qkv.lora_up',
        ENC + 'layers.{i}.attn.qkv.lora_B.default.weight', lora_b_to_up),
    *_ln('backbone.layers.{i}.attn.proj', ENC + 'layers.{i}.attn.proj'),
    *_ln('backbone.layers.{i}.ln2', ENC + 'layers.{i}.ln2'),
    *_ln('backbone.layers.{i}.ffn.layers.0.0',
         ENC + 'layers.{i}.ffn.layers.0.0'),
    *_ln('backbone.layers.{i}.ffn.layers.1', ENC + 'layers.{i}.ffn.layers.1'),
    Row('backbone.channel_reduction.0.weight',
        ENC + 'channel_reduction.0.weight'),
    *_ln('backbone.channel_reduction.1', ENC + 'channel_reduction.1'),
    Row('backbone.channel_reduction.2.weight',
        ENC + 'channel_reduction.2.weight'),
    *_ln('backbone.channel_reduction.3', ENC + 'channel_reduction.3'),
    # ---- time-travelling gate inside TimeFusionTransformerEncoderLayer
    # (down_channel = Proj1, soft_ffn = Proj2; 1x1 convs, ours linear)
    Row('backbone.gates.{g}.proj1.weight',
        ENC + 'layers.{g}.down_channel.weight', conv1x1_to_linear),
    Row('backbone.gates.{g}.proj2.0.weight',
        ENC + 'layers.{g}.soft_ffn.0.weight', conv1x1_to_linear),
    Row('backbone.gates.{g}.proj2.0.bias', ENC + 'layers.{g}.soft_ffn.0.bias'),
    Row('backbone.gates.{g}.proj2.2.weight',
        ENC + 'layers.{g}.soft_ffn.2.weight', conv1x1_to_linear),
    Row('backbone.gates.{g}.proj2.2.bias', ENC + 'layers.{g}.soft_ffn.2.bias'),
    # ---- SimpleFPN (same module names in TTPSimpleFPN)
    *_ln('neck.fpn1.0', FPN + 'fpn1.0'),  # ConvTranspose2d
    *_ln('neck.fpn1.1', FPN + 'fpn1.1'),  # LN2d
    *_ln('neck.fpn1.3', FPN + 'fpn1.3'),  # ConvTranspose2d
    *_ln('neck.fpn2.0', FPN + 'fpn2.0'),  # ConvTranspose2d
    Row('neck.lateral_convs.{j}.conv.weight',
        FPN + 'lateral_convs.{j}.conv.weight'),
    *_ln('neck.lateral_convs.{j}.ln', FPN + 'lateral_convs.{j}.ln'),
    Row('neck.fpn_convs.{j}.conv.weight', FPN + 'fpn_convs.{j}.conv.weight'),
    *_ln('neck.fpn_convs.{j}.ln', FPN + 'fpn_convs.{j}.ln'),
    # ---- MLPSegHead (SegformerHead names in TTPMLPHead)
    Row('decode_head.convs.{k}.conv.weight',
        'decode_head.convs.{k}.conv.weight'),
    *_bn('decode_head.convs.{k}.bn', 'decode_head.convs.{k}.bn'),
    Row('decode_head.fusion_conv.conv.weight',
        'decode_head.fusion_conv.conv.weight'),
    *_bn('decode_head.fusion_conv.bn', 'decode_head.fusion_conv.bn'),
    *_ln('decode_head.conv_seg', 'decode_head.conv_seg'),
)
# not in open-cd's file: our joint adapter's scale, alpha / r, per block
LORA_SCALING = 'backbone.layers.{i}.attn.qkv.lora_scaling'
LORA_DOWN = 'backbone.layers.{i}.attn.qkv.lora_down.weight'


def pattern(template: str) -> 're.Pattern':
    """Compile an open-cd key template: ``[x]`` optional, ``{i}`` a number.

    Args:
        template (str): E.g. ``'a.[b.]layers.{i}.w'``.

    Returns:
        re.Pattern: The full-match pattern with one group per index.
    """
    out = ''
    for token in re.split(r'(\[|\]|\{\w\})', template):
        if token == '[':
            out += '(?:'
        elif token == ']':
            out += ')?'
        elif re.fullmatch(r'\{\w\}', token):
            out += f'(?P<{token[1]}>\\d+)'
        else:
            out += re.escape(token)
    return re.compile(out)


PATTERNS = [(row, pattern(row.opencd)) for row in KEY_TABLE]


def indices_of(template: str) -> List[str]:
    """The index names in a template, e.g. ``['i']``."""
    return re.findall(r'\{(\w)\}', template)


def convert_state_dict(
        state: Dict[str, Tensor],
        lora_alpha: float = 32.) -> Tuple[Dict[str, Tensor], List[str]]:
    """Map an open-cd TTP state dict to ours with :data:`KEY_TABLE`.

    Args:
        state (dict[str, Tensor]): open-cd's model state dict.
        lora_alpha (float): peft's ``lora_alpha`` of the run.
            Defaults to 32.

    Returns:
        tuple[dict[str, Tensor], list[str]]: Our state dict and the open-cd
        keys no row maps (left out).

    Raises:
        KeyError: A row has no tensor for an index its group has elsewhere,
            no tensor at all, or two open-cd keys map to one of ours.
        ValueError: A tensor has the wrong number of dimensions for its
            row's transform.
    """
    out: Dict[str, Tensor] = {}
    source_of: Dict[str, str] = {}
    unmapped: List[str] = []
    seen: Dict[str, set] = {}
    found: Dict[int, set] = {}
    for key, value in state.items():
        for number, (row, regex) in enumerate(PATTERNS):
            match = regex.fullmatch(key)
            if match is None:
                continue
            groups = match.groupdict()
            ours = row.ours.format(**groups)
            if ours in out:
                raise KeyError(f'{OWNER}: open-cd keys {source_of[ours]!r} '
                               f'and {key!r} both map to {ours!r}')
            try:
                out[ours] = row.transform(value)
            except ValueError as err:
                raise ValueError(f'{OWNER}: {key!r} -> {ours!r}: {err}') \
                    from None
            source_of[ours] = key
            for name, index in groups.items():
                seen.setdefault(name, set()).add(int(index))
            found.setdefault(number, set()).add(
                tuple(sorted((n, int(v)) for n, v in groups.items())))
            break
        else:
            unmapped.append(key)
    missing = []
    for number, (row, _) in enumerate(PATTERNS):
        names = indices_of(row.opencd)
        if not names:
            if number not in found:
                missing.append(row.opencd)
            continue
        name = names[0]
        if not seen.get(name):
            missing.append(row.opencd)
            continue
        have = {dict(t)[name] for t in found.get(number, set())}
        for index in sorted(seen[name] - have):
            missing.append(row.opencd.replace('{' + name + '}', str(index)))
    if missing:
        shown = ', '.join(missing[:6]) + (' ...' if len(missing) > 6 else '')
        raise KeyError(f'{OWNER}: {len(missing)} tensors missing from the '
                       f'open-cd checkpoint: {shown} (not a TTP checkpoint '
                       f'of the public config? unmapped keys e.g. '
                       f'{unmapped[:3]})')
    for index in sorted(seen.get('i', ())):
        down = out[LORA_DOWN.format(i=index)]
        out[LORA_SCALING.format(i=index)] = torch.tensor(
            float(lora_alpha) / down.shape[0])
    return out, unmapped


def check_against_model(state: Dict[str, Tensor], config: str,
                        cfg_options: Optional[dict]) -> int:
    """Build ``config``'s model and load ``state`` with ``strict=True``.

    Args:
        state (dict[str, Tensor]): Converted state dict.
        config (str): Config path (e.g. the public-code config).
        cfg_options (dict, optional): Config overrides.

    Returns:
        int: Number of tensors loaded.

    Raises:
        ValueError: Shape mismatches, missing or unexpected keys (named).
    """
    load_into_config(
        state,
        config,
        OWNER,
        cfg_options,
        hint=' (a different arch or config?)')
    return len(state)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = converter_parser(
        'Convert an open-cd TTP checkpoint to the layout of '
        'configs/ttp/ttp_sam-l_levir_public-code.py.', 'open-cd checkpoint')
    parser.add_argument(
        '--lora-alpha',
        type=float,
        default=32.,
        help="peft lora_alpha of the run (not stored in the file). "
        'Default: 32, the public tuner\'s')
    add_config_options(
        parser, 'also build this config\'s model and load the result with '
        'strict=True',
        cfg_options=True)
    add_output_options(parser)
    return parser.parse_args(argv)


def convert(args: argparse.Namespace) -> None:
    """Read, convert, check and (atomically) save; see the module docstring.

    Args:
        args (argparse.Namespace): The parsed command line.
    """
    if args.lora_alpha <= 0:
        raise ValueError(f'{OWNER}: --lora-alpha must be positive, got '
                         f'{args.lora_alpha}')
    check_output_file(args.dst, [args.src], args.overwrite)
    raw = read_pretrained(args.src, OWNER, 'SRC', HINT)
    state, unmapped = convert_state_dict(raw, args.lora_alpha)
    for key in unmapped:
        print(f'{OWNER}: unmapped open-cd key (left out): {key}')
    checked = ''
    if args.config is not None:
        check_against_model(state, args.config, args.cfg_options)
        checked = f'; loads into {args.config} with strict=True'
    save_checkpoint({'state_dict': state}, args.dst)
    print(f'{args.src}: {len(state)} tensors ({len(unmapped)} unmapped '
          f'keys) -> {args.dst}{checked}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Arguments; ``sys.argv[1:]`` when
            None. Defaults to None.

    Returns:
        int: Exit code 0; an error exits with code 1 and one line on stderr.
    """
    return run_converter('tools/model_converters/opencd_ttp2mmcd.py',
                         parse_args, convert, argv)


if __name__ == '__main__':
    sys.exit(main())
