"""LSAFNet's LGAA, LGCE, SFM and ConvBlock against the paper's equations."""
import pytest
import torch
import torch.nn.functional as F

from mmcd_ext.models.layers import (LGAA, LGCE, ConcatMLPFusion, LSAFConvBlock,
                                    SemanticFusionModule)


def randomise(module, seed=0):
    """Random weights and BN running statistics, then eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, b in module.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return module.eval()


def conv_bn(x, conv_module):
    """Conv (no bias) then BN in eval mode, written out."""
    conv, bn = conv_module.conv, conv_module.bn
    y = F.conv2d(x, conv.weight, conv.bias)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (y - bn.running_mean[None, :, None, None]) * \
        scale[None, :, None, None] + bn.bias[None, :, None, None]


def branch(x, seq):
    """conv1x1 -> BN -> ReLU -> conv1x1 -> BN (METHODS.md section 3)."""
    return conv_bn(torch.relu(conv_bn(x, seq[0])), seq[1])


def attention_weight(s, module):
    """sigmoid(w_1 + w_2): w_1 on GAP(s) (eq. 3 / 6), w_2 on s (eq. 4 / 7)."""
    w1 = branch(s.mean(dim=(2, 3), keepdim=True), module.global_att)
    w2 = branch(s, module.local_att)
    return torch.sigmoid(w1 + w2)


def feats(shape=(2, 8, 6, 5), seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape,
                        generator=gen), torch.randn(shape, generator=gen))


@pytest.mark.parametrize('doubling', [False, True])
def test_lgaa_equals_eq_3_to_5(doubling):
    lgaa = randomise(LGAA(8, reduction=4, public_code_doubling=doubling))
    fi, fj = feats()
    w = attention_weight(fi + fj, lgaa)
    expected = fi * w + fj * (1 - w)  # eq. 5
    if doubling:  # the public code's 2 Fi w + 2 Fj (1 - w)
        expected = 2 * fi * w + 2 * fj * (1 - w)
    with torch.no_grad():
        out = lgaa(fi, fj)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # the weight really varies per channel and per pixel
    assert w.std() > 0.05
    assert lgaa.local_att[0].conv.out_channels == 2  # C / r


@pytest.mark.parametrize('w_value', [1.0, 0.0])
def test_lgaa_with_weight_forced_returns_one_input(w_value):
    lgaa = randomise(LGAA(8))
    with torch.no_grad():  # sigmoid(+-1e4) is exactly 1 / 0 in float32
        for seq in (lgaa.local_att, lgaa.global_att):
            seq[1].bn.weight.zero_()
            seq[1].bn.bias.fill_(1e4 if w_value else -1e4)
        fi, fj = feats()
        out = lgaa(fi, fj)
    torch.testing.assert_close(out, fi if w_value else fj)


def test_lgce_equals_eq_6_to_8():
    lgce = randomise(LGCE(8, reduction=2))
    fh, _ = feats()
    with torch.no_grad():
        out = lgce(fh)
    torch.testing.assert_close(
        out, fh * attention_weight(fh, lgce), rtol=1e-5, atol=1e-5)


def test_concat_mlp_fusion_is_concat_then_mlp():
    fusion = randomise(ConcatMLPFusion(8))
    fi, fj = feats()
    cat = torch.cat([fi, fj], dim=1)
    first = fusion.mlp[0]
    hidden = torch.relu(conv_bn(cat, first))
    expected = F.conv2d(hidden, fusion.mlp[1].weight, fusion.mlp[1].bias)
    with torch.no_grad():
        torch.testing.assert_close(
            fusion(fi, fj), expected, rtol=1e-5, atol=1e-5)
    # unlike LGAA, swapping the inputs changes the output
    with torch.no_grad():
        assert not torch.allclose(fusion(fi, fj), fusion(fj, fi))


def cbr(x, conv_module):
    return torch.relu(conv_bn(x, conv_module))


@pytest.mark.parametrize('strided', [False, True])
def test_sfm_equals_eq_1_and_2(strided):
    sfm = randomise(SemanticFusionModule((8, 12, 16)))
    gen = torch.Generator().manual_seed(3)
    f1 = torch.randn(2, 8, 8, 8, generator=gen)
    size = 4 if strided else 8  # F_2, F_3 at 1/16, 1/32 or all at 1/8
    f2 = torch.randn(2, 12, size, size, generator=gen)
    f3 = torch.randn(
        2,
        16,
        size // 2 if strided else size,
        size // 2 if strided else size,
        generator=gen)

    def lgaa(fi, fj, module):
        w = attention_weight(fi + fj, module)
        return fi * w + fj * (1 - w)

    def up(x, like):
        return F.interpolate(
            x, size=like.shape[2:], mode='bilinear', align_corners=False)

    with torch.no_grad():
        f2p = lgaa(f2, up(cbr(f3, sfm.reduce3), f2), sfm.fuse2)  # eq. 1
        expected = lgaa(f1, up(cbr(f2p, sfm.reduce2), f1), sfm.fuse1)  # eq. 2
        torch.testing.assert_close(
            sfm(f1, f2, f3), expected, rtol=1e-5, atol=1e-5)


def test_conv_block_upsamples_and_concatenates():
    block = randomise(LSAFConvBlock(8, 4, 6, dilation=2))
    gen = torch.Generator().manual_seed(4)
    high = torch.randn(2, 8, 4, 4, generator=gen)
    low = torch.randn(2, 4, 8, 8, generator=gen)
    with torch.no_grad():
        out = block(high, low)
        up = F.interpolate(
            high, size=(8, 8), mode='bilinear', align_corners=False)
        expected = block.spatial(
            block.res2(block.res1(torch.cat([up, low], 1))))
    assert out.shape == (2, 6, 8, 8)
    torch.testing.assert_close(out, expected)
    assert block.spatial.conv.groups == 6  # depthwise
    assert block.spatial.conv.dilation == (2, 2)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match='same shape'):
        LGAA(8)(torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 4, 5))
    with pytest.raises(ValueError, match='built for 8 channels'):
        LGAA(8)(torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match='reduction'):
        LGCE(8, reduction=0)
    with pytest.raises(ValueError, match='F_1, F_2, F_3'):
        SemanticFusionModule((8, 16))
    with pytest.raises(ValueError, match='channels'):
        LSAFConvBlock(8, 4, 6)(torch.zeros(1, 4, 2, 2),
                               torch.zeros(1, 4, 4, 4))
