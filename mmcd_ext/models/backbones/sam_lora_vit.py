"""SAM image encoder with LoRA and time-travelling gates (TTP backbone)."""
import functools
import re
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.models.backbones.vit_sam import TransformerEncoderLayer, ViTSAM
from mmpretrain.models.utils import resize_pos_embed
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from mmcd_ext.models.backbones.pretrained import (WEIGHTS_KEY, load_pretrained,
                                                  resolve_pretrained_init)
from mmcd_ext.models.layers.qkv_lora import QKVLoRALinear
from mmcd_ext.models.layers.sam_attention import ATTN_IMPLS, SAMAttention
from mmcd_ext.models.layers.time_travelling_gate import TimeTravellingGate
from mmcd_ext.registry import MODELS

# activation checkpointing levels (``with_cp``); True = 'all'
CP_LEVELS = ('none', 'mlp', 'attn', 'windowed', 'all')
GATE_PLACEMENTS = ('global', 'windowed')
SAM_WEIGHTS_HINT = (
    "Meta's official SAM checkpoints (sam_vit_b_01ec64.pth, "
    'sam_vit_l_0b3195.pth, sam_vit_h_4b8939.pth) are linked from '
    'https://github.com/facebookresearch/segment-anything#model-checkpoints; '
    "mmpretrain's converted ViTSAM checkpoints (keys 'backbone.*') from its "
    'model zoo (configs/sam/README.md of mmpretrain). See '
    'configs/ttp/README.md.')

# official SAM (segment_anything ImageEncoderViT) -> mmpretrain ViTSAM names,
# applied in order with re.sub; keys already in our layout pass unchanged
SAM_KEY_RULES = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.', 'layers.'),
    (r'\.norm1\.', '.ln1.'),
    (r'\.norm2\.', '.ln2.'),
    (r'\.mlp\.lin1\.', '.ffn.layers.0.0.'),
    (r'\.mlp\.lin2\.', '.ffn.layers.1.'),
    (r'^neck\.', 'channel_reduction.'),
)
# Meta's full SAM file (image_encoder.*; prompt encoder and mask decoder
# dropped), then mmpretrain ViTSAM / mmcd_ext segmentors (backbone.*)
SAM_PREFIXES = ('image_encoder.', 'backbone.')
# what SAM checkpoints never hold
SAM_NOT_IN_CHECKPOINT = (r'\.lora_', r'^gates\.')
# the q/k/v biases of the blocks (peft bias='lora_only' trains them)
QKV_BIAS_NAME = re.compile(r'^layers\.\d+\.attn\.qkv\.bias$')
SAM_CONFIG_KEY = WEIGHTS_KEY


def resize_sam_position(key: str,
                        value: Tensor,
                        shape: Tuple[int, ...],
                        mode: str = 'bicubic') -> Tensor:
    """Resize a SAM position table to another input or window size.

    The tensor adapter of :func:`load_pretrained` for SAM: the absolute
    table ``pos_embed`` (1, h, w, C) is interpolated (``mode``) to
    ``shape`` = (1, H, W, C); a relative table ``*.rel_pos_h`` /
    ``*.rel_pos_w`` (L, C) linearly to (L', C). Other keys are returned
    unchanged (and then reported as a shape error).

    Args:
        key (str): Key in our layout.
        value (Tensor): The checkpoint's table.
        shape (tuple[int, ...]): The model's shape for ``key``.
        mode (str): Interpolation of the absolute table.
            Defaults to 'bicubic'.

    Returns:
        Tensor: The table at ``shape`` (float), or ``value`` (already at
        ``shape``, or not a position table).
    """
    if tuple(value.shape) == tuple(shape):
        return value
    if key == 'pos_embed' and value.dim() == 4 and len(shape) == 4 \
            and value.shape[-1] == shape[-1]:
        resized = resize_pos_embed(
            value.flatten(1, 2),
            tuple(value.shape[1:3]),
            tuple(shape[1:3]),
            mode=mode,
            num_extra_tokens=0)
        return resized.view(*shape)
    if re.search(r'(^|\.)rel_pos_[hw]$', key) and value.dim() == 2 \
            and len(shape) == 2 and value.shape[1] == shape[1]:
        table = value.float().t().unsqueeze(0)  # (1, C, L)
        return F.interpolate(
            table, size=shape[0], mode='linear').squeeze(0).t()
    return value


