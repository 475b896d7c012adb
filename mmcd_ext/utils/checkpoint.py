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
import os
import pickle
import re
import stat
import zipfile
from typing import List, Mapping, Optional

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


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file."""


def check_checkpoint_file(path: str) -> None:
    """Refuse a checkpoint file from its ``stat`` and first bytes only.

    Cheap enough to run before a model is built: missing, not a regular
    file (a FIFO would block), empty, a zip archive without its end (a
    truncated save), or neither a zip archive nor a pickle.

    Args:
        path (str): The checkpoint file.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file cannot be a torch checkpoint.
    """
    try:
        info = os.stat(path)
    except OSError as err:
        raise FileNotFoundError(
            f'checkpoint {path}: {err.strerror or err}') from err
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f'checkpoint {path} is not a regular file')
    if info.st_size == 0:
        raise CheckpointError(f'checkpoint {path} is empty (0 bytes)')
    with open(path, 'rb') as f:
        head = f.read(4)
    if not zipfile.is_zipfile(path):
        if head == b'PK\x03\x04':  # a zip whose end is missing
            raise CheckpointError(
                f'checkpoint {path} is a truncated zip archive (an '
                'interrupted save or download?)')
        if head[:1] != b'\x80':  # neither torch's zip nor a legacy pickle
            raise CheckpointError(
                f'checkpoint {path} is not a torch checkpoint (neither a '
                'zip archive nor a pickle)')


def read_checkpoint(path: str, map_location: str = 'cpu') -> dict:
    """Load a local checkpoint file with one-line errors naming it.

    The file is checked before ``torch.load`` sees it: missing, not a
    regular file (a FIFO would block), empty, or neither a zip archive
    (torch >= 1.6 format) nor a legacy pickle. Load failures are sorted into
    a truncated or corrupt archive and a pickle that ``weights_only``
    refuses (an object that is not a tensor, container or allow-listed
    type). Never unpickles arbitrary objects.

    Args:
        path (str): The checkpoint file.
        map_location (str): Passed to ``torch.load``. Defaults to 'cpu'.

    Returns:
        dict: The loaded object (a Runner checkpoint with ``state_dict``, or
        a plain state dict).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: For every other unusable file.
    """
    allow_mmengine_checkpoint_types()
    check_checkpoint_file(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError,
            ValueError, zipfile.BadZipFile) as err:
        # a legacy pickle is no zip: only an archive has members to check
        damaged = _damaged_member(path) if zipfile.is_zipfile(path) else None
        if damaged:
            raise CheckpointError(
                f'checkpoint {path} is damaged: member {damaged} fails its '
                'CRC check (a corrupted copy or download?)') from err
        found = re.search(r'GLOBAL (\S+) was not an allowed global', str(err))
        if isinstance(err, pickle.UnpicklingError) and found:
            raise CheckpointError(
                f'checkpoint {path} holds a pickled {found.group(1)}, which '
                'is not a tensor or an allow-listed type; refused for safety '
                '(load only weights: re-save the state_dict)') from err
        msg = ' '.join(str(err).split())[:200]
        raise CheckpointError(
            f'checkpoint {path} cannot be read ({type(err).__name__}: '
            f'{msg})') from err


def _damaged_member(path: str) -> Optional[str]:
    """The first member of a zip checkpoint whose CRC does not match."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'? ({err})'


