"""Config conveniences shared by the command-line tools."""
from typing import Optional

from mmengine.config import Config

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
