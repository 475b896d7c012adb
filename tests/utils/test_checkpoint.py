"""torch >= 2.6 weights_only loading of mmengine Runner checkpoints."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmcd_ext  # noqa: F401  (allow-lists the checkpoint types)


def test_runner_style_checkpoint_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('test_ckpt_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/lr', np.float64(1e-3))
    ckpt = dict(
        meta=dict(
            seed=np.int64(7),
            iter=3,
            message_hub=hub.state_dict(),
            hist=np.arange(3, dtype=np.float32),
            empty=HistoryBuffer()),  # empty arrays pickle as bytes
        state_dict=dict(w=torch.arange(4.)))
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    out = torch.load(path, weights_only=True)
    assert out['meta']['seed'] == 7
    assert out['meta']['message_hub']['log_scalars']['train/loss'].mean() \
        == pytest.approx(0.5)
    np.testing.assert_array_equal(out['meta']['hist'], [0, 1, 2])
    assert len(out['meta']['empty'].data[0]) == 0
    torch.testing.assert_close(out['state_dict']['w'], torch.arange(4.))


class _ReachesPrivateAttribute:
    """Pickles as getattr(HistoryBuffer, '__init__'): must be refused."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


class _ReachesOtherObject:
    """Pickles as getattr(np.ndarray, 'tofile'): must be refused."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


class _Arbitrary:

    def __reduce__(self):
        return (print, ('hello', ))


@pytest.mark.parametrize(
    'payload',
    [_ReachesPrivateAttribute(),
     _ReachesOtherObject(),
     _Arbitrary()])
def test_untrusted_objects_still_refused(tmp_path, payload):
    path = tmp_path / 'evil.pth'
    torch.save({'x': payload}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
