"""SAM's attention computed fast and exactly (the TTP encoder's blocks).

:class:`SAMAttention` has the parameters and outputs of mmpretrain's SAM
``Attention`` with fused (augmented q/k), masked-fused or eager kernels and
padding-aware windows; the functions and the window-group layout here are
its parts. ``mmcd_ext.models.backbones.sam_lora_vit`` builds the encoder
from it.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.vit_sam import Attention, get_rel_pos
from torch import Tensor, nn

ATTN_IMPLS = ('fused', 'fused_mask', 'eager')


def decomposed_rel_pos_bias(q: Tensor, rel_pos_h: Tensor, rel_pos_w: Tensor,
                            q_size: Tuple[int, int],
                            k_size: Tuple[int, int]) -> Tensor:
    """SAM's decomposed relative-position term as an additive bias.

    ``bias[n, i, j] = q_i . R_h[h(i) - h(j)] + q_i . R_w[w(i) - w(j)]``
    (MViTv2), computed from the *unscaled* queries as SAM does, shaped to
    be added to the attention logits or passed as ``attn_mask`` to
    ``scaled_dot_product_attention``.

    Args:
        q (Tensor): Queries, (..., q_h * q_w, C).
        rel_pos_h (Tensor): Height table, (L_h, C).
        rel_pos_w (Tensor): Width table, (L_w, C).
        q_size (tuple[int, int]): (q_h, q_w).
        k_size (tuple[int, int]): (k_h, k_w).

    Returns:
        Tensor: (..., q_h * q_w, k_h * k_w).
    """
    q_h, q_w = q_size
    k_h, k_w = k_size
    table_h = get_rel_pos(q_h, k_h, rel_pos_h).to(q.dtype)  # (q_h, k_h, C)
    table_w = get_rel_pos(q_w, k_w, rel_pos_w).to(q.dtype)  # (q_w, k_w, C)
    r_q = q.unflatten(-2, (q_h, q_w))  # (..., q_h, q_w, C)
    rel_h = torch.einsum('...hwc,hkc->...hwk', r_q, table_h)
    rel_w = torch.einsum('...hwc,wkc->...hwk', r_q, table_w)
    bias = rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)  # (..., qh, qw, kh, kw)
    return bias.flatten(-4, -3).flatten(-2)


def rel_pos_key_onehots(k_size: Tuple[int, int], dtype: torch.dtype,
                        device: torch.device) -> Tuple[Tensor, Tensor]:
    """One-hot key rows and columns for the augmented-key attention.

    Args:
        k_size (tuple[int, int]): (k_h, k_w) of the key grid.
        dtype (torch.dtype): Output dtype.
        device (torch.device): Output device.

    Returns:
        tuple[Tensor, Tensor]: ``(k_h, k_w, k_h)`` with a one at the row of
        each key, and ``(k_h, k_w, k_w)`` with a one at its column.
    """
    k_h, k_w = k_size
    rows = torch.eye(k_h, dtype=dtype, device=device)
    cols = torch.eye(k_w, dtype=dtype, device=device)
    return (rows.unsqueeze(1).expand(k_h, k_w, k_h),
            cols.unsqueeze(0).expand(k_h, k_w, k_w))


def augmented_rel_pos_attention(q: Tensor,
                                k: Tensor,
                                v: Tensor,
                                rel_pos_h: Tensor,
                                rel_pos_w: Tensor,
                                scale: float,
                                align: Optional[int] = None) -> Tensor:
    """``softmax(q k^T * scale + bias) v`` with SAM's decomposed bias,
    as one plain ``scaled_dot_product_attention`` call.

    The bias is ``q_i . R_h[h(i) - h(j)] + q_i . R_w[w(i) - w(j)]``
    (:func:`decomposed_rel_pos_bias`) = ``rel_h[i, h(j)] + rel_w[i, w(j)]``
    with the small per-query tables ``rel_h`` (L, k_h) and ``rel_w``
    (L, k_w). Appending them (divided by ``scale``: the tables are divided,
    not the queries) to the queries and the one-hot key row and column to
    the keys gives ``scale * q'_i . k'_j = scale q_i . k_j + bias[i, j]``
    exactly, so no (L, L) mask is built and the fused kernel (with its
    gradient) runs; ``v`` is zero-padded to the same width (PyTorch's CPU
    flash kernel needs equal widths) and the padding is dropped from the
    output.

    q, k and v come as token grids of any strides (e.g. strided views of
    a fused q/k/v projection, windows of a padded map): the concatenations
    that build the augmented tensors are their only copy. The queries may
    be the top-left ``q_h x q_w`` part of the key grid (a window whose
    padding rows / columns need no output): positions and relative offsets
    are those of the key grid.

    Args:
        q (Tensor): (..., q_h, q_w, C).
        k, v (Tensor): (..., h, w, C), the key grid (``q_h <= h``,
            ``q_w <= w``).
        rel_pos_h (Tensor): Height table, (L_h, C).
        rel_pos_w (Tensor): Width table, (L_w, C).
        scale (float): Logit scale.
        align (int, optional): Zero-pad the augmented width to a multiple
            of this (CUDA's fused kernels want multiples of 8; zeros add
            nothing to the products). Defaults to None: 8 on CUDA, else 1.

    Returns:
        Tensor: (..., q_h * q_w, C) (a view of the kernel's wider output).
    """
    if align is None:
        align = 8 if q.is_cuda else 1
    q_h, q_w, c = q.shape[-3:]
    h, w = k.shape[-3:-1]
    # (q_h, h, C) and (q_w, w, C): the key grid's tables, query rows kept
    table_h = get_rel_pos(h, h, rel_pos_h)[:q_h].to(q.dtype) / scale
    table_w = get_rel_pos(w, w, rel_pos_w)[:q_w].to(q.dtype) / scale
    rel_h = torch.einsum('...hwc,hkc->...hwk', q, table_h)
    rel_w = torch.einsum('...hwc,wkc->...hwk', q, table_w)
    rows, cols = rel_pos_key_onehots((h, w), q.dtype, q.device)
    lead = k.shape[:-3]
    q_aug = torch.cat([q, rel_h, rel_w], dim=-1)
    k_aug = torch.cat(
        [k, rows.expand(*lead, h, w, h),
         cols.expand(*lead, h, w, w)], dim=-1)
    extra = -q_aug.shape[-1] % align
    if extra:
        q_aug = F.pad(q_aug, (0, extra))
        k_aug = F.pad(k_aug, (0, extra))
    width = q_aug.shape[-1]
    v_aug = F.pad(v, (0, width - c))

    def tokens(t: Tensor) -> Tensor:
        # (..., heads, a, b, D) -> (N, heads, a * b, D): SDPA's layout
        length = t.shape[-3] * t.shape[-2]
        if t.dim() >= 5:
            return t.reshape(-1, t.shape[-4], length, width)
        return t.reshape(*t.shape[:-3], length, width)

    out = F.scaled_dot_product_attention(
        tokens(q_aug), tokens(k_aug), tokens(v_aug), scale=scale)
    return out.view(*q.shape[:-3], q_h * q_w, width)[..., :c]


class WindowGroups:
    """Where the real queries of a padded window map are (one layout).

    The windows of a (B, hp, wp, 3C) q/k/v map fall into up to four groups
    by their real rows / columns: whole windows, the last window row
    (``h % ws`` real rows), the last window column (``w % ws`` real
    columns) and their corner. :meth:`qkv_views` gives each group's
    queries (real rows / columns only), keys and values, :meth:`out_views`
    each group's place in the (B, h, w, C) output.

    Args:
        shape (tuple): (B, hp, wp, 3C), ``hp``, ``wp`` multiples of ``ws``.
        size (tuple[int, int]): The real grid (h, w).
        ws (int): Window side.
        heads (int): Attention heads.
    """

    def __init__(self, shape: Tuple[int, ...], size: Tuple[int, int], ws: int,
                 heads: int) -> None:
        self.shape = tuple(shape)
        self.size = tuple(size)
        self.ws = ws
        self.heads = heads

        def spans(real: int) -> List[Tuple[int, int, int]]:
            # (first window, end window, real rows in each)
            whole = real // ws
            parts = [(0, whole, ws)] if whole else []
            if real % ws:
                parts.append((whole, whole + 1, real % ws))
            return parts

        self.groups = [(i0, i1, rows, j0, j1, cols)
                       for i0, i1, rows in spans(size[0])
                       for j0, j1, cols in spans(size[1])]

    def qkv_views(self, qkv: Tensor) -> List[Tensor]:
        """q, k, v of every group, strided views of ``qkv``.

        Returns:
            list[Tensor]: ``[q_0, k_0, v_0, q_1, ...]``; q (B, ni, nj,
            heads, rows, cols, d), k and v (B, ni, nj, heads, ws, ws, d).
        """
        b, hp, wp, _ = self.shape
        ws = self.ws
        q, k, v = qkv.view(b, hp // ws, ws, wp // ws, ws, 3, self.heads,
                           -1).permute(5, 0, 1, 3, 6, 2, 4, 7).unbind(0)
        views = []
        for i0, i1, rows, j0, j1, cols in self.groups:
            views += [
                q[:, i0:i1, j0:j1, :, :rows, :cols], k[:, i0:i1, j0:j1],
                v[:, i0:i1, j0:j1]
            ]
        return views

    def out_views(self, out: Tensor) -> List[Tensor]:
        """Every group's place in ``out`` (B, h, w, C), as (B, ni, nj,
        heads, rows, cols, d) strided views."""
        views = []
        for i0, i1, rows, j0, j1, cols in self.groups:
            top, left = i0 * self.ws, j0 * self.ws
            region = out[:, top:top + (i1 - i0) * rows,
                         left:left + (j1 - j0) * cols]
            views.append(
                region.unflatten(1, (i1 - i0, rows)).unflatten(
                    3, (j1 - j0, cols)).unflatten(-1,
                                                  (self.heads, -1)).permute(
                                                      0, 1, 3, 5, 2, 4, 6))
        return views


class _GatherWindowGroups(torch.autograd.Function):
    """Views of the window groups' q/k/v; the backward writes all their
    gradients into one zero buffer (instead of one zero-filled map per
    slice)."""

    @staticmethod
    def forward(ctx, qkv: Tensor, layout: WindowGroups) -> Tuple[Tensor, ...]:
        ctx.layout = layout
        return tuple(layout.qkv_views(qkv))

    @staticmethod
    def backward(ctx, *grads: Optional[Tensor]):
        layout = ctx.layout
        grad = grads[0].new_zeros(layout.shape)
        for view, g in zip(layout.qkv_views(grad), grads):
            if g is not None:
                view.copy_(g)  # q, k, v regions of the groups are disjoint
        return grad, None


class _ScatterWindowGroups(torch.autograd.Function):
    """The groups' outputs, (B, ni, nj, heads, rows * cols, d) each, put in
    place in one (B, h, w, C) map; the backward hands each group its
    region of the gradient."""

    @staticmethod
    def forward(ctx, layout: WindowGroups, *parts: Tensor) -> Tensor:
        ctx.layout = layout
        b = layout.shape[0]
        out = parts[0].new_empty(b, *layout.size, layout.shape[-1] // 3)
        for view, part in zip(layout.out_views(out), parts):
            view.copy_(part.view(view.shape))
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        views = ctx.layout.out_views(grad)
        return (None, *[v.flatten(-3, -2) for v in views])


class SAMAttention(Attention):
    """SAM attention with fused (default), masked-fused or eager kernels,
    and padding-aware windows.

    Same parameters and outputs as mmpretrain's ``Attention`` (SAM's
    attention). Implementations (``attn_impl``), all giving the same
    outputs and gradients:

    * ``'fused'`` (default): the relative-position term folded into
      augmented queries and keys (:func:`augmented_rel_pos_attention`), one
      ``scaled_dot_product_attention`` call without a mask, so PyTorch's
      fused kernel runs in training too and no (L, L) attention matrix is
      stored for the backward pass;
    * ``'fused_mask'``: the term as a float ``attn_mask`` of
      ``scaled_dot_product_attention``. When the mask needs a gradient
      (training with LoRA: it is computed from the queries), PyTorch (2.14,
      CPU) has no fused kernel and dispatches to its unfused math path, so
      this then runs the eager code directly;
    * ``'eager'``: ``softmax(q k^T * scale + bias) v`` written out.

    :meth:`forward_windowed` is SAM's windowed attention (zero padding of
    the normalised tokens to whole windows, attention per window, crop)
    computed without projecting the padding: a padded token is zero, so its
    q/k/v is exactly the projection's bias (LoRA adds ``up(down(0)) = 0``);
    the q/k/v projection runs on the real tokens, the padding is filled
    with the bias, and only the real tokens' outputs are projected.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads. Defaults to 8.
        qkv_bias (bool): Bias of the q/k/v projection. Defaults to True.
        use_rel_pos (bool): Decomposed relative positions. Defaults to False.
        input_size (tuple[int, int], optional): Token grid the relative
            tables are made for. Defaults to None.
        attn_impl (str): ``'fused'``, ``'fused_mask'`` or ``'eager'``.
            Defaults to 'fused'.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 use_rel_pos: bool = False,
                 input_size: Optional[Tuple[int, int]] = None,
                 attn_impl: str = 'fused') -> None:
        super().__init__(embed_dims, num_heads, qkv_bias, use_rel_pos,
                         input_size)
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, got '
                             f'{attn_impl!r}')
        self.attn_impl = attn_impl

    def attend(self, qkv: Tensor) -> Tensor:
        """Attention from projected q/k/v, before the output projection.

        Args:
            qkv (Tensor): (N, H, W, 3C), q, k and v concatenated.

        Returns:
            Tensor: (N, H, W, C).
        """
        n, h, w, _ = qkv.shape
        if self.attn_impl == 'fused' and self.use_rel_pos:
            # (3, N, heads, H, W, C / heads), strided views of qkv
            q, k, v = qkv.view(n, h, w, 3, self.num_heads,
                               -1).permute(3, 0, 4, 1, 2, 5).unbind(0)
            out = augmented_rel_pos_attention(q, k, v, self.rel_pos_h,
                                              self.rel_pos_w, self.scale)
            return out.transpose(1, 2).reshape(n, h, w, -1)
        # (3, N, heads, H * W, C / heads)
        qkv = qkv.reshape(n, h * w, 3, self.num_heads,
                          -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        bias = None
        if self.use_rel_pos:
            bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w,
                                           (h, w), (h, w))
        if self.attn_impl != 'eager' and not (bias is not None
                                              and bias.requires_grad
                                              and torch.is_grad_enabled()):
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, scale=self.scale)
        else:
            logits = (q * self.scale) @ k.transpose(-2, -1)
            if bias is not None:
                logits = logits + bias
            out = logits.softmax(dim=-1) @ v
        return out.transpose(1, 2).reshape(n, h, w, -1)

    def forward(self, x: Tensor) -> Tensor:
        """Self-attention over a token grid.

        Args:
            x (Tensor): (N, H, W, C) (N = batch or batch * windows).

        Returns:
            Tensor: (N, H, W, C).
        """
        return self.proj(self.attend(self.qkv(x)))

    def _fused_windows(self, qkv: Tensor, size: Tuple[int, int],
                       ws: int) -> Tensor:
        """Windowed ``'fused'`` attention with real queries only.

        The windows are strided views of the padded q/k/v map (the
        augmented concatenation is their only copy). Padding tokens are
        keys and values of the windows they pad (SAM's semantics) but their
        outputs are cropped, so they are not queries: the windows are
        attended in up to four groups (whole windows; the last window row
        and column with ``h % ws`` / ``w % ws`` query rows / columns; their
        corner), each writing its real tokens' outputs into place.

        Args:
            qkv (Tensor): Padded q/k/v, (B, hp, wp, 3C), ``hp``, ``wp``
                multiples of ``ws``.
            size (tuple[int, int]): The real grid (h, w).
            ws (int): Window side.

        Returns:
            Tensor: (B, h, w, C), before the output projection.
        """
        layout = WindowGroups(qkv.shape, size, ws, self.num_heads)
        views = _GatherWindowGroups.apply(qkv, layout)
        parts = [
            augmented_rel_pos_attention(q, k, v, self.rel_pos_h,
                                        self.rel_pos_w, self.scale)
            for q, k, v in zip(views[0::3], views[1::3], views[2::3])
        ]
        return _ScatterWindowGroups.apply(layout, *parts)

    def forward_windowed(self, x: Tensor, window_size: int) -> Tensor:
        """SAM's windowed attention without projecting the padding.

        Equal to ``window_unpartition(attn(window_partition(x)))`` of
        SAM / mmpretrain (zero padding of ``x`` to whole windows).

        Args:
            x (Tensor): Normalised tokens, (B, H, W, C).
            window_size (int): Window side.

        Returns:
            Tensor: (B, H, W, C).
        """
        b, h, w, _ = x.shape
        ws = window_size
        pad_h = (ws - h % ws) % ws
        pad_w = (ws - w % ws) % ws
        if not isinstance(self.qkv, nn.Linear):
            # unknown projection: its output on zero padding is not known
            qkv = self.qkv(F.pad(x, (0, 0, 0, pad_w, 0, pad_h)))
        else:
            qkv = self.qkv(x)  # real tokens only
            if pad_h or pad_w:
                # the padded tokens' q/k/v: the bias (zero without one)
                qkv = F.pad(qkv, (0, 0, 0, pad_w, 0, pad_h))
                bias = self.qkv.bias
                if bias is not None:
                    qkv[:, h:] = bias.to(qkv.dtype)
                    qkv[:, :h, w:] = bias.to(qkv.dtype)
        if self.attn_impl == 'fused' and self.use_rel_pos:
            return self.proj(self._fused_windows(qkv, (h, w), ws))
        hp, wp = h + pad_h, w + pad_w
        nh, nw = hp // ws, wp // ws
        c3 = qkv.shape[-1]
        windows = qkv.view(b, nh, ws, nw, ws,
                           c3).transpose(2, 3).reshape(b * nh * nw, ws, ws, c3)
        out = self.attend(windows)
        out = out.view(b, nh, nw, ws, ws,
                       -1).transpose(2, 3).reshape(b, hp, wp, -1)
        if pad_h or pad_w:
            out = out[:, :h, :w]
        return self.proj(out)
