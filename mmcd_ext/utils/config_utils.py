"""Reading configs, for the command-line tools and
:func:`mmcd_ext.apis.init_model`."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from mmcd_ext.utils.config_checks import reconcile_config

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def propagate_data_root(cfg: Config, cfg_options: Optional[dict]) -> Config:
    """Make ``--cfg-options data_root=PATH`` reach every dataloader.

    Dataset base configs define ``data_root`` as a top-level variable that
    the dataloaders copy when the file is read, so overriding the variable
    alone would change nothing. When ``data_root`` is among the overrides it
    is written into the dataset of every dataloader (and into the datasets
    of a ``ConcatDataset``-style wrapper's ``datasets`` list).

    Args:
        cfg (Config): The merged config; modified in place.
        cfg_options (dict, optional): The parsed ``--cfg-options``.

    Returns:
        Config: ``cfg``.
    """
    if not cfg_options or 'data_root' not in cfg_options:
        return cfg
    root = cfg_options['data_root']
    for name in LOADERS:
        loader = cfg.get(name)
        if not loader or 'dataset' not in loader:
            continue
        dataset = loader['dataset']
        targets = dataset.get('datasets') or [dataset.get('dataset', dataset)]
        for target in targets:
            target['data_root'] = root
    return cfg


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None) -> Config:
    """Load a config the way ``tools/train.py`` and ``tools/test.py`` do.

    Applies ``--cfg-options`` (with :func:`propagate_data_root`) and sets
    ``work_dir``: the given one, else the config's, else
    ``./work_dirs/<config name>``, as mmseg's tools do.

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): Parsed ``--cfg-options``.
            Defaults to None.
        work_dir (str, optional): ``--work-dir``. Defaults to None.

    Returns:
        Config: The loaded config.
    """
    cfg = read_config(config, cfg_options)
    propagate_data_root(cfg, cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options``; reconcile the
    variables other keys copy (:mod:`mmcd_ext.utils.config_checks`).

    Args:
        path (str): Config file.
        cfg_options (dict, optional): Overrides in mmengine's dotted-key
            form. Defaults to None.

    Returns:
        Config: The resolved config.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        SyntaxError: If ``path`` (or a base it inherits) is no valid
            Python; the message names the file, which mmengine's does not.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as err:
        raise SyntaxError(f'config file {path} (or a _base_ file it '
                          f'inherits) is not valid Python: {err.msg} '
                          f'(line {err.lineno})') from err
    # variables copied at parse time (data_root, crop_size): propagate a
    # lost override of a child config or --cfg-options, or name the keys
    return reconcile_config(cfg, path, cfg_options)
