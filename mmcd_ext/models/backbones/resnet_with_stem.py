"""ResNet that also returns its stem output (LSAFNet's F_L)."""
from typing import List, Optional, Tuple

from mmseg.models.backbones import ResNet
from torch import Tensor

from mmcd_ext.models.backbones.pretrained import (WEIGHTS_KEY, PretrainedState,
                                                  load_pretrained,
                                                  resolve_pretrained_init)
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
        # LSAFNet's paper trains from Kaiming init: INFO only when scratch
        kwargs['init_cfg'] = resolve_pretrained_init(
            kwargs.get('init_cfg'),
            'ResNetWithStem',
            paper_pretrained=False,
            paper_note='the LSAFNet paper uses Kaiming init')
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
            self.load_torchvision(
                self.init_cfg.get('checkpoint'),
                prefix=self.init_cfg.get('prefix'))
            self._is_init = True
        else:
            super().init_weights()

    def load_torchvision(self,
                         checkpoint: Optional[str],
                         prefix: Optional[str] = None) -> PretrainedState:
        """Load a torchvision ResNet checkpoint (``fc.*`` dropped).

        A ``state_dict`` wrapper and a ``backbone.`` prefix (an mmseg /
        mmpretrain checkpoint of the same layout; other keys are dropped)
        are accepted.

        Args:
            checkpoint (str, optional): Local path (or an explicit URL).
            prefix (str, optional): Keep only keys under this prefix and
                strip it (``init_cfg.prefix``). Defaults to None (strip
                ``'backbone.'`` when a key carries it).

        Returns:
            PretrainedState: The loaded tensors.

        Raises:
            ValueError: No path given, or tensor shapes that differ.
            FileNotFoundError: The file does not exist.
            KeyError: Missing or unexpected keys, listed.
        """
        return load_pretrained(
            checkpoint,
            self,
            config_key=WEIGHTS_KEY,
            download_hint=_WEIGHTS_HINT,
            strip_prefixes=('backbone.', ),
            prefix=prefix,
            drop_keys=(r'fc\.', ),
            mismatch_hint=f'Expected a ResNet-{self.depth} in torchvision '
            'layout.')
