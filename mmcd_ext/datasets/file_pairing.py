"""Strict pairing of the files of a bitemporal sample across folders.

A change-detection sample is spread over several folders (date A, date B,
one or two labels) that share file names up to a suffix. The helpers here
build the list of samples and refuse, with the offending file names, every
inconsistency that a silent loader would otherwise turn into a smaller or
shuffled dataset: an image without its partner, a label without its image,
an empty folder, a name listed twice. :class:`BaseFolderCDDataset` is the
dataset built on them that the binary and the semantic change datasets share.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
import mmengine.fileio as fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseCDDataset

#: How each data_info key is called in error messages.
ROLE_NAMES: Dict[str, str] = {
    'img_path': 'date-A image',
    'img_path2': 'date-B image',
    'seg_map_path': 'change label',
    'seg_map_path_a': 'date-A semantic label',
    'seg_map_path_b': 'date-B semantic label',
}

#: How many offending files an error message lists.
MAX_LISTED = 5


def _role(key: str) -> str:
    return ROLE_NAMES.get(key, key)


def _listing(items: Sequence[str]) -> str:
    """Join the first few items of a list for an error message."""
    shown = '; '.join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f'; ... and {len(items) - MAX_LISTED} more'
    return shown


def list_stems(folder: str,
               suffix: str,
               key: str,
               backend_args: Optional[dict] = None) -> Dict[str, str]:
    """List the files of one folder (recursively) that end with ``suffix``.

    Files with another ending are not used; a warning lists them (hidden
    files, starting with ``.``, are not listed by mmengine at all).

    Args:
        folder (str): Folder to list.
        suffix (str): File-name ending that selects the files, e.g. ``'.png'``
            or ``'_label.tif'``.
        key (str): data_info key the files are for (for error messages).
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.

    Returns:
        dict: Stem (path relative to ``folder`` without ``suffix``) -> full
        path.

    Raises:
        ValueError: If ``suffix`` is empty.
        FileNotFoundError: If the folder does not exist.
    """
    if not suffix:
        raise ValueError(f'the file suffix of the {_role(key)} folder '
                         f'{folder} must not be empty')
    if not fileio.isdir(folder, backend_args=backend_args):
        raise FileNotFoundError(
            f'{_role(key)} folder {folder} does not exist or is not a '
            'directory (check data_root and data_prefix)')
    stems = {}
    others = []
    for rel in fileio.list_dir_or_file(
            folder, list_dir=False, recursive=True, backend_args=backend_args):
        if rel.endswith(suffix):
            stems[rel[:-len(suffix)]] = fileio.join_path(
                folder, rel, backend_args=backend_args)
        else:
            others.append(rel)
    if others:
        print_log(
            f'{len(others)} file(s) in the {_role(key)} folder {folder} do '
            f'not end with "{suffix}" and are not used: '
            f'{_listing(sorted(others))}',
            logger='current',
            level=logging.WARNING)
    return stems


def pair_folders(sources: Dict[str, Tuple[str, str]],
                 primary: str = 'img_path',
                 backend_args: Optional[dict] = None,
                 dataset_name: str = 'dataset') -> List[Dict[str, str]]:
    """Pair the files of several folders by name.

    Every file of the primary folder must have a partner in every other
    folder and every file of the other folders must have a primary partner.

    Args:
        sources (dict): data_info key -> ``(folder, suffix)``, e.g.
            ``{'img_path': ('train/A', '.png'), 'img_path2': ('train/B',
            '.png'), 'seg_map_path': ('train/label', '.png')}``.
        primary (str): Key whose files define the samples.
            Defaults to 'img_path'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
        dataset_name (str): Name used in error messages.
            Defaults to 'dataset'.

    Returns:
        list[dict]: One dict per sample, data_info key -> file path, sorted by
        the primary path.

    Raises:
        FileNotFoundError: If a folder is missing, a primary file has no
            partner, or the primary folder holds no file with its suffix.
        ValueError: If a non-primary folder holds files with no primary
            partner.
    """
    listed = {
        key: list_stems(folder, suffix, key, backend_args)
        for key, (folder, suffix) in sources.items()
    }
    prim_folder, prim_suffix = sources[primary]
    prim = listed[primary]
    if not prim:
        raise FileNotFoundError(
            f'{dataset_name}: no {_role(primary)} ending with '
            f'"{prim_suffix}" in {prim_folder}')
    samples = []
    missing = []
    for stem in sorted(prim):
        sample = {primary: prim[stem]}
        for key, (folder, suffix) in sources.items():
            if key == primary:
                continue
            if stem in listed[key]:
                sample[key] = listed[key][stem]
            else:
                expected = osp.join(folder, stem + suffix)
                missing.append(f'{prim[stem]} has no {_role(key)} '
                               f'{expected}')
        samples.append(sample)
    if missing:
        raise FileNotFoundError(
            f'{dataset_name}: {len(missing)} missing partner file(s): '
            f'{_listing(missing)}')
    orphans = []
    for key, stems in listed.items():
        if key == primary:
            continue
        for stem in sorted(set(stems) - set(prim)):
            orphans.append(
                f'{_role(key)} {stems[stem]} has no {_role(primary)} '
                f'{osp.join(prim_folder, stem + prim_suffix)}')
    if orphans:
        raise ValueError(
            f'{dataset_name}: {len(orphans)} file(s) without a partner '
            f'(remove them or list the samples in ann_file): '
            f'{_listing(orphans)}')
    return samples


def pair_from_list(ann_file: str,
                   sources: Dict[str, Tuple[str, str]],
                   primary: str = 'img_path',
                   backend_args: Optional[dict] = None,
                   dataset_name: str = 'dataset') -> List[Dict[str, str]]:
    """Build samples from a text file of names, one per line.

    A line is a file name relative to the folders, with or without the
    primary suffix (``0001`` and ``0001.png`` are the same sample). Blank
    lines are ignored. Every listed file must exist in every folder.

    Args:
        ann_file (str): The text file of names.
        sources (dict): data_info key -> ``(folder, suffix)`` as in
            :func:`pair_folders`.
        primary (str): Key whose suffix a listed name may carry.
            Defaults to 'img_path'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
        dataset_name (str): Name used in error messages.
            Defaults to 'dataset'.

    Returns:
        list[dict]: One dict per sample in file order, data_info key -> path.

    Raises:
        FileNotFoundError: If ``ann_file`` or a listed file does not exist.
        ValueError: If ``ann_file`` lists no name or a name twice.
    """
    if not fileio.isfile(ann_file, backend_args=backend_args):
        raise FileNotFoundError(f'{dataset_name}: ann_file {ann_file} does '
                                'not exist')
    prim_suffix = sources[primary][1]
    names = [
        line.strip() for line in mmengine.list_from_file(
            ann_file, backend_args=backend_args)
    ]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f'{dataset_name}: ann_file {ann_file} lists no '
                         'sample')
    samples = []
    missing = []
    seen: Dict[str, int] = {}
    for lineno, name in enumerate(names, start=1):
        stem = name[:-len(prim_suffix)] if name.endswith(prim_suffix) \
            else name
        if stem in seen:
            raise ValueError(f'{dataset_name}: ann_file {ann_file} lists '
                             f'"{stem}" twice (entries {seen[stem]} and '
                             f'{lineno})')
        seen[stem] = lineno
        sample = {}
        for key, (folder, suffix) in sources.items():
            path = fileio.join_path(
                folder, stem + suffix, backend_args=backend_args)
            if not fileio.isfile(path, backend_args=backend_args):
                missing.append(f'{_role(key)} {path}')
            sample[key] = path
        samples.append(sample)
    if missing:
        raise FileNotFoundError(
            f'{dataset_name}: {len(missing)} file(s) listed in {ann_file} '
            f'do not exist: {_listing(missing)}')
    return samples


class BaseFolderCDDataset(BaseCDDataset):
    """Change-detection samples whose files are paired across folders.

    The date-A (``img_path``) and date-B (``img_path2``) folders and the
    label folders named by :attr:`LABEL_KEYS` are paired strictly, by name
    (:func:`pair_folders`, or :func:`pair_from_list` with ``ann_file``).
    Leaving every label folder out of ``data_prefix`` gives unlabelled
    samples; giving only some of them is an error. Class remapping and
    ``reduce_zero_label`` are refused, since label 0 has a fixed meaning.

    Not registered: subclasses set :attr:`DEFAULT_PREFIX`,
    :attr:`LABEL_KEYS` and :attr:`ZERO_MEANING`, and may override
    :meth:`_check_metainfo` and :meth:`_sample_info`.

    Args:
        img_suffix (str): Suffix of date-A images. Defaults to '.png'.
        img_suffix2 (str, optional): Suffix of date-B images; the date-A one
            when None. Defaults to None.
        seg_map_suffix (str): Suffix of the label files. Defaults to '.png'.
        data_prefix (dict, optional): Folders relative to ``data_root``:
            ``img_path``, ``img_path2`` and optionally the label keys.
            Defaults to None, meaning :attr:`DEFAULT_PREFIX`.
        reduce_zero_label (bool): Must be False. Defaults to False.
        **kwargs: Other arguments of mmseg's ``BaseCDDataset``.
    """

    METAINFO: dict = dict()
    #: ``data_prefix`` used when none is given.
    DEFAULT_PREFIX: Dict[str, str] = dict()
    #: data_info keys of the label files, given all together or not at all.
    LABEL_KEYS: Tuple[str, ...] = ()
    #: What label 0 means, for the ``reduce_zero_label`` error.
    ZERO_MEANING: str = ''

    def __init__(self,
                 img_suffix: str = '.png',
                 img_suffix2: Optional[str] = None,
                 seg_map_suffix: str = '.png',
                 data_prefix: Optional[Dict[str, str]] = None,
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        name = type(self).__name__
        if reduce_zero_label:
            raise ValueError(f'{name}: reduce_zero_label=True is not '
                             f'supported (0 means "{self.ZERO_MEANING}")')
        if data_prefix is None:
            data_prefix = dict(self.DEFAULT_PREFIX)
        for key in ('img_path', 'img_path2'):
            if key not in data_prefix:
                raise KeyError(f'{name}: data_prefix needs "{key}", got '
                               f'{data_prefix}')
        given = [bool(data_prefix.get(key, '')) for key in self.LABEL_KEYS]
        if len(set(given)) > 1:
            raise KeyError(f'{name}: data_prefix must give both or neither '
                           f'of {"/".join(self.LABEL_KEYS)}, got '
                           f'{data_prefix}')
        self.with_labels = any(given)
        self._check_metainfo(kwargs.get('metainfo', None) or {})
        super().__init__(
            img_suffix=img_suffix,
            img_suffix2=img_suffix2 if img_suffix2 is not None else img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs)

    def _check_metainfo(self, metainfo: dict) -> None:
        """Check the ``metainfo`` argument before any file is listed.

        Args:
            metainfo (dict): The ``metainfo`` given to the dataset (empty
                when none).
        """

    def _sample_info(self) -> dict:
        """Entries added to every data_info (for the label loader).

        Returns:
            dict: Key -> value; none here.
        """
        return {}

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> None:
        """Refuse class remapping (mmseg's ``label_map``).

        Args:
            new_classes (Sequence, optional): Classes given in ``metainfo``.
                Defaults to None.

        Returns:
            None: Change labels are never remapped.

        Raises:
            ValueError: If ``new_classes`` differs from the dataset's.
        """
        old = cls.METAINFO.get('classes', None)
        if new_classes is not None and old is not None \
                and list(new_classes) != list(old):
            raise ValueError(
                f'{cls.__name__}: metainfo classes {tuple(new_classes)} '
                f'differ from {tuple(old)}; renaming or dropping classes of '
                'a change dataset is not supported')
        return None

    def _sources(self) -> Dict[str, Tuple[str, str]]:
        """data_info key -> ``(folder, suffix)`` of every paired folder."""
        sources = {
            'img_path': (self.data_prefix['img_path'], self.img_suffix),
            'img_path2': (self.data_prefix['img_path2'], self.img_suffix2),
        }
        if self.with_labels:
            for key in self.LABEL_KEYS:
                sources[key] = (self.data_prefix[key], self.seg_map_suffix)
        return sources

    def load_data_list(self) -> List[dict]:
        """Pair the files of the folders into samples.

        Returns:
            list[dict]: One data_info per sample: ``img_path``,
            ``img_path2``, the :attr:`LABEL_KEYS` paths (with labels), the
            entries of :meth:`_sample_info`, ``label_map`` (None),
            ``reduce_zero_label`` (False) and an empty ``seg_fields``.
        """
        name = type(self).__name__
        if self.ann_file:
            pairs = pair_from_list(
                self.ann_file,
                self._sources(),
                backend_args=self.backend_args,
                dataset_name=name)
        else:
            pairs = pair_folders(
                self._sources(),
                backend_args=self.backend_args,
                dataset_name=name)
        for info in pairs:
            info.update(
                **self._sample_info(),
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[])
        return pairs
