"""Convert a state dict saved by the authors' LSAFNet code to ours.

Usage::

    python tools/model_converters/rsiscd2mmcd.py SRC DST [--config CFG]
        [--overwrite] [--debug]

``SRC`` is what the authors' code (github.com/STORMTROOPERRR/RSISCD,
``train.py``) saves: ``net.state_dict()`` of ``models/SCD.py``'s
``SCDNet``, trained inside ``torch.nn.DataParallel`` so every key starts
with ``module.`` (the prefix is optional here; a ``state_dict`` wrapper is
removed too). ``DST`` gets ``{'state_dict': ..., 'meta': ...}`` in the
layout of ``configs/lsafnet/lsafnet_r34_{second,landsat}_public-code.py``,
ready for ``tools/test.py CFG DST`` or ``load_from``.

The mapping is the table :data:`MODULES` (public module -> our module ->
kind) with the per-kind parameter tables in :data:`KINDS`; read them line
by line against ``models/SCD.py``. Two things are not plain copies:

* the public code's 1x1 convs that feed a BN have a bias (ours have none):
  ``BN(W x + b)`` equals ``BN'(W x)`` with ``running_mean' = running_mean -
  b`` (exact in eval mode; in training the batch mean absorbs ``b``), so
  each such bias is folded into the BN of the next row;
* the classifier ``backbone.resnet.fc.*`` is dropped.

The public SFM calls ``LGAA(CBR(F_3), F_2)`` (reduced map first); our
public-code configs set ``sfm_reduced_first=True``, so the LGAA weights are
copied as they are. Every key of ``SRC`` must be used and every table entry
found, otherwise the conversion stops and lists the keys. With
``--config`` the result is also loaded with ``strict=True`` into the model
built from that config (every key and shape must match) and the config's
head switches are checked against the public code's.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmcd_ext.utils.atomic_files import check_output_file
from mmcd_ext.utils.converter_cli import (add_config_options,
                                          add_output_options, converter_parser,
                                          load_into_config, run_converter,
                                          save_checkpoint)

OWNER = 'rsiscd2mmcd'

# Parameters and buffers of one leaf module, by leaf kind.
PARAMS = {
    'conv': ('weight', ),
    'conv_bias': ('weight', 'bias'),
    # a conv with a bias that our layout folds into the BN of the NEXT row
    'conv_bias_folded': ('weight', ),
    'bn':
    ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'),
}

# Composite kinds: (public sub-module, our sub-module, kind) rows; a kind is
# a leaf kind of PARAMS or another composite kind.
KINDS: Dict[str, List[Tuple[str, str, str]]] = {
    # nn.Sequential(Conv2d 1x1 (bias), BatchNorm2d, ReLU) -> ConvModule
    'conv_bn_relu': [
        ('0', 'conv', 'conv_bias_folded'),
        ('1', 'bn', 'bn'),
    ],
    # LGAE / LGAA: local_att = Sequential(conv, BN, ReLU, conv, BN),
    # global_att = Sequential(pool, conv, BN, ReLU, conv, BN)
    'attention': [
        ('local_att.0', 'local_att.0.conv', 'conv_bias_folded'),
        ('local_att.1', 'local_att.0.bn', 'bn'),
        ('local_att.3', 'local_att.1.conv', 'conv_bias_folded'),
        ('local_att.4', 'local_att.1.bn', 'bn'),
        ('global_att.1', 'global_att.0.conv', 'conv_bias_folded'),
        ('global_att.2', 'global_att.0.bn', 'bn'),
        ('global_att.4', 'global_att.1.conv', 'conv_bias_folded'),
        ('global_att.5', 'global_att.1.bn', 'bn'),
    ],
    # ResBlock / torchvision BasicBlock -> mmseg BasicBlock
    'basic_block': [
        ('conv1', 'conv1', 'conv'),
        ('bn1', 'bn1', 'bn'),
        ('conv2', 'conv2', 'conv'),
        ('bn2', 'bn2', 'bn'),
    ],
    # torchvision BasicBlock with a projection shortcut (same names)
    'basic_block_tv_down': [
        ('', '', 'basic_block'),
        ('downsample.0', 'downsample.0', 'conv'),
        ('downsample.1', 'downsample.1', 'bn'),
    ],
    # ResBlock with a projection shortcut -> BasicBlock with a ConvModule
    'basic_block_down': [
        ('', '', 'basic_block'),
        ('downsample.0', 'downsample.conv', 'conv'),
        ('downsample.1', 'downsample.bn', 'bn'),
    ],
    # DecoderBlock.block = Sequential(ResBlock (projection), ResBlock,
    # Conv2d 3x3 dilation 2, BN, ReLU) -> LSAFConvBlock
    'decoder_block': [
        ('block.0', 'res1', 'basic_block_down'),
        ('block.1', 'res2', 'basic_block'),
        ('block.2', 'spatial.conv', 'conv'),
        ('block.3', 'spatial.bn', 'bn'),
    ],
    # CTFA -> SKDateFusion
    'sk_fusion': [
        ('conv_du.0', 'squeeze', 'conv'),
        ('fcs.0', 'select.0', 'conv'),
        ('fcs.1', 'select.1', 'conv'),
    ],
    # ss_classifier = Sequential(DecoderBlock, conv, BN, ReLU, conv)
    # -> LSAFPerDateClassifier
    'semantic_classifier': [
        ('0', 'block', 'decoder_block'),
        ('1', 'hidden.conv', 'conv_bias_folded'),
        ('2', 'hidden.bn', 'bn'),
        ('4', 'conv_out', 'conv_bias'),
    ],
    # cr_classifier = Sequential(conv, BN, ReLU, conv) -> the head's
    # cd_cls_hidden (ConvModule) and conv_change
    'change_classifier': [
        ('0', 'cd_cls_hidden.conv', 'conv_bias_folded'),
        ('1', 'cd_cls_hidden.bn', 'bn'),
        ('3', 'conv_change', 'conv_bias'),
    ],
    # torchvision resnet34 (layer3 / layer4 at stride 1 changes no key)
    # -> ResNetWithStem(depth=34)
    'resnet34': [
        ('conv1', 'conv1', 'conv'),
        ('bn1', 'bn1', 'bn'),
        ('layer1.0', 'layer1.0', 'basic_block'),
        ('layer1.1', 'layer1.1', 'basic_block'),
        ('layer1.2', 'layer1.2', 'basic_block'),
        ('layer2.0', 'layer2.0', 'basic_block_tv_down'),
        ('layer2.1', 'layer2.1', 'basic_block'),
        ('layer2.2', 'layer2.2', 'basic_block'),
        ('layer2.3', 'layer2.3', 'basic_block'),
        ('layer3.0', 'layer3.0', 'basic_block_tv_down'),
        ('layer3.1', 'layer3.1', 'basic_block'),
        ('layer3.2', 'layer3.2', 'basic_block'),
        ('layer3.3', 'layer3.3', 'basic_block'),
        ('layer3.4', 'layer3.4', 'basic_block'),
        ('layer3.5', 'layer3.5', 'basic_block'),
        ('layer4.0', 'layer4.0', 'basic_block_tv_down'),
        ('layer4.1', 'layer4.1', 'basic_block'),
        ('layer4.2', 'layer4.2', 'basic_block'),
    ],
}

# The model: public module (models/SCD.py, SCDNet) -> ours -> kind.
MODULES: List[Tuple[str, str, str]] = [
    ('backbone.resnet', 'backbone', 'resnet34'),
    ('encoder.block1', 'decode_head.sfm.reduce3', 'conv_bn_relu'),
    ('encoder.lgaa1', 'decode_head.sfm.fuse2', 'attention'),
    ('encoder.block2', 'decode_head.sfm.reduce2', 'conv_bn_relu'),
    ('encoder.lgaa2', 'decode_head.sfm.fuse1', 'attention'),
    ('ss_decoder.block1', 'decode_head.ss_block_m', 'decoder_block'),
    ('ss_decoder.block2', 'decode_head.ss_block_l', 'decoder_block'),
    ('ss_decoder.lgae', 'decode_head.lgce', 'attention'),
    ('cr_decoder.ctfa', 'decode_head.cd_sk', 'sk_fusion'),
    ('cr_decoder.block1', 'decode_head.cd_block_h', 'decoder_block'),
    ('cr_decoder.block2', 'decode_head.cd_block_m', 'decoder_block'),
    ('cr_decoder.block3', 'decode_head.cd_block_l', 'decoder_block'),
    ('ss_classifier1', 'decode_head.sem_cls.0', 'semantic_classifier'),
    ('ss_classifier2', 'decode_head.sem_cls.1', 'semantic_classifier'),
    ('cr_classifier', 'decode_head', 'change_classifier'),
]

# Public keys with no counterpart (the ImageNet classifier).
DROPPED = ('backbone.resnet.fc.weight', 'backbone.resnet.fc.bias')

# Head switches our model needs to compute what the public code computes
# (configs/lsafnet/README.md, "paper vs public code").
PUBLIC_HEAD_SWITCHES = dict(
    sfm_reduced_first=True,
    semantic_input='raw',
    cd_entry='sk',
    semantic_classifier='per_date',
    no_change_logit=True,
    block_depthwise=False,
    per_date_bn=True)


def _join(*parts: str) -> str:
    return '.'.join(p for p in parts if p)


def expand(public: str = '',
           ours: str = '',
           kind: Optional[str] = None) -> List[Tuple[str, str, str]]:
    """The table as leaf rows ``(public module, our module, leaf kind)``.

    Args:
        public (str): Public module prefix. Defaults to ''.
        ours (str): Our module prefix. Defaults to ''.
        kind (str, optional): Kind of the module; None expands
            :data:`MODULES`. Defaults to None.

    Returns:
        list[tuple[str, str, str]]: Leaf rows in table order.
    """
    rows = MODULES if kind is None else KINDS.get(kind)
    if kind in PARAMS:
        return [(public, ours, kind)]
    if rows is None:
        raise KeyError(f'{OWNER}: unknown kind {kind!r} in the table')
    leaves = []
    for sub_public, sub_ours, sub_kind in rows:
        leaves += expand(
            _join(public, sub_public), _join(ours, sub_ours), sub_kind)
    return leaves


def key_map() -> List[Tuple[str, str, Optional[str]]]:
    """Every output key with its public source (and bias to fold).

    Returns:
        list[tuple[str, str, str | None]]: ``(our key, public key, public
        conv bias subtracted from it or None)``.
    """
    out = []
    pending_bias = None
    for public, ours, kind in expand():
        if pending_bias is not None and kind != 'bn':
            raise ValueError(f'{OWNER}: table error: the conv bias '
                             f'{pending_bias} is not followed by a BN')
        for name in PARAMS[kind]:
            fold = pending_bias if name == 'running_mean' else None
            out.append((_join(ours, name), _join(public, name), fold))
        pending_bias = None
        if kind == 'conv_bias_folded':
            pending_bias = _join(public, 'bias')
    return out


def strip_prefix(state: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], str]:
    """Remove DataParallel's ``module.`` prefix if every key has it."""
    prefix = 'module.'
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}, prefix
    return dict(state), ''


