"""Tests of tools/misc/check_env.py."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys
from types import ModuleType

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'check_env.py')


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location('check_env_tool', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_env = _load_script()


@pytest.mark.slow
def test_cli_json_exits_zero_and_reports_compiled_ops():
    proc = subprocess.run([sys.executable, SCRIPT, '--json'],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)  # stdout is pure JSON
    assert report['ok'] is True
    assert report['versions']['mmcv_ops_compiled'] is True
    checks = {c['name']: c for c in report['checks']}
    assert checks['mmcv ops compiled']['ok'] is True
    for name in ('mmcv/mmengine in mmseg range', 'numpy vs mmcv build',
                 'weights_only checkpoint load', 'transformers vs mmpretrain',
                 'import mmcd_ext'):
        assert checks[name]['ok'] is True, checks[name]
    assert all(c['ok'] for c in report['checks'] if c['required'])
    # versions come from the installed distributions
    import mmcv
    import mmengine
    import mmseg
    import numpy as np
    assert report['versions']['mmcv'] == mmcv.__version__
    assert report['versions']['mmengine'] == mmengine.__version__
    assert report['versions']['mmseg'] == mmseg.__version__
    assert report['versions']['numpy'] == np.__version__
    assert report['versions']['torch'] == torch.__version__
    assert report['versions']['torch_num_threads'] >= 1


@pytest.mark.parametrize(
    'version, expected',
    [
        ('2.1.0', True),
        ('2.0.0', True),  # a final release sorts after its rc4
        ('2.0.0rc4', True),  # lower bound is inclusive
        ('2.0.0rc3', False),
        ('2.2.0', False),  # upper bound is exclusive
        ('1.7.2', False),
    ])
def test_version_in_range(version, expected):
    assert check_env.version_in_range(version, '2.0.0rc4', '2.2.0') is \
        expected


def test_read_mmseg_ranges_matches_mmseg_constants():
    import mmseg
    ranges = check_env.read_mmseg_ranges(mmseg.__file__)
    assert ranges['mmcv'] == (mmseg.MMCV_MIN, mmseg.MMCV_MAX)
    assert ranges['mmengine'] == (mmseg.MMENGINE_MIN, mmseg.MMENGINE_MAX)


def test_read_mmseg_ranges_missing_bound_names_file(tmp_path):
    fake = tmp_path / '__init__.py'
    fake.write_text("MMCV_MIN = '2.0.0'\nMMENGINE_MIN = '0.5.0'\n"
                    "MMENGINE_MAX = '1.0.0'\n")
    with pytest.raises(ValueError, match=r'__init__\.py.*MMCV_MAX'):
        check_env.read_mmseg_ranges(str(fake))


@pytest.mark.parametrize(
    'content, expected',
    [
        (b'\x7fELF...numpy._core._multiarray_umath\x00'
         b'numpy.core._multiarray_umath\x00',
         2),  # numpy 2 headers: both names
        (b'\x7fELF...numpy.core._multiarray_umath\x00...', 1),
        (b'\x7fELF...torch numpy interop only\x00', None),
        (b'', None),
    ])
def test_numpy_abi_of_library(tmp_path, content, expected):
    lib = tmp_path / '_ext.so'
    lib.write_bytes(content)
    assert check_env.numpy_abi_of_library(str(lib)) == expected


@pytest.mark.parametrize(
    'numpy_version, built, ok',
    [
        ('2.4.6', 1, False),  # numpy-1 build on numpy 2: crashes on import
        ('1.26.4', 1, True),
        ('2.4.6', 2, True),
        ('1.26.4', 2, True),  # numpy-2 headers target numpy >= 1.19
        ('1.18.5', 2, False),
        ('2.4.6', None, True),  # no numpy C API in the library
    ])
def test_numpy_abi_result(numpy_version, built, ok):
    result = check_env.numpy_abi_result(numpy_version, built, '/x/_ext.so')
    assert result.ok is ok
    if not ok:
        assert result.fix and numpy_version in result.message


def test_fix_commands_target_this_environment():
    # pip of the running interpreter; the installer's stamp is removed first
    # (otherwise install_env.sh returns at once and reinstalls nothing)
    assert check_env.REINSTALL_MMCV_CMD.startswith(
        f'{sys.executable} -m pip uninstall -y mmcv && ')
    assert 'install_env.sh' in check_env.INSTALL_CMD
    if sys.prefix != sys.base_prefix:
        assert check_env.INSTALL_CMD.startswith(
            f'rm -f {osp.join(sys.prefix, ".mmcd_ext_stamp")} && '
            f'MMCD_VENV={sys.prefix} bash ')


@pytest.mark.parametrize('transformers, mmpretrain, ok, text', [
    ('5.0.0', '1.2.0', False, 'transformers<4.50'),
    ('5.2.1', '1.2.0', False, 'BLIP'),
    ('4.49.0', '1.2.0', True, '4.49.0'),
    ('4.55.0', '1.2.0', True, 'untested'),
    (None, '1.2.0', True, 'not installed'),
    ('5.0.0', None, True, 'mmpretrain not installed'),
])
def test_transformers_result(transformers, mmpretrain, ok, text):
    result = check_env.transformers_result(transformers, mmpretrain)
    assert result.ok is ok
    assert text in result.message + result.fix
    assert bool(result.fix) is (not ok)


def test_checkpoint_loading_needs_the_allow_list():
    """Without mmcd_ext's allow-list the check fails; with it, it passes."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        without = check_env.check_checkpoint_loading(import_plugin=False)
    finally:
        torch.serialization.add_safe_globals(saved)
    assert without.ok is False
    assert 'Unsupported global' in without.message
    assert 'import mmcd_ext' in without.fix

    with_plugin = check_env.check_checkpoint_loading(import_plugin=True)
    assert with_plugin.ok is True, with_plugin.message


