"""The shared pretrained-weight loader (models/backbones/pretrained.py)."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

from mmcd_ext.models.backbones.pretrained import (convert_state_dict,
                                                  load_pretrained, map_key)
from mmcd_ext.utils.checkpoint import CheckpointError

HINT = 'weights.pth from https://example.org/weights'
KEY = 'model.backbone.init_cfg.checkpoint'


class Tiny(nn.Module):
    """conv (4, 3, 3, 3) + norm (4,) + head (2, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 2)


def saved(tmp_path, state, name='ckpt.pth'):
    path = str(tmp_path / name)
    torch.save(state, path)
    return path


def reference_state(seed=0):
    torch.manual_seed(seed)
    return {
        k: torch.randn_like(v) if v.is_floating_point() else v + 7
        for k, v in Tiny().state_dict().items()
    }


def load(path, target=None, **kwargs):
    return load_pretrained(
        path,
        Tiny() if target is None else target,
        config_key=KEY,
        download_hint=HINT,
        **kwargs)


class Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelname, record.getMessage()))


@pytest.fixture
def log_records():
    logger = MMLogger.get_current_instance()
    handler = Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_key_table_rules_apply_in_order_and_callables_work():
    rules = ((r'^blocks\.', 'layers.'), (r'\.norm1\.', '.ln1.'),
             (r'^layers\.0\.', 'layers.zero.'))
    assert map_key('blocks.0.norm1.weight', rules) == 'layers.zero.ln1.weight'
    assert map_key('neck.0.weight', rules) == 'neck.0.weight'
    assert map_key('a.b', str.upper) == 'A.B'
    assert map_key('a.b', None) == 'a.b'


def test_conversion_table_applied_when_loading(tmp_path):
    ref = reference_state()
    renamed = {
        k.replace('conv.', 'stem.').replace('norm.', 'bn1.'): v
        for k, v in ref.items()
    }
    path = saved(tmp_path, {'state_dict': renamed})
    model = Tiny()
    result = load(
        path, model, key_map=((r'^stem\.', 'conv.'), (r'^bn1\.', 'norm.')))
    assert result.missing == [] and result.unexpected == []
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, ref[key], msg=key)


def test_prefix_stripped_and_other_keys_dropped(tmp_path):
    ref = reference_state()
    state = {'backbone.' + k: v for k, v in ref.items()}
    state['decode_head.conv_seg.weight'] = torch.zeros(1)
    path = saved(tmp_path, {'state_dict': state})
    model = Tiny()
    result = load(path, model, strip_prefixes=('image_encoder.', 'backbone.'))
    assert result.prefix == 'backbone.'
    assert set(result.state_dict) == set(ref)
    torch.testing.assert_close(model.conv.weight, ref['conv.weight'])
    # no candidate matches: keys kept as they are
    plain = saved(tmp_path, ref, 'plain.pth')
    assert load(plain, strip_prefixes=('backbone.', )).prefix is None
    # an explicit prefix must be there
    with pytest.raises(KeyError, match="prefix 'model.'"):
        load(path, prefix='model.')


def test_drop_keys_before_renaming(tmp_path):
    ref = reference_state()
    ref['fc.weight'] = torch.zeros(10, 4)
    path = saved(tmp_path, ref)
    model = Tiny()
    # the rule would turn fc.* into head.* (a shape error) had it not been
    # dropped first
    result = load(
        path, model, drop_keys=(r'fc\.', ), key_map=((r'^fc\.', 'head.'), ))
    assert set(result.state_dict) == set(Tiny().state_dict())
    torch.testing.assert_close(model.head.weight, ref['head.weight'])


def test_missing_file_names_file_key_and_source(tmp_path):
    path = str(tmp_path / 'absent.pth')
    with pytest.raises(FileNotFoundError) as err:
        load(path)
    message = str(err.value)
    assert 'Tiny' in message and path in message and KEY in message
    assert HINT in message
    with pytest.raises(ValueError, match=f'Tiny: .*{KEY}.*{HINT}'):
        load(None)


