"""HopfieldPooling (FrNet eq. 2-4) against direct transcriptions."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcd_ext.models.necks import FrNetNeck, HopfieldPooling


def random_pair(batch=2, channels=6, size=(3, 4), seed=0):
    gen = torch.Generator().manual_seed(seed)
    f1 = torch.randn(batch, channels, *size, generator=gen)
    f2 = torch.randn(batch, channels, *size, generator=gen)
    return f1, f2


def eq2_by_hand(w_q, f_query, f_stored, beta):
    """Z = softmax_over_channels(beta W_Q F_q^T) F_s, written out directly."""
    b, c = f_query.shape[:2]
    fq = f_query.reshape(b, c, -1)  # rows = channels = stored patterns
    fs = f_stored.reshape(b, c, -1)
    logits = beta * (w_q.unsqueeze(0) @ fq.transpose(1, 2))  # (b, c_Q, c)
    e = torch.exp(logits - logits.amax(dim=2, keepdim=True))
    weights = e / e.sum(dim=2, keepdim=True)
    return weights @ fs, weights


@pytest.mark.parametrize('num_queries,beta', [(2, None), (1, 0.3), (3, 2.0),
                                              (5, 1e-3)])
def test_retrieval_equals_eq2_eq3(num_queries, beta):
    f1, f2 = random_pair()
    block = HopfieldPooling(
        feat_size=(3, 4), num_queries=num_queries, beta=beta)
    expected_beta = 1 / math.sqrt(num_queries) if beta is None else beta
    assert block.beta == pytest.approx(expected_beta)
    z1, z2 = block.retrieve_pair(f1, f2)
    w_q = block.query.detach()
    ref_z1, a1 = eq2_by_hand(w_q, f1, f2, expected_beta)
    ref_z2, a2 = eq2_by_hand(w_q, f2, f1, expected_beta)
    torch.testing.assert_close(z1, ref_z1.reshape(2, num_queries, 3, 4))
    torch.testing.assert_close(z2, ref_z2.reshape(2, num_queries, 3, 4))
    # the exposed weights are the same, and each row is a convex combination
    weights = block.attention(f1.flatten(2))
    torch.testing.assert_close(weights, a1)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, num_queries))
    # ... so every retrieved value lies between the stored patterns' min/max
    lo = f2.flatten(2).amin(dim=1, keepdim=True)
    hi = f2.flatten(2).amax(dim=1, keepdim=True)
    flat = z1.flatten(2)
    assert (flat >= lo - 1e-6).all() and (flat <= hi + 1e-6).all()


def test_hand_worked_example():
    # c = 2 channels (stored patterns) of length h*w = 2, c_Q = 1, beta = 1.
    # Scores of F1's channels against W_Q = [1, 0]: 0 and ln 3, so the
    # softmax weights are 1/4 and 3/4, and Z1 = 1/4 [4, 8] + 3/4 [0, 4].
    block = HopfieldPooling(feat_size=(1, 2), num_queries=1, beta=1.0)
    with torch.no_grad():
        block.query.copy_(torch.tensor([[1.0, 0.0]]))
    f1 = torch.tensor([[[[0.0, 5.0]], [[math.log(3.0), 7.0]]]])
    f2 = torch.tensor([[[[4.0, 8.0]], [[0.0, 4.0]]]])
    z1, _ = block.retrieve_pair(f1, f2)
    torch.testing.assert_close(z1, torch.tensor([[[[1.0, 5.0]]]]))
    torch.testing.assert_close(
        block.attention(f1.flatten(2)), torch.tensor([[[0.25, 0.75]]]))


def test_swapping_dates_swaps_z1_and_z2():
    f1, f2 = random_pair(seed=1)
    block = HopfieldPooling(feat_size=(3, 4))
    z1, z2 = block.retrieve_pair(f1, f2)
    s1, s2 = block.retrieve_pair(f2, f1)
    torch.testing.assert_close(s1, z2)
    torch.testing.assert_close(s2, z1)


def test_eq4_projection_by_hand():
    f1, f2 = random_pair(seed=2)
    block = HopfieldPooling(feat_size=(3, 4), out_channels=5)
    bn = block.proj.bn
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    block.eval()
    with torch.no_grad():
        out = block(f1, f2)
        z1, z2 = block.retrieve_pair(f1, f2)
        z = torch.cat([z1, z2], dim=1)  # (2, 4, 3, 4)
        conv = block.proj.conv
        y = torch.einsum('oi,bihw->bohw', conv.weight[:, :, 0, 0], z)
        if conv.bias is not None:
            y = y + conv.bias.view(1, -1, 1, 1)
        y = (y - bn.running_mean.view(1, -1, 1, 1)
             ) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + bn.eps)
        y = y * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
        ref = F.interpolate(
            y.clamp(min=0),
            scale_factor=2,
            mode='bilinear',
            align_corners=False)
    assert out.shape == (2, 5, 6, 8)
    torch.testing.assert_close(out, ref)


def test_gradients_reach_query_and_both_dates():
    f1, f2 = random_pair(seed=3)
    f1.requires_grad_(True)
    f2.requires_grad_(True)
    block = HopfieldPooling(feat_size=(3, 4))
    out = block(f1, f2)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    for grad in (block.query.grad, f1.grad, f2.grad):
        assert grad is not None and grad.abs().sum() > 0
    # and they are the true derivatives (finite differences, float64)
    small = HopfieldPooling(feat_size=(2, 2), out_channels=3).double().eval()
    a, b = (
        f.double().requires_grad_(True)
        for f in random_pair(batch=1, channels=3, size=(2, 2), seed=4))
    query = small.query.detach().clone().requires_grad_(True)

    def forward(q, x1, x2):
        return torch.func.functional_call(small, {'query': q}, (x1, x2))

    assert torch.autograd.gradcheck(forward, (query, a, b), fast_mode=True)


def test_other_size_is_a_clear_error():
    block = HopfieldPooling(feat_size=(8, 8))
    f1, f2 = random_pair(size=(4, 4))
    with pytest.raises(
            ValueError, match=r'4x4.*feat_size=\(8, 8\).*'
            r'resize_input=True'):
        block(f1, f2)


def test_resize_input_retrieves_at_trained_size():
    f1, f2 = random_pair(channels=4, size=(6, 6), seed=5)
    block = HopfieldPooling(feat_size=(3, 3), resize_input=True)
    z1, z2 = block.retrieve_pair(f1, f2)
    assert z1.shape == z2.shape == (2, 2, 3, 3)
    small1 = F.interpolate(
        f1, size=(3, 3), mode='bilinear', align_corners=False)
    small2 = F.interpolate(
        f2, size=(3, 3), mode='bilinear', align_corners=False)
    ref, _ = eq2_by_hand(block.query.detach(), small1, small2, block.beta)
    torch.testing.assert_close(z1, ref.reshape(2, 2, 3, 3))
    assert block(f1, f2).shape == (2, 16, 12, 12)  # 2x the input feature


def test_dates_of_different_shape_are_rejected():
    block = HopfieldPooling(feat_size=(3, 4))
    f1, _ = random_pair()
    _, f2 = random_pair(channels=5)
    with pytest.raises(ValueError, match='different shapes'):
        block(f1, f2)


@pytest.mark.parametrize('kwargs', [
    dict(feat_size=(8, )),
    dict(feat_size=(0, 8)),
    dict(feat_size=(8, 8), num_queries=0)
])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='HopfieldPooling'):
        HopfieldPooling(**kwargs)


def test_query_init_scale():
    torch.manual_seed(0)
    block = HopfieldPooling(feat_size=(16, 16), num_queries=64)
    std = block.query.detach().std().item()
    assert std == pytest.approx(1 / 16, rel=0.05)
    assert abs(block.query.detach().mean().item()) < 0.01


# ---------------------------------------------------------------- FrNetNeck
def levels(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(8, 32, 32), (16, 16, 16), (16, 8, 8), (32, 4, 4), (32, 1, 1)]

    def make():
        return [
            torch.from_numpy(
                rng.standard_normal((batch, *s)).astype(np.float32))
            for s in shapes
        ]

    return make(), make()


def test_frnet_neck_outputs():
    feats_a, feats_b = levels()
    feats_b[4] = torch.randn(2, 32, 2, 2)
    feats_a[4] = torch.randn(2, 32, 2, 2)
    neck = FrNetNeck(in_channels=32, hopfield=dict(feat_size=(2, 2)))
    neck.eval()
    outs = neck(feats_a, feats_b)
    assert len(outs) == 5
    for i in range(4):
        torch.testing.assert_close(outs[i], (feats_a[i] - feats_b[i]).abs())
    with torch.no_grad():
        torch.testing.assert_close(outs[4],
                                   neck.hopfield(feats_a[4], feats_b[4]))
    assert outs[4].shape == (2, 16, 4, 4)
    assert neck.hopfield.proj.conv.in_channels == 4  # [Z1; Z2], c_Q = 2


def test_frnet_neck_base_model_has_no_hopfield():
    feats_a, feats_b = levels(seed=1)
    neck = FrNetNeck(in_channels=32, use_hopfield=False)
    assert not neck.with_hopfield
    assert not any('hopfield' in n or 'query' in n
                   for n, _ in neck.named_parameters())
    neck.eval()
    with torch.no_grad():
        top = neck(feats_a, feats_b)[4]
        diff = (feats_a[4] - feats_b[4]).abs()
        ref = F.interpolate(
            neck.deep_proj(diff),
            scale_factor=2,
            mode='bilinear',
            align_corners=False)
    assert top.shape == (2, 16, 2, 2)
    torch.testing.assert_close(top, ref)


def test_frnet_neck_errors():
    with pytest.raises(ValueError, match='feat_size'):
        FrNetNeck(in_channels=32, hopfield=dict(type='HopfieldPooling'))
    neck = FrNetNeck(in_channels=32, use_hopfield=False)
    feats_a, feats_b = levels()
    with pytest.raises(ValueError, match='5 backbone levels'):
        neck(feats_a[:4], feats_b[:4])
    with pytest.raises(ValueError, match='levels for date A'):
        neck(feats_a, feats_b[:4])
