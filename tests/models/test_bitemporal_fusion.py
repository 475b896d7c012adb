import pytest
import torch

from mmcd_ext.models.necks import BitemporalFusionNeck


@pytest.mark.parametrize('policy', BitemporalFusionNeck.POLICIES)
def test_policies_match_formula(policy):
    fa = [torch.randn(2, 4, 8, 8), torch.randn(2, 6, 4, 4)]
    fb = [torch.randn(2, 4, 8, 8), torch.randn(2, 6, 4, 4)]
    out = BitemporalFusionNeck(policy=policy)(fa, fb)
    expected = {
        'concat': lambda a, b: torch.cat([a, b], 1),
        'sum': lambda a, b: a + b,
        'diff': lambda a, b: b - a,
        'abs_diff': lambda a, b: (a - b).abs(),
        'concat_diff': lambda a, b: torch.cat([a, b, (a - b).abs()], 1),
    }[policy]
    assert len(out) == 2
    for o, a, b in zip(out, fa, fb):
        torch.testing.assert_close(o, expected(a, b))


def test_in_indices_and_errors():
    fa = [torch.ones(1, 2, 4, 4) * i for i in range(3)]
    fb = [torch.zeros(1, 2, 4, 4) for _ in range(3)]
    out = BitemporalFusionNeck('abs_diff', in_indices=[2, 0])(fa, fb)
    assert [float(o.mean()) for o in out] == [2.0, 0.0]
    with pytest.raises(ValueError, match='unknown policy'):
        BitemporalFusionNeck('max')
    with pytest.raises(ValueError, match='levels'):
        BitemporalFusionNeck()(fa, fb[:2])