def convert_state(state: Dict[str, Tensor],
                  source: str = 'SRC') -> Dict[str, Tensor]:
    """Convert a public ``SCDNet`` state dict (see the module docstring).

    Args:
        state (dict[str, Tensor]): The public state dict (``module.``
            prefix optional).
        source (str): Name of the input in error messages.

    Returns:
        dict[str, Tensor]: Our state dict.

    Raises:
        KeyError: A table entry is missing from ``state`` or a key of
            ``state`` is not in the table (both listed).
        ValueError: A folded bias does not fit its BN.
    """
    state, _ = strip_prefix(state)
    rows = key_map()
    used = set(DROPPED) & set(state)
    missing = []
    for _, public, fold in rows:
        for key in (public, fold):
            if key is None:
                continue
            if key in state:
                used.add(key)
            else:
                missing.append(key)
    unmapped = sorted(set(state) - used)
    if missing or unmapped:
        parts = []
        if missing:
            parts.append(f'{len(missing)} expected key(s) missing: '
                         f'{sorted(set(missing))}')
        if unmapped:
            parts.append(f'{len(unmapped)} key(s) not in the table: '
                         f'{unmapped}')
        raise KeyError(f'{OWNER}: {source} is not a state dict of the '
                       'authors\' LSAFNet (models/SCD.py SCDNet): ' +
                       '; '.join(parts))
    out = {}
    for ours, public, fold in rows:
        value = state[public].clone()
        if fold is not None:
            bias = state[fold]
            if bias.shape != value.shape:
                raise ValueError(f'{OWNER}: {source}: bias {fold} '
                                 f'{tuple(bias.shape)} does not fit '
                                 f'{public} {tuple(value.shape)}')
            value = value - bias.to(value.dtype)
        out[ours] = value
    return out


