"""Config variables that other keys copy at parse time: propagate or fail.

mmengine substitutes a config variable where a file uses it, when that file
is read. A dataset base's ``data_root`` is copied into every dataloader, its
``crop_size`` into the ``RandomCrop`` step; a method config copies
``crop_size`` into the sliding-window ``model.test_cfg.crop_size`` and
FrNet's Hopfield ``feat_size`` (crop / 32). A child config or
``--cfg-options`` that sets only the variable would change nothing else.

:func:`reconcile_config` runs wherever mmcd_ext reads a config
(:func:`mmcd_ext.utils.config_utils.read_config`, i.e. ``tools/train.py``,
``tools/test.py``, ``tools/misc/print_config.py`` and
:func:`mmcd_ext.apis.init_model`). It replays the inheritance chain one
file at a time (and ``--cfg-options`` as a last layer) and compares each
layer with the layer below it:

* a dependent key the layer did not set, while the layer changed the
  variable, is a lost override: it is rewritten from the variable
  (sliding-window stride scaled with the window; Hopfield ``feat_size`` =
  crop / stride of the deep feature) and logged;
* a size key that still disagrees with the variable afterwards (set
  explicitly to another value, or no exact rewrite exists, e.g. a crop not
  divisible by 32 for FrNet) raises one ``ValueError`` naming every key to
  change and its expected value. A dataloader's ``data_root`` set
  explicitly to another root is kept (testing on another data set).
"""
import ast
import copy
import os.path as osp
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Output stride of VGGEncoder's deep feature, by ``deep_level``.
VGG_DEEP_STRIDE = {'pool5': 32, 'relu5_3': 16}
_MISSING = object()
Path = Tuple[Any, ...]


class Dependent:
    """A key whose value derives from a config variable.

    Args:
        path (tuple): Keys / list indices from the config root.
        expected (Callable): ``expected(variable, old_value, old_variable)``
            returning the value the key should hold, or None when no exact
            value exists.
        check (Callable): ``check(value, variable)`` -> True when fine.
        hint (str): How the value follows from the variable, for errors.
    """

    def __init__(self, path: Path, expected: Callable, check: Callable,
                 hint: str) -> None:
        self.path = path
        self.expected = expected
        self.check = check
        self.hint = hint

    @property
    def key(self) -> str:
        return key_name(self.path)


def key_name(path: Path) -> str:
    """``('a', 0, 'b')`` -> ``'a[0].b'``."""
    out = ''
    for part in path:
        if isinstance(part, int):
            out += f'[{part}]'
        else:
            out += ('.' if out else '') + str(part)
    return out


