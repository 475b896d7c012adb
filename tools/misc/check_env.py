"""Check that this Python environment can run mmcd_ext.

Prints the versions of the stack and runs the checks that catch the
problems seen with it: mmcv without compiled ops, an mmcv outside the range
mmseg accepts, an mmcv built against another numpy major version, torch >= 2.6
refusing mmengine checkpoints, and transformers >= 5 breaking
``mmpretrain.models``. Every failed check prints
the command that fixes it.

Usage::

    python tools/misc/check_env.py          # human-readable report
    python tools/misc/check_env.py --json   # machine-readable report

The exit code is 0 when every required check passes and 1 otherwise; failed
optional checks are shown as warnings. ``tools/misc/install_env.sh`` runs this
script last, so it is kept to a few seconds.
"""
import argparse
import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import mmap
import os
import os.path as osp
import platform
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _installer_cmd() -> str:
    """The command that (re)installs the stack into this environment.

    ``tools/misc/install_env.sh`` (``make env``) returns at once when its
    stamp says nothing changed, so the stamp is removed first. Inside a
    virtual environment the installer is pointed at it with ``MMCD_VENV``;
    otherwise it creates the repository's ``.venv``.
    """
    script = osp.join(REPO_ROOT, 'tools', 'misc', 'install_env.sh')
    if sys.prefix == sys.base_prefix:  # not in a venv
        return f'bash {script}  (creates {osp.join(REPO_ROOT, ".venv")})'
    stamp = osp.join(sys.prefix, '.mmcd_ext_stamp')
    return f'rm -f {stamp} && MMCD_VENV={sys.prefix} bash {script}'


INSTALL_CMD = _installer_cmd()
PIP = f'{sys.executable} -m pip'
REINSTALL_MMCV_CMD = f'{PIP} uninstall -y mmcv && {INSTALL_CMD}'


@dataclass
class CheckResult:
    """Outcome of one check.

    Args:
        name (str): Short name of the check.
        ok (bool): Whether the check passed.
        required (bool): Whether a failure makes the environment unusable
            (exit code 1) rather than a warning. Defaults to True.
        message (str): What was found. Defaults to ''.
        fix (str): Command or action that fixes a failure; empty when the
            check passed. Defaults to ''.
    """

    name: str
    ok: bool
    required: bool = True
    message: str = ''
    fix: str = ''


