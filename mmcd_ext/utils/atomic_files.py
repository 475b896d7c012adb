"""Atomic writers for the file kinds the tools produce: bytes, text, images.

Each encodes its content in memory first, then writes it through
:func:`mmcd_ext.utils.atomic.atomic_path`: the file appears complete under
its name or not at all, and a file already there is replaced only once the
new one is on disk. The temporary file is named ``.{name}.{random}.tmp``, so
an image's format is taken from the destination's suffix, never from the
temporary name (``cv2.imwrite`` would fail on ``.tmp``).
"""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from .atomic import atomic_path


def write_bytes(dst: str, data: bytes) -> None:
    """Write ``data`` to ``dst`` atomically.

    Args:
        dst (str): Output file; its folder must exist.
        data (bytes): The whole content.
    """
    with atomic_path(dst) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def write_text(dst: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``dst`` atomically.

    Args:
        dst (str): Output file; its folder must exist.
        text (str): The whole content.
    """
    write_bytes(dst, text.encode('utf-8'))


def encode_image(img: np.ndarray,
                 ext: str,
                 params: Optional[Sequence[int]] = None,
                 name: str = '<image>') -> bytes:
    """Encode an OpenCV (BGR) array into the bytes of an image file.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)`` array, channels in
            BGR order as for ``cv2.imwrite``.
        ext (str): Format as a file suffix, e.g. ``'.png'``.
        params (Sequence[int], optional): ``cv2.imencode`` flags, e.g.
            ``[cv2.IMWRITE_PNG_COMPRESSION, 1]``. Defaults to None.
        name (str): File named in errors. Defaults to '<image>'.

    Returns:
        bytes: The encoded file.

    Raises:
        ValueError: If OpenCV cannot encode the array in that format.
    """
    try:
        ok, buf = cv2.imencode(ext, np.ascontiguousarray(img),
                               list(params or []))
    except cv2.error as err:
        raise ValueError(f'cannot encode {name} as "{ext}" (shape '
                         f'{img.shape}, dtype {img.dtype}): '
                         f'{str(err).strip().splitlines()[-1]}') from err
    if not ok:
        raise ValueError(f'cannot encode {name} as "{ext}" (shape '
                         f'{img.shape}, dtype {img.dtype})')
    return buf.tobytes()


def write_image(dst: str,
                img: np.ndarray,
                params: Optional[Sequence[int]] = None) -> None:
    """Atomic ``cv2.imwrite``: the format follows ``dst``'s suffix.

    Args:
        dst (str): Output file (``.png``, ``.jpg``, ``.tif`` ...); its folder
            must exist.
        img (np.ndarray): BGR (or single-channel) array.
        params (Sequence[int], optional): ``cv2.imencode`` flags.
            Defaults to None.

    Raises:
        ValueError: If the suffix is missing or the array cannot be encoded.
    """
    ext = osp.splitext(dst)[1]
    if not ext:
        raise ValueError(f'cannot write image {dst}: the file name has no '
                         'suffix to choose the format (add e.g. ".png")')
    write_bytes(dst, encode_image(img, ext, params, name=dst))


def check_output_file(dst: str,
                      inputs: Sequence[str],
                      overwrite: bool,
                      flag: str = '--overwrite') -> None:
    """Refuse an output file that is an input or exists without ``flag``.

    Run it before reading anything, so a refusal costs nothing.

    Args:
        dst (str): The output file.
        inputs (Sequence[str]): Input files (URLs are skipped).
        overwrite (bool): Whether an existing ``dst`` may be replaced.
        flag (str): Option named in the error. Defaults to '--overwrite'.

    Raises:
        ValueError: If ``dst`` resolves (after symbolic links) to an input,
            or is the same file as one (a hard link).
        FileExistsError: If ``dst`` is a folder, or exists and not
            ``overwrite``.
    """
    real = osp.realpath(dst)
    for src in inputs:
        if '://' in src:
            continue
        if osp.realpath(src) == real or (osp.exists(src) and osp.exists(dst)
                                         and osp.samefile(src, dst)):
            raise ValueError(f'the output {dst} is the input {src}; write '
                             'the result to another file')
    if osp.isdir(dst):
        raise FileExistsError(f'the output {dst} is a folder; give a file '
                              'name')
    if osp.lexists(dst) and not overwrite:
        raise FileExistsError(f'the output {dst} exists; pass {flag} to '
                              'replace it')
