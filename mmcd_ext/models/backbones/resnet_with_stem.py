"""ResNet that also returns its stem output (LSAFNet's F_L)."""
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmengine.runner import CheckpointLoader
from mmseg.models.backbones import ResNet
from torch import Tensor

from mmcd_ext.registry import MODELS

# Where ImageNet weights come from (never downloaded by this code).
_WEIGHTS_HINT = (
    "torchvision's ImageNet ResNet checkpoints, e.g. resnet34-b627a593.pth "
    '(ResNet-34) or resnet18-f37072fd.pth (ResNet-18), from '
    'https://download.pytorch.org/models/ ; see configs/lsafnet/README.md')


@MODELS.register_module()
class ResNetWithStem(ResNet):
    """mmseg's ResNet returning the stem output before the max-pool as well.

    LSAFNet (Zhou et al., GRSL 2024, section II-A) takes five levels from
    a ResNet-34: ``F_L`` (stem: conv 7x7 stride 2, BN, ReLU; 1/2),
    ``F_M`` (layer1, 1/4), ``F_1`` (layer2, 1/8), ``F_2`` (layer3) and
    ``F_3`` (layer4), with 64, 64, 128, 256 and 512 channels. The authors'
    code runs layer3 and layer4 at stride 1, so ``F_1``..``F_3`` share 1/8
    resolution; set ``strides=(1, 2, 1, 1)`` (optionally with
    ``dilations``) for that, ``(1, 2, 2, 2)`` for the usual 1/16, 1/32.

    Every argument of mmseg's ``ResNet`` is accepted (``depth``,
    ``strides``, ``dilations``, ``stem_channels``, ``base_channels``,
    ``norm_cfg``, ...); only ``deep_stem=False`` is supported, so that the
    parameter names are torchvision's (``conv1``, ``bn1``,
    ``layer1.0.conv1``, ``layer1.0.downsample.0``, ...). ImageNet weights
    in torchvision's layout load with
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (the ``fc.*``
    classifier is dropped, every other key must match); without it the
    convolutions get Kaiming initialisation (mmseg's ResNet default, as the
    paper says).

    Args:
        out_stem (bool): Put the stem output first in the returned tuple.
            Defaults to True.
        **kwargs: Arguments of ``mmseg.models.backbones.ResNet``.
    """

    def __init__(self, out_stem: bool = True, **kwargs) -> None:
        if kwargs.get('deep_stem', False):
            raise ValueError('ResNetWithStem: deep_stem=True is not supported '
                             '(its stem has no single conv1/bn1 output and '
                             'no torchvision layout)')
        super().__init__(**kwargs)
        self.out_stem = out_stem

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Stem and stage outputs.

        Args:
            x (Tensor): Images, (N, C_in, H, W).

        Returns:
            tuple[Tensor]: With ``out_stem``, the stem output
            (N, stem_channels, H/2, W/2) first, then the stages of
            ``out_indices``, (N, C_i, H_i, W_i) each.
        """
        x = self.conv1(x)
        x = self.norm1(x)
        stem = self.relu(x)
        x = self.maxpool(stem)
        outs: List[Tensor] = [stem] if self.out_stem else []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'ResNetWithStem':
        """Set the training mode and return the module.

        mmseg's ``ResNet.train`` returns None, so ``backbone.eval()`` would
        too; this returns ``self`` as ``nn.Module.train`` does.

        Args:
            mode (bool): Training (True) or evaluation mode. Defaults to True.

        Returns:
            ResNetWithStem: This module.
        """
        super().train(mode)
        return self

    def init_weights(self) -> None:
        """Load torchvision ``Pretrained`` weights, or the default init."""
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            self.load_torchvision(self.init_cfg.get('checkpoint'))
            self._is_init = True
        else:
            super().init_weights()

    def load_torchvision(self, checkpoint: Optional[str]) -> None:
        """Load a torchvision ResNet checkpoint (``fc.*`` dropped).

        A ``state_dict`` wrapper and a ``backbone.`` prefix on every key (an
        mmseg / mmpretrain checkpoint of the same layout) are accepted.

        Args:
            checkpoint (str, optional): Local path (or an explicit URL).

        Raises:
            ValueError: No path given, or tensor shapes that differ.
            FileNotFoundError: The file does not exist.
            KeyError: Missing or unexpected keys, listed.
        """
        name = type(self).__name__
        if not checkpoint:
            raise ValueError(f'{name}: init_cfg type Pretrained needs a '
                             f'checkpoint path. Get {_WEIGHTS_HINT}')
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'{name}: checkpoint file {checkpoint!r} '
                                    f'not found. Get {_WEIGHTS_HINT}')
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt,
                                                           dict) else None
        if not isinstance(state, dict):
            raise TypeError(f'{name}: {checkpoint!r} holds no state dict')
        if state and all(k.startswith('backbone.') for k in state):
            state = {k[len('backbone.'):]: v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith('fc.')}
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(
                f'{name}: checkpoint {checkpoint!r} does not match a '
                f'ResNet-{self.depth} with this layout. Missing keys: '
                f'{missing}. Unexpected keys: {unexpected}.')
        bad = [
            f'{k}: checkpoint {tuple(v.shape)} vs model '
            f'{tuple(own[k].shape)}' for k, v in state.items()
            if isinstance(v, torch.Tensor) and v.shape != own[k].shape
        ]
        if bad:
            raise ValueError(f'{name}: checkpoint {checkpoint!r} has tensors '
                             f'of the wrong shape: {bad}')
        self.load_state_dict(state, strict=True)