@dataclass
class EnvReport:
    """Everything ``check_env`` found.

    Args:
        versions (dict): Package name to version string (or ``None`` when
            not installed) plus a few facts such as CUDA availability.
            Defaults to an empty dict.
        checks (list[CheckResult]): The checks in the order they ran.
            Defaults to an empty list.
        seconds (float): Wall time of the whole check. Defaults to 0.
    """

    versions: Dict[str, object] = field(default_factory=dict)
    checks: List[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every required check passed."""
        return all(c.ok for c in self.checks if c.required)

    def to_dict(self) -> dict:
        """JSON-serialisable form of the report."""
        return dict(
            ok=self.ok,
            seconds=round(self.seconds, 3),
            versions=self.versions,
            checks=[asdict(c) for c in self.checks])


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def version_tuple(version: str) -> Tuple:
    """Turn a version string into a comparable tuple.

    Uses ``packaging`` when it is installed (it is a dependency of mmseg),
    otherwise compares the numeric release part only.

    Args:
        version (str): A PEP 440 version such as ``'2.0.0rc4'`` or
            ``'2.14.1+cpu'``.

    Returns:
        tuple: A key that sorts like the versions do.
    """
    try:
        from packaging.version import Version
        return (Version(version), )
    except ImportError:  # pragma: no cover - packaging ships with mmseg
        nums = re.findall(r'\d+', version.split('+')[0])
        return tuple(int(n) for n in nums[:3])


def version_in_range(version: str, low: str, high: str) -> bool:
    """Whether ``low <= version < high`` (mmseg's own convention).

    Args:
        version (str): The installed version.
        low (str): Inclusive lower bound.
        high (str): Exclusive upper bound.

    Returns:
        bool: True when the version lies in the half-open range.
    """
    return version_tuple(low) <= version_tuple(version) < version_tuple(high)


def dist_version(*dist_names: str) -> Optional[str]:
    """Version of the first installed distribution among ``dist_names``.

    Reads package metadata only, so nothing is imported.

    Args:
        *dist_names (str): Distribution names to try in order (e.g.
            ``'opencv-python'``, ``'opencv-python-headless'``).

    Returns:
        str or None: The version, or None when none of them is installed.
    """
    for name in dist_names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def read_mmseg_ranges(init_file: str) -> Dict[str, Tuple[str, str]]:
    """Read the mmcv/mmengine ranges mmseg accepts from its ``__init__.py``.

    The file is read as text instead of imported, because importing mmseg
    with an mmcv outside the range raises before we could report it.

    Args:
        init_file (str): Path of ``mmseg/__init__.py``.

    Returns:
        dict: ``{'mmcv': (min, max), 'mmengine': (min, max)}``; min is
        inclusive and max exclusive.

    Raises:
        ValueError: If a bound is missing from the file.
    """
    with open(init_file, encoding='utf-8') as f:
        text = f.read()
    ranges = {}
    for pkg in ('mmcv', 'mmengine'):
        bounds = []
        for which in ('MIN', 'MAX'):
            m = re.search(rf"^{pkg.upper()}_{which}\s*=\s*['\"]([^'\"]+)['\"]",
                          text, re.MULTILINE)
            if m is None:
                raise ValueError(f'{init_file}: no {pkg.upper()}_{which} '
                                 'assignment found; cannot tell which '
                                 f'{pkg} versions this mmseg accepts')
            bounds.append(m.group(1))
        ranges[pkg] = (bounds[0], bounds[1])
    return ranges


# Module names numpy's C-API headers import in `_import_array()`: numpy 2
# headers import `numpy._core._multiarray_umath` (falling back to the old
# name), numpy 1 headers only know `numpy.core._multiarray_umath`.
_NUMPY2_MARKER = b'numpy._core._multiarray_umath'
_NUMPY1_MARKER = b'numpy.core._multiarray_umath'


def numpy_abi_of_library(path: str) -> Optional[int]:
    """Major numpy version whose C API a compiled extension was built with.

    Args:
        path (str): A shared library (e.g. mmcv's ``_ext*.so``).

    Returns:
        int or None: 2 or 1, or None when the library does not use numpy's
        C API at all (then any numpy works with it).
    """
    with open(path, 'rb') as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data.find(_NUMPY2_MARKER) >= 0:
                return 2
            if data.find(_NUMPY1_MARKER) >= 0:
                return 1
    return None


# --------------------------------------------------------------------------
# Checks. Each returns a CheckResult and never raises.
# --------------------------------------------------------------------------


def check_python() -> CheckResult:
    """Python >= 3.9 (mmcd_ext's ``python_requires``)."""
    ok = sys.version_info >= (3, 9)
    return CheckResult(
        'python >= 3.9', ok, True,
        f'Python {platform.python_version()} at {sys.executable}',
        '' if ok else 'create a new environment with Python 3.9-3.11: '
        'PYTHON=python3.11 MMCD_VENV=/path/to/new/venv bash '
        f'{osp.join(REPO_ROOT, "tools", "misc", "install_env.sh")}')


def check_import(module: str,
                 required: bool = True,
                 fix: str = INSTALL_CMD) -> CheckResult:
    """Import ``module`` and report the error if it fails.

    Args:
        module (str): Module to import.
        required (bool): Whether failure is an error rather than a warning.
            Defaults to True.
        fix (str): Fix to print on failure. Defaults to the installer.

    Returns:
        CheckResult: The outcome.
    """
    try:
        importlib.import_module(module)
    except Exception as e:  # report any import-time crash, not only
        # ImportError: mmpretrain/transformers raise TypeError
        return CheckResult(f'import {module}', False, required,
                           f'{type(e).__name__}: {e}', fix)
    return CheckResult(f'import {module}', True, required, 'imports')


def check_optional(module: str, purpose: str, install: str) -> CheckResult:
    """Report an optional extra; its absence is not a problem.

    Args:
        module (str): Module to look for (found without importing it).
        purpose (str): What the extra is for.
        install (str): Command that installs it.

    Returns:
        CheckResult: Always passed; the message says whether it is there.
    """
    if importlib.util.find_spec(module) is None:
        return CheckResult(
            f'optional {module}', True, False,
            f'not installed; only needed for {purpose} '
            f'({install})')
    return CheckResult(f'optional {module}', True, False,
                       f'installed ({purpose})')


def check_mmcv_range() -> CheckResult:
    """mmcv and mmengine lie in the ranges the installed mmseg accepts."""
    name = 'mmcv/mmengine in mmseg range'
    spec = importlib.util.find_spec('mmseg')
    if spec is None or spec.origin is None:
        return CheckResult(name, False, True, 'mmseg is not installed',
                           f'{PIP} install "mmsegmentation==1.2.2"')
    try:
        ranges = read_mmseg_ranges(spec.origin)
    except (OSError, ValueError) as e:
        return CheckResult(
            name, False, True, str(e), f'{PIP} install --force-reinstall '
            '"mmsegmentation==1.2.2"')
    found = {
        'mmcv': dist_version('mmcv', 'mmcv-full', 'mmcv-lite'),
        'mmengine': dist_version('mmengine', 'mmengine-lite'),
    }
    problems, parts = [], []
    for pkg, (low, high) in ranges.items():
        ver = found[pkg]
        parts.append(f'{pkg} {ver} (mmseg accepts >={low}, <{high})')
        if ver is None:
            problems.append(f'{pkg} is not installed')
        elif not version_in_range(ver, low, high):
            problems.append(f'{pkg} {ver} is outside >={low}, <{high}')
    if problems:
        return CheckResult(
            name, False, True, '; '.join(problems),
            f'{REINSTALL_MMCV_CMD}  (installs mmcv 2.1.0 and '
            'mmengine 0.10.7, the tested versions)')
    return CheckResult(name, True, True, '; '.join(parts))


def check_mmcv_ops() -> CheckResult:
    """mmcv's compiled extension ``mmcv._ext`` loads and runs an op.

    mmseg imports ``mmcv.ops`` unconditionally, so mmcv-lite (no ops) or an
    mmcv compiled against another torch cannot work.
    """
    name = 'mmcv ops compiled'
    if importlib.util.find_spec('mmcv') is None:
        return CheckResult(name, False, True, 'mmcv is not installed',
                           INSTALL_CMD)
    if importlib.util.find_spec('mmcv._ext') is None:
        return CheckResult(
            name, False, True,
            'mmcv has no compiled extension mmcv._ext (mmcv-lite or a build '
            'with MMCV_WITH_OPS=0); mmseg imports mmcv.ops unconditionally',
            REINSTALL_MMCV_CMD)
    try:
        import torch
        from mmcv.ops import nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                              [20., 20., 30., 30.]])
        scores = torch.tensor([0.9, 0.8, 0.7])
        # box 1 lies inside box 0 (IoU 81/100 > 0.5): it must be suppressed
        _, keep = nms(boxes, scores, iou_threshold=0.5)
        kept = sorted(int(i) for i in keep)
    except Exception as e:
        hint = ''
        if 'undefined symbol' in str(e):
            hint = ' (mmcv was compiled against a different torch)'
        elif 'numpy' in str(e).lower():
            hint = ' (mmcv was compiled against another numpy major version)'
        return CheckResult(name, False, True, f'{type(e).__name__}: {e}{hint}',
                           REINSTALL_MMCV_CMD)
    if kept != [0, 2]:
        return CheckResult(
            name, False, True,
            f'mmcv.ops.nms returned {kept} instead of [0, 2]: the compiled '
            'extension is broken', REINSTALL_MMCV_CMD)
    return CheckResult(
        name, True, True,
        'mmcv._ext loads and mmcv.ops.nms gives the expected '
        'result')


def check_numpy_vs_mmcv() -> CheckResult:
    """The installed numpy can run mmcv's compiled extension."""
    name = 'numpy vs mmcv build'
    try:
        import numpy as np
    except Exception as e:
        return CheckResult(name, False, True, f'numpy does not import: {e}',
                           f'{PIP} install "numpy>=2.0,<2.5"')
    spec = importlib.util.find_spec('mmcv._ext') if importlib.util.find_spec(
        'mmcv') else None
    if spec is None or spec.origin is None:
        return CheckResult(
            name, False, True,
            f'numpy {np.__version__}; mmcv._ext not found, so its numpy '
            'build cannot be checked', REINSTALL_MMCV_CMD)
    try:
        built = numpy_abi_of_library(spec.origin)
    except OSError as e:
        return CheckResult(name, False, True,
                           f'cannot read {spec.origin}: {e}',
                           REINSTALL_MMCV_CMD)
    return numpy_abi_result(np.__version__, built, spec.origin)


def numpy_abi_result(numpy_version: str, built: Optional[int],
                     library: str) -> CheckResult:
    """Judge the installed numpy against the numpy a library was built with.

    An extension built with numpy 1 headers cannot run on numpy 2; one built
    with numpy 2 headers runs on numpy 2 and on numpy >= 1.19 (numpy 2's
    default target of its C API).

    Args:
        numpy_version (str): Installed numpy version.
        built (int, optional): Major numpy version of the library's headers
            (:func:`numpy_abi_of_library`); None when it does not use numpy.
        library (str): Path of the library, for the message.

    Returns:
        CheckResult: The outcome.
    """
    name = 'numpy vs mmcv build'
    if built is None:
        return CheckResult(
            name, True, True,
            f'numpy {numpy_version}; mmcv._ext does not use numpy\'s C API, '
            'so it works with any numpy')
    installed = version_tuple(numpy_version)
    if built == 1 and installed >= version_tuple('2'):
        return CheckResult(
            name, False, True,
            f'{library} was compiled against numpy 1.x but numpy '
            f'{numpy_version} is installed: it crashes on import',
            f'{REINSTALL_MMCV_CMD}  (builds mmcv against the installed '
            f'numpy), or {PIP} install "numpy<2"')
    if built == 2 and installed < version_tuple('1.19'):
        return CheckResult(
            name, False, True,
            f'{library} was compiled against numpy 2.x, which needs numpy '
            f'>= 1.19 at run time; numpy {numpy_version} is installed',
            f'{PIP} install "numpy>=2.0,<2.5"')
    return CheckResult(
        name, True, True,
        f'numpy {numpy_version}; mmcv._ext built with numpy {built}.x '
        'headers')


def check_transformers() -> CheckResult:
    """transformers >= 5 breaks ``import mmpretrain.models`` (BLIP code)."""
    return transformers_result(
        dist_version('transformers'), dist_version('mmpretrain'))


def transformers_result(transformers: Optional[str],
                        mmpretrain: Optional[str]) -> CheckResult:
    """Judge a transformers/mmpretrain version pair.

    Args:
        transformers (str or None): Installed transformers version, None
            when it is not installed.
        mmpretrain (str or None): Installed mmpretrain version, None when it
            is not installed.

    Returns:
        CheckResult: Failed when transformers >= 5 sits next to mmpretrain
        1.x, passed otherwise (transformers 4.50-4.x passes with a note).
    """
    name = 'transformers vs mmpretrain'
    if transformers is None:
        return CheckResult(
            name, True, True, 'transformers not installed (mmcd_ext does not '
            'need it)')
    if mmpretrain is None:
        return CheckResult(
            name, True, True, f'transformers {transformers}; mmpretrain not '
            'installed')
    if version_tuple(transformers) >= version_tuple('5'):
        return CheckResult(
            name, False, True,
            f'transformers {transformers} with mmpretrain {mmpretrain}: '
            'import mmpretrain.models fails in its BLIP code (TypeError: '
            'NoneType takes no arguments)',
            f'{PIP} install "transformers<4.50"  (or {PIP} uninstall -y '
            'transformers if nothing else needs it; peft pulls it in)')
    note = ''
    if version_tuple(transformers) >= version_tuple('4.50'):
        note = ' (untested; transformers<4.50 is known to work)'
    return CheckResult(
        name, True, True, f'transformers {transformers} with mmpretrain '
        f'{mmpretrain}{note}')


def _fake_runner_checkpoint() -> dict:
    """A checkpoint dict shaped like the ones mmengine's Runner saves."""
    import numpy as np
    import torch
    from mmengine.logging import HistoryBuffer

    loss = HistoryBuffer()
    loss.update(0.5)
    loss.update(0.25)
    return dict(
        meta=dict(
            epoch=1,
            iter=np.int64(2),
            seed=np.int64(0),
            best_score=np.float64(0.5),
            hist=np.arange(3, dtype=np.int32)),
        state_dict={'conv.weight': torch.ones(1, 1, 1, 1)},
        message_hub=dict(
            log_scalars={'train/loss': loss},
            runtime_info={'iter': 2},
            resumed_keys={'iter': True}))


def check_checkpoint_loading(import_plugin: bool = True) -> CheckResult:
    """torch.load with ``weights_only`` reads a Runner-style checkpoint.

    The checkpoint holds an mmengine ``HistoryBuffer`` and numpy scalars and
    arrays. It is saved to a temporary file and read back both with
    ``torch.load`` (default arguments) and with mmengine's
    ``_load_checkpoint`` (what ``resume``/``load_from`` use).

    Args:
        import_plugin (bool): Import mmcd_ext first, which allow-lists those
            types. False shows what happens without it. Defaults to True.

    Returns:
        CheckResult: The outcome.
    """
    name = 'weights_only checkpoint load'
    try:
        import torch
        from mmengine.runner.checkpoint import _load_checkpoint
        if import_plugin:
            import mmcd_ext  # noqa: F401  (allow-lists the Runner types)
    except Exception as e:
        return CheckResult(
            name, False, True, f'cannot import what the check needs: '
            f'{type(e).__name__}: {e}', INSTALL_CMD)
    torch_version = torch.__version__
    try:
        ckpt = _fake_runner_checkpoint()
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'runner_style.pth')
            torch.save(ckpt, path)
            plain = torch.load(path, map_location='cpu')
            via_mmengine = _load_checkpoint(
                path, map_location='cpu', logger='silent')
        for loaded in (plain, via_mmengine):
            buf = loaded['message_hub']['log_scalars']['train/loss']
            if (int(loaded['meta']['iter']) != 2
                    or abs(buf.mean() - 0.375) > 1e-12):
                raise ValueError('checkpoint content changed on reload')
    except Exception as e:
        lines = str(e).strip().splitlines() or ['']
        # torch's message is long; its most useful line names the type
        detail = next(
            (ln.strip() for ln in lines if 'Unsupported global' in ln),
            lines[0].strip())
        msg = f'torch {torch_version}: {type(e).__name__}: {detail}'
        fix = ('add the types to torch\'s allow-list: import mmcd_ext '
               'before loading (configs do it via custom_imports); if '
               f'mmcd_ext is missing: {PIP} install '
               f'--no-deps -e {REPO_ROOT}')
        return CheckResult(name, False, True, msg, fix)
    default = 'weights_only=True by default' if version_tuple(
        torch_version) >= version_tuple('2.6') else \
        'torch < 2.6 loads full pickles by default'
    return CheckResult(
        name, True, True,
        f'torch {torch_version} ({default}) loads a checkpoint with '
        'HistoryBuffer and numpy scalars, directly and via mmengine')


def check_weights_only_still_strict() -> CheckResult:
    """Arbitrary pickled objects are still refused by ``torch.load``.

    Optional: a failure means ``weights_only`` is off (e.g.
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set), which is unsafe but does
    not stop mmcd_ext from working.
    """
    name = 'weights_only still strict'
    try:
        import torch
    except Exception as e:
        return CheckResult(name, False, False, f'torch missing: {e}',
                           INSTALL_CMD)
    if version_tuple(torch.__version__) < version_tuple('2.6'):
        return CheckResult(
            name, True, False,
            f'torch {torch.__version__} predates weights_only'
            ' by default; nothing to check')
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'foreign.pth')
        # argparse.Namespace: importable anywhere, allow-listed nowhere
        torch.save({'obj': argparse.Namespace(payload=1)}, path)
        try:
            torch.load(path, map_location='cpu')
        except Exception:
            return CheckResult(
                name, True, False,
                'a checkpoint with a foreign pickled object is refused')
    return CheckResult(
        name, False, False,
        'torch.load accepted an arbitrary pickled object: weights_only is '
        'disabled (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='
        f'{os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")!r})',
        'unset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')


