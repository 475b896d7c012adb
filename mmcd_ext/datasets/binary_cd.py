"""Binary change-detection datasets stored as folders of image pairs."""
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg.datasets import BaseCDDataset

from mmcd_ext.registry import DATASETS
from .file_pairing import pair_folders, pair_from_list
from .palettes import BINARY_CD_CLASSES, BINARY_CD_PALETTE
from .transforms.loading import CD_LABEL_ENCODINGS


def _reject_label_map(cls: type, new_classes: Optional[Sequence]) -> None:
    """Change labels cannot be remapped to a class subset."""
    old = cls.METAINFO.get('classes', None)
    if new_classes is not None and old is not None \
            and list(new_classes) != list(old):
        raise ValueError(
            f'{cls.__name__}: metainfo classes {tuple(new_classes)} differ '
            f'from {tuple(old)}; renaming or dropping classes of a change '
            'dataset is not supported')


@DATASETS.register_module()
class BinaryCDFolderDataset(BaseCDDataset):
    """Binary change detection from folders of date A, date B and labels.

    Layout (folder names and suffixes configurable)::

        data_root/
          <img_path>/     xxx<img_suffix>       date A
          <img_path2>/    xxx<img_suffix2>      date B
          <seg_map_path>/ xxx<seg_map_suffix>   change label

    Files are paired by name (recursively, relative to each folder). Every
    date-A image must have a date-B image and a label, and every date-B
    image and label a date-A image; anything else is an error naming the
    files. With ``ann_file`` only the listed names are used (one per line,
    with or without ``img_suffix``), and each must exist in every folder.
    Leave ``seg_map_path`` out of ``data_prefix`` (or set it to ``''``) for
    unlabelled data.

    Samples carry ``label_encoding``, which :class:`LoadCDAnnotations` uses:
    ``'0/255'`` (0 unchanged, 255 changed) or ``'0/1'`` (0, 1, 255 ignore).
    Loaded labels are always 0 unchanged / 1 changed / 255 ignore.

    Examples:
        WHU-CD cut into tiles with ``.tif`` labels::

            dict(type='BinaryCDFolderDataset', data_root='data/whu',
                 data_prefix=dict(img_path='train/A', img_path2='train/B',
                                  seg_map_path='train/label'),
                 img_suffix='.png', seg_map_suffix='.tif')

    Args:
        img_suffix (str): Suffix of date-A images. Defaults to '.png'.
        img_suffix2 (str, optional): Suffix of date-B images; the date-A one
            when None. Defaults to None.
        seg_map_suffix (str): Suffix of labels. Defaults to '.png'.
        label_encoding (str): ``'0/255'`` or ``'0/1'``.
            Defaults to '0/255'.
        data_prefix (dict, optional): Folders relative to ``data_root``:
            ``img_path``, ``img_path2`` and optionally ``seg_map_path``.
            Defaults to None, meaning ``dict(img_path='A', img_path2='B',
            seg_map_path='label')``.
        reduce_zero_label (bool): Must be False (0 means "unchanged").
            Defaults to False.
        **kwargs: Other arguments of mmseg's ``BaseCDDataset`` (``data_root``,
            ``ann_file``, ``pipeline``, ``test_mode``, ``metainfo``,
            ``backend_args``, ...).
    """

    METAINFO = dict(classes=BINARY_CD_CLASSES, palette=BINARY_CD_PALETTE)

    def __init__(self,
                 img_suffix: str = '.png',
                 img_suffix2: Optional[str] = None,
                 seg_map_suffix: str = '.png',
                 label_encoding: str = '0/255',
                 data_prefix: Optional[Dict[str, str]] = None,
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        if label_encoding not in CD_LABEL_ENCODINGS:
            raise ValueError(f'{type(self).__name__}: label_encoding must be '
                             f'one of {list(CD_LABEL_ENCODINGS)}, got '
                             f'"{label_encoding}"')
        if reduce_zero_label:
            raise ValueError(f'{type(self).__name__}: reduce_zero_label=True'
                             ' is not supported (0 means "unchanged")')
        if data_prefix is None:
            data_prefix = dict(
                img_path='A', img_path2='B', seg_map_path='label')
        for key in ('img_path', 'img_path2'):
            if key not in data_prefix:
                raise KeyError(f'{type(self).__name__}: data_prefix needs '
                               f'"{key}", got {data_prefix}')
        self.label_encoding = label_encoding
        self.with_labels = bool(data_prefix.get('seg_map_path', ''))
        super().__init__(
            img_suffix=img_suffix,
            img_suffix2=img_suffix2 if img_suffix2 is not None else
            img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs)

    @classmethod
    def get_label_map(cls,
                      new_classes: Optional[Sequence] = None) -> None:
        """Refuse class remapping (mmseg's ``label_map``).

        Args:
            new_classes (Sequence, optional): Classes given in ``metainfo``.
                Defaults to None.

        Returns:
            None: Change labels are never remapped.

        Raises:
            ValueError: If ``new_classes`` differs from the dataset's.
        """
        _reject_label_map(cls, new_classes)
        return None

    def _sources(self) -> Dict[str, Tuple[str, str]]:
        sources = {
            'img_path': (self.data_prefix['img_path'], self.img_suffix),
            'img_path2': (self.data_prefix['img_path2'], self.img_suffix2),
        }
        if self.with_labels:
            sources['seg_map_path'] = (self.data_prefix['seg_map_path'],
                                       self.seg_map_suffix)
        return sources

    def load_data_list(self) -> List[dict]:
        """Pair the files of the folders into samples.

        Returns:
            list[dict]: One data_info per sample: ``img_path``,
            ``img_path2``, ``seg_map_path`` (with labels),
            ``label_encoding``, ``label_map`` (None), ``reduce_zero_label``
            (False) and an empty ``seg_fields``.
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
                label_encoding=self.label_encoding,
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[])
        return pairs


@DATASETS.register_module()
class LEVIRCDDataset(BinaryCDFolderDataset):
    """LEVIR-CD: ``A/``, ``B/``, ``label/`` PNGs under each split.

    Labels are 0/255 and load as 0/1. Point ``data_prefix`` at a split, e.g.
    ``dict(img_path='train/A', img_path2='train/B',
    seg_map_path='train/label')``; the 1024 x 1024 tiles can be cut into
    patches with ``tools/dataset_converters/levir_cd.py``. This is
    :class:`BinaryCDFolderDataset` with LEVIR-CD's defaults (PNG
    everywhere, ``label_encoding='0/255'``).

    Args:
        **kwargs: Arguments of :class:`BinaryCDFolderDataset`.
    """