def test_truncated_or_foreign_file_is_one_line_naming_it(tmp_path):
    good = saved(tmp_path, reference_state())
    data = open(good, 'rb').read()
    (tmp_path / 'half.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='half.pth is a truncated'):
        load(str(tmp_path / 'half.pth'))
    torch.save({'x': Tiny()}, tmp_path / 'module.pth')  # a pickled module
    with pytest.raises(CheckpointError, match='module.pth holds a pickled'):
        load(str(tmp_path / 'module.pth'))


def test_shape_mismatch_names_key_and_both_shapes(tmp_path):
    ref = reference_state()
    ref['head.weight'] = torch.zeros(3, 4)
    path = saved(tmp_path, ref)
    with pytest.raises(ValueError) as err:
        load(path)
    assert 'head.weight: checkpoint (3, 4) vs model (2, 4)' in str(err.value)
    assert path in str(err.value)


def test_adapter_fixes_shapes_or_the_error_remains(tmp_path):
    ref = reference_state()
    ref['head.weight'] = torch.ones(3, 4)
    path = saved(tmp_path, ref)
    calls = []

    def crop(key, value, shape):
        calls.append((key, tuple(value.shape), shape))
        return value[:shape[0]] if key == 'head.weight' else value

    model = Tiny()
    load(path, model, tensor_adapter=crop)
    assert calls == [('head.weight', (3, 4), (2, 4))]  # only differing keys
    torch.testing.assert_close(model.head.weight, torch.ones(2, 4))
    with pytest.raises(ValueError, match=r'head\.weight'):
        load(path, tensor_adapter=lambda key, value, shape: value)


def test_missing_and_unexpected_raise_when_strict(tmp_path):
    ref = reference_state()
    del ref['head.bias']
    ref['extra.weight'] = torch.zeros(1)
    path = saved(tmp_path, ref)
    with pytest.raises(KeyError) as err:
        load(path, mismatch_hint=lambda state: f'{len(state)} keys read.')
    message = str(err.value)
    assert "Missing keys: ['head.bias']" in message
    assert "Unexpected keys: ['extra.weight']" in message
    assert f'{len(ref)} keys read.' in message


def test_missing_and_unexpected_logged_when_not_strict(tmp_path, log_records):
    ref = reference_state()
    del ref['head.bias']
    del ref['norm.num_batches_tracked']
    ref['extra.weight'] = torch.zeros(1)
    path = saved(tmp_path, ref)
    model = Tiny()
    result = load(
        path, model, strict=False, ignore_missing=(r'num_batches_tracked$', ))
    assert result.missing == ['head.bias']
    assert result.unexpected == ['extra.weight']
    assert 'extra.weight' not in result.state_dict
    torch.testing.assert_close(model.head.weight, ref['head.weight'])
    warnings = [m for level, m in log_records if level == 'WARNING']
    assert any("['head.bias']" in m and 'missing' in m for m in warnings)
    assert any("['extra.weight']" in m and 'unexpected' in m for m in warnings)


def test_unrecognised_layout_is_an_error(tmp_path):
    path = saved(tmp_path, {'encoder.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='Tiny: unrecognised checkpoint'):
        load(path, strict=False)


def test_shape_target_checks_without_loading_and_none_converts(tmp_path):
    ref = reference_state()
    path = saved(tmp_path, {'model': ref})
    shapes = {k: tuple(v.shape) for k, v in ref.items()}
    shapes['head.weight'] = (5, 4)
    with pytest.raises(ValueError, match=r'\(2, 4\) vs model \(5, 4\)'):
        load(path, shapes)
    result = load_pretrained(
        path, None, config_key=KEY, download_hint=HINT, key_map=str.upper)
    assert set(result.state_dict) == {k.upper() for k in ref}
    converted, prefix = convert_state_dict(
        {
            'image_encoder.a': 1,
            'mask_decoder.b': 2
        },
        strip_prefixes=('image_encoder.', ))
    assert dict(converted) == {'a': 1} and prefix == 'image_encoder.'
