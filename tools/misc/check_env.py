"""Check that this Python environment can run mmcd_ext.

Prints mmengine's ``collect_env`` and the version of every package pinned in
``requirements/ci.txt`` (``-r`` followed), then runs the checks for the
problems seen with this stack, each failure with the command that fixes it.
Exit code 1 when a required check fails (optional ones only warn).
Usage: ``python tools/misc/check_env.py [--json] [--requirements FILE]``.
"""
import argparse
import contextlib
import importlib.metadata
import importlib.util
import io
import json
import mmap
import os
import os.path as osp
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Dict, List, Optional, Set

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CI_REQUIREMENTS = osp.join(REPO_ROOT, 'requirements', 'ci.txt')
PIP = f'{sys.executable} -m pip'
_SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'install_env.sh')
# install_env.sh returns at once while its stamp is current: remove it first.
INSTALL_CMD = (f'bash {_SCRIPT}  (creates {osp.join(REPO_ROOT, ".venv")})'
               if sys.prefix == sys.base_prefix else
               f'rm -f {osp.join(sys.prefix, ".mmcd_ext_stamp")} && '
               f'MMCD_VENV={sys.prefix} bash {_SCRIPT}')
REINSTALL_MMCV_CMD = f'{PIP} uninstall -y mmcv && {INSTALL_CMD}'
SKIP = ('PyTorch compiling details', 'numpy_random_seed')  # of collect_env
EXTRA = ['mmcv', 'transformers', 'mmcd_ext']  # reported besides the pins


@dataclass
class CheckResult:
    """Outcome of one check: its ``name``, whether it passed (``ok``),
    whether a failure is an error (``required``, exit code 1) or a warning,
    what was found (``message``) and the command that fixes it (``fix``)."""
    name: str
    ok: bool
    required: bool = True
    message: str = ''
    fix: str = ''