class SAMBlock(TransformerEncoderLayer):
    """mmpretrain's SAM block (``TransformerEncoderLayer``) with padding-aware
    windows and selective activation checkpointing.

    Same parameters, state dict and outputs; :class:`SAMLoRAViT` turns its
    blocks into this class (``attn`` must be a :class:`SAMAttention`).
    ``cp_level`` (set by the backbone, effective in training with
    gradients): ``'none'``, ``'mlp'`` (recompute ``ln2`` + MLP), ``'attn'``
    (recompute ``ln1`` + attention) or ``'block'`` (recompute the block).
    """

    cp_level = 'none'

    def _attn_branch(self, x: Tensor) -> Tensor:
        x = self.ln1(x)
        if self.window_size > 0:
            return self.attn.forward_windowed(x, self.window_size)
        return self.attn(x)

    def _mlp_branch(self, x: Tensor) -> Tensor:
        return self.ffn(self.ln2(x), identity=x)

    def _forward(self, x: Tensor, level: str) -> Tensor:
        if level == 'attn':
            x = x + checkpoint(self._attn_branch, x, use_reentrant=False)
        else:
            x = x + self._attn_branch(x)
        if level == 'mlp':
            return checkpoint(self._mlp_branch, x, use_reentrant=False)
        return self._mlp_branch(x)

    def forward(self, x: Tensor) -> Tensor:
        """Block forward, (B, H, W, C) -> (B, H, W, C)."""
        level = self.cp_level if self.training and \
            torch.is_grad_enabled() else 'none'
        if level == 'block':
            return checkpoint(self._forward, x, 'none', use_reentrant=False)
        return self._forward(x, level)


def _block_then_gate(block: SAMBlock, gate: nn.Module, x: Tensor) -> Tensor:
    """A block without its own checkpointing, then its gate (the segment
    checkpointed together at ``with_cp='all'`` / ``'windowed'``)."""
    return gate(block._forward(x, 'none'))


