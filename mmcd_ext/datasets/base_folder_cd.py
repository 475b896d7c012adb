"""The base of the folder datasets: samples paired strictly across folders.

:class:`BaseFolderCDDataset` is what the binary (:mod:`.binary_cd`) and the
semantic (:mod:`.scd`) change datasets share. It pairs the date-A, date-B
and label folders with :func:`.file_pairing.pair_folders` and refuses,
naming the files, every inconsistency that a silent loader would turn into a
smaller or shuffled dataset: an image without its partner, a label without
its image, an empty folder (:func:`check_complete_pairs`); with ``ann_file``
it builds the samples with :func:`.file_pairing.pair_from_list`.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmseg.datasets import BaseCDDataset

from .file_pairing import (FolderPairs, not_regular_note, pair_folders,
                           pair_from_list, role_name, short_listing)


def warn_unused(found: FolderPairs) -> None:
    """Log a warning per folder that holds files not ending with its suffix.

    Args:
        found (FolderPairs): Result of :func:`.file_pairing.pair_folders`.
    """
    for role, unused in found.unused.items():
        if unused:
            folder, suffix = found.sources[role]
            print_log(
                f'{len(unused)} file(s) in the {role_name(role)} folder '
                f'{folder} do not end with "{suffix}" and are not used: '
                f'{short_listing(unused)}',
                logger='current',
                level=logging.WARNING)


def check_complete_pairs(found: FolderPairs,
                         primary: str = 'img_path',
                         dataset_name: str = 'dataset') -> None:
    """Refuse a pairing with an empty primary folder or a file left over.

    Args:
        found (FolderPairs): Result of :func:`.file_pairing.pair_folders`.
        primary (str): Role whose files define the samples.
            Defaults to 'img_path'.
        dataset_name (str): Name used in error messages.
            Defaults to 'dataset'.

    Raises:
        FileNotFoundError: If the primary folder holds no file with its
            suffix, or a primary file has no partner in another folder.
        ValueError: If another folder holds files with no primary partner.
    """
    if not found.pairs and not found.unpaired[primary]:
        folder, suffix = found.sources[primary]
        raise FileNotFoundError(
            f'{dataset_name}: no {role_name(primary)} ending with '
            f'"{suffix}" in {folder}')
    missing = []
    for name, path in found.unpaired[primary].items():
        for role in found.missing_roles(name):
            expected = found.expected_path(role, name)
            missing.append(f'{path} has no {role_name(role)} {expected}'
                           f'{not_regular_note(expected)}')
    if missing:
        raise FileNotFoundError(
            f'{dataset_name}: {len(missing)} missing partner file(s): '
            f'{short_listing(missing)}')
    # every primary file is complete, so what is left has no primary file
    orphans = []
    for role in found.sources:
        if role == primary:
            continue
        for name, path in found.unpaired[role].items():
            expected = found.expected_path(primary, name)
            orphans.append(
                f'{role_name(role)} {path} has no {role_name(primary)} '
                f'{expected}{not_regular_note(expected)}')
    if orphans:
        raise ValueError(
            f'{dataset_name}: {len(orphans)} file(s) without a partner '
            f'(remove them or list the samples in ann_file): '
            f'{short_listing(orphans)}')


class BaseFolderCDDataset(BaseCDDataset):
    """Change-detection samples whose files are paired across folders.

    The date-A (``img_path``) and date-B (``img_path2``) folders and the
    label folders named by :attr:`LABEL_KEYS` are paired strictly, by name
    (:func:`.file_pairing.pair_folders` checked by
    :func:`check_complete_pairs`, or :func:`.file_pairing.pair_from_list`
    with ``ann_file``). Leaving every label folder out of ``data_prefix``
    gives unlabelled samples; giving only some of them is an error. Class
    remapping and ``reduce_zero_label`` are refused, since label 0 has a
    fixed meaning.

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
        """data_info key -> ``(folder, suffix)`` of every paired folder.

        Raises:
            ValueError: If a suffix is empty.
        """
        sources = {
            'img_path': (self.data_prefix['img_path'], self.img_suffix),
            'img_path2': (self.data_prefix['img_path2'], self.img_suffix2),
        }
        if self.with_labels:
            for key in self.LABEL_KEYS:
                sources[key] = (self.data_prefix[key], self.seg_map_suffix)
        for key, (folder, suffix) in sources.items():
            if not suffix:
                raise ValueError(
                    f'{type(self).__name__}: the file suffix of the '
                    f'{role_name(key)} folder {folder} must not be empty')
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
            try:
                found = pair_folders(
                    self._sources(), backend_args=self.backend_args)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'{name}: {err} (check data_root and data_prefix)'
                ) from None
            warn_unused(found)
            check_complete_pairs(found, dataset_name=name)
            pairs = list(found.pairs.values())
        for info in pairs:
            info.update(
                **self._sample_info(),
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[])
        return pairs
