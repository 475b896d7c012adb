"""Launch helpers shared by ``tools/train.py``, ``tools/test.py`` and
``tools/infer.py``.

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
from datetime import timedelta
from typing import Any, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from mmcd_ext.utils.cpu_malloc import tune_cpu_malloc


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


def init_process_group(launcher: str,
                       backend: str = 'gloo',
                       timeout: Optional[timedelta] = None) -> None:
    """Create the default process group from a torchrun or Slurm launch.

    ``'pytorch'`` reads torchrun's ``RANK`` / ``WORLD_SIZE`` /
    ``MASTER_ADDR`` / ``MASTER_PORT``; ``'slurm'`` maps ``SLURM_PROCID``,
    ``SLURM_NTASKS`` and ``SLURM_LOCALID`` onto them (``MASTER_ADDR`` /
    ``MASTER_PORT`` default to 127.0.0.1:29500, one node; export them for
    several nodes). Nothing happens when a group exists already.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'`` (Open
            MPI's ``OMPI_COMM_WORLD_*`` variables).
        backend (str): ``'gloo'`` (CPU, or any device for small messages)
            or ``'nccl'``. Defaults to 'gloo'.
        timeout (timedelta, optional): How long collectives (barriers)
            wait for the slowest rank. Defaults to None (torch's default).

    Raises:
        ValueError: For another launcher, or a launch environment without
            its variables (naming the missing one).
    """
    if dist.is_initialized():
        return
    if launcher == 'slurm':
        for key in ('SLURM_PROCID', 'SLURM_NTASKS'):
            if key not in os.environ:
                raise ValueError(f'--launcher slurm needs ${key} (run the '
                                 'tool under srun)')
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK',
                              os.environ.get('SLURM_LOCALID', '0'))
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    elif launcher == 'mpi':
        for key, var in (('RANK', 'OMPI_COMM_WORLD_RANK'),
                         ('WORLD_SIZE', 'OMPI_COMM_WORLD_SIZE'),
                         ('LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK')):
            if var in os.environ:
                os.environ.setdefault(key, os.environ[var])
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    elif launcher == 'pytorch':
        for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if key not in os.environ:
                raise ValueError(f'--launcher pytorch needs ${key} (start '
                                 'the tool with torchrun, e.g. through '
                                 'tools/dist_*.sh)')
    else:
        raise ValueError(f'cannot create a process group for launcher '
                         f'"{launcher}" (use pytorch, slurm or mpi)')
    kwargs = {} if timeout is None else dict(timeout=timeout)
    dist.init_process_group(backend=backend, **kwargs)


def setup_launch(cfg: Config, launcher: str) -> Config:
    """Adapt ``cfg`` to the launcher and the devices of this machine.

    glibc is first told to keep freed memory for reuse
    (:func:`~mmcd_ext.utils.cpu_malloc.tune_cpu_malloc`; host memory only,
    ``MMCD_CPU_MALLOC=0`` turns it off). With CUDA available nothing else
    changes. Without it, SyncBN becomes BN and, for a distributed launch, a
    gloo process group is created from the torchrun / slurm environment,
    and DDP gets ``device_ids=None``.

    Args:
        cfg (Config): The config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = launcher
    print_log(f'CPU malloc: {tune_cpu_malloc()}', logger='current')
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
        init_process_group(launcher, backend='gloo')
        print_log(
            f'No CUDA device: initialised a gloo process group '
            f'(rank {dist.get_rank()} of {dist.get_world_size()}).',
            logger='current')
    return cfg