def check_against_config(state: Dict[str, Tensor], config: str) -> None:
    """Load ``state`` strictly into the model of ``config``.

    Args:
        state (dict[str, Tensor]): Our state dict.
        config (str): Config file path.

    Raises:
        ValueError: The head switches differ from the public code's, or
            keys / shapes differ (listed).
    """

    def check_public(cfg) -> None:
        head = cfg.model.decode_head
        wrong = {
            k: head.get(k)
            for k, v in PUBLIC_HEAD_SWITCHES.items() if head.get(k) != v
        }
        if wrong:
            raise ValueError(f'{OWNER}: {config} does not build the public '
                             f'model: model.decode_head has {wrong}, the '
                             f'public code needs {PUBLIC_HEAD_SWITCHES}')
        if not cfg.model.get('per_date_backbone', False):
            raise ValueError(f'{OWNER}: {config} does not build the public '
                             'model: set model.per_date_backbone=True')

    load_into_config(
        state,
        config,
        OWNER,
        check_cfg=check_public,
        hint=' (num_classes must equal the public model\'s)')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = converter_parser(
        'Convert a state dict of the authors\' LSAFNet code '
        '(STORMTROOPERRR/RSISCD) to the layout of the public-code configs.',
        'source state dict (.pth)')
    add_config_options(
        parser, 'also load the result strictly into this config\'s model, '
        'e.g. configs/lsafnet/lsafnet_r34_second_public-code.py')
    add_output_options(parser)
    return parser.parse_args(argv)


