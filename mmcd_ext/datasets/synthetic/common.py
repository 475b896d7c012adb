"""Seeding, noise fields, geometry and file helpers of the scene generators.

Everything here is plain numpy + OpenCV so that the generators stay fast and
importable without torch. Images are float32 RGB arrays in ``[0, 255]``
while they are being composed and ``uint8`` RGB once finished. Files are
written atomically through :mod:`mmcd_ext.utils.atomic_files`.
"""
import json
import os
import os.path as osp
from dataclasses import asdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from mmcd_ext.utils.atomic_files import encode_image, write_bytes, write_text

SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
#: First element of every per-image seed's spawn key, one per layout.
LAYOUT_KEYS: Dict[str, int] = {'levir': 0, 'second': 1}
#: Second element of every per-image seed's spawn key, one per split.
SPLIT_KEYS: Dict[str, int] = {name: i for i, name in enumerate(SPLITS)}

SeedLike = Union[int, np.random.SeedSequence]

#: Margin in pixels around the image on the drawing canvas. Date B is cut
#: out of it with the misregistration shift, so this bounds ``max_shift``.
PAD = 8


class JsonParamsMixin:
    """Base of the parameter dataclasses: their ``meta.json`` form."""

    def to_dict(self) -> dict:
        """JSON-friendly copy (tuples become lists).

        Returns:
            dict: The parameters.
        """
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
        }


def scene_frame(size: int) -> Tuple[float, int, Tuple[int, int]]:
    """Validate the image size and give the drawing canvas around it.

    Scenes are designed at 256 px and scaled by ``size / 256``; they are
    drawn on a canvas with a margin of :data:`PAD` pixels on every side.

    Args:
        size (int): Image side in pixels (>= 32).

    Returns:
        tuple: ``(scale, canvas, shape)``: ``size / 256``, the canvas side
        ``size + 2 PAD`` and its ``(H, W)``.
    """
    check_size(size)
    canvas = size + 2 * PAD
    return size / 256.0, canvas, (canvas, canvas)


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Turn an int or a ``SeedSequence`` into a ``SeedSequence``.

    Args:
        seed (int | np.random.SeedSequence): A non-negative integer or an
            existing seed sequence (returned unchanged).

    Returns:
        np.random.SeedSequence: The seed sequence.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(
            seed,
        (bool, np.bool_)) or not isinstance(seed,
                                            (int, np.integer)) or seed < 0:
        raise ValueError(
            f'seed must be a non-negative int or a SeedSequence, got {seed!r}')
    return np.random.SeedSequence(int(seed))


def sample_seed(seed: int, layout: str, split: str,
                index: int) -> np.random.SeedSequence:
    """The seed of one image of a generated data set.

    Equal to ``SeedSequence(seed).spawn(...)`` taken three times (layout,
    split, index), but computed directly, so image ``index`` of a split does
    not depend on how many images are generated.

    Args:
        seed (int): Data-set seed.
        layout (str): ``'levir'`` or ``'second'``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        index (int): Image index inside the split.

    Returns:
        np.random.SeedSequence: The image's seed sequence.
    """
    if layout not in LAYOUT_KEYS:
        raise ValueError(f'unknown layout {layout!r}; expected one of '
                         f'{sorted(LAYOUT_KEYS)}')
    if split not in SPLIT_KEYS:
        raise ValueError(f'unknown split {split!r}; expected one of {SPLITS}')
    as_seed_sequence(seed)  # validates
    return np.random.SeedSequence(
        int(seed), spawn_key=(LAYOUT_KEYS[layout], SPLIT_KEYS[split], index))


def component_rngs(seed: SeedLike,
                   names: Sequence[str]) -> Dict[str, np.random.Generator]:
    """One independent generator per named part of a scene.

    The child seeds are built from the parent's entropy and spawn key (not
    with ``SeedSequence.spawn``, which has state), so calling this twice with
    the same seed gives the same generators, and switching one part off (for
    instance the haze) leaves every other part unchanged.

    Args:
        seed (int | np.random.SeedSequence): Seed of the sample.
        names (Sequence[str]): Names of the parts, in a fixed order.

    Returns:
        dict[str, np.random.Generator]: A generator per name.
    """
    ss = as_seed_sequence(seed)
    return {
        name:
        np.random.default_rng(
            np.random.SeedSequence(
                ss.entropy, spawn_key=tuple(ss.spawn_key) + (i, )))
        for i, name in enumerate(names)
    }