@MODELS.register_module()
class SAMLoRAViT(ViTSAM):
    """Frozen SAM image encoder with LoRA and time-travelling gates (TTP).

    mmpretrain's ``ViTSAM`` (the SAM ViT: patch 16, window 14, decomposed
    relative positions, global blocks, conv neck to ``out_channels``) with

    * every block's attention replaced by :class:`SAMAttention` (fused
      ``scaled_dot_product_attention`` by default, ``attn_impl='eager'`` for
      the written-out softmax);
    * LoRA on the q/k/v projection of every block (:class:`QKVLoRALinear`,
      paper eq. 1), ``lora_cfg=None`` for none;
    * :class:`TimeTravellingGate` (paper eq. 2) after the global-attention
      blocks (``gate_placement='global'``, the paper: 4 gates) or after
      every windowed block (``'windowed'``, the public code), on the stacked
      batch ``(2B, ...)``: date A first, date B second. ``gate_cfg=None``
      for none (the "w/o ttg" ablation);
    * all SAM weights frozen (patch embedding, positions, blocks, neck);
      trainable are the LoRA adapters and the trainable gates only (plus
      the q/k/v biases with ``train_qkv_bias``, the public code). The set
      is logged as a table at build time and returned by
      :meth:`trainable_parameter_names`;
    * blocks turned into :class:`SAMBlock` (padding-aware windows: the
      q/k/v and output projections skip the window padding) with optional
      selective activation checkpointing (``with_cp``);
    * checkpoint loading through ``init_cfg=dict(type='Pretrained',
      checkpoint=PATH)`` of Meta's official SAM files (``image_encoder.*``),
      mmpretrain ViTSAM files (``backbone.*``) or our own layout, at any
      ``img_size`` (absolute and relative position tables resized on load);
      missing and unexpected keys are logged.

    Args:
        arch (str | dict): ``'base'``, ``'large'``, ``'huge'`` (or ``b``,
            ``l``, ``h``) or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads``, ``feedforward_channels``, ``global_attn_indexes``.
            Defaults to 'base'.
        img_size (int | tuple): Size the position tables are built for
            (SAM's own 1024 keeps the checkpoint's tables as they are);
            inputs of another size resize them in ``forward``, so configs
            need not set it. Defaults to 1024.
        out_channels (int): Neck width (0: no neck). Defaults to 256.
        out_indices (int | Sequence[int]): Blocks whose output is returned
            (after the gate of that block, through the neck).
            Defaults to -1.
        window_size (int): Window of the windowed blocks. Defaults to 14.
        lora_cfg (dict, optional): ``rank``, ``alpha``, ``dropout``,
            ``mode`` of :class:`QKVLoRALinear`. Defaults to
            ``dict(rank=16, alpha=16, dropout=0., mode='separate')``.
        gate_cfg (dict, optional): Keyword arguments of
            :class:`TimeTravellingGate` (``proj2_hidden``,
            ``sequential_update``, ``init_mode``, ``trainable``); None for no
            gates. Defaults to ``dict()`` (paper gate).
        gate_placement (str): ``'global'`` or ``'windowed'``.
            Defaults to 'global'.
        attn_impl (str): ``'fused'``, ``'fused_mask'`` or ``'eager'``
            (:class:`SAMAttention`). Defaults to 'fused'.
        with_cp (bool | str): Activation checkpointing in training (less
            memory, some recomputation): ``'none'`` (or False), ``'mlp'``
            (recompute every block's ``ln2`` + MLP), ``'attn'`` (its
            ``ln1`` + attention), ``'windowed'`` (whole windowed blocks),
            ``'all'`` (or True: every whole block). A time-travelling
            gate after a whole-block checkpoint is recomputed with it.
            Defaults to False.
        train_neck (bool): Also train SAM's conv neck. Defaults to False.
        train_qkv_bias (bool): Also train the q/k/v biases of every block
            (the public code: peft's ``bias='lora_only'`` unfreezes the bias
            of each LoRA-wrapped ``qkv`` layer). Defaults to False.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH)`` to load SAM weights. Defaults to None.
        **kwargs: Other ``ViTSAM`` arguments (``patch_size``,
            ``drop_path_rate``, ``use_rel_pos`` ...).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 1024,
                 out_channels: int = 256,
                 out_indices: Union[int, Sequence[int]] = -1,
                 window_size: int = 14,
                 lora_cfg: Optional[dict] = dict(
                     rank=16, alpha=16, dropout=0., mode='separate'),
                 gate_cfg: Optional[dict] = dict(),
                 gate_placement: str = 'global',
                 attn_impl: str = 'fused',
                 with_cp: Union[bool, str] = False,
                 train_neck: bool = False,
                 train_qkv_bias: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(arch, dict):
            needed = {
                'embed_dims', 'num_layers', 'num_heads',
                'feedforward_channels', 'global_attn_indexes'
            }
            if not needed <= set(arch):
                raise ValueError(f'Custom SAM arch needs keys {needed}, '
                                 f'missing {needed - set(arch)}')
        elif isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'Unknown SAM arch {arch!r}; choose from '
                                 f'{sorted(set(self.arch_zoo))} or a dict')
        if gate_placement not in GATE_PLACEMENTS:
            raise ValueError(f'gate_placement must be one of '
                             f'{GATE_PLACEMENTS}, got {gate_placement!r}')
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, got '
                             f'{attn_impl!r}')
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        # TTP's paper fine-tunes SAM: WARNING when trained from scratch
        init_cfg = resolve_pretrained_init(
            init_cfg,
            'SAMLoRAViT',
            paper_pretrained=True,
            paper_note='TTP: a SAM image encoder checkpoint')
        super().__init__(
            arch=arch,
            img_size=img_size,
            out_channels=out_channels,
            out_indices=list(out_indices),
            window_size=window_size,
            init_cfg=init_cfg,
            **kwargs)
        for index in self.global_attn_indexes:
            if not 0 <= index < self.num_layers:
                raise ValueError(
                    f'global_attn_indexes {self.global_attn_indexes} out of '
                    f'range for {self.num_layers} blocks')
        self.window_size = window_size
        self.attn_impl = attn_impl
        self.train_neck = train_neck
        self.train_qkv_bias = train_qkv_bias
        self.gate_placement = gate_placement
        self.lora_cfg = None if lora_cfg is None else dict(lora_cfg)
        self._replace_attention(attn_impl)
        self.with_cp = with_cp  # after the blocks became SAMBlocks
        if self.lora_cfg is not None:
            for layer in self.layers:
                layer.attn.qkv = QKVLoRALinear.from_linear(
                    layer.attn.qkv, **self.lora_cfg)

        self.gates = nn.ModuleDict()
        if gate_cfg is not None:
            for index in self.gate_indices(gate_placement):
                self.gates[str(index)] = TimeTravellingGate(
                    embed_dims=self.embed_dims, **gate_cfg)
        self.freeze_sam()
        self.log_parameter_table()

    # ----------------------------------------------------------- building
    def gate_indices(self, placement: Optional[str] = None) -> List[int]:
        """Blocks followed by a gate: global blocks or windowed blocks.

        Args:
            placement (str, optional): ``'global'`` or ``'windowed'``.
                Defaults to None (``self.gate_placement``).

        Returns:
            list[int]: Block indices, ascending.
        """
        placement = placement or self.gate_placement
        is_global = [
            i in self.global_attn_indexes for i in range(self.num_layers)
        ]
        if placement == 'global':
            return [i for i, g in enumerate(is_global) if g]
        return [i for i, g in enumerate(is_global) if not g]

    def _replace_attention(self, attn_impl: str) -> None:
        for i, layer in enumerate(self.layers):
            old = layer.attn
            windowed = i not in self.global_attn_indexes and \
                self.window_size > 0
            size = (self.window_size, self.window_size) if windowed \
                else self.patch_resolution
            # built on the meta device, then given the old module's
            # (same-shaped) tensors: no second random init of the weights
            with torch.device('meta'):
                new = SAMAttention(
                    embed_dims=self.embed_dims,
                    num_heads=old.num_heads,
                    qkv_bias=old.qkv.bias is not None,
                    use_rel_pos=old.use_rel_pos,
                    input_size=size,
                    attn_impl=attn_impl)
            new = new.to_empty(device=old.proj.weight.device)
            new.load_state_dict(old.state_dict())
            layer.attn = new
            # same modules and state dict; padding-aware windows and
            # selective checkpointing (class only, no new tensors)
            layer.__class__ = SAMBlock

    def set_attn_impl(self, attn_impl: str) -> None:
        """Switch every block's attention implementation (``ATTN_IMPLS``)."""
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, got '
                             f'{attn_impl!r}')
        self.attn_impl = attn_impl
        for layer in self.layers:
            layer.attn.attn_impl = attn_impl

    def is_trainable_name(self, name: str) -> bool:
        """Whether parameter ``name`` is meant to be trained."""
        if '.lora_' in name:
            return True
        if name.startswith('gates.'):
            index = name.split('.')[1]
            return self.gates[index].trainable
        if name.startswith('channel_reduction.'):
            return self.train_neck
        if QKV_BIAS_NAME.match(name):
            return self.train_qkv_bias
        return False

    def freeze_sam(self) -> None:
        """Freeze every SAM weight; leave LoRA, trainable gates (and the
        neck if ``train_neck``, the q/k/v biases if ``train_qkv_bias``)
        trainable."""
        for name, param in self.named_parameters():
            param.requires_grad_(self.is_trainable_name(name))

    def trainable_parameter_names(self) -> List[str]:
        """Names of the parameters that receive gradients."""
        return [n for n, p in self.named_parameters() if p.requires_grad]

    def parameter_table(self) -> List[Tuple[str, int, bool]]:
        """Parameter counts by group.

        Returns:
            list[tuple[str, int, bool]]: (group, number of parameters,
            trainable).
        """
        groups: 'OrderedDict[Tuple[str, bool], int]' = OrderedDict()
        for name, param in self.named_parameters():
            if '.lora_' in name:
                group = 'LoRA adapters (q/k/v)'
            elif name.startswith('gates.'):
                group = f'time-travelling gates ({len(self.gates)})'
            elif name.startswith('channel_reduction.'):
                group = 'SAM neck'
            elif QKV_BIAS_NAME.match(name):
                group = 'SAM q/k/v biases'
            elif name.startswith('layers.'):
                group = 'SAM blocks'
            else:
                group = 'SAM patch + position embedding'
            key = (group, param.requires_grad)
            groups[key] = groups.get(key, 0) + param.numel()
        return [(g, n, t) for (g, t), n in groups.items()]

    def log_parameter_table(self) -> None:
        """Log :meth:`parameter_table` with mmengine's current logger."""
        rows = self.parameter_table()
        trainable = sum(n for _, n, t in rows if t)
        total = sum(n for _, n, _ in rows)
        lines = [
            f'SAMLoRAViT parameters ({total:,} total, {trainable:,} '
            f'trainable = {100.0 * trainable / max(total, 1):.2f}%):',
            f'  {"group":<34}{"params":>14}  trainable'
        ]
        lines += [
            f'  {g:<34}{n:>14,}  {"yes" if t else "no"}' for g, n, t in rows
        ]
        MMLogger.get_current_instance().info('\n'.join(lines))

    # ------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Random init, or load SAM weights from ``init_cfg``'s checkpoint.

        Raises:
            FileNotFoundError: If the configured checkpoint does not exist
                (with where the official weights come from).
        """
        init_cfg = self.init_cfg
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            self.init_cfg = None
            super().init_weights()  # children (gates) and pos_embed init
            self.init_cfg = init_cfg
            self.load_sam_checkpoint(
                init_cfg.get('checkpoint'), prefix=init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()
        self.freeze_sam()

    def load_sam_checkpoint(
            self,
            path: Optional[str],
            strict: bool = False,
            prefix: Optional[str] = None) -> Tuple[List[str], List[str]]:
        """Load SAM encoder weights from a local file (any known layout).

        Accepted layouts: Meta's official SAM checkpoint
        (``image_encoder.*``; the prompt encoder and mask decoder are
        dropped), a SAM ``ImageEncoderViT`` state dict (``blocks.*``,
        ``neck.*``), mmpretrain's ViTSAM checkpoints and mmcd_ext
        segmentors (``backbone.*``), and our own layout (``layers.*``).
        Position tables are resized to this model's ``img_size`` and
        window (:func:`resize_sam_position`). Missing keys other than the
        LoRA adapters and the gates (which SAM checkpoints do not have) and
        every unexpected key are logged as warnings.

        Args:
            path (str, optional): Local checkpoint path.
            strict (bool): Raise on missing SAM weights or unexpected keys.
                Defaults to False.
            prefix (str, optional): Explicit prefix to keep and strip
                (``init_cfg.prefix``). Defaults to None (the layouts above).

        Returns:
            tuple[list[str], list[str]]: Missing SAM keys and unexpected keys.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            ValueError: An unrecognised layout (no key in common) or
                tensors of the wrong shape.
            KeyError: If ``strict`` and keys do not match.
        """
        result = load_pretrained(
            path,
            self,
            config_key=SAM_CONFIG_KEY,
            download_hint=SAM_WEIGHTS_HINT,
            key_map=SAM_KEY_RULES,
            strip_prefixes=SAM_PREFIXES,
            prefix=prefix,
            tensor_adapter=functools.partial(
                resize_sam_position, mode=self.interpolate_mode),
            ignore_missing=SAM_NOT_IN_CHECKPOINT,
            strict=strict)
        return result.missing, result.unexpected

    @torch.no_grad()
    def merge_lora(self) -> None:
        """Fold every LoRA adapter into the frozen q/k/v weights.

        The outputs stay the same; the adapters are removed (their state
        dict keys disappear), so a merged model is built with
        ``lora_cfg=None`` when loading a merged checkpoint.
        """
        for layer in self.layers:
            if isinstance(layer.attn.qkv, QKVLoRALinear):
                layer.attn.qkv.merge()

    # ------------------------------------------------------------ running
    def train(self, mode: bool = True) -> 'SAMLoRAViT':
        """Set the mode and return ``self`` (ViTSAM's returns None)."""
        nn.Module.train(self, mode)
        return self

    @property
    def with_cp(self) -> str:
        """The activation checkpointing level (one of ``CP_LEVELS``)."""
        return self._with_cp

    @with_cp.setter
    def with_cp(self, value: Union[bool, str, None]) -> None:
        """Set the level: ``CP_LEVELS``, True (``'all'``), False/None."""
        if value is True:
            value = 'all'
        elif value is False or value is None:
            value = 'none'
        if value not in CP_LEVELS:
            raise ValueError(f'with_cp must be a bool or one of {CP_LEVELS}, '
                             f'got {value!r}')
        self._with_cp = value
        for layer in getattr(self, 'layers', ()):
            if not isinstance(layer, SAMBlock):
                continue
            windowed = layer.window_size > 0
            if value == 'all' or (value == 'windowed' and windowed):
                layer.cp_level = 'block'
            elif value in ('mlp', 'attn'):
                layer.cp_level = value
            else:
                layer.cp_level = 'none'

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode a batch; with gates, date A and date B are stacked.

        Args:
            x (Tensor): (N, 3, H, W); with gates ``N = 2B`` (date A first).

        Returns:
            tuple[Tensor]: One map per ``out_indices`` entry,
            (N, out_channels, H / 16, W / 16) (``embed_dims`` channels
            without a neck).

        Raises:
            ValueError: If gates are used and ``N`` is odd.
        """
        if len(self.gates) and x.shape[0] % 2:
            raise ValueError(
                f'SAMLoRAViT with time-travelling gates needs both dates '
                f'stacked on the batch axis (even batch), got {x.shape[0]}')
        n = x.shape[0]
        x, grid = self.patch_embed(x)
        x = x.view(n, grid[0], grid[1], self.embed_dims)
        if self.use_abs_pos:
            pos = self.pos_embed
            if tuple(grid) != tuple(self.patch_resolution):
                pos = resize_pos_embed(
                    pos.flatten(1, 2),
                    self.patch_resolution,
                    grid,
                    mode=self.interpolate_mode,
                    num_extra_tokens=0).view(1, *grid, self.embed_dims)
            x = self.drop_after_pos(x + pos)
        outs = []
        recompute = self.training and torch.is_grad_enabled()
        for i, layer in enumerate(self.layers):
            gate = self.gates[str(i)] if str(i) in self.gates else None
            if gate is not None and recompute and layer.cp_level == 'block':
                # a checkpointed block takes its gate into the same
                # segment: only the block's input is kept
                x = checkpoint(
                    _block_then_gate, layer, gate, x, use_reentrant=False)
            else:
                x = layer(x)
                if gate is not None:
                    x = gate(x)
            if i in self.out_indices:
                feat = x.permute(0, 3, 1, 2)
                if self.out_channels > 0:
                    feat = self.channel_reduction(feat)
                outs.append(feat)
        return tuple(outs)
