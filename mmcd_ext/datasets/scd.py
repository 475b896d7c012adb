"""Semantic change-detection datasets (SECOND, Landsat-SCD)."""
from mmcd_ext.registry import DATASETS
from .base_folder_cd import BaseFolderCDDataset
from .palettes import (LANDSAT_SCD_CLASSES, LANDSAT_SCD_PALETTE,
                       SECOND_CLASSES, SECOND_PALETTE, check_palette)


@DATASETS.register_module()
class SCDFolderDataset(BaseFolderCDDataset):
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
    DEFAULT_PREFIX = dict(
        img_path='im1',
        img_path2='im2',
        seg_map_path_a='label1',
        seg_map_path_b='label2')
    LABEL_KEYS = ('seg_map_path_a', 'seg_map_path_b')
    ZERO_MEANING = 'no change'

    def _check_metainfo(self, metainfo: dict) -> None:
        """Check the classes and label colours; keep the palette.

        Sets ``label_palette`` (list of RGB colours) for the samples.

        Args:
            metainfo (dict): The ``metainfo`` given to the dataset (empty
                when none); missing entries come from :attr:`METAINFO`.

        Raises:
            ValueError: If there are no classes or colours, their numbers
                differ, there are more than 255 classes, or the classes
                differ from the subclass's.
        """
        name = type(self).__name__
        type(self).get_label_map(metainfo.get('classes', None))
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

    def _sample_info(self) -> dict:
        """The label colours, which :class:`LoadSCDAnnotations` reads.

        Returns:
            dict: ``label_palette``.
        """
        return dict(label_palette=self.label_palette)


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
