"""Loading of bitemporal images and change labels.

The two dates are read and concatenated on the channel axis (date A first),
so every geometric transform moves them together (``docs/architecture.md``).
Labels are validated on load: a value or colour that the dataset does not
define is an error naming the file, never a silent cast.
"""
import os
import stat
from typing import List, Optional, Sequence, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mmcd_ext.registry import TRANSFORMS
from ..palettes import check_palette, colour_to_index

#: Binary change label encodings: stored value -> loaded value.
CD_LABEL_ENCODINGS = {
    '0/255': {
        0: 0,
        255: 1
    },
    '0/1': {
        0: 0,
        1: 1,
        255: 255
    },
}


def check_regular_file(path: str, what: str = 'file') -> None:
    """Refuse a local path that is missing or not a regular file.

    Opening a FIFO blocks until a writer appears and a device can be
    endless, so they are refused from their ``stat`` before any read.

    Args:
        path (str): A local path.
        what (str): What the file is, for the message. Defaults to 'file'.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``path`` is not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise FileNotFoundError(f'cannot read {what} {path}: '
                                f'{err.strerror}') from err
    if not stat.S_ISREG(mode):
        kind = 'a folder' if stat.S_ISDIR(mode) else \
            'a FIFO' if stat.S_ISFIFO(mode) else 'not a regular file'
        raise ValueError(f'cannot read {what} {path}: it is {kind}')


def read_image_file(path: str,
                    flag: str = 'unchanged',
                    imdecode_backend: str = 'cv2',
                    backend_args: Optional[dict] = None,
                    what: str = 'image') -> np.ndarray:
    """Read and decode one image file, with errors that name the file.

    Args:
        path (str): The file.
        flag (str): mmcv decoding flag (``'color'``, ``'grayscale'``,
            ``'unchanged'``). Defaults to 'unchanged'.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
        what (str): What the file is, for error messages.
            Defaults to 'image'.

    Returns:
        np.ndarray: ``(H, W)`` or ``(H, W, C)`` array as decoded (BGR order
        for colour images).

    Raises:
        FileNotFoundError: If the file cannot be read.
        ValueError: If the bytes cannot be decoded as an image, or a local
            path is not a regular file (a folder, a FIFO or a device, whose
            reading would fail late or block forever).
    """
    if backend_args is None and '://' not in str(path):
        check_regular_file(path, what)
    try:
        data = fileio.get(path, backend_args=backend_args)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(f'cannot read {what} {path}: {err}') from err
    if not data:
        raise ValueError(f'cannot decode {what} {path}: the file is empty '
                         '(0 bytes)')
    try:
        img = mmcv.imfrombytes(data, flag=flag, backend=imdecode_backend)
    except Exception as err:  # decoders raise many unrelated types
        reason = ' '.join(str(err).split())  # OpenCV's messages span lines
        raise ValueError(f'cannot decode {what} {path}: {reason}') from err
    if img is None or img.size == 0:
        raise ValueError(f'cannot decode {what} {path}: not an image file '
                         'or the file is truncated')
    return img


def _check_no_remapping(results: dict, name: str) -> None:
    """Refuse mmseg's label remapping options, which change labels do not
    support."""
    if results.get('reduce_zero_label', False):
        raise ValueError(f'{name}: reduce_zero_label=True is not supported '
                         'for change labels (0 means "unchanged")')
    if results.get('label_map', None) is not None:
        raise ValueError(f'{name}: class remapping (label_map '
                         f'{results["label_map"]}) is not supported for '
                         'change labels')


def _check_label_size(label: np.ndarray, path: str, results: dict,
                      name: str) -> None:
    """The label must have the image's height and width."""
    if 'img_shape' not in results:
        raise KeyError(f'{name} needs "img_shape" to check the size of '
                       f'{path}: put it after LoadBitemporalImages')
    img_hw = tuple(results['img_shape'][:2])
    if tuple(label.shape[:2]) != img_hw:
        raise ValueError(
            f'label {path} is {label.shape[0]}x{label.shape[1]} (HxW) but '
            f'the images {results.get("img_path")} / '
            f'{results.get("img_path2")} are {img_hw[0]}x{img_hw[1]}')


def _add_seg_field(results: dict, key: str) -> None:
    fields: List[str] = results.setdefault('seg_fields', [])
    if key not in fields:
        fields.append(key)


