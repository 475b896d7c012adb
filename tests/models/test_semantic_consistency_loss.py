"""SemanticConsistencyLoss (LSAFNet eq. 17) on hand-worked examples."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmcd_ext.models.losses import SemanticConsistencyLoss
from mmcd_ext.registry import MODELS


def two_pixels(values):
    """(1, K, 1, 2) from [[pixel 1 vector], [pixel 2 vector]]."""
    return torch.tensor(values, dtype=torch.float32).t()[None, :, None, :]


def test_hand_worked_two_pixels_on_raw_vectors():
    # pixel 1 unchanged: (1, 0) vs (1, 1): cos = 1/sqrt(2), loss 1 - cos
    # pixel 2 changed:   (3, 4) vs (4, 3): cos = 24/25,     loss cos
    x1 = two_pixels([[1.0, 0.0], [3.0, 4.0]])
    x2 = two_pixels([[1.0, 1.0], [4.0, 3.0]])
    change = torch.tensor([[[0, 1]]])
    loss = SemanticConsistencyLoss(use_softmax=False)(x1, x2, change)
    expected = ((1 - 1 / math.sqrt(2)) + 24 / 25) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_hand_worked_two_pixels_on_softmax():
    # softmax(0, 0) = (.5, .5); softmax(ln 3, 0) = (.75, .25)
    ln3 = math.log(3.0)
    x1 = two_pixels([[0.0, 0.0], [ln3, 0.0]])
    x2 = two_pixels([[ln3, 0.0], [0.0, ln3]])
    change = torch.tensor([[[0, 1]]])
    # unchanged: cos((.5,.5), (.75,.25)) = .5 / (sqrt(.5) sqrt(.625))
    cos_1 = 0.5 / (math.sqrt(0.5) * math.sqrt(0.625))
    # changed: cos((.75,.25), (.25,.75)) = .375 / .625 = .6
    expected = ((1 - cos_1) + 0.6) / 2
    loss = SemanticConsistencyLoss(loss_weight=2.0)(x1, x2, change)
    assert loss.item() == pytest.approx(2.0 * expected, abs=1e-6)


def test_zero_for_identical_distributions_on_unchanged_pixels():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 5, 5, generator=gen)
    change = torch.zeros(2, 5, 5, dtype=torch.long)
    change[0, 0, 0] = 255  # ignored
    loss = SemanticConsistencyLoss()(logits, logits.clone(), change)
    assert abs(loss.item()) < 1e-6
    # pulling apart on unchanged pixels costs
    assert SemanticConsistencyLoss()(logits, -logits, change) > 0.05


def test_matches_torch_cosine_embedding_loss_margin_0():
    gen = torch.Generator().manual_seed(1)
    x1 = torch.randn(2, 4, 3, 3, generator=gen)
    x2 = torch.randn(2, 4, 3, 3, generator=gen)
    change = torch.randint(0, 2, (2, 3, 3), generator=gen)
    change[1, 2] = 255
    valid = change != 255
    p1 = x1.softmax(1).permute(0, 2, 3, 1)[valid]
    p2 = x2.softmax(1).permute(0, 2, 3, 1)[valid]
    target = 1 - 2 * change[valid]  # +1 unchanged, -1 changed
    reference = F.cosine_embedding_loss(p1, p2, target, margin=0.0)
    loss = SemanticConsistencyLoss()(x1, x2, change)
    torch.testing.assert_close(loss, reference)


def test_ignored_pixels_do_not_count_and_all_ignored_is_zero():
    gen = torch.Generator().manual_seed(2)
    x1 = torch.randn(1, 3, 2, 2, generator=gen, requires_grad=True)
    x2 = torch.randn(1, 3, 2, 2, generator=gen)
    change = torch.full((1, 2, 2), 255)
    loss = SemanticConsistencyLoss()(x1, x2, change)
    assert loss.item() == 0.0
    loss.backward()  # still a graph
    change[0, 0, 0] = 0
    one = SemanticConsistencyLoss()(x1, x2, change)
    only = SemanticConsistencyLoss()(x1[..., :1, :1], x2[..., :1, :1],
                                     change[..., :1, :1])
    torch.testing.assert_close(one, only)


def test_bad_labels_and_shapes_raise():
    loss = MODELS.build(dict(type='SemanticConsistencyLoss'))
    assert loss.loss_name == 'loss_sc'
    x = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match='0, 1 or 255'):
        loss(x, x, torch.full((1, 2, 2), 2))
    with pytest.raises(ValueError, match='same shape'):
        loss(x, torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r'\(B, H, W\)'):
        loss(x, x, torch.zeros(1, 3, 3))
