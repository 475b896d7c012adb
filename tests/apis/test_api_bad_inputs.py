"""Bad inputs to the Python API ``ChangeDetector.predict`` (arrays, paths).

Each case builds its inputs in ``tmp_path`` with a seeded generator and
checks the exception type, a one-line message naming the culprit (the file,
the pair and date, or the argument), that no file under ``tmp_path``
changed and that no input array was modified. A FIFO must not block: every
call runs under an alarm. Checkpoint loading is not covered here.
"""
import os
import signal

import cv2
import numpy as np
import pytest
from cd_stub_models import stub_config
from cd_testing import snapshot

from mmcd_ext.apis import ChangeDetector

#: Seconds a case may take before it counts as hung.
TIMEOUT = 20


def _alarm(signum, frame):
    raise TimeoutError(f'the call took more than {TIMEOUT} s (blocked?)')


@pytest.fixture(scope='module')
def detector():
    return ChangeDetector(stub_config('diff'))


def img(rng, h=24, w=28, c=3, dtype=np.uint8):
    top = 256 if dtype == np.uint8 else 65536
    return rng.integers(0, top, (h, w, c)).astype(dtype)


def png(path, arr) -> str:
    assert cv2.imwrite(str(path), arr), path
    return str(path)


def good_pair(tmp, rng):
    return png(tmp / 'a.png', img(rng)), png(tmp / 'b.png', img(rng))


# Each case: (tmp_path, rng) -> (img_a, img_b, predict kwargs, culprits).


def a_sizes_differ(tmp, rng):
    return img(rng), img(rng, 20, 28), {}, ['pair 0', '(20, 28, 3)']


def a_boolean_mask(tmp, rng):
    return img(rng) > 127, img(rng), {}, ['date-A array', 'boolean']


def a_float_unit_range(tmp, rng):
    return img(rng), img(rng) / 255.0, {}, ['date-B array', '[0, 1]']


def a_nan_pixels(tmp, rng):
    b = img(rng).astype(np.float32)
    b[2, 3, 1] = np.nan
    return img(rng).astype(np.float32), b, {}, ['date-B array', 'NaN']


def a_16bit_array(tmp, rng):
    a, b = img(rng, dtype=np.uint16), img(rng, dtype=np.uint16)
    return a, b, {}, ['date-A array', 'uint16', 'outside 0..255']


def a_negative_int8(tmp, rng):
    a = img(rng).astype(np.int8)
    return a, a.copy(), {}, ['date-A array', 'int8', 'outside 0..255']


def a_string_array(tmp, rng):
    a = np.full((24, 28, 3), 'x')
    return a, img(rng), {}, ['date-A array', 'dtype']


def a_four_dims(tmp, rng):
    return img(rng)[None], img(rng)[None], {}, ['date-A array', 'shape']


def a_rgb_order_with_four_bands(tmp, rng):
    return img(rng, c=4), img(rng, c=4), dict(channel_order='rgb'), \
        ['channel_order="rgb"', '4']


def a_unknown_channel_order(tmp, rng):
    return img(rng), img(rng), dict(channel_order='RGB'), ['channel_order']


def a_batch_size_zero(tmp, rng):
    return img(rng), img(rng), dict(batch_size=0), ['batch_size']


def a_list_lengths_differ(tmp, rng):
    return [img(rng), img(rng)], [img(rng)], {}, ['2 date-A', '1 date-B']


def a_empty_lists(tmp, rng):
    return [], [], {}, ['no image pair']


def a_second_pair_bad(tmp, rng):
    return [img(rng), img(rng)], [img(rng), img(rng, c=1)], {}, ['pair 1']


def a_list_and_single(tmp, rng):
    return [img(rng)], img(rng), {}, ['list', 'ndarray']


def a_array_and_path(tmp, rng):
    return img(rng), good_pair(tmp, rng)[1], {}, ['pair 0', 'both']


def a_number_as_image(tmp, rng):
    return 3, 4, {}, ['pair 0', 'int']


def p_missing_file(tmp, rng):
    a, _ = good_pair(tmp, rng)
    return a, str(tmp / 'B' / 'b.png'), {}, [str(tmp / 'B' / 'b.png')]


