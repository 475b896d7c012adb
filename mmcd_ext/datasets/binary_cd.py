"""Binary change-detection datasets stored as folders of image pairs."""
from typing import Dict, Optional

from mmcd_ext.registry import DATASETS
from .base_folder_cd import BaseFolderCDDataset
from .palettes import BINARY_CD_CLASSES, BINARY_CD_PALETTE
from .transforms.loading import CD_LABEL_ENCODINGS


@DATASETS.register_module()
class BinaryCDFolderDataset(BaseFolderCDDataset):
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
    DEFAULT_PREFIX = dict(img_path='A', img_path2='B', seg_map_path='label')
    LABEL_KEYS = ('seg_map_path', )
    ZERO_MEANING = 'unchanged'

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
        self.label_encoding = label_encoding
        super().__init__(
            img_suffix=img_suffix,
            img_suffix2=img_suffix2,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def _sample_info(self) -> dict:
        """The label encoding, which :class:`LoadCDAnnotations` reads.

        Returns:
            dict: ``label_encoding``.
        """
        return dict(label_encoding=self.label_encoding)


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
