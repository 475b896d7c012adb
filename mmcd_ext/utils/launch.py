"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``.

mmengine 0.10.7 assumes a GPU whenever it launches distributed jobs: its
pytorch launcher calls ``torch.cuda.set_device`` before creating the process
group, and the Runner wraps the model with ``device_ids=[LOCAL_RANK]``,
which DDP rejects for CPU modules. On a machine without CUDA we therefore
create the (gloo) process group ourselves - the Runner skips its own
initialisation when a group exists - and ask for ``device_ids=None``.
SyncBN layers (method configs use them, as they are written for GPU
clusters) cannot run on CPU, so they become BN there, with a warning.
"""
import os
from typing import Any

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log


def _replace_norm(node: Any, old: str, new: str) -> int:
    """Replace ``type=old`` norm configs by ``type=new`` in place."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == old:
            node['type'] = new
            count += 1
        for value in node.values():
            count += _replace_norm(value, old, new)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _replace_norm(value, old, new)
    return count


def syncbn_to_bn(cfg: Config) -> int:
    """Turn every ``SyncBN`` norm config of ``cfg.model`` into ``BN``.

    Returns:
        int: The number of replaced entries.
    """
    return _replace_norm(cfg.model, 'SyncBN', 'BN')


def setup_launch(cfg: Config, launcher: str) -> Config:
    """Adapt ``cfg`` to the launcher and the devices of this machine.

    With CUDA available nothing changes. Without it, SyncBN becomes BN and,
    for a distributed launch, a gloo process group is created from the
    torchrun / slurm environment, and DDP gets ``device_ids=None``.

    Args:
        cfg (Config): The config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = launcher
    if torch.cuda.is_available():
        return cfg
    replaced = syncbn_to_bn(cfg)
    if replaced:
        print_log(
            f'No CUDA device: {replaced} SyncBN layer config(s) '
            'replaced by BN.',
            logger='current')
    if launcher == 'none':
        return cfg
    cfg.setdefault('env_cfg', {})
    cfg.env_cfg.setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        if launcher == 'slurm':
            os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
            os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
            os.environ.setdefault('LOCAL_RANK',
                                  os.environ.get('SLURM_LOCALID', '0'))
            os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
            os.environ.setdefault('MASTER_PORT', '29500')
        dist.init_process_group(backend='gloo')
        print_log(
            f'No CUDA device: initialised a gloo process group '
            f'(rank {dist.get_rank()} of {dist.get_world_size()}).',
            logger='current')
    return cfg
