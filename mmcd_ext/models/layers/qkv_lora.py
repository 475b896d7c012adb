"""Low-rank adaptation of a fused q/k/v projection (TTP, paper eq. 1)."""
import math
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LORA_MODES = ('separate', 'joint')


class QKVLoRALinear(nn.Linear):
    """A frozen fused ``qkv`` linear layer with low-rank adapters (eq. 1).

    TTP's eq. 1 gives each of the query, key and value projections its own
    adapter, ``W* = W0 + Wa Wb^T`` with ``Wa, Wb`` of shape ``(d, r)``. SAM
    computes q, k and v with one ``Linear(d, 3d)``; this class keeps that
    layer's ``weight`` and ``bias`` (so checkpoint keys stay
    ``...attn.qkv.weight``) and adds the adapters:

    * ``mode='separate'`` (the paper): three rank-``r`` adapters, one per
      projection, ``delta_q = s * up_q @ down_q`` and so on;
    * ``mode='joint'`` (the public code, peft on the ``qkv`` module): one
      rank-``r`` adapter on the whole ``3d`` output.

    ``s = alpha / rank``; the paper's eq. 1 has no scale (``alpha = rank``).
    As in mmpretrain's ``LoRALinear`` (and peft), ``down`` is Kaiming-uniform
    initialised and ``up`` is zero, so the layer starts as the frozen one.
    Dropout acts on the adapter's input only.

    Args:
        in_features (int): Input width ``d``.
        out_features (int): Output width, ``3 d``.
        bias (bool): Whether the frozen layer has a bias. Defaults to True.
        rank (int): Adapter rank ``r``. Defaults to 16.
        alpha (float): Scale numerator, ``s = alpha / rank``.
            Defaults to 16.
        dropout (float): Dropout on the adapter input. Defaults to 0.
        mode (str): ``'separate'`` or ``'joint'``. Defaults to 'separate'.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 rank: int = 16,
                 alpha: float = 16.,
                 dropout: float = 0.,
                 mode: str = 'separate') -> None:
        super().__init__(in_features, out_features, bias=bias)
        if mode not in LORA_MODES:
            raise ValueError(
                f'QKVLoRALinear mode must be one of {LORA_MODES}, got '
                f'{mode!r}')
        if out_features % 3:
            raise ValueError(
                f'QKVLoRALinear expects a fused q/k/v layer (out_features '
                f'= 3 * d), got out_features={out_features}')
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f'LoRA rank must be a positive int, got {rank}')
        self.rank = rank
        self.alpha = alpha
        self.mode = mode
        self.num_adapters = 3 if mode == 'separate' else 1
        self.adapter_out = out_features // self.num_adapters
        self.lora_dropout = nn.Dropout(dropout)
        # down: (T * r, d); up: (T, out / T, r)
        self.lora_down = nn.Linear(
            in_features, self.num_adapters * rank, bias=False)
        self.lora_up = nn.Parameter(
            torch.zeros(self.num_adapters, self.adapter_out, rank))
        # persistent so tools/model_converters/merge_lora.py can merge a
        # checkpoint without the config
        self.register_buffer(
            'lora_scaling', torch.tensor(float(alpha) / rank), persistent=True)
        self.merged = False
        self.reset_lora_parameters()

    @classmethod
    def from_linear(cls, layer: nn.Linear, **kwargs) -> 'QKVLoRALinear':
        """Wrap an existing ``nn.Linear`` (its weights are copied).

        Args:
            layer (nn.Linear): The fused ``qkv`` layer.
            **kwargs: ``rank``, ``alpha``, ``dropout``, ``mode``.

        Returns:
            QKVLoRALinear: The adapted layer.
        """
        # built on the meta device: no throw-away init of the big weight
        with torch.device('meta'):
            new = cls(
                layer.in_features,
                layer.out_features,
                bias=layer.bias is not None,
                **kwargs)
        new = new.to_empty(device=layer.weight.device)
        with torch.no_grad():
            new.weight.copy_(layer.weight)
            if layer.bias is not None:
                new.bias.copy_(layer.bias)
            new.lora_scaling.fill_(float(new.alpha) / new.rank)
        new.reset_lora_parameters()
        return new

    def reset_lora_parameters(self) -> None:
        """Kaiming-uniform ``down`` and zero ``up`` (a zero update)."""
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up)

    def lora_parameters(self) -> Dict[str, nn.Parameter]:
        """The trainable adapter parameters, by local name."""
        if self.merged:
            return {}
        return {
            'lora_down.weight': self.lora_down.weight,
            'lora_up': self.lora_up
        }

    def delta_weight(self) -> Tensor:
        """The adapters' update of ``weight``, ``s * [up_t @ down_t]_t``.

        Returns:
            Tensor: (3d, d), stacked in q, k, v order.
        """
        down = self.lora_down.weight.view(self.num_adapters, self.rank, -1)
        delta = torch.bmm(self.lora_up, down)  # (T, out / T, d)
        return delta.reshape(self.out_features, -1) * self.lora_scaling

    def forward(self, x: Tensor) -> Tensor:
        """Apply ``W* x + b`` with ``W* = W0 + s * up @ down`` (eq. 1).

        Two exact computations of the same output:

        * when nothing needs a gradient and the adapter input is not
          dropped (inference): one product with the merged weight
          ``W0 + delta_weight()`` (a (3d, d) sum per call, far cheaper than
          the adapters' passes over the tokens);
        * otherwise (training): the frozen product, then each adapter's
          update added in place into its q/k/v column block
          (``addmm_`` with ``s * down x`` and ``up_t^T``): no (…, 3, d)
          update tensor, no layout copy, no separate scale and sum.

        Args:
            x (Tensor): (..., d).

        Returns:
            Tensor: (..., 3d), q, k and v concatenated.
        """
        if self.merged:
            return F.linear(x, self.weight, self.bias)
        dropout_active = self.training and self.lora_dropout.p > 0
        needs_grad = torch.is_grad_enabled() and (
            x.requires_grad or self.lora_up.requires_grad or
            self.lora_down.weight.requires_grad or self.weight.requires_grad)
        if not needs_grad and not dropout_active:
            weight = self.weight + self.delta_weight().to(self.weight.dtype)
            return F.linear(x, weight, self.bias)
        out = F.linear(x, self.weight, self.bias).contiguous()  # a view next
        hidden = self.lora_down(self.lora_dropout(x)) * self.lora_scaling
        out_2d = out.view(-1, self.out_features)
        # in-place products are not autocast: match the output's dtype
        hidden_2d = hidden.reshape(-1,
                                   self.num_adapters * self.rank).to(out.dtype)
        up = self.lora_up.to(out.dtype)
        width, rank = self.adapter_out, self.rank
        for t in range(self.num_adapters):
            out_2d[:, t * width:(t + 1) * width].addmm_(
                hidden_2d[:, t * rank:(t + 1) * rank], up[t].t())
        return out

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the adapters into ``weight`` and drop them (for inference).

        Afterwards the layer is a plain linear layer with the same outputs
        (up to rounding); its state dict has no ``lora_*`` keys.
        """
        if self.merged:
            return
        self.weight += self.delta_weight().to(self.weight.dtype)
        del self.lora_down
        del self.lora_up
        del self.lora_scaling
        self.merged = True

    def extra_repr(self) -> str:
        base = super().extra_repr()
        if self.merged:
            return base + ', lora=merged'
        return (base + f', rank={self.rank}, alpha={self.alpha}, '
                f'mode={self.mode}')


def merge_lora_state_dict(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Merge every ``QKVLoRALinear`` adapter found in a state dict.

    Keys ``P.lora_down.weight``, ``P.lora_up`` and ``P.lora_scaling`` are
    folded into ``P.weight`` and removed.

    Args:
        state_dict (dict[str, Tensor]): A model or backbone state dict.

    Returns:
        dict[str, Tensor]: A new state dict without adapter keys.

    Raises:
        KeyError: If an adapter lacks one of its three tensors or the
            weight it belongs to.
    """
    out = dict(state_dict)
    prefixes = [
        k[:-len('lora_up')] for k in state_dict if k.endswith('.lora_up')
    ]
    for prefix in prefixes:
        needed = [
            prefix + n
            for n in ('lora_down.weight', 'lora_up', 'lora_scaling', 'weight')
        ]
        missing = [k for k in needed if k not in state_dict]
        if missing:
            raise KeyError(f'Incomplete LoRA adapter at {prefix!r}: missing '
                           f'{missing}')
        up = state_dict[prefix + 'lora_up'].float()
        num_adapters, _, rank = up.shape
        down = state_dict[prefix + 'lora_down.weight'].float().view(
            num_adapters, rank, -1)
        scaling = state_dict[prefix + 'lora_scaling'].float()
        weight = state_dict[prefix + 'weight']
        delta = torch.bmm(up, down).reshape(weight.shape[0], -1) * scaling
        out[prefix + 'weight'] = (weight.float() + delta).to(weight.dtype)
        for name in ('lora_down.weight', 'lora_up', 'lora_scaling'):
            del out[prefix + name]
    return out