def get_path(node: Any, path: Path, default: Any = _MISSING) -> Any:
    """The value at ``path`` or ``default``."""
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def set_path(node: Any, path: Path, value: Any) -> None:
    """Write ``value`` at ``path`` (every parent exists)."""
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def as_pair(value: Any) -> Optional[Tuple[int, int]]:
    """``512`` / ``[512, 512]`` / ``(512, 512)`` -> ``(512, 512)``."""
    if value is None or value is _MISSING:
        return None
    if isinstance(value, (int, float)):
        return (int(value), int(value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    return None


def _same(a: Any, b: Any) -> bool:
    pa, pb = as_pair(a), as_pair(b)
    if pa is not None and pb is not None:
        return pa == pb
    return a == b


# ----------------------------------------------------------------- rules
def _dataset_paths(cfg: Any) -> List[Path]:
    paths = []
    for name in LOADERS:
        dataset = get_path(cfg, (name, 'dataset'), None)
        if not isinstance(dataset, dict):
            continue
        if isinstance(dataset.get('datasets'), list):
            paths += [(name, 'dataset', 'datasets', i)
                      for i in range(len(dataset['datasets']))]
        elif isinstance(dataset.get('dataset'), dict):
            paths.append((name, 'dataset', 'dataset'))
        else:
            paths.append((name, 'dataset'))
    return paths


def data_root_dependents(cfg: Any) -> List[Dependent]:
    """Every dataloader's ``data_root``: propagated only (a loader set
    explicitly to another root, e.g. testing on another data set, is
    kept)."""
    return [
        Dependent(p + ('data_root', ), lambda v, old, old_v: v,
                  lambda value, v: True, 'the same path')
        for p in _dataset_paths(cfg)
        if get_path(cfg, p + ('data_root', ), None) is not None
    ]


def _scaled_stride(crop, old_stride, old_crop):
    crop, old_stride, old_crop = (as_pair(crop), as_pair(old_stride),
                                  as_pair(old_crop))
    if None in (crop, old_stride):
        return None
    if old_crop is None:
        return tuple(max(1, c // 2) for c in crop)
    return tuple(
        max(1, min(c, round(s * c / o)))
        for c, s, o in zip(crop, old_stride, old_crop))


def _hopfield_expected(stride: int):

    def expected(crop, old, old_crop):
        crop = as_pair(crop)
        if crop is None or crop[0] % stride or crop[1] % stride:
            return None  # no exact value: the check names the keys
        return (crop[0] // stride, crop[1] // stride)

    return expected


def crop_size_dependents(cfg: Any) -> List[Dependent]:
    """The training crop, the sliding window (and its stride) and FrNet's
    Hopfield ``feat_size``."""
    deps = []
    pipeline = get_path(cfg, ('train_dataloader', 'dataset', 'pipeline'), [])
    for i, step in enumerate(pipeline or []):
        if isinstance(step, dict) and step.get('type') == 'RandomCrop' \
                and 'crop_size' in step:
            deps.append(
                Dependent(('train_dataloader', 'dataset', 'pipeline', i,
                           'crop_size'), lambda v, old, old_v: as_pair(v),
                          lambda value, v: _same(value, v), 'crop_size'))
    test_cfg = get_path(cfg, ('model', 'test_cfg'), None)
    if isinstance(test_cfg, dict) and test_cfg.get('mode') == 'slide':
        deps.append(
            Dependent(('model', 'test_cfg', 'crop_size'),
                      lambda v, old, old_v: as_pair(v),
                      lambda value, v: _same(value, v), 'crop_size'))
        deps.append(
            Dependent(('model', 'test_cfg', 'stride'),
                      lambda v, old, old_v: _scaled_stride(v, old, old_v),
                      lambda value, v: as_pair(value) is not None and all(
                          0 < s <= c
                          for s, c in zip(as_pair(value), as_pair(v))),
                      'at most crop_size (the windows must cover the image)'))
    neck = get_path(cfg, ('model', 'neck'), None)
    hopfield = get_path(neck, ('hopfield', ), None)
    if isinstance(neck, dict) and neck.get('use_hopfield', True) and \
            isinstance(hopfield, dict) and 'feat_size' in hopfield:
        level = get_path(cfg, ('model', 'backbone', 'deep_level'), 'pool5')
        stride = VGG_DEEP_STRIDE.get(level, 32)
        expected = _hopfield_expected(stride)
        deps.append(
            Dependent(('model', 'neck', 'hopfield', 'feat_size'),
                      expected,
                      lambda value, v, e=expected: e(v, None, None) is not None
                      and _same(value, e(v, None, None)),
                      f'crop_size // {stride} (the backbone\'s {level} '
                      f'stride; crop_size must be a multiple of {stride})'))
    return deps


#: variable -> function listing its dependents in a config
VARIABLES: Dict[str, Callable[[Any], List[Dependent]]] = {
    'data_root': data_root_dependents,
    'crop_size': crop_size_dependents,
}

# ----------------------------------------------------------- reconciling
Layer = Tuple[dict, dict]  # (as mmengine read it, reconciled)


def reconcile_layer(new: Any,
                    bases: Sequence[Layer],
                    source: str,
                    raise_errors: bool = True) -> List[str]:
    """Propagate lost overrides of one layer and check the result.

    A dependent key comes from the base that holds its top-level key (bases
    of a ``_base_`` list hold disjoint keys). It was left alone by this
    layer when its value is still that base's; then it is rewritten from
    the variable if the variable differs from that base's (or that base has
    none: a model base's sliding window follows the dataset base's crop),
    else it keeps the base's reconciled value.

    Args:
        new: The layer's merged config (Config / dict); modified in place.
        bases (Sequence[tuple[dict, dict]]): ``(raw, reconciled)`` of each
            base (empty for a file without bases).
        source (str): The file (or ``--cfg-options``), for messages.
        raise_errors (bool): Raise on disagreement, else return the
            problems. Defaults to True.

    Returns:
        list[str]: The problems (empty when fine).

    Raises:
        ValueError: Keys disagreeing with their variable, all named.
    """
    logger = MMLogger.get_current_instance()
    problems = []
    for var, find in VARIABLES.items():
        value = get_path(new, (var, ), None)
        if value is None:
            continue
        for dep in find(new):
            current = get_path(new, dep.path)
            owner = next((b for b in bases if dep.path[0] in b[0]), None)
            if owner is not None and _same(current, get_path(
                    owner[0], dep.path)):
                fixed_before = get_path(owner[1], dep.path, current)
                old_value = get_path(owner[1], (var, ), None)
                target = fixed_before
                if old_value is None or not _same(value, old_value):
                    derived = dep.expected(value, fixed_before, old_value)
                    if derived is not None:
                        target = derived
                if not _same(target, current):
                    set_path(new, dep.path, _like(target, current))
                    logger.info(f'{source}: {var} = {value!r} propagated to '
                                f'{dep.key} = {target!r}')
            if not dep.check(get_path(new, dep.path), value):
                expected = dep.expected(value, get_path(new, dep.path), None)
                should = f'{expected!r}' if expected is not None else \
                    dep.hint
                problems.append(f'{dep.key} = {get_path(new, dep.path)!r} '
                                f'(should be {should} for {var} = '
                                f'{value!r})')
    if problems and raise_errors:
        raise ValueError(
            f'config {source}: size / path settings disagree with their '
            f'variable; change ' + '; '.join(problems))
    return problems


def _like(value: Any, current: Any) -> Any:
    """Keep the container kind (tuple / list) of the current value."""
    if isinstance(current, list) and isinstance(value, tuple):
        return list(value)
    return value


def base_files(path: str) -> List[str]:
    """The ``_base_`` files of a config (absolute), read without running it.

    Args:
        path (str): Config file.

    Returns:
        list[str]: Its bases in order (empty when none or not a literal).
    """
    with open(path, encoding='utf-8') as f:
        text = f.read()
    # mmengine's {{_base_.x}} placeholders are no Python: neutralise them
    tree = ast.parse(re.sub(r'\{\{[^{}]*\}\}', 'None', text), filename=path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return []
            bases = [bases] if isinstance(bases, str) else list(bases)
            return [
                osp.abspath(osp.join(osp.dirname(path), b)) for b in bases
                if isinstance(b, str) and not b.startswith('mmseg::')
                and '::' not in b
            ]
    return []


def reconciled_chain(path: str,
                     cache: Optional[dict] = None) -> Tuple[dict, dict]:
    """``(raw, fixed)`` plain dicts of a config file and its chain.

    Args:
        path (str): Config file.
        cache (dict, optional): Memo by absolute path. Defaults to None.

    Returns:
        tuple[dict, dict]: The config as mmengine reads it, and reconciled.
    """
    cache = {} if cache is None else cache
    path = osp.abspath(path)
    if path in cache:
        return cache[path]
    raw = Config.fromfile(path).to_dict()
    bases = [reconciled_chain(b, cache) for b in base_files(path)]
    fixed = copy.deepcopy(raw)
    reconcile_layer(fixed, bases, path)
    cache[path] = (raw, fixed)
    return raw, fixed


def reconcile_config(cfg: Config,
                     path: str,
                     cfg_options: Optional[dict] = None) -> Config:
    """Reconcile a loaded config (file chain, then ``--cfg-options``).

    Args:
        cfg (Config): ``Config.fromfile(path)``, options not yet merged;
            modified in place.
        path (str): Its file.
        cfg_options (dict, optional): ``--cfg-options`` to merge last.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: A dependent key disagreeing with its variable, named.
    """
    cache: dict = {}
    bases = [reconciled_chain(b, cache) for b in base_files(path)]
    reconcile_layer(cfg, bases, path)
    if cfg_options:
        before = copy.deepcopy(cfg.to_dict())
        cfg.merge_from_dict(with_init_cfg_parents(cfg, cfg_options))
        reconcile_layer(cfg, [(before, before)], '--cfg-options')
    return cfg


def with_init_cfg_parents(cfg: Config, cfg_options: dict) -> dict:
    """Let ``--cfg-options X.init_cfg.checkpoint=P`` work when ``X.init_cfg``
    is None: set it to ``dict(type='Pretrained')`` first (mmengine refuses
    to merge a dict into None).

    Args:
        cfg (Config): The config; modified in place.
        cfg_options (dict): Parsed options.

    Returns:
        dict: ``cfg_options``.
    """
    for key in cfg_options:
        if key.endswith('.init_cfg.checkpoint'):
            parent = tuple(key.split('.')[:-1])
            owner = get_path(cfg, parent[:-1], None)
            if isinstance(owner, dict) and owner.get('init_cfg') is None:
                owner['init_cfg'] = dict(type='Pretrained')
    return cfg_options
