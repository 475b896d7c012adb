"""Tests of tools/misc/install_env.sh's mmcv build decision.

``--print-mmcv-build`` prints the decision without installing anything. The
machine is faked: ``nvcc``, ``nvidia-smi`` and the environment's ``python``
(which only answers torch's version and CUDA version) are shell scripts in
``tmp_path``, and ``PATH`` holds only them and the system's tools, so no
real toolkit, GPU or torch is consulted and nothing is built.
"""
import os
import os.path as osp
import subprocess
from typing import Dict, Optional

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'install_env.sh')
DEFAULT_ARCHS = '7.5;8.0;8.6;8.9;9.0+PTX'


def _exe(path, text: str) -> None:
    path.write_text('#!/bin/sh\n' + text)
    path.chmod(0o755)


def _machine(tmp_path,
             torch: Optional[str] = '2.14.1+cu130',
             torch_cuda: str = '13.0',
             nvcc: Optional[str] = '13.0',
             gpus: Optional[str] = '8.6\n8.6\n',
             where_nvcc: str = 'path') -> Dict[str, str]:
    """Fake tools; returns the environment to run the script in."""
    bin_dir = tmp_path / 'bin'
    cuda_home = tmp_path / 'cuda'
    venv = tmp_path / 'venv'
    for d in (bin_dir, cuda_home / 'bin', venv / 'bin'):
        d.mkdir(parents=True, exist_ok=True)
    if nvcc is not None:
        target = bin_dir if where_nvcc == 'path' else cuda_home / 'bin'
        _exe(
            target / 'nvcc', 'echo "nvcc: NVIDIA (R) Cuda compiler driver"\n'
            f'echo "Cuda compilation tools, release {nvcc}, V{nvcc}.48"\n')
    if gpus is not None:
        _exe(bin_dir / 'nvidia-smi', f"printf '{gpus}'\n")
    if torch is not None:
        _exe(venv / 'bin' / 'python', f'echo {torch}\necho {torch_cuda}\n')
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('CUDA_HOME', 'TORCH_CUDA_ARCH_LIST', 'MMCD_MMCV_CUDA')
    }
    # only the fakes and the system's tools: no real nvcc (/usr/local/bin)
    env.update(
        PATH=f'{bin_dir}:/usr/bin:/bin',
        MMCD_VENV=str(venv),
        MMCD_CACHE=str(tmp_path / 'cache'))
    if where_nvcc == 'cuda_home':
        env['CUDA_HOME'] = str(cuda_home)
    return env


def _plan(env: Dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', SCRIPT, '--print-mmcv-build'],
                          capture_output=True,
                          text=True,
                          timeout=60,
                          env=dict(env, **extra))


def _parse(proc: subprocess.CompletedProcess) -> Dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    return dict(line.split('=', 1) for line in proc.stdout.splitlines())


def test_cuda_torch_matching_nvcc_and_a_gpu_build_cuda_ops(tmp_path):
    env = _machine(tmp_path, gpus='8.6\n8.6\n9.0\n')
    plan = _parse(_plan(env))
    assert plan['mmcv_build'] == 'cuda'
    assert plan['torch'] == '2.14.1+cu130' and plan['torch_cuda'] == '13.0'
    assert plan['nvcc'] == f'{tmp_path}/bin/nvcc (13.0)'
    assert plan['gpu_compute_caps'] == '8.6;9.0'
    assert plan['build_env'] == ('MMCV_WITH_OPS=1 FORCE_CUDA=1 '
                                 'TORCH_CUDA_ARCH_LIST=8.6;9.0')
    # the CUDA wheel has its own cache folder, keyed by CUDA, torch, archs
    assert plan['wheel_cache'] == (
        f'{tmp_path}/cache/wheels/cuda13.0-torch2.14.1-sm8.6_9.0')


def test_arch_list_from_the_environment_wins(tmp_path):
    env = _machine(tmp_path)
    plan = _parse(_plan(env, TORCH_CUDA_ARCH_LIST='8.0 8.9+PTX'))
    assert plan['build_env'].endswith('TORCH_CUDA_ARCH_LIST=8.0 8.9+PTX')
    assert plan['wheel_cache'].endswith('/cuda13.0-torch2.14.1-sm8.0_8.9_PTX')