def dist_version(name: str) -> Optional[str]:
    """Installed version of distribution ``name`` (None when missing)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_requirements(path: str,
                      _seen: Optional[Set[str]] = None) -> Dict[str, str]:
    """Requirements of a pip file, ``-r`` followed, by canonical name, e.g.
    ``{'numpy': 'numpy>=2.0,<2.5'}``; skips comments, other options and
    unmatched markers. Raises OSError or ValueError (naming file:line).

    Args:
        path (str): The requirements file.
        _seen (set, optional): Files already read. Defaults to None.
    """
    seen, path, pins = _seen or set(), osp.abspath(path), {}
    if path in seen:
        return pins
    seen.add(path)
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    for num, raw in enumerate(lines, 1):
        line = re.sub(r'(^|\s)#.*', '', raw).strip()
        include = re.match(r'(-r|--requirement)(\s+|=)(\S+)$', line)
        if include:
            sub = osp.join(osp.dirname(path), include.group(3))
            pins.update(read_requirements(sub, seen))
        elif line and not line.startswith('-'):
            try:
                req = Requirement(line)
            except InvalidRequirement as e:
                raise ValueError(f'{path}:{num}: {line!r} is not a '
                                 f'requirement ({e})') from None
            if req.marker is None or req.marker.evaluate():
                pins[canonicalize_name(req.name)] = line
    return pins


def check_pins(pins: Dict[str, str], source: str) -> CheckResult:
    """Every pin (of :func:`read_requirements` on file ``source``) is met;
    the fix installs those that are not."""
    wrong = []
    for text in pins.values():
        req = Requirement(text)
        ver = dist_version(req.name)
        if ver is None or not req.specifier.contains(ver, prereleases=True):
            wrong.append((text, f'{req.name} {ver or "not installed"} '
                          f'(wants {req.specifier or "any version"})'))
    if not wrong:
        return CheckResult('requirements pins', True, True,
                           f'{len(pins)} packages match {source}')
    return CheckResult(
        'requirements pins', False, True,
        f'{source}: ' + '; '.join(msg for _, msg in wrong),
        f'{PIP} install ' + ' '.join(f'"{text}"' for text, _ in wrong))


def check_mmseg_range(pins: Dict[str, str]) -> CheckResult:
    """mmseg imports: its ``__init__`` asserts the mmcv/mmengine ranges."""
    name = 'mmcv/mmengine in mmseg range'
    try:
        import mmseg
    except AssertionError as e:  # mmseg's message names only one bound
        found = ', '.join(f'{p} {dist_version(p)}'
                          for p in ('mmcv', 'mmengine'))
        return CheckResult(
            name, False, True, f'{found}: {e}', f'{PIP} install '
            f'"{pins.get("mmengine", "mmengine")}" && {REINSTALL_MMCV_CMD}')
    except ImportError as e:  # mmseg itself missing, or mmcv/mmengine
        pin = pins.get('mmsegmentation', 'mmsegmentation')
        fix = f'{PIP} install "{pin}"' if e.name == 'mmseg' else INSTALL_CMD
        return CheckResult(name, False, True, f'{type(e).__name__}: {e}', fix)
    return CheckResult(
        name, True, True, f'mmcv {dist_version("mmcv")} in [{mmseg.MMCV_MIN}, '
        f'{mmseg.MMCV_MAX}), mmengine {dist_version("mmengine")} in '
        f'[{mmseg.MMENGINE_MIN}, {mmseg.MMENGINE_MAX})')


def check_mmcv_ops() -> CheckResult:
    """mmcv's compiled ops load and ``mmcv.ops.nms`` keeps the right boxes
    (mmseg imports ``mmcv.ops`` unconditionally: mmcv-lite cannot work)."""
    name = 'mmcv ops compiled'
    try:
        import torch
        from mmcv.ops import nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                              [20., 20., 30., 30.]])
        # box 1 lies inside box 0 (IoU 0.81 > 0.5): it must be suppressed
        _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
        kept = sorted(int(i) for i in keep)
    except Exception as e:
        hint = ' (mmcv was compiled against a different torch)' \
            if 'undefined symbol' in str(e) else \
            ' (mmcv-lite or built without ops?)' if '_ext' in str(e) else ''
        return CheckResult(name, False, True, f'{type(e).__name__}: {e}{hint}',
                           REINSTALL_MMCV_CMD)
    if kept != [0, 2]:
        return CheckResult(
            name, False, True, f'mmcv.ops.nms kept boxes {kept} instead of '
            '[0, 2]: the compiled extension is broken', REINSTALL_MMCV_CMD)
    return CheckResult(name, True, True, 'mmcv.ops.nms keeps the right boxes')


def numpy_abi_of_library(path: str) -> Optional[int]:
    """Major numpy version (1 or 2) whose C-API headers built a library (2
    import ``numpy._core._multiarray_umath``, 1 only ``numpy.core...``);
    None when the library does not use numpy's C API."""
    with open(path, 'rb') as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data.find(b'numpy._core._multiarray_umath') >= 0:
                return 2
            found = data.find(b'numpy.core._multiarray_umath') >= 0
            return 1 if found else None


def check_numpy_vs_mmcv(numpy_pin: str = 'numpy',
                        numpy_version: Optional[str] = None,
                        library: Optional[str] = None) -> CheckResult:
    """The installed numpy can run mmcv's compiled extension: a numpy-1
    build crashes on numpy 2; a numpy-2 build needs numpy >= 1.19.

    Args:
        numpy_pin (str): numpy's pin, for the fix. Defaults to 'numpy'.
        numpy_version (str, optional): Defaults to the installed numpy's.
        library (str, optional): Defaults to mmcv's ``_ext`` library.
    """
    name = 'numpy vs mmcv build'
    if library is None:
        spec = importlib.util.find_spec('mmcv._ext') \
            if importlib.util.find_spec('mmcv') else None
        if spec is None or spec.origin is None:
            return CheckResult(name, False, True, 'mmcv._ext not found',
                               REINSTALL_MMCV_CMD)
        library = spec.origin
    if numpy_version is None:
        import numpy as np
        numpy_version = np.__version__
    built, installed = numpy_abi_of_library(library), Version(numpy_version)
    if built == 1 and installed >= Version('2'):
        return CheckResult(
            name, False, True, f'{library} was compiled against numpy 1.x but '
            f'numpy {numpy_version} is installed: it crashes on import',
            f'{REINSTALL_MMCV_CMD}  (builds mmcv against the installed '
            f'numpy), or {PIP} install "numpy<2"')
    if built == 2 and installed < Version('1.19'):
        return CheckResult(
            name, False, True, f'{library} was compiled against numpy 2.x, '
            f'which needs numpy >= 1.19; numpy {numpy_version} is installed',
            f'{PIP} install "{numpy_pin}"')
    how = 'does not use numpy\'s C API' if built is None else \
        f'was built with numpy {built}.x headers'
    return CheckResult(name, True, True,
                       f'numpy {numpy_version}; mmcv._ext {how}')


