"""Writing a generated data set to disk (shared by both layouts).

Every file is written atomically. ``meta.json`` is written last and marks a
complete data set; while a run is under way the hidden file
``.unfinished`` marks the folder as its own, so a run that stopped half-way
(an error, Ctrl-C, a kill) is written again by the next run without
``overwrite``, while any other non-empty folder is still refused.
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Type

import numpy as np

from mmcd_ext.utils.atomic_files import write_text
from .common import (SPLITS, JsonParamsMixin, as_seed_sequence, check_counts,
                     check_size, prepare_out_dir, sample_name, sample_seed,
                     split_items, write_meta, write_png)
from .pseudo_changes import PseudoChangeParams

#: Hidden marker of a run under way, deleted once ``meta.json`` is written.
UNFINISHED = '.unfinished'


@dataclass(frozen=True)
class Layout:
    """What differs between the written layouts (LEVIR-like, SECOND-like).

    Args:
        name (str): ``'levir'`` or ``'second'`` (part of the image seeds and
            of ``meta.json``).
        generator (str): Dotted name of the public generator, stored in
            ``meta.json``.
        version (int): Version of the scene design, stored in
            ``meta.json``.
        folders (tuple[str, ...]): Sub-folders of each split.
        scene_params (type): Class of the layout's scene parameters, built
            with its defaults when no parameters are given.
        make_sample (Callable): ``make_sample(seed, size, scene, pseudo)``
            returns a sample dict with an ``info`` entry.
        images (Callable): ``images(sample)`` returns the
            ``(folder, uint8 image)`` pairs to write, one per folder.
        extra_meta (dict): Layout-specific entries of ``meta.json``.
            Defaults to an empty dict.
    """
    name: str
    generator: str
    version: int
    folders: Tuple[str, ...]
    scene_params: Type[JsonParamsMixin]
    make_sample: Callable[..., Dict[str, object]]
    images: Callable[[Dict[str, object]], List[Tuple[str, np.ndarray]]]
    extra_meta: dict = field(default_factory=dict)


def _clear_layout(out_dir: str, folders: Tuple[str, ...]) -> None:
    """Delete a previous run's PNGs and meta.json (only files we write).

    The temporary files of PNG writes a kill interrupted
    (``.<name>.png.<random>.tmp``) go too.

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
                if name.endswith('.png') or (name.startswith('.')
                                             and name.endswith('.tmp')
                                             and '.png.' in name):
                    os.remove(osp.join(d, name))


def write_dataset(layout: Layout, out_dir: str, counts: Dict[str, int],
                  size: int, seed: int, scene: Optional[JsonParamsMixin],
                  pseudo: Optional[PseudoChangeParams], overwrite: bool,
                  progress: Optional[Callable[[int, int], None]]) -> dict:
    """Shared writer of both layouts.

    ``meta.json`` is written last, so its presence means the data set is
    complete. A folder a stopped run left (``.unfinished`` without
    ``meta.json``) is written again without ``overwrite``.

    Args:
        layout (Layout): The layout.
        out_dir (str): Data-set root.
        counts (dict[str, int]): Images per split.
        size (int): Image side.
        seed (int): Data-set seed.
        scene (JsonParamsMixin, optional): Scene parameters of the layout;
            ``layout.scene_params()`` when None.
        pseudo (PseudoChangeParams, optional): Pseudo-change parameters;
            ``PseudoChangeParams()`` when None.
        overwrite (bool): Allow a non-empty ``out_dir``.
        progress (Callable, optional): ``progress(done, total)``.

    Returns:
        dict: The content of ``meta.json``: the layout, generator, seed,
        size, counts, folders, the layout's extra entries, both parameter
        sets and ``samples`` (each image's ``info``).
    """
    scene = layout.scene_params() if scene is None else scene
    pseudo = PseudoChangeParams() if pseudo is None else pseudo
    meta = dict(
        layout=layout.name,
        generator=layout.generator,
        generator_version=layout.version,
        seed=int(seed),
        size=int(size),
        counts=counts,
        folders=list(layout.folders),
        **copy.deepcopy(layout.extra_meta),
        scene=scene.to_dict(),
        pseudo=pseudo.to_dict())
    check_counts(counts)
    check_size(size)
    as_seed_sequence(seed)  # validate before touching the disk
    marker = osp.join(out_dir, UNFINISHED)
    if not overwrite and osp.isfile(marker) and not osp.exists(
            osp.join(out_dir, 'meta.json')):
        print(
            f'{out_dir}: an earlier run stopped before meta.json; writing '
            'the data set again',
            flush=True)
        overwrite = True
    prepare_out_dir(out_dir, overwrite)
    _clear_layout(out_dir, layout.folders)  # meta.json first
    write_text(
        marker, 'a run of mmcd_ext.datasets.synthetic is writing this '
        'folder; deleted once meta.json is written\n')
    for split in SPLITS:
        for folder in layout.folders:
            os.makedirs(osp.join(out_dir, split, folder), exist_ok=True)
    items = split_items(counts)
    samples: Dict[str, Dict[str, dict]] = {s: {} for s in SPLITS}
    for done, (split, index) in enumerate(items, 1):
        name = sample_name(split, index)
        sample = layout.make_sample(
            sample_seed(seed, layout.name, split, index), size, scene, pseudo)
        for folder, img in layout.images(sample):
            write_png(osp.join(out_dir, split, folder, name + '.png'), img)
        samples[split][name] = sample['info']
        if progress is not None:
            progress(done, len(items))
    meta['samples'] = samples
    write_meta(osp.join(out_dir, 'meta.json'), meta)
    os.remove(marker)
    return meta
