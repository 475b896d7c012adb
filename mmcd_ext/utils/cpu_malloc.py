"""Keep freed CPU tensors' memory in the process (glibc ``mallopt``).

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves
every block above its mmap threshold (128 KiB at start, raised adaptively
to at most 32 MiB) with a fresh ``mmap`` and gives it back with ``munmap``
when the tensor is freed. A training step allocates and frees the same
large activations every iteration, so each one is faulted in page by page
(and zeroed by the kernel) again at every step: on the SAM-B TTP step at
512 px this costs about a quarter of the step's time on 2 cores
(docs/benchmarks.md, "TTP fast paths").

:func:`tune_cpu_malloc` switches glibc to keep freed memory in the heap
(``M_MMAP_MAX = 0``: no block is served by its own mapping;
``M_TRIM_THRESHOLD`` = 1 GiB: free memory at the top of the heap is
returned to the system only beyond that), the effect of the jemalloc /
tcmalloc preloads that Intel recommends for PyTorch on CPUs, without a
preload. It changes no result, only where memory comes from: the peak RSS
grows a little (freed blocks are reused, not returned). The tools call it
at start; ``MMCD_CPU_MALLOC=0`` in the environment turns it off.
"""
import ctypes
import ctypes.util
import os
import sys
from typing import Optional

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30
ENV_SWITCH = 'MMCD_CPU_MALLOC'

_state: Optional[str] = None


def tune_cpu_malloc(environ: Optional[dict] = None) -> str:
    """Make glibc keep freed memory for reuse (once per process).

    Args:
        environ (dict, optional): Environment to read ``MMCD_CPU_MALLOC``
            from. Defaults to None (``os.environ``).

    Returns:
        str: What was done, one line: ``'tuned: ...'``, ``'off: ...'``
        (switched off by the environment) or ``'skipped: ...'`` (not Linux
        glibc, or ``mallopt`` refused).
    """
    global _state
    if _state is not None:
        return _state
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_SWITCH, '1').strip().lower()
    if value in ('0', 'false', 'no', 'off'):
        _state = f'off: {ENV_SWITCH}={environ.get(ENV_SWITCH)}'
        return _state
    if not sys.platform.startswith('linux'):
        _state = f'skipped: {sys.platform} is not Linux'
        return _state
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
        if not hasattr(libc, 'gnu_get_libc_version'):
            raise AttributeError('not glibc')
    except (OSError, AttributeError) as err:
        _state = f'skipped: no glibc mallopt ({err})'
        return _state
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD,
                                                 TRIM_THRESHOLD_BYTES) == 1
    if not ok:
        _state = 'skipped: mallopt refused M_MMAP_MAX / M_TRIM_THRESHOLD'
        return _state
    _state = ('tuned: glibc keeps freed memory for reuse (M_MMAP_MAX=0, '
              f'M_TRIM_THRESHOLD={TRIM_THRESHOLD_BYTES}; '
              f'{ENV_SWITCH}=0 turns this off)')
    return _state
