"""Helpers shared by the analysis tools (``tools/analysis``): input shapes,
parameter counts, readable numbers and synthetic GeoTIFF scenes."""
from typing import Sequence, Tuple

from torch import nn


def parse_shape(shape: Sequence[int]) -> Tuple[int, int]:
    """A ``--shape`` argument as ``(H, W)``.

    Args:
        shape (Sequence[int]): One value (square) or two values (H, W).

    Returns:
        tuple[int, int]: Height and width.

    Raises:
        ValueError: If there are not 1 or 2 positive values.
    """
    if len(shape) == 1:
        shape = (shape[0], shape[0])
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f'--shape takes H or H W (positive integers), got '
                         f'{list(shape)}')
    return int(shape[0]), int(shape[1])


def count_parameters(module: nn.Module) -> Tuple[int, int]:
    """Total and trainable parameter counts of a module.

    Args:
        module (nn.Module): The module.

    Returns:
        tuple[int, int]: ``(total, trainable)``; shared tensors count once.
    """
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return total, trainable


def human(n: float) -> str:
    """Short human-readable number: ``1234567 -> '1.235M'``.

    Args:
        n (float): The number.

    Returns:
        str: The number with a K/M/G/T suffix.
    """
    for div, suffix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.3f}{suffix}'
    return f'{n:g}'


def write_synthetic_scene_pair(path_a: str,
                               path_b: str,
                               size: int,
                               seed: int = 0,
                               strip: int = 512,
                               period: int = 400,
                               square: int = 60,
                               pixel: float = 0.5,
                               x0: float = 500000.0,
                               tiled: bool = True) -> None:
    """Write a synthetic ``size x size`` RGB GeoTIFF pair in strips, for the
    inference benchmarks (a scene larger than memory never exists whole).

    Date A is random texture; date B is date A with a bright ``square``
    every ``period`` pixels (the changes). Both are deflate-compressed,
    EPSG:32633, upper-left corner at ``(x0, 5800000)``.

    Args:
        path_a (str): Date-A file.
        path_b (str): Date-B file.
        size (int): Side of the square scene in pixels.
        seed (int): Seed of the texture. Defaults to 0.
        strip (int): Rows written at once. Defaults to 512.
        period (int): Distance of the changed squares. Defaults to 400.
        square (int): Side of a changed square. Defaults to 60.
        pixel (float): Pixel size in metres. Defaults to 0.5.
        x0 (float): Easting of the upper-left corner. Defaults to 500000.
        tiled (bool): 256 x 256 GeoTIFF blocks instead of strips.
            Defaults to True.
    """
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    rng = np.random.default_rng(seed)
    profile = dict(
        driver='GTiff',
        width=size,
        height=size,
        count=3,
        dtype='uint8',
        crs='EPSG:32633',
        transform=from_origin(x0, 5800000.0, pixel, pixel),
        compress='deflate',
        tiled=tiled)
    if tiled:
        profile.update(blockxsize=256, blockysize=256)
    with rasterio.open(path_a, 'w', **profile) as dst_a, \
            rasterio.open(path_b, 'w', **profile) as dst_b:
        for y0 in range(0, size, strip):
            n = min(strip, size - y0)
            base = rng.integers(40, 160, (3, n, size), dtype=np.uint8)
            changed = base.copy()
            rows = np.arange(y0, y0 + n)[:, None]
            cols = np.arange(size)[None, :]
            changed[:, ((rows % period) < square)
                    & ((cols % period) < square)] = 240
            dst_a.write(base, window=Window(0, y0, size, n))
            dst_b.write(changed, window=Window(0, y0, size, n))