def test_weights_only_still_strict(monkeypatch):
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)
    assert check_env.check_weights_only_still_strict().ok is True
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.warns(UserWarning, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        result = check_env.check_weights_only_still_strict()
    assert result.ok is False and result.required is False
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' in result.fix


def test_mmcv_ops_and_numpy_checks_pass_here():
    ops = check_env.check_mmcv_ops()
    assert ops.ok, ops.message
    abi = check_env.check_numpy_vs_mmcv()
    assert abi.ok, abi.message


def test_check_import_reports_the_error():
    result = check_env.check_import('mmcd_ext_no_such_module', fix='do X')
    assert result.ok is False and result.required is True
    assert 'ModuleNotFoundError' in result.message
    assert result.fix == 'do X'


def test_format_report_shows_failures_and_fixes():
    report = check_env.EnvReport(
        versions=dict(
            python='3.11.7',
            python_executable='/x/python',
            torch='2.14.1',
            torch_cuda_available=False,
            torch_cuda=None,
            torch_num_threads=2,
            mmcv='2.1.0',
            mmcv_ops_compiled=False),
        checks=[
            check_env.CheckResult('good', True, True, 'fine'),
            check_env.CheckResult('bad', False, True, 'broken', 'run A'),
            check_env.CheckResult('meh', False, False, 'missing', 'run B'),
        ],
        seconds=1.5)
    assert report.ok is False
    text = check_env.format_report(report)
    assert '[ OK ] good' in text
    assert '[FAIL] bad' in text and 'fix: run A' in text
    assert '[WARN] meh' in text and 'fix: run B' in text
    assert 'ops: MISSING' in text
    assert 'NOT usable: 1 passed, 1 failed, 1 warning(s)' in text
    as_json = report.to_dict()
    assert as_json['ok'] is False and len(as_json['checks']) == 3
    # a warning alone does not make the environment unusable
    report.checks = report.checks[::2]
    assert report.ok is True
