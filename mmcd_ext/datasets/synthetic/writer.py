"""Writing a generated data set to disk (shared by both layouts)."""
import os
import os.path as osp
from typing import Callable, Dict, Optional, Tuple

from .common import (SPLITS, as_seed_sequence, check_counts, check_size,
                     prepare_out_dir, sample_name, sample_seed, split_items,
                     write_meta)


def _clear_layout(out_dir: str, folders: Tuple[str, ...]) -> None:
    """Delete a previous run's PNGs and meta.json (only files we write).

    Args:
        out_dir (str): Data-set root.
        folders (tuple[str, ...]): Sub-folders of each split.
    """
    meta = osp.join(out_dir, 'meta.json')
    if osp.isfile(meta):
        os.remove(meta)
    for split in SPLITS:
        for folder in folders:
            d = osp.join(out_dir, split, folder)
            if not osp.isdir(d):
                continue
            for name in os.listdir(d):
                if name.endswith('.png'):
                    os.remove(osp.join(d, name))


def write_dataset(out_dir: str, layout: str, folders: Tuple[str, ...],
                  counts: Dict[str, int], size: int, seed: int,
                  make_sample: Callable[..., Dict[str, object]],
                  write_sample: Callable[[str, str, Dict[str, object]],
                                         None],
                  meta: dict, overwrite: bool,
                  progress: Optional[Callable[[int, int], None]]) -> dict:
    """Shared writer of both layouts.

    ``meta.json`` is written last, so its presence means the data set is
    complete.

    Args:
        out_dir (str): Data-set root.
        layout (str): ``'levir'`` or ``'second'`` (part of the image seeds).
        folders (tuple[str, ...]): Sub-folders of each split.
        counts (dict[str, int]): Images per split.
        size (int): Image side.
        seed (int): Data-set seed.
        make_sample (Callable): ``make_sample(seed_sequence)`` returns a
            sample dict with an ``info`` entry.
        write_sample (Callable): ``write_sample(split_dir, name, sample)``.
        meta (dict): Parameters to store; ``samples`` is added.
        overwrite (bool): Allow a non-empty ``out_dir``.
        progress (Callable, optional): ``progress(done, total)``.

    Returns:
        dict: The content of ``meta.json``.
    """
    check_counts(counts)
    check_size(size)
    as_seed_sequence(seed)  # validate before touching the disk
    prepare_out_dir(out_dir, overwrite)
    _clear_layout(out_dir, folders)
    for split in SPLITS:
        for folder in folders:
            os.makedirs(osp.join(out_dir, split, folder), exist_ok=True)
    items = split_items(counts)
    samples: Dict[str, Dict[str, dict]] = {s: {} for s in SPLITS}
    for done, (split, index) in enumerate(items, 1):
        name = sample_name(split, index)
        sample = make_sample(sample_seed(seed, layout, split, index))
        write_sample(osp.join(out_dir, split), name, sample)
        samples[split][name] = sample['info']
        if progress is not None:
            progress(done, len(items))
    meta = dict(meta)
    meta['samples'] = samples
    write_meta(osp.join(out_dir, 'meta.json'), meta)
    return meta
