"""VGG-16 encoder returning U-Net skip levels (FrNet's backbone)."""
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm
from mmseg.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from mmcd_ext.models.backbones.pretrained import (WEIGHTS_KEY, PretrainedState,
                                                  load_pretrained,
                                                  resolve_pretrained_init)
from mmcd_ext.registry import MODELS

# Where the ImageNet weights come from (never downloaded by this code).
_WEIGHTS_HINT = (
    "torchvision's ImageNet VGG-16 checkpoints: vgg16-397923af.pth (plain, "
    'norm_cfg=None) or vgg16_bn-6c64b313.pth (with BN, norm_cfg=BN/SyncBN), '
    'from https://download.pytorch.org/models/ ; or an mmpretrain VGG-16 '
    'checkpoint from its model zoo. See configs/frnet/README.md.')


@MODELS.register_module()
class VGGEncoder(BaseModule):
    """VGG feature extractor returning the U-Net skip levels and a deep level.

    The layers are plain ``conv3x3 [-> norm] -> ReLU`` blocks with a 2x2 max
    pool after each stage, held in one ``nn.Sequential`` named ``features``
    with exactly torchvision's indices (``features.N.weight``), so
    torchvision's ``vgg16`` / ``vgg16_bn`` ImageNet state dicts load as they
    are. mmpretrain's ``VGG`` layout (``features.N.conv.weight``,
    ``features.N.bn.*``, one index per conv block) is mapped on load. It
    sees one date at a time: the Siamese weight sharing is the segmentor's
    (``SiamEncoderDecoder`` stacks both dates on the batch axis). Registered
    also under its former name ``SiameseVGG``.

    mmpretrain's ``VGG`` is not reused: its stage outputs are taken *after*
    each max pool (pool1 at 1/2, ...), while FrNet's skips are the last ReLU
    of each stage *before* pooling (relu1_2 at full resolution), and its
    widths are fixed.

    Outputs (``out_indices`` select among them), for input (N, 3, H, W) and
    stage widths ``c0..c4`` (VGG-16: 64, 128, 256, 512, 512):

    ====  =========  =======================  ===========
    idx   name       shape                    stride
    ====  =========  =======================  ===========
    0     relu1_2    (N, c0, H, W)            1
    1     relu2_2    (N, c1, H/2, W/2)        2
    2     relu3_3    (N, c2, H/4, W/4)        4
    3     relu4_3    (N, c3, H/8, W/8)        8
    4     deep       (N, c4, H/32, W/32)      32 (``'pool5'``)
                     (N, c4, H/16, W/16)      16 (``'relu5_3'``)
    ====  =========  =======================  ===========

    Args:
        arch (str | dict): ``'vgg16'`` or a custom dict with ``channels``
            (5 stage widths) and ``depths`` (5 conv counts per stage), e.g.
            ``dict(channels=(8, 16, 16, 32, 32), depths=(2, 2, 3, 3, 3))``
            for tests. Defaults to ``'vgg16'``.
        in_channels (int): Channels of one date's image. Defaults to 3.
        norm_cfg (dict, optional): Norm layer after every conv (e.g.
            ``dict(type='SyncBN')``, torchvision's ``vgg16_bn``); None for
            the plain VGG-16. Defaults to None.
        deep_level (str): ``'pool5'`` (pool of relu5_3, 1/32, the paper) or
            ``'relu5_3'`` (1/16). Defaults to ``'pool5'``.
        out_indices (Sequence[int]): Which of the 5 outputs to return.
            Defaults to (0, 1, 2, 3, 4).
        frozen_stages (int): Number of leading stages whose parameters are
            frozen (and norms kept in eval mode); -1 freezes none.
            Defaults to -1.
        norm_eval (bool): Keep every norm layer in eval mode while training.
            Defaults to False.
        init_cfg (dict | list[dict], optional): ``dict(type='Pretrained',
            checkpoint=PATH)`` loads ImageNet weights (torchvision or
            mmpretrain layout, strictly: any missing or unexpected key is an
            error); None means Kaiming-normal convs (fan_out, as torchvision
            initialises VGG) and unit norms. Defaults to None.
    """

    arch_zoo: Dict[str, Dict[str, Tuple[int, ...]]] = {
        'vgg16':
        dict(channels=(64, 128, 256, 512, 512), depths=(2, 2, 3, 3, 3)),
    }
    num_stages = 5
    deep_levels = ('pool5', 'relu5_3')
    default_init_cfg = [
        dict(
            type='Kaiming',
            layer='Conv2d',
            mode='fan_out',
            nonlinearity='relu',
            distribution='normal',
            bias=0.),
        dict(
            type='Constant',
            val=1.,
            bias=0.,
            layer=['_BatchNorm', 'GroupNorm']),
    ]

    def __init__(self,
                 arch: Union[str, dict] = 'vgg16',
                 in_channels: int = 3,
                 norm_cfg: OptConfigType = None,
                 deep_level: str = 'pool5',
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        # FrNet's paper starts from ImageNet VGG-16: WARNING when scratch
        init_cfg = resolve_pretrained_init(
            init_cfg,
            'VGGEncoder',
            paper_pretrained=True,
            paper_note='FrNet: ImageNet VGG-16')
        super().__init__(
            init_cfg=self.default_init_cfg if init_cfg is None else init_cfg)
        self.arch = self._check_arch(arch)
        if deep_level not in self.deep_levels:
            raise ValueError(f'VGGEncoder: deep_level must be one of '
                             f'{self.deep_levels}, got {deep_level!r}')
        out_indices = tuple(out_indices)
        if not out_indices or any(
                i not in range(self.num_stages) for i in out_indices):
            raise ValueError(f'VGGEncoder: out_indices must be a non-empty '
                             f'subset of 0..4, got {out_indices}')
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'VGGEncoder: frozen_stages must be in '
                             f'[-1, 5], got {frozen_stages}')
        self.in_channels = in_channels
        self.norm_cfg = norm_cfg
        self.deep_level = deep_level
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        layers: List[nn.Module] = []
        self.conv_indices: List[int] = []  # index in `features` of each conv
        self.stage_ranges: List[Tuple[int, int]] = []  # [start, end) no pool
        channels = in_channels
        for width, depth in zip(self.arch['channels'], self.arch['depths']):
            start = len(layers)
            for _ in range(depth):
                self.conv_indices.append(len(layers))
                layers.append(nn.Conv2d(channels, width, 3, padding=1))
                if norm_cfg is not None:
                    layers.append(build_norm_layer(norm_cfg, width)[1])
                layers.append(nn.ReLU(inplace=True))
                channels = width
            self.stage_ranges.append((start, len(layers)))
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.out_channels = tuple(self.arch['channels'][i]
                                  for i in out_indices)
        self._freeze_stages()

    @classmethod
    def _check_arch(cls, arch: Union[str, dict]) -> Dict[str, tuple]:
        """Return ``{'channels': (5,), 'depths': (5,)}`` or raise."""
        if isinstance(arch, str):
            if arch not in cls.arch_zoo:
                raise ValueError(f'VGGEncoder: unknown arch {arch!r}; choose '
                                 f'one of {sorted(cls.arch_zoo)} or pass a '
                                 'dict(channels=..., depths=...)')
            return dict(cls.arch_zoo[arch])
        if not isinstance(arch, dict) or set(arch) != {'channels', 'depths'}:
            raise ValueError(f'VGGEncoder: a custom arch is a dict with '
                             f'exactly the keys "channels" and "depths", '
                             f'got {arch!r}')
        checked = {}
        for key in ('channels', 'depths'):
            values = tuple(arch[key])
            if len(values) != cls.num_stages or any(
                    not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f'VGGEncoder: arch[{key!r}] needs 5 '
                                 f'positive ints (one per stage), got '
                                 f'{arch[key]!r}')
            checked[key] = values
        return checked

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract the selected levels.

        Args:
            x (Tensor): Images, (N, C_in, H, W); H and W divisible by 32 for
                the ``'pool5'`` deep level (16 for ``'relu5_3'``).

        Returns:
            tuple[Tensor]: The levels of ``out_indices``, shapes in the
            class docstring.
        """
        outs = []
        for stage, (start, end) in enumerate(self.stage_ranges):
            for idx in range(start, end):
                x = self.features[idx](x)
            last = stage == self.num_stages - 1
            if last and self.deep_level == 'pool5':
                level = self.features[end](x)
            else:
                level = x
            if stage in self.out_indices:
                outs.append(level)
            if not last:
                x = self.features[end](x)  # max pool to the next stage
        return tuple(outs)

    # ------------------------------------------------------------------
    # freezing
    # ------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        """Freeze the first ``frozen_stages`` stages."""
        for stage in range(max(self.frozen_stages, 0)):
            start, end = self.stage_ranges[stage]
            for idx in range(start, end):
                module = self.features[idx]
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'VGGEncoder':
        """Set train mode, keeping frozen stages / norms in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ------------------------------------------------------------------
    # pretrained weights
    # ------------------------------------------------------------------
    def init_weights(self) -> None:
        """Load ``Pretrained`` weights strictly, or run the default init."""
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            self.load_pretrained(
                self.init_cfg.get('checkpoint'),
                prefix=self.init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()

    def load_pretrained(self,
                        checkpoint: Optional[str],
                        prefix: Optional[str] = None) -> PretrainedState:
        """Load a VGG checkpoint in torchvision's or mmpretrain's layout.

        The classifier (``classifier.*``) is dropped; everything else must
        match this backbone exactly.

        Args:
            checkpoint (str, optional): Local path (or an explicit URL).
            prefix (str, optional): Keep only keys under this prefix (e.g.
                ``'backbone.'``) and strip it. Defaults to None (strip
                ``'backbone.'`` when a key carries it).

        Returns:
            PretrainedState: The loaded tensors.

        Raises:
            FileNotFoundError: The file does not exist.
            KeyError: Missing or unexpected keys, listed.
            ValueError: Tensor shapes that do not fit this backbone.
        """
        return load_pretrained(
            checkpoint,
            self,
            config_key=WEIGHTS_KEY,
            download_hint=_WEIGHTS_HINT,
            key_map=self.mmpretrain_key_map(),
            strip_prefixes=('backbone.', ),
            prefix=prefix,
            drop_keys=(r'classifier\.', ),
            mismatch_hint=self._norm_hint)

    def _norm_hint(self, state: Dict[str, Tensor]) -> str:
        """Say so when the checkpoint's BN-ness differs from ``norm_cfg``."""
        bn_keys = any(k.endswith('running_mean') for k in state)
        if bn_keys == (self.norm_cfg is not None):
            return f'Backbone arch: {self.arch}.'
        return (f'Backbone arch: {self.arch}. The checkpoint was made '
                f'{"with" if bn_keys else "without"} BN but this backbone '
                f'has norm_cfg={self.norm_cfg!r}.')

    def mmpretrain_key_map(self) -> Callable[[str], str]:
        """Key map from mmpretrain's VGG layout to torchvision's.

        mmpretrain's ``features`` has one index per ``ConvModule`` (with
        ``.conv`` / ``.bn``) and per max pool; torchvision's has one per
        conv, norm, ReLU and pool. Keys in torchvision's layout (and keys
        whose index is not a conv block) are returned unchanged.

        Returns:
            Callable[[str], str]: ``features.J.conv.weight`` ->
            ``features.N.weight``, ``features.J.bn.*`` ->
            ``features.(N+1).*``.
        """
        index_map = {}
        j = 0
        k = 0
        for depth in self.arch['depths']:
            for _ in range(depth):
                index_map[j] = self.conv_indices[k]
                j += 1
                k += 1
            j += 1  # max pool
        pattern = re.compile(r'^features\.(\d+)\.(conv|bn)\.(.+)$')

        def convert(key: str) -> str:
            match = pattern.match(key)
            if match is None or int(match.group(1)) not in index_map:
                return key
            idx = index_map[int(match.group(1))]
            if match.group(2) == 'bn':
                idx += 1
            return f'features.{idx}.{match.group(3)}'

        return convert