def test_nvcc_of_cuda_home_is_preferred(tmp_path):
    env = _machine(tmp_path, nvcc='13.1', where_nvcc='cuda_home')
    plan = _parse(_plan(env))
    assert plan['mmcv_build'] == 'cuda'
    assert plan['nvcc'] == f'{tmp_path}/cuda/bin/nvcc (13.1)'


def test_cpu_and_cuda_wheels_never_share_a_cache(tmp_path):
    cuda = _parse(_plan(_machine(tmp_path / 'a')))
    cpu = _parse(
        _plan(_machine(tmp_path / 'b', torch='2.14.1+cpu', torch_cuda='')))
    assert cpu['wheel_cache'] == f'{tmp_path}/b/cache/wheels'
    cuda_dir = osp.relpath(cuda['wheel_cache'], f'{tmp_path}/a/cache/wheels')
    # the installer globs <cache>/mmcv-*.whl: a subfolder is never searched
    # for the CPU build, and the CUDA folder holds no CPU wheel
    assert '/' not in cuda_dir and cuda_dir.startswith('cuda13.0')


@pytest.mark.parametrize(
    'kwargs, reason',
    [
        (dict(torch='2.14.1+cpu', torch_cuda=''), 'is a CPU-only build'),
        (dict(nvcc=None), 'there is no nvcc'),
        (dict(nvcc='12.4'), 'differ in the major version'),
        (dict(gpus=None), 'nvidia-smi shows no GPU'),
        (dict(gpus=''), 'nvidia-smi shows no GPU'),  # driver, no device
    ])
def test_cpu_build_and_why(tmp_path, kwargs, reason):
    plan = _parse(_plan(_machine(tmp_path, **kwargs)))
    assert plan['mmcv_build'] == 'cpu'
    assert reason in plan['reason']
    assert plan['build_env'] == 'MMCV_WITH_OPS=1 FORCE_CUDA=0'
    assert plan['wheel_cache'] == f'{tmp_path}/cache/wheels'


def test_mmcd_mmcv_cuda_forces_either_way(tmp_path):
    no_gpu = _machine(tmp_path, gpus=None)
    forced = _parse(_plan(no_gpu, MMCD_MMCV_CUDA='1'))
    assert forced['mmcv_build'] == 'cuda'
    assert forced['build_env'].endswith(
        f'TORCH_CUDA_ARCH_LIST={DEFAULT_ARCHS}')
    assert 'forced by MMCD_MMCV_CUDA=1' in forced['reason']
    off = _parse(_plan(_machine(tmp_path / 'gpu'), MMCD_MMCV_CUDA='0'))
    assert (off['mmcv_build'], off['reason']) == ('cpu', 'MMCD_MMCV_CUDA=0')


def test_forced_cuda_that_cannot_be_built_is_an_error(tmp_path):
    env = _machine(tmp_path, torch='2.14.1+cpu', torch_cuda='')
    proc = _plan(env, MMCD_MMCV_CUDA='1')
    assert proc.returncode == 1
    assert 'mmcv_build=cpu' in proc.stdout
    assert "MMCD_MMCV_CUDA=1 but mmcv's CUDA ops cannot be built" in \
        proc.stderr
    assert 'CPU-only build' in proc.stderr


def test_without_an_environment_the_decision_waits_for_torch(tmp_path):
    plan = _parse(_plan(_machine(tmp_path, torch=None)))
    assert plan['mmcv_build'] == 'unknown'
    assert 'torch is not installed' in plan['reason']
    # nothing was created
    assert not (tmp_path / 'venv' / 'bin' / 'python').exists()
    assert not (tmp_path / 'cache').exists()


def test_bad_argument_exits_2(tmp_path):
    proc = subprocess.run(['bash', SCRIPT, '--cuda'],
                          capture_output=True,
                          text=True,
                          timeout=60,
                          env=_machine(tmp_path))
    assert proc.returncode == 2
    assert 'unknown argument: --cuda' in proc.stderr
    assert not (tmp_path / 'cache').exists()