def transformers_result(transformers: Optional[str],
                        mmpretrain: Optional[str]) -> CheckResult:
    """Fails for transformers >= 5 next to mmpretrain 1.x (its BLIP import
    breaks); 4.50-4.x passes with a note. None means not installed."""
    name = 'transformers vs mmpretrain'
    if transformers is None or mmpretrain is None:
        missing = 'transformers' if transformers is None else 'mmpretrain'
        return CheckResult(name, True, True, f'{missing} not installed')
    if Version(transformers) >= Version('5'):
        return CheckResult(
            name, False, True, f'transformers {transformers} with mmpretrain '
            f'{mmpretrain}: import mmpretrain.models fails in its BLIP code '
            '(TypeError: NoneType takes no arguments)',
            f'{PIP} install "transformers<4.50"  (or {PIP} uninstall -y '
            'transformers if nothing else needs it; peft pulls it in)')
    note = ' (untested; <4.50 is known to work)' \
        if Version(transformers) >= Version('4.50') else ''
    return CheckResult(
        name, True, True,
        f'transformers {transformers} with mmpretrain {mmpretrain}{note}')


def check_checkpoint_loading(import_plugin: bool = True) -> CheckResult:
    """torch.load and mmengine's ``_load_checkpoint`` read a Runner-style
    checkpoint (a ``HistoryBuffer``, numpy scalars and arrays).

    Args:
        import_plugin (bool): Import mmcd_ext first, which allow-lists those
            types for ``weights_only``. Defaults to True.
    """
    name = 'weights_only checkpoint load'
    fix = ('import mmcd_ext before loading (configs: custom_imports); if it '
           f'is missing: {PIP} install --no-deps -e {REPO_ROOT}')
    try:
        import numpy as np
        import torch
        from mmengine.logging import HistoryBuffer
        from mmengine.runner.checkpoint import _load_checkpoint
        if import_plugin:
            import mmcd_ext  # noqa: F401  (allow-lists the Runner's types)
        loss = HistoryBuffer([0.5, 0.25], [1, 1])
        ckpt = dict(
            meta=dict(iter=np.int64(2), hist=np.arange(3, dtype=np.int32)),
            state_dict={'w': torch.ones(1)},
            message_hub=dict(log_scalars={'train/loss': loss}))
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'runner_style.pth')
            torch.save(ckpt, path)
            for ck in (torch.load(path),
                       _load_checkpoint(path, logger='silent')):
                buf = ck['message_hub']['log_scalars']['train/loss']
                if int(ck['meta']['iter']) != 2 or buf.mean() != 0.375:
                    raise ValueError('checkpoint content changed on reload')
    except Exception as e:
        lines = str(e).strip().splitlines() or ['']
        # torch's message is long; its useful line names the refused type
        detail = next((ln for ln in lines if 'Unsupported global' in ln),
                      lines[0])
        return CheckResult(name, False, True,
                           f'{type(e).__name__}: {detail.strip()}', fix)
    return CheckResult(
        name, True, True, f'torch {torch.__version__} loads a checkpoint '
        'with HistoryBuffer and numpy values, directly and via mmengine')


def check_weights_only_still_strict() -> CheckResult:
    """``torch.load`` still refuses a foreign pickled object (optional)."""
    import torch
    name = 'weights_only still strict'
    if Version(torch.__version__) < Version('2.6'):
        return CheckResult(name, True, False, 'torch < 2.6: no weights_only')
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'foreign.pth')
        # argparse.Namespace: importable anywhere, allow-listed nowhere
        torch.save({'obj': argparse.Namespace(payload=1)}, path)
        try:
            torch.load(path, map_location='cpu')
        except Exception:
            return CheckResult(name, True, False,
                               'a foreign pickle is refused')
    var = os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    return CheckResult(
        name, False, False, 'torch.load accepted an arbitrary pickled '
        f'object (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD={var!r})',
        'unset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')