def uniform(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    """Draw one float uniformly from ``[low, high]``.

    Args:
        rng (np.random.Generator): Random generator.
        bounds (Sequence[float]): ``(low, high)``.

    Returns:
        float: The draw.
    """
    return float(rng.uniform(bounds[0], bounds[1]))


def randint(rng: np.random.Generator, bounds: Sequence[int]) -> int:
    """Draw one integer uniformly from ``[low, high]`` (both included).

    Args:
        rng (np.random.Generator): Random generator.
        bounds (Sequence[int]): ``(low, high)``.

    Returns:
        int: The draw.
    """
    return int(rng.integers(bounds[0], bounds[1] + 1))


def fractal_noise(rng: np.random.Generator,
                  shape: Tuple[int, int],
                  cell: float,
                  octaves: int = 4,
                  persistence: float = 0.5) -> np.ndarray:
    """Smooth value noise: bicubically upsampled random grids, summed.

    Args:
        rng (np.random.Generator): Random generator.
        shape (tuple[int, int]): ``(H, W)`` of the output.
        cell (float): Size in pixels of the coarsest octave's grid cell.
        octaves (int): Number of octaves, each with half the cell size.
            Defaults to 4.
        persistence (float): Amplitude ratio between octaves. Defaults to
            0.5.

    Returns:
        np.ndarray: ``(H, W)`` float32, rescaled to ``[0, 1]``.
    """
    h, w = shape
    total = np.zeros((h, w), np.float32)
    amp = 1.0
    for _ in range(octaves):
        # A grid of about one node per cell, stretched over the whole field.
        gh = max(2, int(round(h / max(cell, 1.0))) + 1)
        gw = max(2, int(round(w / max(cell, 1.0))) + 1)
        grid = rng.random((gh, gw), dtype=np.float32)
        total += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= persistence
        cell = cell / 2.0
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


def rotated_rect(cx: float, cy: float, length: float, width: float,
                 angle: float) -> np.ndarray:
    """Corners of a rotated rectangle.

    Args:
        cx (float): Centre x.
        cy (float): Centre y.
        length (float): Side along the ``angle`` direction.
        width (float): The other side.
        angle (float): Rotation in radians (x towards y).

    Returns:
        np.ndarray: ``(4, 2)`` float64 ``(x, y)`` corners in order.
    """
    c, s = np.cos(angle), np.sin(angle)
    ux, uy = c * length / 2, s * length / 2
    vx, vy = -s * width / 2, c * width / 2
    return np.array([[cx + ux + vx,
                      cy + uy + vy], [cx - ux + vx, cy - uy + vy],
                     [cx - ux - vx, cy - uy - vy],
                     [cx + ux - vx, cy + uy - vy]])


def fill_polygons(shape: Tuple[int, int],
                  polygons: Iterable[np.ndarray],
                  value: int = 1) -> np.ndarray:
    """Rasterise polygons (sub-pixel exact vertices) into a uint8 mask.

    A pixel belongs to a polygon when its centre (integer coordinates) is
    inside it.

    Args:
        shape (tuple[int, int]): ``(H, W)``.
        polygons (Iterable[np.ndarray]): ``(N, 2)`` ``(x, y)`` vertex arrays.
        value (int): Value written inside. Defaults to 1.

    Returns:
        np.ndarray: ``(H, W)`` uint8 mask.
    """
    mask = np.zeros(shape, np.uint8)
    pts = [np.round(np.asarray(p) * 16).astype(np.int32) for p in polygons]
    if pts:
        cv2.fillPoly(mask, pts, value, lineType=cv2.LINE_8, shift=4)
    return mask


def local_polygon_mask(
        polygon: np.ndarray,
        shape: Tuple[int, int]) -> Optional[Tuple[int, int, np.ndarray]]:
    """Rasterise one polygon inside its clipped bounding box only.

    Args:
        polygon (np.ndarray): ``(N, 2)`` ``(x, y)`` vertices.
        shape (tuple[int, int]): ``(H, W)`` of the full canvas.

    Returns:
        tuple | None: ``(y0, x0, mask)`` with ``mask`` a bool array of the
        box starting at ``(y0, x0)``, or None when the polygon lies outside.
    """
    h, w = shape
    x0 = max(int(np.floor(polygon[:, 0].min())), 0)
    y0 = max(int(np.floor(polygon[:, 1].min())), 0)
    x1 = min(int(np.ceil(polygon[:, 0].max())) + 1, w)
    y1 = min(int(np.ceil(polygon[:, 1].max())) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    local = fill_polygons((y1 - y0, x1 - x0), [polygon - [x0, y0]])
    return y0, x0, local.astype(bool)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a disc: every pixel within Euclidean distance
    ``radius`` of the mask.

    Args:
        mask (np.ndarray): ``(H, W)`` bool mask.
        radius (int): Disc radius in pixels (0 returns a copy).

    Returns:
        np.ndarray: ``(H, W)`` bool mask.
    """
    if radius <= 0:
        return mask.astype(bool).copy()
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    k = (yy**2 + xx**2 <= radius**2).astype(np.uint8)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (reflected borders); a no-op for ``sigma <= 0``.

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)`` float32 image.
        sigma (float): Standard deviation in pixels.

    Returns:
        np.ndarray: Blurred image, same shape and dtype.
    """
    if sigma <= 0:
        return img
    return cv2.GaussianBlur(
        img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def bezier(p0: np.ndarray,
           p1: np.ndarray,
           p2: np.ndarray,
           num: int = 48) -> np.ndarray:
    """Points on a quadratic Bezier curve.

    Args:
        p0 (np.ndarray): Start ``(x, y)``.
        p1 (np.ndarray): Control point.
        p2 (np.ndarray): End point.
        num (int): Number of points. Defaults to 48.

    Returns:
        np.ndarray: ``(num, 2)`` points.
    """
    t = np.linspace(0.0, 1.0, num)[:, None]
    return (1 - t)**2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def write_png(path: str, img: np.ndarray) -> None:
    """Write an RGB or single-channel uint8 image as PNG, atomically.

    Args:
        path (str): Output file.
        img (np.ndarray): ``(H, W, 3)`` RGB or ``(H, W)`` uint8 array.
    """
    if img.dtype != np.uint8:
        raise TypeError(f'{path}: expected a uint8 image, got {img.dtype}')
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    # Fixed (fast) compression level: identical arrays give identical bytes.
    write_bytes(
        path, encode_image(img, '.png', [cv2.IMWRITE_PNG_COMPRESSION, 1],
                           path))


def prepare_out_dir(out_dir: str, overwrite: bool) -> None:
    """Create the output directory, refusing to mix with existing data.

    Args:
        out_dir (str): Root directory of the data set.
        overwrite (bool): Allow a non-empty directory; files of the same
            names are replaced, others are left alone.
    """
    if osp.isfile(out_dir):
        raise FileExistsError(f'{out_dir}: exists and is a file, not a '
                              'directory')
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(
            f'{out_dir}: directory exists and is not empty; pass '
            'overwrite=True (CLI: --force) to write into it anyway')
    os.makedirs(out_dir, exist_ok=True)


def write_meta(path: str, meta: dict) -> None:
    """Write ``meta.json`` deterministically (sorted keys, no timestamps).

    The file is written atomically: it is complete or absent.

    Args:
        path (str): Output file.
        meta (dict): JSON-serialisable content.
    """
    write_text(path, json.dumps(meta, indent=2, sort_keys=True) + '\n')


def check_counts(counts: Dict[str, int]) -> None:
    """Validate per-split image counts.

    Args:
        counts (dict[str, int]): Split name to number of images.
    """
    for split, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) \
                or n < 0:
            raise ValueError(f'num_{split} must be a non-negative int, '
                             f'got {n!r}')


def check_size(size: int, minimum: int = 32) -> None:
    """Validate the image size.

    Args:
        size (int): Side of the square images in pixels.
        minimum (int): Smallest accepted size. Defaults to 32.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
            or size < minimum:
        raise ValueError(f'size must be an int >= {minimum}, got {size!r}')


def check_range(name: str,
                bounds: Sequence[float],
                low: float = -np.inf,
                high: float = np.inf) -> None:
    """Validate a ``(low, high)`` parameter range.

    Args:
        name (str): Parameter name for the error message.
        bounds (Sequence[float]): The range.
        low (float): Smallest allowed value. Defaults to -inf.
        high (float): Largest allowed value. Defaults to inf.
    """
    if len(bounds) != 2:
        raise ValueError(f'{name} must be a (low, high) pair, got {bounds!r}')
    a, b = bounds
    if not (low <= a <= b <= high):
        raise ValueError(f'{name} must satisfy {low} <= low <= high <= '
                         f'{high}, got {tuple(bounds)!r}')


def check_probability(name: str, p: float) -> None:
    """Validate a probability.

    Args:
        name (str): Parameter name for the error message.
        p (float): The value.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f'{name} must be in [0, 1], got {p!r}')


def split_items(counts: Dict[str, int]) -> List[Tuple[str, int]]:
    """Every ``(split, index)`` pair in writing order.

    Args:
        counts (dict[str, int]): Split name to number of images.

    Returns:
        list[tuple[str, int]]: The pairs.
    """
    return [(split, i) for split in SPLITS for i in range(counts[split])]


def sample_name(split: str, index: int) -> str:
    """File stem of an image: ``<split>_<index:04d>``.

    Args:
        split (str): Split name.
        index (int): Index in the split.

    Returns:
        str: The stem (no extension).
    """
    return f'{split}_{index:04d}'
