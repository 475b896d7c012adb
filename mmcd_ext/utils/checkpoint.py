"""Let torch >= 2.6 load the checkpoints mmengine's Runner writes.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it
un-pickles only tensors, containers and an allow-list of types. mmengine
0.10.7 calls ``torch.load`` without the argument, and every checkpoint its
Runner saves holds, besides tensors, the message hub's ``HistoryBuffer``
objects and numpy scalars/arrays in ``meta``. Loading such a file (``resume``
or ``load_from``) therefore fails with ``UnpicklingError``.

Our choice: keep ``weights_only=True`` and add *exactly those types* to
torch's allow-list with ``torch.serialization.add_safe_globals``. A
``HistoryBuffer`` pickles its statistics methods as
``getattr(HistoryBuffer, 'mean')``; allow-listing the builtin ``getattr``
would let a crafted file reach any attribute of any allowed object, so the
name ``builtins.getattr`` is instead bound to :func:`_history_buffer_getattr`,
which resolves only public methods of ``HistoryBuffer`` and refuses anything
else. Nothing else is executed from the file, so an untrusted checkpoint that
carries any other pickled object is still refused by torch with its usual
error. We do not set ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` and do not patch
mmengine.
"""
from typing import List

import numpy as np
import torch


def _numpy_types() -> List[object]:
    """Types numpy arrays and scalars pickle through."""
    types: List[object] = [np.ndarray, np.dtype]
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    types += [_reconstruct, scalar]
    # dtype classes (numpy >= 1.25 pickles dtypes through them)
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        types += [
            getattr(dtypes_mod, name) for name in dir(dtypes_mod)
            if name.endswith('DType')
        ]
    return types


def _history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` restricted to the public methods of ``HistoryBuffer``.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and callable(
            getattr(HistoryBuffer, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); mmcd_ext allows '
        'getattr only for the statistics methods of mmengine\'s '
        'HistoryBuffer. Load this file only if you trust it, with '
        'torch.load(..., weights_only=False).')


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list the types of mmengine Runner checkpoints for torch.load.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 loads full pickles by default anyway
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    add([
        HistoryBuffer,
        *_numpy_types(),
        bytes,  # an empty numpy array pickles its data as bytes()
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
    ])