def _replaced(kind, *also):

    def case(tmp, rng):
        a, b = good_pair(tmp, rng)
        data = open(b, 'rb').read()
        os.remove(b)
        if kind == 'fifo':
            os.mkfifo(b)
        elif kind == 'folder':
            os.mkdir(b)
        elif kind == 'empty':
            open(b, 'wb').close()
        elif kind == 'truncated':
            open(b, 'wb').write(data[:len(data) // 2])
        else:
            open(b, 'w').write('not an image\n')
        return a, b, {}, [b, *also]

    case.__name__ = f'p_{kind}_named_png'
    return case


def p_grey_with_colour(tmp, rng):
    a = png(tmp / 'a.png', img(rng)[..., 0])
    b = png(tmp / 'b.png', img(rng))
    return a, b, {}, [a, 'grey', b]


def p_16bit(tmp, rng):
    a = png(tmp / 'a.png', img(rng, dtype=np.uint16))
    b = png(tmp / 'b.png', img(rng, dtype=np.uint16))
    return a, b, {}, [a, 'uint16']


def p_transparent_alpha(tmp, rng):
    four = img(rng, c=4)
    four[..., 3] = 255
    four[5, 5, 3] = 0
    a = png(tmp / 'a.png', four)
    b = png(tmp / 'b.png', img(rng))
    return a, b, {}, [a, 'alpha']


def p_sizes_differ(tmp, rng):
    a = png(tmp / 'a.png', img(rng))
    b = png(tmp / 'b.png', img(rng, 20, 28))
    return a, b, {}, [a, b]


CASES = [
    (a_sizes_differ, ValueError),
    (a_boolean_mask, ValueError),
    (a_float_unit_range, ValueError),
    (a_nan_pixels, ValueError),
    (a_16bit_array, ValueError),
    (a_negative_int8, ValueError),
    (a_string_array, ValueError),
    (a_four_dims, ValueError),
    (a_rgb_order_with_four_bands, ValueError),
    (a_unknown_channel_order, ValueError),
    (a_batch_size_zero, ValueError),
    (a_list_lengths_differ, ValueError),
    (a_empty_lists, ValueError),
    (a_second_pair_bad, ValueError),
    (a_list_and_single, TypeError),
    (a_array_and_path, TypeError),
    (a_number_as_image, TypeError),
    (p_missing_file, FileNotFoundError),
    (_replaced('fifo', 'FIFO'), ValueError),
    (_replaced('folder', 'folder'), ValueError),
    (_replaced('empty', '0 bytes'), ValueError),
    (_replaced('truncated'), ValueError),
    (_replaced('text'), ValueError),
    (p_grey_with_colour, ValueError),
    (p_16bit, ValueError),
    (p_transparent_alpha, ValueError),
    (p_sizes_differ, ValueError),
]


def copies(x):
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list):
        return [copies(v) for v in x]
    return x


def assert_same(x, y):
    if isinstance(x, np.ndarray):
        np.testing.assert_array_equal(x, y)
    elif isinstance(x, list):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            assert_same(u, v)
    else:
        assert x == y


@pytest.mark.parametrize(
    'make, error', CASES, ids=[m.__name__[2:] for m, _ in CASES])
def test_predict_refuses(detector, tmp_path, make, error):
    rng = np.random.default_rng(16)
    img_a, img_b, kwargs, culprits = make(tmp_path, rng)
    kept = copies(img_a), copies(img_b)
    before = snapshot(str(tmp_path))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    try:
        with pytest.raises(error) as info:
            detector.predict(img_a, img_b, **kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    msg = str(info.value)
    assert '\n' not in msg, msg
    for culprit in culprits:
        assert culprit in msg, f'{culprit!r} not named in: {msg}'
    assert snapshot(str(tmp_path)) == before
    assert_same(img_a, kept[0])
    assert_same(img_b, kept[1])


@pytest.mark.parametrize(
    'config, error, culprit', [
        ('configs/nope/missing_config.py', FileNotFoundError,
         'missing_config.py'),
        (dict(model=dict()), TypeError, 'dict'),
    ],
    ids=['config_missing', 'config_wrong_type'])
def test_constructor_refuses_config(config, error, culprit):
    with pytest.raises(error) as info:
        ChangeDetector(config)
    msg = str(info.value)
    assert '\n' not in msg and culprit in msg, msg