def state_dict_mismatch(expected: Mapping[str, torch.Tensor],
                        found: Mapping[str, torch.Tensor],
                        show: int = 3) -> Optional[str]:
    """Say how ``found`` fails to fit ``expected``, or None if it fits.

    Args:
        expected (Mapping[str, Tensor]): The model's state dict.
        found (Mapping[str, Tensor]): The checkpoint's state dict.
        show (int): How many keys of each kind to name. Defaults to 3.

    Returns:
        str | None: e.g. ``'12 missing keys (backbone.conv1.weight, ...);
        1 mis-shaped key (decode_head.conv_seg.weight: model (2, 64, 1, 1),
        checkpoint (1, 64, 1, 1))'``; None when keys and shapes all agree.
    """

    def listing(keys: List[str], what: str) -> str:
        more = ', ...' if len(keys) > show else ''
        return (f'{len(keys)} {what} key{"s" if len(keys) > 1 else ""} '
                f'({", ".join(keys[:show])}{more})')

    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shaped = [
        f'{k}: model {tuple(expected[k].shape)}, checkpoint '
        f'{tuple(found[k].shape)}' for k in expected
        if k in found and hasattr(found[k], 'shape')
        and tuple(found[k].shape) != tuple(expected[k].shape)
    ]
    parts = [
        listing(keys, what)
        for keys, what in ((missing, 'missing'), (unexpected, 'unexpected'),
                           (shaped, 'mis-shaped')) if keys
    ]
    return '; '.join(parts) if parts else None


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model whose keys a checkpoint holds (inside DDP or a TTA model).

    Args:
        model (nn.Module): A model, maybe wrapped.

    Returns:
        nn.Module: The innermost model.
    """
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def weights_of(checkpoint: object, path: str) -> dict:
    """The state dict of a loaded checkpoint, without DDP's ``module.``.

    Args:
        checkpoint (object): What :func:`read_checkpoint` returned (a
            Runner checkpoint or a plain state dict).
        path (str): Its file, for the error message.

    Returns:
        dict: Parameter name -> tensor.

    Raises:
        CheckpointError: If it holds no (non-empty) state dict.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'checkpoint {path} holds no state_dict of '
                              'tensors')
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


def load_model_weights(model: torch.nn.Module,
                       path: str,
                       strict: bool = True,
                       logger: Optional[object] = None) -> dict:
    """Load a checkpoint into ``model``, strictly unless told otherwise.

    With ``strict=True`` (evaluation and inference) a checkpoint whose keys
    or shapes do not fit the model is a :class:`CheckpointError` naming the
    file and the first offending keys, so a wrong checkpoint can never be
    scored as a random model. With ``strict=False`` (fine-tuning) the
    fitting part is loaded and the rest is logged as a warning.

    Args:
        model (nn.Module): The model (wrappers are looked through).
        path (str): The checkpoint file (Runner format or a plain state
            dict; a ``module.`` prefix from DDP is removed).
        strict (bool): Refuse any mismatch. Defaults to True.
        logger (Logger, optional): Where to warn; defaults to mmengine's
            current logger.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointError: If the file is unusable, or does not fit and
            ``strict`` is True.
    """
    checkpoint = read_checkpoint(path)
    state = weights_of(checkpoint, path)
    target = unwrap_model(model)
    expected = target.state_dict()
    problem = state_dict_mismatch(expected, state)
    if problem and strict:
        raise CheckpointError(
            f'checkpoint {path} does not fit the model of this config: '
            f'{problem} (wrong config or checkpoint? --partial-load or '
            'strict=False loads only the matching part)')
    if problem:
        from mmengine.logging import MMLogger
        (logger or MMLogger.get_current_instance()).warning(
            f'checkpoint {path}: loading only the matching part: {problem}')
        state = {
            k: v
            for k, v in state.items()
            if k in expected and v.shape == expected[k].shape
        }
    target.load_state_dict(state, strict=not problem)
    return checkpoint


def check_resume_checkpoint(model: torch.nn.Module, path: str) -> None:
    """Refuse to resume from a checkpoint that is not of ``model``.

    Args:
        model (nn.Module): The built model (wrappers are looked through).
        path (str): The ``--resume`` checkpoint.

    Raises:
        CheckpointError: If the file is unusable, has no optimizer state,
            or its weights do not fit the model.
    """
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise CheckpointError(f'cannot resume from {path}: it is not a '
                              'training checkpoint (no state_dict)')
    state = weights_of(checkpoint, path)
    problem = state_dict_mismatch(unwrap_model(model).state_dict(), state)
    if problem:
        raise CheckpointError(
            f'cannot resume from {path}: it was saved from another model '
            f'({problem})')
    if 'optimizer' not in checkpoint:
        raise CheckpointError(
            f'cannot resume from {path}: it holds no optimizer state (a '
            'weights-only file? start from it with load_from=PATH instead)')
