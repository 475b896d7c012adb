"""TTP's time-travelling activation gate (paper eq. 2)."""
from typing import Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmcd_ext.registry import MODELS

GATE_INITS = ('identity', 'public')


@MODELS.register_module()
class TimeTravellingGate(BaseModule):
    """Exchange information between the two dates' token maps (eq. 2).

    With ``X0``, ``X1`` the maps of the first and second date::

        M   = sigmoid(Proj1(cat(X0, X1)))        # (B, 1, H, W)
        X0' = X0 + Proj2(M * X1)
        X1' = X1 + Proj2(M * X0)

    ``Proj1`` is a linear channel compression ``2C -> 1`` (a 1x1 conv, no
    bias); ``Proj2`` a linear mapping ``C -> C``: one 1x1 conv (the paper)
    or, with ``proj2_hidden=True``, 1x1 conv - GELU - 1x1 conv (the public
    code's ``soft_ffn``). The gate runs inside the SAM encoder on the
    stacked batch ``(2B, H, W, C)`` (channels last, as the encoder keeps its
    tokens): the first ``B`` samples are date A, the last ``B`` date B, as
    ``SiamEncoderDecoder.extract_bitemporal_feat`` stacks them.

    Update order: ``sequential_update=False`` (default, eq. 2) computes
    both outputs from the old ``X0``, ``X1``; ``True`` reproduces the public
    code, which computes ``X1'`` from the already updated ``X0'``.

    Initialisation (``init_mode``):

    * ``'identity'`` (default): ``Proj1`` weights ``1 / (2C)`` (as the
      public code; ``M`` starts as ``sigmoid`` of the channel mean) and the
      last layer of ``Proj2`` zero, so ``X' = X`` at step 0 and the
      pretrained SAM features are not disturbed; the gate learns from there
      (the gradient reaching the zero layer is ``M * X`` and nonzero).
    * ``'public'``: ``Proj1`` weights ``1 / (2C)``, ``Proj2`` with PyTorch's
      default (random) conv init, as the public code. Together with
      ``trainable=False`` this is the public code's behaviour, where peft
      freezes the gates at that random init.

    Args:
        embed_dims (int): Channels ``C`` of each date.
        proj2_hidden (bool): Use conv-GELU-conv as ``Proj2`` (public code)
            instead of one 1x1 conv (paper). Defaults to False.
        sequential_update (bool): Update ``X1`` from the updated ``X0``
            (public code). Defaults to False.
        init_mode (str): ``'identity'`` or ``'public'``.
            Defaults to 'identity'.
        trainable (bool): If False the gate's parameters get
            ``requires_grad=False`` (public code). Defaults to True.
        init_cfg (dict, optional): Unused by default; the init above is
            applied in ``init_weights``. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 proj2_hidden: bool = False,
                 sequential_update: bool = False,
                 init_mode: str = 'identity',
                 trainable: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_mode not in GATE_INITS:
            raise ValueError(f'TimeTravellingGate init_mode must be one of '
                             f'{GATE_INITS}, got {init_mode!r}')
        self.embed_dims = embed_dims
        self.sequential_update = sequential_update
        self.init_mode = init_mode
        self.trainable = trainable
        # 1x1 convolutions on channels-last maps are linear layers
        self.proj1 = nn.Linear(2 * embed_dims, 1, bias=False)
        if proj2_hidden:
            self.proj2 = nn.Sequential(
                nn.Linear(embed_dims, embed_dims), nn.GELU(),
                nn.Linear(embed_dims, embed_dims))
        else:
            self.proj2 = nn.Sequential(nn.Linear(embed_dims, embed_dims))
        self._apply_init()
        self.set_trainable(trainable)

    def _apply_init(self) -> None:
        nn.init.constant_(self.proj1.weight, 1.0 / (2 * self.embed_dims))
        if self.init_mode == 'identity':
            last = self.proj2[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def init_weights(self) -> None:
        """(Re)apply the documented init (see the class docstring)."""
        if self.init_cfg is not None:
            super().init_weights()
        elif self.init_mode == 'identity':
            self._apply_init()
        # 'public': keep the construction-time random init of Proj2, like
        # the public code, whose gates are never re-initialised.

    def set_trainable(self, trainable: bool) -> None:
        """Switch ``requires_grad`` of every gate parameter."""
        self.trainable = trainable
        for param in self.parameters():
            param.requires_grad_(trainable)

    def activation_map(self, x0: Tensor, x1: Tensor) -> Tensor:
        """``M = sigmoid(Proj1(cat(X0, X1)))``, (B, H, W, 1)."""
        return torch.sigmoid(self.proj1(torch.cat([x0, x1], dim=-1)))

    def exchange(self, x0: Tensor, x1: Tensor) -> Tuple[Tensor, Tensor]:
        """Eq. 2 on the two dates' maps.

        Args:
            x0 (Tensor): Date A, (B, H, W, C).
            x1 (Tensor): Date B, (B, H, W, C).

        Returns:
            tuple[Tensor, Tensor]: ``X0'`` and ``X1'``, (B, H, W, C) each.
        """
        gate = self.activation_map(x0, x1)
        new_x0 = x0 + self.proj2(gate * x1)
        source = new_x0 if self.sequential_update else x0
        new_x1 = x1 + self.proj2(gate * source)
        return new_x0, new_x1

    def forward(self, x: Tensor) -> Tensor:
        """Apply the gate to the stacked batch.

        Args:
            x (Tensor): (2B, H, W, C), date A then date B.

        Returns:
            Tensor: (2B, H, W, C).

        Raises:
            ValueError: If the batch is odd or the width is not ``C``.
        """
        if x.dim() != 4 or x.shape[-1] != self.embed_dims:
            raise ValueError(
                f'TimeTravellingGate expects channels-last tokens '
                f'(2B, H, W, {self.embed_dims}), got {tuple(x.shape)}')
        if x.shape[0] % 2:
            raise ValueError(
                f'TimeTravellingGate needs both dates stacked on the batch '
                f'axis (an even batch, date A first), got batch '
                f'{x.shape[0]}')
        x0, x1 = x.chunk(2, dim=0)
        return torch.cat(self.exchange(x0, x1), dim=0)