def read_state(src: str) -> Dict[str, Tensor]:
    """Load ``src`` and unwrap a ``state_dict`` / ``model`` wrapper."""
    if not osp.isfile(src):
        raise FileNotFoundError(f'{OWNER}: no such file {src!r}')
    raw = torch.load(src, map_location='cpu', weights_only=True)
    for wrapper in ('state_dict', 'model'):
        if isinstance(raw, dict) and isinstance(raw.get(wrapper), dict):
            raw = raw[wrapper]
    if not isinstance(raw, dict) or not raw or not all(
            isinstance(v, Tensor) for v in raw.values()):
        raise TypeError(f'{OWNER}: {src!r} holds no state dict of tensors')
    return raw


def convert(args: argparse.Namespace) -> None:
    """Read, convert, optionally check, and save atomically."""
    check_output_file(args.dst, [args.src], args.overwrite)
    raw = read_state(args.src)
    state = convert_state(raw, args.src)
    if args.config:
        check_against_config(state, args.config)
    save_checkpoint(
        {
            'state_dict': state,
            'meta': dict(converted_from=osp.basename(args.src), tool=OWNER)
        }, args.dst)
    checked = f', loads into {args.config}' if args.config else ''
    print(f'{args.src}: {len(raw)} tensors -> {len(state)} in {args.dst} '
          f'({len(DROPPED)} dropped{checked})')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion; an error exits 1 with one line on stderr."""
    return run_converter('tools/model_converters/rsiscd2mmcd.py', parse_args,
                         convert, argv)


if __name__ == '__main__':
    sys.exit(main())
