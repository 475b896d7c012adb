"""The one way a backbone loads pretrained weights from a checkpoint file.

Every backbone with ImageNet / SAM weights (``ResNetWithStem``,
``VGGEncoder``, ``SAMLoRAViT``) and the SAM converter in
``tools/model_converters`` go through :func:`load_pretrained`; a backbone
only supplies its own key table, prefixes, dropped keys and (SAM) a tensor
adapter. The module lives in ``models/backbones`` rather than a new
``models/utils`` package because backbones are its only users: a reader
looking at a backbone's ``init_weights`` finds it beside the file.

The steps, in order:

1. :func:`read_pretrained`: refuse a missing path or file with one line
   naming the file, the config key to set and where to get the weights;
   load with mmengine's ``CheckpointLoader`` (``torch.load`` with torch's
   default ``weights_only=True`` for local files; an explicit URL is
   accepted, never a default); unwrap a ``state_dict`` / ``model`` wrapper.
2. :func:`convert_state_dict`: keep the keys under the first prefix of
   ``strip_prefixes`` that any key carries (``backbone.``,
   ``image_encoder.``...) and strip it, drop the keys matching
   ``drop_keys`` (classifiers), rename the rest with the key table.
3. :func:`fit_state_dict`: compare with the target's keys (missing /
   unexpected), adapt tensors whose shape differs (``tensor_adapter``, e.g.
   resizing SAM's position tables) and refuse any shape still different,
   naming the key and both shapes.
4. Load into the module (``load_pretrained``), raising on missing /
   unexpected keys when ``strict`` and logging them otherwise.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import (Callable, Dict, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import torch
from mmengine.logging import MMLogger
from mmengine.runner import CheckpointLoader
from torch import Tensor, nn

from mmcd_ext.utils.checkpoint import read_checkpoint

#: Ordered ``(regex, replacement)`` rules applied with ``re.sub`` one after
#: the other, or a callable mapping one checkpoint key to a model key.
KeyMap = Union[Sequence[Tuple[str, str]], Callable[[str], str]]
#: ``adapter(key, tensor, target_shape) -> tensor`` for a key whose shape
#: differs from the model's; returning another shape is a shape error.
TensorAdapter = Callable[[str, Tensor, Tuple[int, ...]], Tensor]
#: A module, or the target's ``{key: tensor or shape}``.
Target = Union[nn.Module, Mapping[str, Union[Tensor, torch.Size, Tuple[int,
                                                                       ...]]]]


class PretrainedState(NamedTuple):
    """What :func:`load_pretrained` loaded.

    Attributes:
        state_dict (dict[str, Tensor]): Converted (and adapted) tensors, in
            the model's key layout.
        missing (list[str]): Model keys absent from the checkpoint (keys of
            ``ignore_missing`` left out).
        unexpected (list[str]): Checkpoint keys (after conversion) that the
            model does not have; they are not loaded.
        prefix (str, optional): The prefix that was stripped, if any.
    """
    state_dict: Dict[str, Tensor]
    missing: List[str]
    unexpected: List[str]
    prefix: Optional[str]


def read_pretrained(checkpoint: Optional[str], owner: str, config_key: str,
                    download_hint: str) -> Dict[str, Tensor]:
    """Check the path, load the file and unwrap its state dict.

    Args:
        checkpoint (str, optional): Local path (or an explicit URL).
        owner (str): Class name that starts every error message.
        config_key (str): The config key that holds the path, named in
            errors (e.g. ``model.backbone.init_cfg.checkpoint``).
        download_hint (str): Where to get the file, appended to errors.

    Returns:
        dict[str, Tensor]: The checkpoint's state dict (``state_dict`` or
        ``model`` wrapper removed).

    Raises:
        ValueError: No path given.
        FileNotFoundError: The file does not exist.
        TypeError: The file holds no state dict.
    """
    if not checkpoint:
        raise ValueError(f'{owner}: init_cfg type Pretrained needs a '
                         f'checkpoint path at {config_key}. Get '
                         f'{download_hint}')
    if '://' not in checkpoint and not osp.lexists(checkpoint):
        raise FileNotFoundError(f'{owner}: checkpoint file {checkpoint!r} '
                                f'not found; set {config_key} to the local '
                                f'file. Get {download_hint}')
    if '://' in checkpoint:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    else:  # one-line errors for empty, truncated or foreign-pickle files
        ckpt = read_checkpoint(checkpoint)
    for wrapper in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(wrapper), dict):
            ckpt = ckpt[wrapper]
            break
    if not isinstance(ckpt, dict):
        raise TypeError(f'{owner}: {checkpoint!r} holds a '
                        f'{type(ckpt).__name__}, not a state dict')
    return ckpt


def map_key(key: str, key_map: Optional[KeyMap]) -> str:
    """Rename one key with a rule table or a callable.

    Args:
        key (str): Checkpoint key (prefix already stripped).
        key_map (KeyMap, optional): Ordered ``(regex, replacement)`` rules,
            each applied with ``re.sub`` to the result of the previous one,
            or a callable. None keeps the key.

    Returns:
        str: The model key.
    """
    if key_map is None:
        return key
    if callable(key_map):
        return key_map(key)
    for pattern, replacement in key_map:
        key = re.sub(pattern, replacement, key)
    return key


def convert_state_dict(
    state: Mapping[str, Tensor],
    key_map: Optional[KeyMap] = None,
    strip_prefixes: Sequence[str] = (),
    prefix: Optional[str] = None,
    drop_keys: Sequence[str] = (),
    owner: str = 'checkpoint',
    source: str = 'checkpoint'
) -> Tuple['OrderedDict[str, Tensor]', Optional[str]]:
    """Strip a prefix, drop keys and rename the rest.

    Args:
        state (Mapping[str, Tensor]): A loaded state dict.
        key_map (KeyMap, optional): See :func:`map_key`. Defaults to None.
        strip_prefixes (Sequence[str]): Candidate prefixes, in order of
            preference; the first that any key starts with is stripped and
            the keys without it are dropped (a segmentor's ``decode_head.*``,
            SAM's ``mask_decoder.*``). None matching keeps every key.
            Defaults to ().
        prefix (str, optional): An explicit prefix (``init_cfg.prefix``)
            used instead of ``strip_prefixes``; no key carrying it is an
            error. Defaults to None.
        drop_keys (Sequence[str]): Regexes (``re.match``) of keys to drop,
            tested after stripping the prefix and before renaming (e.g.
            ``r'fc\\.'``). Defaults to ().
        owner (str): Class name for errors. Defaults to 'checkpoint'.
        source (str): File name for errors. Defaults to 'checkpoint'.

    Returns:
        tuple[OrderedDict[str, Tensor], str | None]: The converted state
        dict and the prefix that was stripped.

    Raises:
        KeyError: An explicit ``prefix`` that no key starts with.
    """
    candidates = (prefix, ) if prefix else tuple(strip_prefixes)
    chosen = next(
        (p for p in candidates if any(k.startswith(p) for k in state)), None)
    if prefix and chosen is None:
        raise KeyError(f'{owner}: no key of {source!r} starts with prefix '
                       f'{prefix!r} (init_cfg.prefix); e.g. {list(state)[:5]}')
    if chosen:
        state = {
            k[len(chosen):]: v
            for k, v in state.items() if k.startswith(chosen)
        }
    dropped = [re.compile(pattern) for pattern in drop_keys]
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    for key, value in state.items():
        if any(d.match(key) for d in dropped):
            continue
        converted[map_key(key, key_map)] = value
    return converted, chosen


def fit_state_dict(
    state: Mapping[str, Tensor],
    target: Target,
    tensor_adapter: Optional[TensorAdapter] = None,
    ignore_missing: Sequence[str] = (),
    strict: bool = False,
    mismatch_hint: Union[str, Callable[[Mapping[str, Tensor]], str]] = '',
    owner: str = 'checkpoint',
    source: str = 'checkpoint'
) -> Tuple['OrderedDict[str, Tensor]', List[str], List[str]]:
    """Compare keys with the target, adapt and check tensor shapes.

    Args:
        state (Mapping[str, Tensor]): Converted state dict.
        target (Target): The module, or its ``{key: tensor or shape}``.
        tensor_adapter (TensorAdapter, optional): Called for every key of
            both whose shapes differ. Defaults to None.
        ignore_missing (Sequence[str]): Regexes (``re.search``) of model
            keys a checkpoint is not expected to hold (LoRA adapters...);
            they are not reported as missing. Defaults to ().
        strict (bool): Raise ``KeyError`` on missing or unexpected keys
            (before any shape check). Defaults to False.
        mismatch_hint (str | Callable): Extra sentence for that
            ``KeyError`` (a callable gets ``state``). Defaults to ''.
        owner (str): Class name for errors. Defaults to 'checkpoint'.
        source (str): File name for errors. Defaults to 'checkpoint'.

    Returns:
        tuple[OrderedDict, list[str], list[str]]: The adapted state dict,
        the missing keys and the unexpected keys (both sorted).

    Raises:
        ValueError: No key in common (an unrecognised layout), or tensors
            whose shape still differs after adapting, each listed as
            ``key: checkpoint (...) vs model (...)``.
        KeyError: ``strict`` and keys that do not match, all listed.
    """
    own = target.state_dict() if isinstance(target, nn.Module) else target
    shapes = {
        k: tuple(v.shape) if isinstance(v, Tensor) else tuple(v)
        for k, v in own.items()
    }
    ignored = [re.compile(pattern) for pattern in ignore_missing]
    missing = sorted(
        k for k in shapes
        if k not in state and not any(p.search(k) for p in ignored))
    unexpected = sorted(k for k in state if k not in shapes)
    if state and shapes and not set(state) & set(shapes):
        raise ValueError(f'{owner}: unrecognised checkpoint layout in '
                         f'{source!r}: none of its keys is a model key '
                         f'(checkpoint e.g. {list(state)[:4]}, model e.g. '
                         f'{list(shapes)[:4]})')
    if strict and (missing or unexpected):
        hint = mismatch_hint(state) if callable(mismatch_hint) \
            else mismatch_hint
        raise KeyError(f'{owner}: checkpoint {source!r} does not match the '
                       f'model.{" " + hint if hint else ""} Missing keys: '
                       f'{missing}. Unexpected keys: {unexpected}.')
    fitted: 'OrderedDict[str, Tensor]' = OrderedDict()
    bad = []
    for key, value in state.items():
        if key in shapes and isinstance(value, Tensor):
            if tuple(value.shape) != shapes[key] and tensor_adapter:
                old = tuple(value.shape)
                value = tensor_adapter(key, value, shapes[key])
                if tuple(value.shape) != old:
                    MMLogger.get_current_instance().info(
                        f'{owner}: resized {key} of {source} from {old} to '
                        f'{tuple(value.shape)}')
            if tuple(value.shape) != shapes[key]:
                bad.append(f'{key}: checkpoint {tuple(value.shape)} vs '
                           f'model {shapes[key]}')
        fitted[key] = value
    if bad:
        raise ValueError(f'{owner}: checkpoint {source!r} has tensors of the '
                         f'wrong shape: {"; ".join(bad)}')
    return fitted, missing, unexpected


def load_pretrained(checkpoint: Optional[str],
                    target: Optional[Target],
                    config_key: str,
                    download_hint: str,
                    key_map: Optional[KeyMap] = None,
                    strip_prefixes: Sequence[str] = (),
                    prefix: Optional[str] = None,
                    drop_keys: Sequence[str] = (),
                    tensor_adapter: Optional[TensorAdapter] = None,
                    ignore_missing: Sequence[str] = (),
                    strict: bool = True,
                    mismatch_hint: Union[str, Callable[[Mapping[str, Tensor]],
                                                       str]] = '',
                    owner: Optional[str] = None) -> PretrainedState:
    """Load, convert, compare, report and (into a module) load weights.

    Args:
        checkpoint (str, optional): Local path (or an explicit URL).
        target (Target, optional): The module to load into, or a
            ``{key: tensor or shape}`` to check against without loading;
            None only converts.
        config_key (str): Config key that holds the path, for errors.
        download_hint (str): Where to get the file, for errors.
        key_map (KeyMap, optional): Key table or callable. Defaults to None.
        strip_prefixes (Sequence[str]): See :func:`convert_state_dict`.
            Defaults to ().
        prefix (str, optional): See :func:`convert_state_dict`.
            Defaults to None.
        drop_keys (Sequence[str]): See :func:`convert_state_dict`.
            Defaults to ().
        tensor_adapter (TensorAdapter, optional): See
            :func:`fit_state_dict`. Defaults to None.
        ignore_missing (Sequence[str]): See :func:`fit_state_dict`.
            Defaults to ().
        strict (bool): Missing or unexpected keys raise ``KeyError``;
            otherwise they are logged as warnings (and unexpected keys are
            not loaded). Defaults to True.
        mismatch_hint (str | Callable): Extra sentence for the ``KeyError``
            (a callable gets the converted state dict). Defaults to ''.
        owner (str, optional): Name that starts messages. Defaults to None
            (the target's class name).

    Returns:
        PretrainedState: The loaded tensors, missing and unexpected keys.

    Raises:
        ValueError, FileNotFoundError, TypeError: See
            :func:`read_pretrained` and :func:`fit_state_dict`.
        KeyError: ``strict`` and keys that do not match, all listed.
    """
    if owner is None:
        owner = type(target).__name__ if isinstance(target, nn.Module) \
            else 'checkpoint'
    raw = read_pretrained(checkpoint, owner, config_key, download_hint)
    state, chosen = convert_state_dict(raw, key_map, strip_prefixes, prefix,
                                       drop_keys, owner, checkpoint)
    if target is None:
        return PretrainedState(state, [], [], chosen)
    state, missing, unexpected = fit_state_dict(state, target, tensor_adapter,
                                                ignore_missing, strict,
                                                mismatch_hint, owner,
                                                checkpoint)
    logger = MMLogger.get_current_instance()
    logger.info(f'{owner}: loaded {len(state) - len(unexpected)} tensors '
                f'from {checkpoint}' +
                (f' (prefix {chosen!r} stripped)' if chosen else ''))
    if missing:
        logger.warning(f'{owner}: weights missing from {checkpoint}: '
                       f'{missing}')
    if unexpected:
        logger.warning(f'{owner}: unexpected keys in {checkpoint} (not '
                       f'loaded): {unexpected}')
    skipped = set(unexpected)
    loaded = OrderedDict((k, v) for k, v in state.items() if k not in skipped)
    if isinstance(target, nn.Module):
        target.load_state_dict(loaded, strict=False)
    return PretrainedState(loaded, missing, unexpected, chosen)


#: The one config key that points a method at its pretrained weights.
WEIGHTS_KEY = 'model.backbone.init_cfg.checkpoint'


def is_pretrained_cfg(init_cfg) -> bool:
    """Whether ``init_cfg`` is one ``dict(type='Pretrained', ...)``."""
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


def resolve_pretrained_init(init_cfg,
                            owner: str,
                            paper_pretrained: bool,
                            config_key: str = WEIGHTS_KEY,
                            paper_note: str = ''):
    """Turn ``Pretrained`` without a checkpoint into "train from scratch".

    Method base configs hold ``init_cfg=dict(type='Pretrained',
    checkpoint=None)`` so that ``config_key`` exists and can be set from a
    child config or ``--cfg-options``; an empty checkpoint means training
    from scratch (``None`` is returned, the module's default init runs).
    Training from scratch is logged at build: a WARNING naming
    ``config_key`` when the method's paper starts from pretrained weights
    (``paper_pretrained``), an INFO line otherwise. Nothing is read here.

    Args:
        init_cfg (dict | list | None): The backbone's ``init_cfg``.
        owner (str): Class name that starts the log line.
        paper_pretrained (bool): The paper trains from pretrained weights.
        config_key (str): The key to set. Defaults to
            ``model.backbone.init_cfg.checkpoint``.
        paper_note (str): What the paper uses, for the log line.
            Defaults to ''.

    Returns:
        dict | list | None: ``init_cfg``, or None for "from scratch".
    """
    if is_pretrained_cfg(init_cfg) and not init_cfg.get('checkpoint'):
        init_cfg = None
    if not is_pretrained_cfg(init_cfg):
        logger = MMLogger.get_current_instance()
        note = f' ({paper_note})' if paper_note else ''
        if paper_pretrained:
            logger.warning(f'{owner}: no pretrained weights, training from '
                           f'scratch; the paper starts from pretrained '
                           f'weights{note}: set {config_key} to a local '
                           f'file')
        else:
            logger.info(f'{owner}: random initialisation{note}; set '
                        f'{config_key} to start from pretrained weights')
    return init_cfg


def drop_empty_pretrained(module_cfg):
    """``init_cfg=dict(type='Pretrained', checkpoint=None)`` -> None.

    For modules built from other libraries (``mmseg.ResNet`` of the
    baseline) that would try to load ``None``; applied by the segmentors
    to the backbone config. Returns a copy when changed.

    Args:
        module_cfg (dict | None): A module config.

    Returns:
        dict | None: The config, ``init_cfg`` None if it had no checkpoint.
    """
    if isinstance(module_cfg, dict) and is_pretrained_cfg(
            module_cfg.get('init_cfg')) and \
            not module_cfg['init_cfg'].get('checkpoint'):
        module_cfg = dict(module_cfg, init_cfg=None)
    return module_cfg