# --------------------------------------------------------------------------
# Versions and the whole run
# --------------------------------------------------------------------------


def collect_versions() -> Dict[str, object]:
    """Versions of the stack and a few facts about torch.

    Returns:
        dict: Name to version string, or None for a missing package; plus
        ``torch_cuda_available``, ``torch_cuda`` and ``torch_num_threads``.
    """
    versions: Dict[str, object] = {
        'python': platform.python_version(),
        'python_executable': sys.executable,
    }
    try:
        import torch
        versions['torch'] = torch.__version__
        versions['torch_cuda_available'] = torch.cuda.is_available()
        versions['torch_cuda'] = torch.version.cuda
        versions['torch_num_threads'] = torch.get_num_threads()
    except Exception as e:
        versions['torch'] = None
        versions['torch_error'] = f'{type(e).__name__}: {e}'
    dists = {
        'torchvision': ('torchvision', ),
        'mmengine': ('mmengine', 'mmengine-lite'),
        'mmcv': ('mmcv', 'mmcv-full', 'mmcv-lite'),
        'mmseg': ('mmsegmentation', ),
        'mmpretrain': ('mmpretrain', ),
        'segment_anything': ('segment-anything', 'segment_anything'),
        'numpy': ('numpy', ),
        'transformers': ('transformers', ),
        'rasterio': ('rasterio', ),
    }
    for key, names in dists.items():
        versions[key] = dist_version(*names)
    mmcv_spec = importlib.util.find_spec('mmcv') if versions['mmcv'] else None
    versions['mmcv_ops_compiled'] = bool(
        mmcv_spec and importlib.util.find_spec('mmcv._ext') is not None)
    try:
        import cv2
        versions['cv2'] = cv2.__version__
    except Exception:
        versions['cv2'] = None
    try:
        import mmcd_ext
        versions['mmcd_ext'] = mmcd_ext.__version__
    except Exception:
        versions['mmcd_ext'] = dist_version('mmcd_ext', 'mmcd-ext')
    return versions