def check_rasterio(module: str = 'rasterio') -> CheckResult:
    """The optional rasterio (GeoTIFF scene inference) imports; a warning
    if not. ``module`` (default 'rasterio') is the module imported."""
    name, fix = 'optional rasterio', f'{PIP} install -e "{REPO_ROOT}[geo]"'
    if importlib.util.find_spec(module) is None:
        return CheckResult(
            name, False, False, f'{module} not installed; only'
            ' needed for large-scene GeoTIFF inference', fix)
    try:
        version = importlib.import_module(module).__version__
    except Exception as e:
        return CheckResult(name, False, False, f'{type(e).__name__}: {e}', fix)
    return CheckResult(name, True, False, f'{module} {version} imports')


def check_env(requirements: str = CI_REQUIREMENTS) -> dict:
    """Run every check against the pins of ``requirements``; return
    ``ok``, ``seconds``, ``env`` (mmengine's ``collect_env``), ``versions``
    (pins and ``EXTRA``) and ``checks`` (:class:`CheckResult` dicts)."""
    start = time.perf_counter()
    try:
        pins = read_requirements(requirements)
        checks = [check_pins(pins, requirements)]
    except (OSError, ValueError) as e:
        pins, checks = {}, [
            CheckResult('requirements pins', False, True, str(e),
                        f'fix {requirements} or pass --requirements FILE')
        ]
    names = [Requirement(t).name for t in pins.values()] + EXTRA
    versions = {n: dist_version(n) for n in names}
    for run in (partial(check_mmseg_range, pins), check_mmcv_ops,
                partial(check_numpy_vs_mmcv, pins.get('numpy', 'numpy')),
                partial(transformers_result, versions['transformers'],
                        dist_version('mmpretrain')), check_checkpoint_loading,
                check_weights_only_still_strict, check_rasterio):
        try:
            checks.append(run())
        except Exception as e:  # a crash in one check must not hide others
            what = getattr(run, 'func', run).__name__
            checks.append(
                CheckResult(what, False, True, f'crashed: '
                            f'{type(e).__name__}: {e}', INSTALL_CMD))
    try:
        from mmengine.utils.dl_utils import collect_env
        env = {k: str(v) for k, v in collect_env().items() if k not in SKIP}
    except Exception as e:
        env = {'collect_env': f'failed: {type(e).__name__}: {e}'}
    ok = all(c.ok for c in checks if c.required)
    seconds = round(time.perf_counter() - start, 3)
    checks = [asdict(c) for c in checks]
    return dict(
        ok=ok, seconds=seconds, env=env, versions=versions, checks=checks)


def format_report(report: dict) -> str:
    """Human-readable text of a :func:`check_env` report."""
    lines = ['mmcd_ext environment check', '=' * 26, 'Environment:']
    lines += [f'  {k}: {v}' for k, v in report['env'].items()]
    lines.append('Versions:')
    for k, v in report['versions'].items():
        lines.append(f'  {k}: {v or "not installed"}')
    lines.append('Checks:')
    checks = [CheckResult(**c) for c in report['checks']]
    width = max((len(c.name) for c in checks), default=0)
    for c in checks:
        tag = 'OK' if c.ok else ('FAIL' if c.required else 'WARN')
        lines.append(f'  [{tag:^4}] {c.name:<{width}}  {c.message}')
        if not c.ok and c.fix:
            lines.append(f'  {"":6} {"":<{width}}  fix: {c.fix}')
    n_fail = sum(not c.ok and c.required for c in checks)
    n_warn = sum(not c.ok and not c.required for c in checks)
    verdict = 'environment OK' if report['ok'] else 'environment NOT usable'
    lines.append(f'{verdict}: {sum(c.ok for c in checks)} passed, {n_fail} '
                 f'failed, {n_warn} warning(s) in {report["seconds"]:.1f} s')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the report; return 0 if every required check passed, else 1.
    ``argv`` None reads ``sys.argv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', action='store_true', help='print JSON')
    parser.add_argument(
        '--requirements',
        default=CI_REQUIREMENTS,
        help='pins to check (-r followed); default requirements/ci.txt')
    args = parser.parse_args(argv)
    # with --json stdout is pure JSON: what the imports print goes to stderr
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise if args.json else sys.stdout):
        report = check_env(args.requirements)
    sys.stderr.write(noise.getvalue())
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
