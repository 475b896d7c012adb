"""Tests of tools/misc/check_env.py."""
import importlib.metadata
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
CHECK_NAMES = [
    'requirements pins', 'mmcv/mmengine in mmseg range', 'mmcv ops compiled',
    'numpy vs mmcv build', 'transformers vs mmpretrain',
    'weights_only checkpoint load', 'weights_only still strict',
    'optional rasterio'
]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location('check_env_tool', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_env = _load_script()


@pytest.mark.slow
def test_cli_json_exits_zero_on_this_stack():
    proc = subprocess.run([sys.executable, SCRIPT, '--json'],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)  # stdout is pure JSON
    assert report['ok'] is True
    assert [c['name'] for c in report['checks']] == CHECK_NAMES
    assert all(c['ok'] for c in report['checks']), report['checks']
    # the environment report is mmengine's collect_env
    assert report['env']['PyTorch'] == torch.__version__
    assert 'PyTorch compiling details' not in report['env']
    # versions: every pin of requirements/ci.txt (lint.txt included) + extras
    import mmcv
    import mmengine
    import numpy as np
    versions = report['versions']
    assert versions['mmcv'] == mmcv.__version__
    assert versions['mmengine'] == mmengine.__version__
    assert versions['numpy'] == np.__version__
    assert versions['torch'] == importlib.metadata.version('torch')
    assert versions['ruff'] == importlib.metadata.version('ruff')


def test_script_does_not_touch_sys_path():
    with open(SCRIPT, encoding='utf-8') as f:
        assert 'sys.path' not in f.read()


def test_failing_pin_from_requirements_file_exits_one(tmp_path, capsys):
    """A pin read through a ``-r`` include fails the run (exit code 1)."""
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'extra.txt').write_text('numpy==0.0.1  # too old\n')
    req = tmp_path / 'ci.txt'
    req.write_text('packaging\n-r sub/extra.txt\n')
    assert check_env.main(['--json', '--requirements', str(req)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report['ok'] is False
    pins = report['checks'][0]
    assert pins['name'] == 'requirements pins' and pins['ok'] is False
    assert pins['required'] is True
    assert f'numpy {importlib.metadata.version("numpy")}' in pins['message']
    assert pins['fix'] == f'{sys.executable} -m pip install "numpy==0.0.1"'
    # the other checks pass here, so the pin alone decided the exit code
    assert all(c['ok'] for c in report['checks'][1:]), report['checks']
    assert set(report['versions']) >= {'packaging', 'numpy', 'mmcv'}


def test_text_report_of_a_missing_requirements_file(tmp_path, capsys):
    missing = str(tmp_path / 'nope.txt')
    assert check_env.main(['--requirements', missing]) == 1
    out = capsys.readouterr().out
    assert '[FAIL] requirements pins' in out and 'nope.txt' in out
    assert 'environment NOT usable' in out


def test_read_requirements_follows_includes(tmp_path):
    (tmp_path / 'lint.txt').write_text('# tools\nruff==0.17.6\n-r ci.txt\n')
    (tmp_path / 'ci.txt').write_text(
        'torch==2.14.1\n'
        'numpy>=2.0,<2.5      # comment after spaces\n'
        'Segment_Anything==1.0\n'
        '--extra-index-url https://example.invalid/simple\n'
        'oldlib==1.0; python_version < "3"\n'
        '\n'
        '-r lint.txt\n')  # a cycle back to ci.txt is read once
    pins = check_env.read_requirements(str(tmp_path / 'ci.txt'))
    assert pins == {
        'torch': 'torch==2.14.1',
        'numpy': 'numpy>=2.0,<2.5',
        'segment-anything': 'Segment_Anything==1.0',
        'ruff': 'ruff==0.17.6'
    }


def test_read_requirements_of_the_repository():
    pins = check_env.read_requirements(check_env.CI_REQUIREMENTS)
    assert 'torch' in pins and 'mmsegmentation' in pins
    assert 'ruff' in pins  # from lint.txt, included by ci.txt


def test_read_requirements_errors_name_the_file(tmp_path):
    bad = tmp_path / 'bad.txt'
    bad.write_text('torch==2.14.1\nnot a requirement!\n')
    with pytest.raises(ValueError, match=r'bad\.txt:2: .*not a requirement'):
        check_env.read_requirements(str(bad))
    inc = tmp_path / 'inc.txt'
    inc.write_text('-r missing.txt\n')
    with pytest.raises(OSError, match='missing.txt'):
        check_env.read_requirements(str(inc))


def test_check_pins():
    numpy = importlib.metadata.version('numpy')
    good = check_env.check_pins({'numpy': f'numpy=={numpy}'}, 'r.txt')
    assert good.ok and '1 packages match r.txt' in good.message
    bad = check_env.check_pins(
        {
            'numpy': 'numpy<1',
            'mmcd-no-such-dist': 'mmcd-no-such-dist==1.0',
            'packaging': 'packaging'
        }, 'r.txt')
    assert not bad.ok and bad.required
    assert f'numpy {numpy} (wants <1)' in bad.message
    assert 'mmcd-no-such-dist not installed (wants ==1.0)' in bad.message
    assert 'packaging' not in bad.message
    assert bad.fix == (f'{sys.executable} -m pip install "numpy<1" '
                       '"mmcd-no-such-dist==1.0"')


def test_mmseg_range(monkeypatch):
    ok = check_env.check_mmseg_range({})
    assert ok.ok, ok.message
    import mmseg
    assert f'in [{mmseg.MMCV_MIN}, {mmseg.MMCV_MAX})' in ok.message
    # mmseg's __init__ asserts the range: an mmcv above it is refused
    import mmcv
    monkeypatch.setattr(mmcv, '__version__', mmseg.MMCV_MAX)
    monkeypatch.delitem(sys.modules, 'mmseg')
    bad = check_env.check_mmseg_range({'mmengine': 'mmengine==0.10.7'})
    assert not bad.ok and bad.required
    assert 'MMCV==' in bad.message and 'mmcv ' in bad.message
    assert bad.fix.startswith(f'{sys.executable} -m pip install '
                              '"mmengine==0.10.7" && ')
    assert bad.fix.endswith(check_env.REINSTALL_MMCV_CMD)
    monkeypatch.setitem(sys.modules, 'mmseg', None)  # not importable
    gone = check_env.check_mmseg_range(
        {'mmsegmentation': 'mmsegmentation==1.2.2'})
    assert not gone.ok and 'ModuleNotFoundError' in gone.message
    assert gone.fix.endswith('install "mmsegmentation==1.2.2"')
    # a missing mmcv is the installer's job, not a reinstall of mmseg
    monkeypatch.delitem(sys.modules, 'mmseg')
    monkeypatch.setitem(sys.modules, 'mmcv', None)
    no_mmcv = check_env.check_mmseg_range({})
    assert not no_mmcv.ok and 'mmcv' in no_mmcv.message
    assert no_mmcv.fix == check_env.INSTALL_CMD


def test_mmcv_ops(monkeypatch):
    ops = check_env.check_mmcv_ops()
    assert ops.ok, ops.message
    import mmcv.ops

    def wrong_nms(boxes, scores, iou_threshold):
        return boxes, torch.arange(len(boxes))  # suppresses nothing

    monkeypatch.setattr(mmcv.ops, 'nms', wrong_nms)
    wrong = check_env.check_mmcv_ops()
    assert not wrong.ok and '[0, 1, 2] instead of [0, 2]' in wrong.message
    assert wrong.fix == check_env.REINSTALL_MMCV_CMD
    for error, hint in ((OSError('_ext.so: undefined symbol: _ZN3c10'),
                         'different torch'),
                        (ImportError("No module named 'mmcv._ext'"),
                         'mmcv-lite')):

        def broken_nms(*args, error=error):
            raise error

        monkeypatch.setattr(mmcv.ops, 'nms', broken_nms)
        result = check_env.check_mmcv_ops()
        assert not result.ok and hint in result.message
        assert result.fix == check_env.REINSTALL_MMCV_CMD


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
    'numpy_version, marker, ok',
    [
        ('2.4.6', b'numpy.core._multiarray_umath', False),  # crashes
        ('1.26.4', b'numpy.core._multiarray_umath', True),
        ('2.4.6', b'numpy._core._multiarray_umath', True),
        ('1.26.4', b'numpy._core._multiarray_umath', True),  # >= 1.19
        ('1.18.5', b'numpy._core._multiarray_umath', False),
        ('2.4.6', b'no numpy C API', True),
    ])
def test_numpy_vs_mmcv(tmp_path, numpy_version, marker, ok):
    lib = tmp_path / '_ext.so'
    lib.write_bytes(b'\x7fELF' + marker)
    result = check_env.check_numpy_vs_mmcv('numpy>=2.0,<2.5', numpy_version,
                                           str(lib))
    assert result.ok is ok
    if not ok:
        assert result.fix and numpy_version in result.message
    if numpy_version == '1.18.5':  # the fix installs the pinned numpy
        assert result.fix.endswith('install "numpy>=2.0,<2.5"')


def test_numpy_vs_mmcv_passes_here():
    result = check_env.check_numpy_vs_mmcv()
    assert result.ok, result.message


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
    (None, '1.2.0', True, 'transformers not installed'),
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
    assert without.ok is False and without.required is True
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


def test_optional_rasterio(tmp_path, monkeypatch):
    if importlib.util.find_spec('rasterio') is not None:
        assert check_env.check_rasterio().ok
    missing = check_env.check_rasterio('mmcd_no_such_rasterio')
    assert missing.ok is False and missing.required is False
    assert 'not installed' in missing.message and '[geo]' in missing.fix
    (tmp_path / 'mmcd_broken_geo.py').write_text(
        "raise ImportError('libgdal.so.36: cannot open shared object')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = check_env.check_rasterio('mmcd_broken_geo')
    assert broken.ok is False and broken.required is False
    assert 'libgdal' in broken.message and '[geo]' in broken.fix


def test_format_report_shows_failures_and_fixes():
    checks = [
        check_env.CheckResult('good', True, True, 'fine'),
        check_env.CheckResult('bad', False, True, 'broken', 'run A'),
        check_env.CheckResult('meh', False, False, 'missing', 'run B'),
    ]
    report = dict(
        ok=False,
        seconds=1.5,
        env={'PyTorch': '2.14.1'},
        versions={
            'torch': '2.14.1',
            'rasterio': None
        },
        checks=[c.__dict__ for c in checks])
    text = check_env.format_report(report)
    assert 'PyTorch: 2.14.1' in text and 'rasterio: not installed' in text
    assert '[ OK ] good' in text
    assert '[FAIL] bad' in text and 'fix: run A' in text
    assert '[WARN] meh' in text and 'fix: run B' in text
    assert 'NOT usable: 1 passed, 1 failed, 1 warning(s)' in text


def test_warning_alone_keeps_exit_code_zero_and_crash_fails(
        tmp_path, monkeypatch, capsys):
    req = tmp_path / 'r.txt'
    req.write_text('packaging\n')
    check_rasterio = check_env.check_rasterio
    monkeypatch.setattr(check_env, 'check_rasterio',
                        lambda: check_rasterio('mmcd_no_such_geo'))
    assert check_env.main(['--requirements', str(req)]) == 0
    out = capsys.readouterr().out
    assert '[WARN] optional rasterio' in out and 'environment OK' in out

    def crash():
        raise RuntimeError('boom')

    # a check that crashes is a failure, and the later checks still run
    monkeypatch.setattr(check_env, 'check_mmcv_ops', crash)
    report = check_env.check_env(str(req))
    assert report['ok'] is False
    names = [c['name'] for c in report['checks']]
    assert names[2] == 'crash' and names[-1] == 'optional rasterio'
    assert 'RuntimeError: boom' in report['checks'][2]['message']
