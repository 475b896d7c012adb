"""torch >= 2.6 weights_only loading of mmengine Runner checkpoints."""
import os
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


class _Foreign:
    """Any object torch's weights-only loader must refuse."""


def test_read_checkpoint_names_the_file_and_the_problem(tmp_path):
    from mmcd_ext.utils.checkpoint import CheckpointError, read_checkpoint
    good = tmp_path / 'good.pth'
    state = {'state_dict': {'w': torch.arange(3.)}, 'meta': {'iter': 2}}
    torch.save(state, good)
    loaded = read_checkpoint(str(good))
    torch.testing.assert_close(loaded['state_dict']['w'], torch.arange(3.))
    legacy = tmp_path / 'legacy.pth'
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    assert read_checkpoint(str(legacy))['meta'] == {'iter': 2}

    data = good.read_bytes()
    cases = {
        'empty.pth': (b'', 'is empty'),
        'half.pth': (data[:len(data) // 2], 'truncated zip archive'),
        'text.pth': (b'not a checkpoint at all\n', 'not a torch checkpoint'),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError) as err:
            read_checkpoint(str(tmp_path / name))
        assert str(tmp_path / name) in str(err.value)
        assert reason in str(err.value)
        assert '\n' not in str(err.value)
    # a zip whose members are damaged (end of the archive intact)
    damaged = bytearray(data)
    pickled = data.index(b'PK\x03\x04', 1)  # end of the first member
    damaged[pickled - 60:pickled - 20] = b'\x00' * 40
    (tmp_path / 'damaged.pth').write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match='damaged.pth is damaged.*CRC'):
        read_checkpoint(str(tmp_path / 'damaged.pth'))
    # a pickle with a foreign object is refused, not executed
    torch.save({'obj': _Foreign()}, tmp_path / 'evil.pth')
    with pytest.raises(
            CheckpointError,
            match='evil.pth holds a pickled .*_Foreign.*refused'):
        read_checkpoint(str(tmp_path / 'evil.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    os.mkfifo(tmp_path / 'fifo.pth')
    with pytest.raises(CheckpointError, match='fifo.pth is not a regular'):
        read_checkpoint(str(tmp_path / 'fifo.pth'))


class _Tiny(torch.nn.Sequential):

    def test_step(self, data):  # what a TTA model needs of its module
        return data


def _tiny_model():
    return _Tiny(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
        torch.nn.Conv2d(4, 2, 1))


def test_load_model_weights_is_strict_and_names_the_keys(tmp_path):
    from mmengine.model import BaseTTAModel

    from mmcd_ext.utils.checkpoint import CheckpointError, load_model_weights
    source = _tiny_model()
    state = source.state_dict()
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {
        'module.' + k: v
        for k, v in state.items()
    }}, good)
    model = _tiny_model()
    load_model_weights(model, str(good))  # DDP's prefix is removed
    for key, value in state.items():
        torch.testing.assert_close(model.state_dict()[key], value)

    class TTA(BaseTTAModel):

        def merge_preds(self, data_samples_list):
            return data_samples_list[0]

    wrapped = TTA(module=_tiny_model())
    load_model_weights(wrapped, str(good))  # looks through a TTA model
    torch.testing.assert_close(wrapped.module[0].weight, source[0].weight)

    missing = dict(state)
    del missing['2.bias']
    missing['extra.weight'] = torch.zeros(1)
    missing['0.weight'] = torch.zeros(4, 3, 5, 5)
    bad = tmp_path / 'other_model.pth'
    torch.save({'state_dict': missing}, bad)
    fresh = _tiny_model()
    before = fresh[2].weight.detach().clone()
    with pytest.raises(CheckpointError) as err:
        load_model_weights(fresh, str(bad))
    msg = str(err.value)
    assert str(bad) in msg and '\n' not in msg
    assert '1 missing key (2.bias)' in msg
    assert '1 unexpected key (extra.weight)' in msg
    assert ('0.weight: model (4, 3, 3, 3), checkpoint (4, 3, 5, 5)' in msg)
    torch.testing.assert_close(fresh[2].weight, before)  # nothing loaded
    # --partial-load: the fitting part only
    load_model_weights(fresh, str(bad), strict=False)
    torch.testing.assert_close(fresh[2].weight, source[2].weight)
    assert not torch.equal(fresh[0].weight, torch.zeros(4, 3, 3, 3))


def test_check_resume_checkpoint(tmp_path):
    from mmcd_ext.utils.checkpoint import (CheckpointError,
                                           check_resume_checkpoint)
    model = _tiny_model()
    ok = tmp_path / 'iter_2.pth'
    torch.save({'state_dict': model.state_dict(), 'optimizer': {}}, ok)
    check_resume_checkpoint(model, str(ok))
    other = tmp_path / 'other.pth'
    torch.save(
        {
            'state_dict': torch.nn.Linear(2, 2).state_dict(),
            'optimizer': {}
        }, other)
    with pytest.raises(
            CheckpointError,
            match='resume from .*other.pth: it was saved from '
            'another model .*missing'):
        check_resume_checkpoint(model, str(other))
    weights_only = tmp_path / 'weights.pth'
    torch.save({'state_dict': model.state_dict()}, weights_only)
    with pytest.raises(CheckpointError, match='no optimizer state'):
        check_resume_checkpoint(model, str(weights_only))