def run_checks() -> List[CheckResult]:
    """Run every check in dependency order.

    Returns:
        list[CheckResult]: One result per check.
    """
    checks: List[Callable[[], CheckResult]] = [
        check_python,
        lambda: check_import('torch', fix=f'{PIP} install "torch==2.14.1"'),
        lambda: check_import(
            'cv2', fix=f'{PIP} install "opencv-python>=4.8,<5"'),
        check_mmcv_range,
        check_mmcv_ops,
        check_numpy_vs_mmcv,
        lambda: check_import('mmseg.models', fix=REINSTALL_MMCV_CMD),
        check_transformers,
        lambda: check_import(
            'mmpretrain.models',
            fix=f'{PIP} install "mmpretrain==1.2.0"; if the error mentions '
            f'transformers: {PIP} install "transformers<4.50"'),
        lambda: check_import(
            'mmcd_ext',
            fix=f'{PIP} install --no-deps -e '
            f'{REPO_ROOT}  (or {INSTALL_CMD})'),
        check_checkpoint_loading,
        check_weights_only_still_strict,
        lambda: check_import(
            'segment_anything',
            required=False,
            fix=f'{PIP} install "segment-anything==1.0"  (numerical '
            'reference for the TTP encoder tests)'),
        lambda: check_optional('rasterio', 'large-scene GeoTIFF inference',
                               f'{PIP} install -e "{REPO_ROOT}[geo]"'),
    ]
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as e:  # a bug in a check must not hide the others
            results.append(
                CheckResult(
                    getattr(check, '__name__', 'check'), False, True,
                    f'the check itself crashed: {type(e).__name__}: '
                    f'{e}', 'report this as a bug in check_env.py'))
    return results


