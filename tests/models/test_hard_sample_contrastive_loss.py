"""HardSampleContrastiveLoss against formulas written out in the test."""
import pytest
import torch

from mmcd_ext.models.losses import HardSampleContrastiveLoss
from mmcd_ext.registry import MODELS


def batch_balanced_contrastive(dist, label, margin):
    """STANet's BCL, written directly: mean pull over unchanged pixels plus
    mean hinge push over changed pixels; label 255 is in neither."""
    unchanged = label == 0
    changed = label == 1
    pull = (dist[unchanged]**2).sum() / unchanged.sum()
    push = (torch.clamp(margin - dist[changed], min=0)**2).sum() / \
        changed.sum()
    return pull + push


def euclidean(a, b, normalize):
    if normalize:
        a = a / a.pow(2).sum(1, keepdim=True).sqrt()
        b = b / b.pow(2).sum(1, keepdim=True).sqrt()
    return (a - b).pow(2).sum(1, keepdim=True).sqrt()


def random_pair(shape=(2, 8, 16, 16), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape,
                        generator=gen), torch.randn(*shape, generator=gen))


def random_label(shape=(2, 1, 16, 16), seed=1, ignore=True):
    gen = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 2, shape, generator=gen)
    if ignore:
        label[:, :, :3] = 255
    return label


@pytest.mark.parametrize('normalize,margin', [(False, 5.0), (True, 1.0)])
def test_gamma_zero_is_batch_balanced_contrastive_loss(normalize, margin):
    a, b = random_pair()
    label = random_label()
    loss = HardSampleContrastiveLoss(
        margin=margin, gamma=0.0, normalize=normalize)
    expected = batch_balanced_contrastive(
        euclidean(a, b, normalize), label, margin)
    torch.testing.assert_close(loss(a, b, label), expected)


def test_gamma_zero_cosine_distance():
    a, b = random_pair()
    label = random_label()
    cos = (a * b).sum(
        1, keepdim=True) / (
            a.norm(dim=1, keepdim=True) * b.norm(dim=1, keepdim=True))
    loss = HardSampleContrastiveLoss(margin=0.8, gamma=0.0, distance='cosine')
    torch.testing.assert_close(
        loss(a, b, label), batch_balanced_contrastive(1 - cos, label, 0.8))


def test_levels_nearest_resized_labels_and_weights():
    gen = torch.Generator().manual_seed(3)
    feats_a = [torch.randn(2, 4, s, s, generator=gen) for s in (16, 8, 4)]
    feats_b = [torch.randn(2, 4, s, s, generator=gen) for s in (16, 8, 4)]
    label = random_label((2, 32, 32))  # (B, H, W)
    loss = HardSampleContrastiveLoss(
        margin=1.0, gamma=0.0, level_weights=[1.0, 0.5, 0.25], loss_weight=2.0)
    expected = 0.0
    for fa, fb, w in zip(feats_a, feats_b, [1.0, 0.5, 0.25]):
        step = 32 // fa.shape[-1]
        # nearest downsampling by an integer factor picks every step-th
        # pixel, starting with the first
        small = label[:, None, ::step, ::step]
        expected = expected + w * batch_balanced_contrastive(
            euclidean(fa, fb, True), small, 1.0)
    torch.testing.assert_close(loss(feats_a, feats_b, label), 2.0 * expected)
    # default level weights: the mean over levels
    mean = HardSampleContrastiveLoss(margin=1.0, gamma=0.0)
    levels = [
        HardSampleContrastiveLoss(margin=1.0, gamma=0.0)(fa, fb, label)
        for fa, fb in zip(feats_a, feats_b)
    ]
    torch.testing.assert_close(mean(feats_a, feats_b, label), sum(levels) / 3)


def test_hard_sample_weights_hand_worked():
    # one channel, no normalisation: d = |a - b| exactly
    a = torch.tensor([0.5, 0.2, 2.0, 1.5, 0.25]).view(1, 1, 1, 5)
    b = torch.zeros_like(a)
    label = torch.tensor([0, 0, 0, 1, 1]).view(1, 1, 1, 5)
    loss = HardSampleContrastiveLoss(margin=1.0, gamma=2.0, normalize=False)
    w_u, w_c = loss.hard_sample_weights(a.abs())
    # w_u = clip((d/m)^2, 0, 1); w_c = (1 - d/m)_+^2
    torch.testing.assert_close(w_u.flatten(),
                               torch.tensor([0.25, 0.04, 1.0, 1.0, 0.0625]))
    torch.testing.assert_close(w_c.flatten(),
                               torch.tensor([0.25, 0.64, 0.0, 0.0, 0.5625]))
    # unchanged: (0.25*0.25 + 0.04*0.04 + 1*4) / (0.25 + 0.04 + 1)
    # changed: d=1.5 is beyond the margin (weight 0, hinge 0);
    #          d=0.25: 0.5625 * 0.75^2 / 0.5625
    expected = (0.0625 + 0.0016 + 4.0) / 1.29 + 0.5625
    assert loss(a, b, label).item() == pytest.approx(expected, rel=1e-6)


