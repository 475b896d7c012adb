"""Semantic change-detection datasets (SECOND, Landsat-SCD)."""
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg.datasets import BaseCDDataset

from mmcd_ext.registry import DATASETS
from .binary_cd import _reject_label_map
from .file_pairing import pair_folders, pair_from_list
from .palettes import (LANDSAT_SCD_CLASSES, LANDSAT_SCD_PALETTE,
                       SECOND_CLASSES, SECOND_PALETTE, check_palette)


@DATASETS.register_module()
class SCDFolderDataset(BaseCDDataset):
    """Semantic change detection from ``im1/ im2/ label1/ label2/`` folders.

    Layout (folder names configurable through ``data_prefix``)::

        data_root/
          im1/     xxx.png    date A
          im2/     xxx.png    date B
          label1/  xxx.png    semantic label of date A
          label2/  xxx.png    semantic label of date B

    Labels are colour-coded RGB (decoded with the class palette) or
    single-channel index PNGs; :class:`LoadSCDAnnotations` reads them. Class
    0 is "no change". Files are paired strictly as in
    :class:`BinaryCDFolderDataset` (a missing partner or an orphan file is
    an error). Leave ``seg_map_path_a``/``seg_map_path_b`` out of
    ``data_prefix`` for unlabelled data.

    This generic class needs ``metainfo=dict(classes=..., palette=...)``
    with one RGB colour per class (the label colours); the subclasses carry
    their dataset's.

    Samples carry ``seg_map_path_a``, ``seg_map_path_b`` and
    ``label_palette`` (the RGB palette) for the loader.

    Args:
        img_suffix (str): Suffix of date-A images. Defaults to '.png'.
        img_suffix2 (str, optional): Suffix of date-B images; the date-A one
            when None. Defaults to None.
        seg_map_suffix (str): Suffix of both label folders.
            Defaults to '.png'.
        data_prefix (dict, optional): Folders relative to ``data_root``:
            ``img_path``, ``img_path2`` and optionally ``seg_map_path_a`` and
            ``seg_map_path_b`` (both or neither). Defaults to None, meaning
            ``dict(img_path='im1', img_path2='im2', seg_map_path_a='label1',
            seg_map_path_b='label2')``.
        reduce_zero_label (bool): Must be False (0 means "no change").
            Defaults to False.
        **kwargs: Other arguments of mmseg's ``BaseCDDataset``.
    """

    METAINFO: dict = dict()

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
                             'supported (0 means "no change")')
        if data_prefix is None:
            data_prefix = dict(
                img_path='im1',
                img_path2='im2',
                seg_map_path_a='label1',
                seg_map_path_b='label2')
        for key in ('img_path', 'img_path2'):
            if key not in data_prefix:
                raise KeyError(f'{name}: data_prefix needs "{key}", got '
                               f'{data_prefix}')
        with_a = bool(data_prefix.get('seg_map_path_a', ''))
        with_b = bool(data_prefix.get('seg_map_path_b', ''))
        if with_a != with_b:
            raise KeyError(f'{name}: data_prefix must give both or neither '
                           f'of seg_map_path_a/seg_map_path_b, got '
                           f'{data_prefix}')
        self.with_labels = with_a
        metainfo = kwargs.get('metainfo', None) or {}
        _reject_label_map(type(self), metainfo.get('classes', None))
        classes = metainfo.get('classes', self.METAINFO.get('classes'))
        palette = metainfo.get('palette', self.METAINFO.get('palette'))
        if classes is None or palette is None:
            raise ValueError(
                f'{name} needs metainfo=dict(classes=..., palette=...) with '
                'the RGB label colour of each class')
        palette = check_palette(palette)
        if len(palette) != len(classes):
            raise ValueError(f'{name}: {len(classes)} classes but '
                             f'{len(palette)} palette colours')
        if len(classes) > 255:
            raise ValueError(f'{name}: at most 255 classes fit uint8 labels')
        self.label_palette = palette.tolist()
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
            None: Labels are never remapped.

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
            for key in ('seg_map_path_a', 'seg_map_path_b'):
                sources[key] = (self.data_prefix[key], self.seg_map_suffix)
        return sources

    def load_data_list(self) -> List[dict]:
        """Pair the files of the four folders into samples.

        Returns:
            list[dict]: One data_info per sample: ``img_path``,
            ``img_path2``, ``seg_map_path_a``/``seg_map_path_b`` (with
            labels), ``label_palette``, ``label_map`` (None),
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
                label_palette=self.label_palette,
                label_map=None,
                reduce_zero_label=False,
                seg_fields=[])
        return pairs


@DATASETS.register_module()
class SECONDDataset(SCDFolderDataset):
    """SECOND: 512 x 512 pairs, 7 classes, colour-coded labels.

    Classes and label colours (RGB) are :data:`SECOND_CLASSES` /
    :data:`SECOND_PALETTE`: 0 unchanged (white), water, ground, low
    vegetation, tree, building, playground.

    Args:
        **kwargs: Arguments of :class:`SCDFolderDataset`.
    """

    METAINFO = dict(classes=SECOND_CLASSES, palette=SECOND_PALETTE)


@DATASETS.register_module()
class LandsatSCDDataset(SCDFolderDataset):
    """Landsat-SCD: 416 x 416 pairs, 5 classes, colour-coded labels.

    Classes and label colours (RGB) are :data:`LANDSAT_SCD_CLASSES` /
    :data:`LANDSAT_SCD_PALETTE`: 0 no change (white), farmland, desert,
    building, water.

    Args:
        **kwargs: Arguments of :class:`SCDFolderDataset`.
    """

    METAINFO = dict(classes=LANDSAT_SCD_CLASSES, palette=LANDSAT_SCD_PALETTE)
