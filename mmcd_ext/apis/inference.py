"""Build a model from a config and load its checkpoint: :func:`init_model`.

The one way mmcd_ext turns a config (+ checkpoint) into a ready model, used
by :class:`~mmcd_ext.apis.ChangeDetector` and by the analysis tools
(``tools/analysis``). It follows mmseg's ``mmseg.apis.init_model`` with
three differences: the config is copied (the caller's object is never
changed), ``init_weights()`` is never called (pretrained files named in
``init_cfg`` / ``pretrained`` are not read, so a model builds before any
weights are downloaded) and the checkpoint is loaded strictly by default
(a model whose keys do not match is an error, not a warning).
"""
import copy
import os
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch import nn

from mmcd_ext.utils.checkpoint import load_model_weights
from mmcd_ext.utils.config_utils import read_config

ConfigLike = Union[str, os.PathLike, Config]


def check_device(device: Union[str, torch.device]) -> torch.device:
    """``device`` as a ``torch.device``, refused if this machine lacks it.

    Args:
        device (str | torch.device): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Returns:
        torch.device: The device.

    Raises:
        ValueError: For other device types.
        RuntimeError: If CUDA is asked for but not available.
    """
    dev = torch.device(device)
    if dev.type not in ('cpu', 'cuda'):
        raise ValueError(f'device must be "cpu" or "cuda[:N]", got '
                         f'"{device}"')
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'device "{device}" asked for, but CUDA is not '
                           'available here; use device="cpu"')
    return dev


def load_model_config(config: ConfigLike,
                      cfg_options: Optional[dict] = None) -> Config:
    """A copy of the config with ``cfg_options`` merged, ready to build.

    mmseg's and mmcd_ext's modules are registered and the config's
    ``default_scope`` (set to ``'mmcd_ext'`` when the config has none)
    becomes the default scope.

    Args:
        config (str | os.PathLike | Config): Config file or object (not
            modified).
        cfg_options (dict, optional): Overrides in mmengine's dotted-key
            form, as ``--cfg-options`` gives them. Defaults to None.

    Returns:
        Config: The config.

    Raises:
        FileNotFoundError: If the config file does not exist.
        TypeError: If ``config`` is neither a path nor a Config.
        KeyError: If the config has no ``model``.
    """
    if isinstance(config, (str, os.PathLike)):
        cfg = read_config(os.fspath(config), cfg_options)
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        raise TypeError('config must be a file path or an mmengine Config, '
                        f'got {type(config).__name__}')
    if 'model' not in cfg:
        raise KeyError(f'config {cfg.filename or "(Config object)"} has no '
                       '`model` field')
    if cfg.get('default_scope') is None:
        cfg.default_scope = 'mmcd_ext'
    from mmcd_ext.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.default_scope)
    return cfg


def _check_checkpoint(checkpoint: str) -> None:
    """Refuse URLs and missing files before anything is built."""
    if '://' in checkpoint:
        raise ValueError(
            f'checkpoint {checkpoint} is a URL; mmcd_ext loads only local '
            'files (download it yourself first)')
    if not osp.lexists(checkpoint):
        raise FileNotFoundError(
            f'checkpoint file {checkpoint} does not exist (give the .pth '
            'that tools/train.py wrote into its work_dir)')


def _dataset_meta(ckpt: object) -> Optional[dict]:
    """Class names and palette stored in a checkpoint's ``meta``, if any.

    mmseg 1.x writes ``meta['dataset_meta']``; older checkpoints
    ``meta['CLASSES']`` and ``meta['PALETTE']``.
    """
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict):
        return None
    if meta.get('dataset_meta'):
        return dict(meta['dataset_meta'])
    if meta.get('CLASSES') is not None:
        return dict(classes=meta['CLASSES'], palette=meta.get('PALETTE'))
    return None


def init_model(config: ConfigLike,
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> nn.Module:
    """Build the model of a config and load a checkpoint into it.

    Steps: read the config (see :func:`load_model_config`), build
    ``cfg.model`` in the config's scope, turn SyncBN into BN when the
    device is the CPU, load the checkpoint with mmengine's
    ``load_checkpoint`` (torch's ``weights_only`` loader with the mmengine
    types mmcd_ext allow-lists), then move the model to ``device`` in eval
    mode. ``init_weights()`` is never called: without a checkpoint the
    weights are the freshly built (random) ones and no pretrained file is
    read. ``cfg.model.train_cfg`` is kept, so the model can also be trained
    (``tools/analysis/benchmark.py --mode train``).

    The model gets two attributes: ``cfg`` (the merged config) and
    ``dataset_meta`` (classes and palette from the checkpoint's ``meta``,
    None without a checkpoint or when it stores none).

    Example::

        model = init_model('configs/baseline/baseline_r18_levir-256.py',
                           'work_dirs/baseline/iter_40000.pth')

    Args:
        config (str | os.PathLike | Config): Config file or object (not
            modified).
        checkpoint (str | os.PathLike, optional): Local checkpoint file.
            Defaults to None (random weights).
        device (str | torch.device): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
            Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config, as
            ``--cfg-options`` of the tools. Defaults to None.
        strict (bool): Whether every key of the checkpoint and the model
            must match. Defaults to True.

    Returns:
        nn.Module: The model, in eval mode on ``device``.

    Raises:
        FileNotFoundError: If the config or the checkpoint does not exist.
        ValueError: If the checkpoint is a URL or the device unknown.
        CheckpointError: If the checkpoint file is unusable (empty,
            truncated, damaged, foreign pickle) or, with ``strict``, does
            not fit the model (the one-line message names the first
            missing, unexpected and mis-shaped keys).
        RuntimeError: If CUDA is asked for but not available.
    """
    dev = check_device(device)
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        _check_checkpoint(checkpoint)
    cfg = load_model_config(config, cfg_options)
    from mmcd_ext.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    if dev.type == 'cpu':
        model = revert_sync_batchnorm(model)
    model.dataset_meta = None
    if checkpoint is not None:
        ckpt = load_model_weights(model, checkpoint, strict=strict)
        model.dataset_meta = _dataset_meta(ckpt)
    model.cfg = cfg
    model.to(dev)
    model.eval()
    return model