def test_weights_carry_no_gradient():
    values = torch.tensor([0.5, 0.2, 0.9, 0.3, 0.6, 0.1])
    a = values.view(1, 1, 1, 6).clone().requires_grad_(True)
    b = torch.zeros(1, 1, 1, 6)
    label = torch.tensor([0, 0, 0, 1, 1, 1]).view(1, 1, 1, 6)
    loss = HardSampleContrastiveLoss(margin=1.0, gamma=2.0, normalize=False)
    w_u, w_c = loss.hard_sample_weights(a.abs())
    assert not w_u.requires_grad and not w_c.requires_grad
    loss(a, b, label).backward()
    # with constant weights: d pull / d a_i = 2 w_i d_i / sum(w),
    # d push / d a_i = -2 w_i (m - d_i) / sum(w)   (all a_i > 0, d_i < m)
    d = values
    wu = (d[:3] / 1.0)**2
    wc = (1 - d[3:])**2
    grad_u = 2 * wu * d[:3] / wu.sum()
    grad_c = -2 * wc * (1 - d[3:]) / wc.sum()
    torch.testing.assert_close(a.grad.flatten(), torch.cat([grad_u, grad_c]))


def test_ignored_pixels_contribute_nothing():
    a, b = random_pair((1, 8, 8, 8))
    a.requires_grad_(True)
    label = random_label((1, 1, 8, 8), ignore=False)
    label[..., :, 5:] = 255
    loss = HardSampleContrastiveLoss(margin=1.0, gamma=2.0)
    value = loss(a, b, label)
    value.backward()
    assert a.grad[..., 5:].abs().max() == 0
    assert a.grad[..., :5].abs().max() > 0
    # the same as the loss of the labelled part alone
    cropped = loss(a.detach()[..., :5], b[..., :5], label[..., :5])
    torch.testing.assert_close(value.detach(), cropped)
    # and any feature values at ignored pixels change nothing
    b2 = b.clone()
    b2[..., 5:] = 100.0
    torch.testing.assert_close(loss(a.detach(), b2, label), cropped)


@pytest.mark.parametrize('gamma', [0.0, 2.0])
@pytest.mark.parametrize('fill', [0, 1, 255])
def test_single_class_batches_are_finite(gamma, fill):
    a, b = random_pair((2, 8, 8, 8))
    a.requires_grad_(True)
    label = torch.full((2, 1, 8, 8), fill)
    loss = HardSampleContrastiveLoss(margin=1.0, gamma=gamma)
    value = loss(a, b, label)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(a.grad).all()
    # identical dates, all unchanged: every weight is 0 when gamma > 0
    same = loss(a.detach(), a.detach(), torch.zeros(2, 1, 8, 8))
    assert torch.isfinite(same) and same.item() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize('gamma', [0.0, 2.0])
def test_zero_loss_when_already_separated(gamma):
    # unchanged pixels: identical features (d = 0); changed pixels:
    # d = 3 > margin 2
    a = torch.zeros(1, 2, 4, 4)
    b = torch.zeros(1, 2, 4, 4)
    label = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    label[..., 2:] = 1
    b[:, 0, :, 2:] = 3.0
    a.requires_grad_(True)
    loss = HardSampleContrastiveLoss(margin=2.0, gamma=gamma, normalize=False)
    value = loss(a, b, label)
    assert value.item() == pytest.approx(0.0, abs=1e-10)
    value.backward()
    assert a.grad.abs().max() < 1e-5


# with normalised features and gamma=2 the pairs near the margin get
# tiny weights (tiny steps); gamma=0 shows the direction there
@pytest.mark.parametrize('normalize,margin,gamma', [(False, 10.0, 2.0),
                                                    (True, 1.9, 0.0)])
def test_one_sgd_step_pulls_unchanged_and_pushes_changed(
        normalize, margin, gamma):
    a, b = random_pair((1, 4, 6, 6), seed=5)
    a.requires_grad_(True)
    b.requires_grad_(True)
    label = random_label((1, 1, 6, 6), seed=6, ignore=False)
    loss = HardSampleContrastiveLoss(
        margin=margin, gamma=gamma, normalize=normalize)
    before = euclidean(a.detach(), b.detach(), normalize)
    assert (before[label == 1] < margin).all()  # every changed pair active
    optim = torch.optim.SGD([a, b], lr=0.05)
    loss(a, b, label).backward()
    optim.step()
    after = euclidean(a.detach(), b.detach(), normalize)
    assert (after[label == 0] < before[label == 0]).all()
    assert (after[label == 1] > before[label == 1]).all()


def test_registered_and_bad_input():
    loss = MODELS.build(dict(type='HardSampleContrastiveLoss', gamma=1.0))
    assert isinstance(loss, HardSampleContrastiveLoss)
    a, b = random_pair((1, 4, 8, 8))
    with pytest.raises(ValueError, match='binary change labels'):
        loss(a, b, torch.full((1, 1, 8, 8), 2))
    with pytest.raises(ValueError, match='same'):
        loss(a, b[:, :2], torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match='batch'):
        loss(a, b, torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match='level_weights'):
        HardSampleContrastiveLoss(level_weights=[1.0])([a, a], [b, b],
                                                       torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match='never be reached'):
        HardSampleContrastiveLoss(margin=2.5, normalize=True)
    with pytest.raises(ValueError, match='unknown distance'):
        HardSampleContrastiveLoss(distance='manhattan')
    with pytest.raises(ValueError, match='gamma'):
        HardSampleContrastiveLoss(gamma=-1)
    with pytest.raises(ValueError, match='margin'):
        HardSampleContrastiveLoss(margin=0)
