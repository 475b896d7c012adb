"""tune_cpu_malloc: glibc stops serving large blocks by mmap (checked with
glibc's own counters), and the environment switch turns it off."""
import ctypes
import ctypes.util
import json
import subprocess
import sys
import textwrap

import pytest

from mmcd_ext.utils import cpu_malloc


def glibc_has_mallinfo2() -> bool:
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return False
    return hasattr(libc, 'mallinfo2')


# in a fresh process: mmapped blocks (mallinfo2().hblks) before and while
# a 64 MiB buffer is held, after tune_cpu_malloc() (or its switch-off)
PROBE = textwrap.dedent('''
    import ctypes, ctypes.util, json
    from mmcd_ext.utils.cpu_malloc import tune_cpu_malloc

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
            'fsmblks', 'uordblks', 'fordblks', 'keepcost')]

    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    state = tune_cpu_malloc()
    before = libc.mallinfo2().hblks
    block = libc.malloc(64 << 20)
    during = libc.mallinfo2().hblks
    libc.free(block)
    print(json.dumps(dict(state=state, before=before, during=during)))
''')


def probe(env_value):
    import os
    env = dict(os.environ)
    env.pop(cpu_malloc.ENV_SWITCH, None)
    if env_value is not None:
        env[cpu_malloc.ENV_SWITCH] = env_value
    out = subprocess.run([sys.executable, '-c', PROBE],
                         env=env,
                         capture_output=True,
                         text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    not glibc_has_mallinfo2(), reason='needs glibc >= 2.33 (mallinfo2)')
def test_large_blocks_leave_mmap_only_when_tuned():
    tuned = probe(None)
    assert tuned['state'].startswith('tuned:')
    assert tuned['during'] == tuned['before']  # served from the heap
    off = probe('0')
    assert off['state'] == f'off: {cpu_malloc.ENV_SWITCH}=0'
    assert off['during'] == off['before'] + 1  # glibc's default: one mmap


def test_switch_values_and_once_per_process(monkeypatch):
    monkeypatch.setattr(cpu_malloc, '_state', None)
    for value in ('0', 'false', 'OFF', ' no '):
        monkeypatch.setattr(cpu_malloc, '_state', None)
        state = cpu_malloc.tune_cpu_malloc({cpu_malloc.ENV_SWITCH: value})
        assert state.startswith('off:')
    # the first answer stays: mallopt is called at most once
    assert cpu_malloc.tune_cpu_malloc({}) == state


def test_not_linux_is_skipped(monkeypatch):
    monkeypatch.setattr(cpu_malloc, '_state', None)
    monkeypatch.setattr(cpu_malloc.sys, 'platform', 'darwin')
    assert cpu_malloc.tune_cpu_malloc({}) == \
        'skipped: darwin is not Linux'