@TRANSFORMS.register_module()
class LoadBitemporalImages(BaseTransform):
    """Load the two dates of a sample and concatenate them on the channels.

    Required Keys:

    - img_path (str): date A.
    - img_path2 (str): date B.

    Added Keys:

    - img (np.ndarray): ``(H, W, 2C)``, channels of date A then of date B
      (BGR per date for colour images read with cv2).
    - img_shape (tuple): ``(H, W)``.
    - ori_shape (tuple): ``(H, W)``.

    Args:
        to_float32 (bool): Whether to convert the image to float32.
            Defaults to False.
        color_type (str): mmcv decoding flag: ``'color'`` (3 channels),
            ``'grayscale'`` (1 channel) or ``'unchanged'`` (as stored, e.g.
            4-band PNG/TIFF). Defaults to 'color'.
        imdecode_backend (str): mmcv decoding backend (``'cv2'``,
            ``'pillow'``, ``'tifffile'``, ...). Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if color_type not in ('color', 'grayscale', 'unchanged',
                              'color_ignore_orientation',
                              'grayscale_ignore_orientation'):
            raise ValueError(f'unknown color_type "{color_type}"')
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _read(self, path: str, what: str) -> Tuple[np.ndarray, bool]:
        """Read one date; returns ``(H, W, C)`` and whether it was grey.

        With a colour ``color_type`` the file is decoded as stored and
        converted here, so nothing is coerced silently: a grey file becomes
        3 channels (and is reported as grey), an opaque alpha channel is
        dropped, while 16-bit data (which cv2's colour decoding would cut
        to 8 bits) and a non-opaque alpha channel are errors.
        """
        if not self.color_type.startswith('color'):
            img = read_image_file(path, self.color_type, self.imdecode_backend,
                                  self.backend_args, what)
            return (img[..., None] if img.ndim == 2 else img), False
        img = read_image_file(path, 'unchanged', self.imdecode_backend,
                              self.backend_args, what)
        if img.dtype != np.uint8:
            raise ValueError(
                f'{what} {path} is {img.dtype}; color_type="{self.color_type}"'
                ' would reduce it to 8 bits: set color_type="unchanged" (and '
                'mean/std for that range in the data preprocessor) or convert '
                'the data to 8 bits yourself')
        if img.ndim == 2 or img.shape[2] == 1:
            return np.repeat(img.reshape(*img.shape[:2], 1), 3, axis=2), True
        if img.shape[2] == 4:
            if not (img[..., 3] == 255).all():
                raise ValueError(
                    f'{what} {path} has a non-opaque alpha channel; '
                    'color_type="color" would drop it: set color_type='
                    '"unchanged" to keep 4 channels or remove the alpha')
            return np.ascontiguousarray(img[..., :3]), False
        if img.shape[2] != 3:
            raise ValueError(
                f'{what} {path} has {img.shape[2]} channels; color_type='
                f'"{self.color_type}" expects 1, 3 or 4: set color_type='
                '"unchanged" for multispectral data')
        return img, False

    def transform(self, results: dict) -> dict:
        """Read both dates and concatenate them.

        Args:
            results (dict): Holds ``img_path`` and ``img_path2``.

        Returns:
            dict: ``results`` with ``img``, ``img_shape`` and ``ori_shape``.

        Raises:
            ValueError: If a file cannot be decoded, or the dates differ in
                size, channel count or dtype (the message names both files).
        """
        path_a, path_b = results['img_path'], results['img_path2']
        img_a, grey_a = self._read(path_a, 'date-A image')
        img_b, grey_b = self._read(path_b, 'date-B image')
        if grey_a != grey_b:
            grey, colour = (path_a, path_b) if grey_a else (path_b, path_a)
            raise ValueError(
                f'{grey} is a grey image but its partner {colour} is in '
                'colour; the model would compare a copied grey channel with '
                'colour: convert one of them so both dates match')
        if img_a.shape != img_b.shape or img_a.dtype != img_b.dtype:
            raise ValueError(
                f'the two dates of a sample must have the same size, '
                f'channels and dtype: {path_a} is {img_a.shape} '
                f'{img_a.dtype}, {path_b} is {img_b.shape} {img_b.dtype} '
                '(H, W, C)')
        img = np.concatenate([img_a, img_b], axis=2)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class LoadCDAnnotations(BaseTransform):
    """Load a binary change label and map it to 0 unchanged / 1 changed.

    Accepted encodings (the dataset sets ``label_encoding`` in each sample):

    - ``'0/255'`` (LEVIR-CD, WHU-CD, S2Looking): values ``{0, 255}``, 255
      becomes 1. No ignore value is possible.
    - ``'0/1'``: values ``{0, 1, 255}``, 255 stays the ignore index. A
      label holding 255 but no 1 is refused: it is what a 0/255 label read
      as 0/1 looks like, and loading it would turn every changed pixel into
      an ignored one (F1 0 without any error).

    Any other value is an error naming the file and the values. A 3-channel
    label is accepted only if its channels are identical (a grey PNG saved as
    RGB).

    Required Keys:

    - seg_map_path (str)
    - img_shape (tuple): to check the label size; load the images first.
    - label_encoding (str, optional): used when the transform has none.

    Added Keys:

    - gt_seg_map (np.ndarray): ``(H, W)`` uint8 in ``{0, 1, 255}``.
    - seg_fields (list): ``'gt_seg_map'`` appended.

    Args:
        label_encoding (str, optional): ``'0/255'`` or ``'0/1'``; overrides
            the sample's ``label_encoding`` (they must agree if both are
            set). Defaults to None.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 label_encoding: Optional[str] = None,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if label_encoding is not None and \
                label_encoding not in CD_LABEL_ENCODINGS:
            raise ValueError(f'label_encoding must be one of '
                             f'{list(CD_LABEL_ENCODINGS)}, got '
                             f'"{label_encoding}"')
        self.label_encoding = label_encoding
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _encoding(self, results: dict) -> str:
        from_data = results.get('label_encoding', None)
        if self.label_encoding is None and from_data is None:
            raise KeyError(
                'LoadCDAnnotations: no label encoding for '
                f'{results.get("seg_map_path")}: set label_encoding on the '
                'dataset or on this transform')
        if self.label_encoding is not None and from_data is not None \
                and from_data != self.label_encoding:
            raise ValueError(
                f'LoadCDAnnotations(label_encoding="{self.label_encoding}")'
                f' disagrees with the dataset\'s "{from_data}" for '
                f'{results.get("seg_map_path")}')
        encoding = self.label_encoding or from_data
        if encoding not in CD_LABEL_ENCODINGS:
            raise ValueError(f'unknown label_encoding "{encoding}", expected '
                             f'one of {list(CD_LABEL_ENCODINGS)}')
        return encoding

    def transform(self, results: dict) -> dict:
        """Load, validate and map the change label.

        Args:
            results (dict): Holds ``seg_map_path`` and ``img_shape``.

        Returns:
            dict: ``results`` with ``gt_seg_map``.

        Raises:
            ValueError: If the label has values outside the encoding, several
                different channels, or a size other than the images'.
        """
        if 'seg_map_path' not in results:
            raise KeyError('LoadCDAnnotations: the sample has no '
                           '"seg_map_path" (does the dataset have labels?)')
        _check_no_remapping(results, 'LoadCDAnnotations')
        encoding = self._encoding(results)
        path = results['seg_map_path']
        label = read_image_file(path, 'unchanged', self.imdecode_backend,
                                self.backend_args, 'change label')
        if label.ndim == 3:
            if not all(
                    np.array_equal(label[..., 0], label[..., c])
                    for c in range(1, label.shape[2])):
                raise ValueError(
                    f'change label {path} has {label.shape[2]} different '
                    'channels; a binary change label must be single-channel')
            label = label[..., 0]
        _check_label_size(label, path, results, 'LoadCDAnnotations')
        mapping = CD_LABEL_ENCODINGS[encoding]
        values = np.unique(label)
        bad = [v for v in values.tolist() if v not in mapping]
        if bad:
            raise ValueError(
                f'change label {path} has values {bad} outside the '
                f'{sorted(mapping)} of label_encoding "{encoding}"')
        if encoding == '0/1' and 255 in values and 1 not in values:
            raise ValueError(
                f'change label {path} has values {values.tolist()}: 255 '
                'without any 1 is a 0/255 label, which label_encoding '
                '"0/1" would load as all ignored; set label_encoding='
                '"0/255"')
        lut = np.zeros(256, dtype=np.uint8)
        for src, dst in mapping.items():
            lut[src] = dst
        results['gt_seg_map'] = lut[label.astype(np.int64)]
        _add_seg_field(results, 'gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'label_encoding={self.label_encoding!r}, '
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class LoadSCDAnnotations(BaseTransform):
    """Load both semantic labels of a semantic-change sample.

    A label file is either colour-coded (3 channels, decoded with a strict
    palette: an unknown colour is an error naming the file, the colour and
    its pixel count) or a single-channel index PNG (as written by
    ``tools/dataset_converters/scd_labels.py``) whose values must be class
    indices or ``ignore_index``. The binary change label is derived: changed
    where the date-A class is not 0 ("no change"). Both labels must agree on
    where nothing changed; a disagreement is an error naming both files.
    Pixels ignored (``ignore_index``) in either semantic label are ignored in
    the change label.

    Required Keys:

    - seg_map_path_a (str), seg_map_path_b (str)
    - img_shape (tuple): to check the label size; load the images first.
    - label_palette (list, optional): used when the transform has none.

    Added Keys:

    - gt_seg_map_a (np.ndarray): ``(H, W)`` uint8 class index of date A.
    - gt_seg_map_b (np.ndarray): ``(H, W)`` uint8 class index of date B.
    - gt_seg_map (np.ndarray): ``(H, W)`` uint8 change, 0/1/255.
    - seg_fields (list): the three keys appended.

    Args:
        palette (Sequence[Sequence[int]], optional): RGB colour of each class
            (class 0 = no change); overrides the sample's ``label_palette``
            (they must agree if both are set). Defaults to None.
        ignore_index (int): Index of ignored pixels in index labels.
            Defaults to 255.
        imdecode_backend (str): mmcv decoding backend. Defaults to 'cv2'.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 ignore_index: int = 255,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if palette is not None:
            palette = check_palette(palette).tolist()
            if ignore_index < len(palette):
                raise ValueError(f'ignore_index {ignore_index} is a class '
                                 f'index of the palette {palette}')
        self.palette = palette
        self.ignore_index = ignore_index
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _palette(self, results: dict) -> List[List[int]]:
        from_data = results.get('label_palette', None)
        if from_data is not None:
            from_data = check_palette(from_data).tolist()
        if self.palette is None and from_data is None:
            raise KeyError(
                'LoadSCDAnnotations: no palette for '
                f'{results.get("seg_map_path_a")}: set it on the dataset '
                '(metainfo) or on this transform')
        if self.palette is not None and from_data is not None \
                and self.palette != from_data:
            raise ValueError(
                f'LoadSCDAnnotations(palette={self.palette}) disagrees with '
                f'the dataset palette {from_data}')
        palette = self.palette if self.palette is not None else from_data
        if self.ignore_index < len(palette):
            raise ValueError(f'ignore_index {self.ignore_index} is a class '
                             f'index of the palette {palette}')
        return palette

    def _load(self, path: str, palette: List[List[int]],
              what: str) -> np.ndarray:
        raw = read_image_file(path, 'unchanged', self.imdecode_backend,
                              self.backend_args, what)
        if raw.ndim == 3 and raw.shape[2] == 1:
            raw = raw[..., 0]
        if raw.ndim == 3 and raw.shape[2] == 3:
            # cv2 decodes colour as BGR; palettes are RGB.
            return colour_to_index(
                np.ascontiguousarray(raw[..., ::-1]), palette, filename=path)
        if raw.ndim != 2:
            raise ValueError(
                f'{what} {path} has {raw.shape[2]} channels; expected a '
                'colour label (3) or an index label (1)')
        if not np.issubdtype(raw.dtype, np.integer):
            raise ValueError(f'{what} {path} has non-integer values '
                             f'({raw.dtype})')
        values = np.unique(raw).tolist()
        bad = [
            v for v in values
            if not (0 <= v < len(palette) or v == self.ignore_index)
        ]
        if bad:
            raise ValueError(
                f'index label {path} has values {bad}; expected class '
                f'indices 0..{len(palette) - 1} or the ignore index '
                f'{self.ignore_index}')
        return raw.astype(np.uint8)

    def transform(self, results: dict) -> dict:
        """Load, decode and cross-check both semantic labels.

        Args:
            results (dict): Holds ``seg_map_path_a``, ``seg_map_path_b`` and
                ``img_shape``.

        Returns:
            dict: ``results`` with ``gt_seg_map_a``, ``gt_seg_map_b`` and
            ``gt_seg_map``.

        Raises:
            ValueError: On an unknown colour or value, a size other than the
                images', or labels that disagree on "no change".
        """
        for key in ('seg_map_path_a', 'seg_map_path_b'):
            if key not in results:
                raise KeyError(f'LoadSCDAnnotations: the sample has no '
                               f'"{key}" (does the dataset have labels?)')
        _check_no_remapping(results, 'LoadSCDAnnotations')
        palette = self._palette(results)
        path_a, path_b = results['seg_map_path_a'], results['seg_map_path_b']
        label_a = self._load(path_a, palette, 'date-A semantic label')
        label_b = self._load(path_b, palette, 'date-B semantic label')
        _check_label_size(label_a, path_a, results, 'LoadSCDAnnotations')
        _check_label_size(label_b, path_b, results, 'LoadSCDAnnotations')

        ign = self.ignore_index
        valid = (label_a != ign) & (label_b != ign)
        disagree = valid & ((label_a == 0) != (label_b == 0))
        if disagree.any():
            rows, cols = np.nonzero(disagree)
            row, col = rows[0], cols[0]
            raise ValueError(
                f'semantic labels {path_a} and {path_b} disagree on "no '
                f'change" (class 0) at {len(rows)} pixel(s), first at row '
                f'{row}, col {col} (classes {label_a[row, col]} vs '
                f'{label_b[row, col]})')
        change = (label_a != 0).astype(np.uint8)
        change[~valid] = ign
        results['gt_seg_map_a'] = label_a
        results['gt_seg_map_b'] = label_b
        results['gt_seg_map'] = change
        for key in ('gt_seg_map', 'gt_seg_map_a', 'gt_seg_map_b'):
            _add_seg_field(results, key)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(palette={self.palette}, '
                f'ignore_index={self.ignore_index}, '
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')