def check_env() -> EnvReport:
    """Collect versions and run every check, timing the whole run.

    Returns:
        EnvReport: The report.
    """
    start = time.perf_counter()
    report = EnvReport()
    report.checks = run_checks()
    report.versions = collect_versions()
    report.seconds = time.perf_counter() - start
    return report


def format_report(report: EnvReport) -> str:
    """Human-readable text of a report.

    Args:
        report (EnvReport): The report.

    Returns:
        str: Versions, then one line per check with the fix under each
        failure, then a summary line.
    """
    v = report.versions
    lines = ['mmcd_ext environment check', '=' * 26, 'Versions:']
    rows = [('Python', f'{v.get("python")} ({v.get("python_executable")})')]
    if v.get('torch'):
        rows.append(('torch', f'{v["torch"]} (CUDA available: '
                     f'{v.get("torch_cuda_available")}, CUDA build: '
                     f'{v.get("torch_cuda")}, threads: '
                     f'{v.get("torch_num_threads")})'))
    else:
        rows.append(('torch', f'not importable ({v.get("torch_error")})'))
    for key in ('torchvision', 'mmengine', 'mmcv', 'mmseg', 'mmpretrain',
                'segment_anything', 'numpy', 'cv2', 'transformers', 'rasterio',
                'mmcd_ext'):
        val = v.get(key) or 'not installed'
        if key == 'mmcv' and v.get(key):
            ops = 'compiled' if v.get('mmcv_ops_compiled') else 'MISSING'
            val = f'{val} (ops: {ops})'
        rows.append((key, val))
    width = max(len(r[0]) for r in rows)
    lines += [f'  {k:<{width}}  {val}' for k, val in rows]
    lines.append('Checks:')
    width = max(len(c.name) for c in report.checks)
    for c in report.checks:
        tag = 'OK' if c.ok else ('FAIL' if c.required else 'WARN')
        lines.append(f'  [{tag:^4}] {c.name:<{width}}  {c.message}')
        if not c.ok and c.fix:
            lines.append(f'  {"":6} {"":<{width}}  fix: {c.fix}')
    n_fail = sum(not c.ok and c.required for c in report.checks)
    n_warn = sum(not c.ok and not c.required for c in report.checks)
    n_ok = sum(c.ok for c in report.checks)
    verdict = 'environment OK' if report.ok else 'environment NOT usable'
    lines.append(f'{verdict}: {n_ok} passed, {n_fail} failed, {n_warn} '
                 f'warning(s) in {report.seconds:.1f} s')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: ``json``.
    """
    parser = argparse.ArgumentParser(
        description='Check the mmcd_ext environment; exit code 1 when a '
        'required check fails.')
    parser.add_argument(
        '--json',
        action='store_true',
        help='print a JSON report instead of text')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the check and print the report.

    Args:
        argv (list[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        int: 0 when every required check passed, 1 otherwise.
    """
    args = parse_args(argv)
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)  # mmcd_ext found without installing
    if args.json:
        # keep stdout pure JSON: anything the imports print goes to stderr
        with contextlib.redirect_stdout(io.StringIO()) as noise:
            report = check_env()
        if noise.getvalue():
            sys.stderr.write(noise.getvalue())
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        report = check_env()
        print(format_report(report))
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())
