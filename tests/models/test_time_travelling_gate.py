"""TimeTravellingGate against eq. 2 written with NCHW convolutions."""
import pytest
import torch
import torch.nn.functional as F

from mmcd_ext.models.layers.time_travelling_gate import TimeTravellingGate

C = 8


def random_gate(**kwargs):
    gate = TimeTravellingGate(embed_dims=C, **kwargs)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in gate.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return gate


def conv1x1(x, linear):
    """A channels-last linear layer as an NCHW 1x1 convolution."""
    weight = linear.weight[:, :, None, None]
    return F.conv2d(x, weight, linear.bias)


def proj2_nchw(gate, x):
    layers = list(gate.proj2)
    if len(layers) == 1:
        return conv1x1(x, layers[0])
    return conv1x1(F.gelu(conv1x1(x, layers[0])), layers[2])


def eq2_nchw(gate, x0, x1, sequential):
    """Eq. 2 on (B, C, H, W) maps, written out."""
    m = torch.sigmoid(conv1x1(torch.cat([x0, x1], dim=1), gate.proj1))
    new_x0 = x0 + proj2_nchw(gate, m * x1)
    new_x1 = x1 + proj2_nchw(gate, m * (new_x0 if sequential else x0))
    return new_x0, new_x1


@pytest.mark.parametrize('sequential', [False, True])
@pytest.mark.parametrize('hidden', [False, True])
def test_gate_is_eq2(sequential, hidden):
    gate = random_gate(sequential_update=sequential, proj2_hidden=hidden)
    x0 = torch.randn(2, C, 5, 6)
    x1 = torch.randn(2, C, 5, 6)
    stacked = torch.cat([x0, x1]).permute(0, 2, 3, 1)  # (2B, H, W, C)
    out = gate(stacked).permute(0, 3, 1, 2)
    e0, e1 = eq2_nchw(gate, x0, x1, sequential)
    torch.testing.assert_close(out[:2], e0, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[2:], e1, atol=1e-5, rtol=1e-5)


def test_simultaneous_and_sequential_differ():
    x = torch.randn(4, 3, 3, C)
    simultaneous = random_gate(sequential_update=False)(x)
    sequential = random_gate(sequential_update=True)(x)
    torch.testing.assert_close(simultaneous[:2], sequential[:2])
    assert not torch.allclose(simultaneous[2:], sequential[2:])


def test_identity_init():
    gate = TimeTravellingGate(embed_dims=C)
    gate.init_weights()
    assert torch.all(gate.proj1.weight == 1.0 / (2 * C))
    x = torch.randn(4, 3, 3, C)
    torch.testing.assert_close(gate(x), x, rtol=0, atol=0)
    # the gate can still learn: the zero layer gets a gradient
    gate(x).sum().backward()
    assert gate.proj2[-1].weight.grad.abs().sum() > 0


def test_public_init_and_frozen():
    gate = TimeTravellingGate(
        embed_dims=C, proj2_hidden=True, init_mode='public', trainable=False)
    gate.init_weights()
    assert torch.all(gate.proj1.weight == 1.0 / (2 * C))
    assert not any(p.requires_grad for p in gate.parameters())
    x = torch.randn(2, 3, 3, C)
    assert not torch.allclose(gate(x), x)


def test_bad_input_is_an_error():
    gate = TimeTravellingGate(embed_dims=C)
    with pytest.raises(ValueError, match='even batch'):
        gate(torch.randn(3, 2, 2, C))
    with pytest.raises(ValueError, match='channels-last'):
        gate(torch.randn(2, C, 2, 2))
    with pytest.raises(ValueError, match='init_mode'):
        TimeTravellingGate(embed_dims=C, init_mode='zeros')
