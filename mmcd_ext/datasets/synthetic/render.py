"""Drawing primitives of the synthetic aerial scenes: ground, roads,
vegetation, trees and cars (buildings and shadows: :mod:`.buildings`).

Geometry is in pixels of a square canvas; ``scale = size / 256`` shrinks every
object so that a 64-pixel image is a downscaled version of the 256-pixel
design.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import bezier, fractal_noise, local_polygon_mask, rotated_rect

# Land-cover tones of bare ground (RGB): dry grass, tan soil, pale soil,
# dark ploughed earth, olive scrub, grey gravel.
GROUND_TONES = np.array([[150, 143, 104], [172, 148, 118], [194, 182, 160],
                         [116, 101, 82], [128, 130, 96], [160, 156, 146]],
                        dtype=np.float32)
ASPHALT = np.array([94, 94, 98], np.float32)
CONCRETE = np.array([182, 179, 171], np.float32)
CAR_COLOURS = np.array([[232, 232, 230], [30, 30, 34], [168, 170, 174],
                        [150, 34, 30], [40, 64, 120], [110, 110, 112]],
                       dtype=np.float32)
# Vegetation colours at greenness 1 (lush) and 0 (dry / dormant).
LAWN_LUSH = np.array([92, 128, 62], np.float32)
LAWN_DRY = np.array([158, 146, 98], np.float32)
WOOD_LUSH = np.array([50, 82, 42], np.float32)
WOOD_DRY = np.array([104, 92, 62], np.float32)


def lerp_colour(dry: np.ndarray, lush: np.ndarray,
                greenness: float) -> np.ndarray:
    """Vegetation colour for a greenness in ``[0, 1]``.

    Args:
        dry (np.ndarray): ``(3,)`` colour at greenness 0.
        lush (np.ndarray): ``(3,)`` colour at greenness 1.
        greenness (float): Seasonal state, 1 = lush.

    Returns:
        np.ndarray: ``(3,)`` float32 colour.
    """
    return (dry + (lush - dry) * greenness).astype(np.float32)


def composite(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Alpha-blend a layer into ``img`` in place.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        alpha (np.ndarray): ``(H, W)`` float32 opacity in ``[0, 1]``.
        colour (np.ndarray): ``(H, W, 3)`` or ``(3,)`` layer colour.
    """
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * colour


# ---------------------------------------------------------------- ground


def ground_layer(rng: np.random.Generator,
                 shape: Tuple[int, int],
                 scale: float,
                 num_tones: int = 3,
                 tones: Optional[np.ndarray] = None) -> np.ndarray:
    """Textured bare ground made of a few blended land-cover tones.

    Args:
        rng (np.random.Generator): Random generator.
        shape (tuple[int, int]): ``(H, W)``.
        scale (float): ``size / 256``.
        num_tones (int): Tones mixed in the scene. Defaults to 3.
        tones (np.ndarray, optional): ``(K, 3)`` tones to pick from, K >=
            ``num_tones``. Defaults to :data:`GROUND_TONES`.

    Returns:
        np.ndarray: ``(H, W, 3)`` float32 RGB.
    """
    tones = GROUND_TONES if tones is None else np.asarray(tones, np.float32)
    idx = rng.choice(len(tones), size=num_tones, replace=False)
    picked = tones[idx] * rng.uniform(0.93, 1.07, (num_tones, 1))
    fields = np.stack([
        fractal_noise(rng, shape, 110 * scale, octaves=3)
        for _ in range(num_tones)
    ])
    # A sharp softmax gives patches with short transitions.
    w = np.exp(14.0 * (fields - fields.max(0, keepdims=True)))
    w /= w.sum(0, keepdims=True)
    img = np.tensordot(w, picked.astype(np.float32), axes=(0, 0))
    mid = fractal_noise(rng, shape, 16 * scale, octaves=3)
    fine = fractal_noise(rng, shape, 3, octaves=2)
    img *= (1.0 + 0.14 * (mid - 0.5) + 0.12 * (fine - 0.5))[..., None]
    return img.astype(np.float32)


def retint_patch(ground: np.ndarray, mask: np.ndarray, tone: np.ndarray,
                 strength: float) -> np.ndarray:
    """A copy of ``ground`` whose masked part moves towards another tone.

    The local texture is kept (ratio to the mean colour), as when a field is
    ploughed or harvested.

    Args:
        ground (np.ndarray): ``(H, W, 3)`` float32 ground.
        mask (np.ndarray): ``(H, W)`` bool patch.
        tone (np.ndarray): ``(3,)`` target colour.
        strength (float): Blend weight in ``[0, 1]``.

    Returns:
        np.ndarray: ``(H, W, 3)`` float32.
    """
    out = ground.copy()
    if not mask.any():
        return out
    patch = ground[mask]
    mean = patch.mean(0, keepdims=True)
    target = patch / np.maximum(mean, 1.0) * tone
    out[mask] = (1 - strength) * patch + strength * target
    return out


def random_field(rng: np.random.Generator, canvas: int,
                 scale: float) -> np.ndarray:
    """Outline of a re-tinted ground patch (a field) at a random place.

    Args:
        rng (np.random.Generator): Random generator.
        canvas (int): Canvas side.
        scale (float): ``size / 256``.

    Returns:
        np.ndarray: ``(4, 2)`` ``(x, y)`` corners of a rotated rectangle,
        50-120 by 40-90 pixels at 256 px.
    """
    c = rng.uniform(0.1, 0.9, 2) * canvas
    return rotated_rect(c[0], c[1],
                        rng.uniform(50, 120) * scale,
                        rng.uniform(40, 90) * scale, rng.uniform(0, np.pi))


# ----------------------------------------------------------------- roads


@dataclass
class Road:
    """A road centre line with its width.

    Args:
        points (np.ndarray): ``(N, 2)`` ``(x, y)`` centre-line vertices (may
            reach beyond the canvas).
        width (float): Asphalt width in pixels.
        kerb (float): Sidewalk width on each side in pixels.
        canvas (float): Canvas side; :meth:`sample` only returns points on
            the canvas. Defaults to infinity.
    """
    points: np.ndarray
    width: float
    kerb: float
    canvas: float = float('inf')

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, np.float64)
        # Split long segments (<= 4 px) so that sampling can skip the parts
        # outside the canvas.
        fine = [self.points[:1]]
        for p, q in zip(self.points[:-1], self.points[1:]):
            n = max(1, int(np.ceil(np.hypot(*(q - p)) / 4.0)))
            t = np.arange(1, n + 1)[:, None] / n
            fine.append(p + t * (q - p))
        dense = np.concatenate(fine)
        seg = np.diff(dense, axis=0)
        mid = (dense[:-1] + dense[1:]) / 2
        inside = ((mid >= 0) & (mid <= self.canvas)).all(1)
        self._start = dense[:-1][inside]
        self._seg = seg[inside]
        self._cum = np.cumsum(np.hypot(self._seg[:, 0], self._seg[:, 1]))

    def sample(self, rng: np.random.Generator) -> Tuple[np.ndarray, float]:
        """A random point on the centre line (on the canvas) and the local
        direction.

        Args:
            rng (np.random.Generator): Random generator.

        Returns:
            tuple[np.ndarray, float]: ``(x, y)`` and the angle in radians.
        """
        if not len(self._cum):
            raise ValueError('the road does not cross the canvas')
        s = rng.uniform(0, self._cum[-1])
        i = min(int(np.searchsorted(self._cum, s)), len(self._seg) - 1)
        start = self._cum[i - 1] if i > 0 else 0.0
        seg = self._seg[i]
        t = (s - start) / max(self._cum[i] - start, 1e-6)
        return self._start[i] + t * seg, float(np.arctan2(seg[1], seg[0]))


def make_roads(rng: np.random.Generator, canvas: int, scale: float,
               num_roads: int) -> List[Road]:
    """Random road centre lines: a through road, a cross street, a curve.

    Args:
        rng (np.random.Generator): Random generator.
        canvas (int): Canvas side in pixels.
        scale (float): ``size / 256``.
        num_roads (int): Number of roads (0 to 3 are distinct kinds; more
            add further straight roads).

    Returns:
        list[Road]: The roads.
    """
    roads = []
    theta0 = rng.uniform(0, np.pi)
    far = 2.0 * canvas
    for k in range(num_roads):
        centre = rng.uniform(0.2, 0.8, 2) * canvas
        if k == 2:
            # A curved residential street from one border to another.
            a = rng.uniform(0, 2 * np.pi)
            p0 = canvas / 2 + 0.75 * canvas * np.array([np.cos(a), np.sin(a)])
            b = a + np.pi + rng.uniform(-0.9, 0.9)
            p2 = canvas / 2 + 0.75 * canvas * np.array([np.cos(b), np.sin(b)])
            pts = bezier(p0, centre, p2)
        else:
            theta = theta0 + (np.pi / 2 if k % 2 else 0.0)
            theta += rng.uniform(-0.08, 0.08)
            d = np.array([np.cos(theta), np.sin(theta)])
            pts = np.stack([centre - far * d, centre + far * d])
        width = rng.uniform(7.0, 11.0) * scale
        kerb = rng.uniform(1.5, 3.0) * scale
        road = Road(pts, width, kerb, float(canvas))
        if len(road._cum):  # keep roads that cross the canvas
            roads.append(road)
    return roads


def _polyline_alpha(shape: Tuple[int, int], points: np.ndarray,
                    thickness: float) -> np.ndarray:
    """Anti-aliased opacity of a thick polyline.

    Args:
        shape (tuple[int, int]): ``(H, W)``.
        points (np.ndarray): ``(N, 2)`` vertices.
        thickness (float): Line thickness in pixels.

    Returns:
        np.ndarray: ``(H, W)`` float32 in ``[0, 1]``.
    """
    alpha = np.zeros(shape, np.float32)
    pts = np.round(points * 16).astype(np.int32)[None]
    cv2.polylines(
        alpha,
        pts,
        False,
        1.0,
        max(1, int(round(thickness))),
        lineType=cv2.LINE_AA,
        shift=4)
    return np.clip(alpha, 0, 1)


def render_roads(img: np.ndarray, rng: np.random.Generator,
                 roads: Sequence[Road]) -> np.ndarray:
    """Paint sidewalks and asphalt; return the road surface mask.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image, modified in place.
        rng (np.random.Generator): Random generator (texture).
        roads (Sequence[Road]): The roads.

    Returns:
        np.ndarray: ``(H, W)`` bool, True on asphalt or sidewalk.
    """
    shape = img.shape[:2]
    mask = np.zeros(shape, bool)
    if not roads:
        return mask
    tex = fractal_noise(rng, shape, 8, octaves=3)
    asphalt = ASPHALT * rng.uniform(0.9, 1.12)
    for road in roads:
        outer = _polyline_alpha(shape, road.points, road.width + 2 * road.kerb)
        composite(img, outer, CONCRETE * (1 + 0.06 * (tex[..., None] - 0.5)))
        inner = _polyline_alpha(shape, road.points, road.width)
        composite(img, inner, asphalt * (1 + 0.1 * (tex[..., None] - 0.5)))
        mask |= outer > 0.5
    return mask


# ------------------------------------------------------------ vegetation


@dataclass
class VegetationLayer:
    """Lawns and woods: shared geometry and texture, colour set per date.

    Args:
        lawn (np.ndarray): ``(H, W)`` float32 lawn opacity.
        wood (np.ndarray): ``(H, W)`` float32 wood opacity.
        lawn_tex (np.ndarray): ``(H, W)`` float32 lawn brightness factor.
        wood_tex (np.ndarray): ``(H, W)`` float32 canopy brightness factor.
    """
    lawn: np.ndarray
    wood: np.ndarray
    lawn_tex: np.ndarray
    wood_tex: np.ndarray

    def mask(self, threshold: float = 0.5) -> np.ndarray:
        """Pixels covered by vegetation above an opacity.

        Args:
            threshold (float): Opacity threshold. Defaults to 0.5.

        Returns:
            np.ndarray: ``(H, W)`` bool.
        """
        return np.maximum(self.lawn, self.wood) > threshold

    def ground_weight(self) -> np.ndarray:
        """How much of the ground below still shows through.

        Returns:
            np.ndarray: ``(H, W)`` float32 in ``[0, 1]``.
        """
        return (1.0 - self.lawn) * (1.0 - self.wood)

    def render(self, img: np.ndarray, greenness: float) -> None:
        """Composite the vegetation at a seasonal greenness, in place.

        Args:
            img (np.ndarray): ``(H, W, 3)`` float32 image.
            greenness (float): 1 = lush, 0 = dry.
        """
        lawn = lerp_colour(LAWN_DRY, LAWN_LUSH, greenness)
        # Woods change less with the season than lawns.
        wood = lerp_colour(WOOD_DRY, WOOD_LUSH, 0.4 + 0.6 * greenness)
        composite(img, self.lawn, self.lawn_tex[..., None] * lawn)
        composite(img, self.wood, self.wood_tex[..., None] * wood)


def canopy_texture(rng: np.random.Generator, shape: Tuple[int, int],
                   scale: float) -> np.ndarray:
    """Brightness factor of a closed tree canopy (clumpy crowns).

    Args:
        rng (np.random.Generator): Random generator.
        shape (tuple[int, int]): ``(H, W)``.
        scale (float): ``size / 256``.

    Returns:
        np.ndarray: ``(H, W)`` float32 factor around 1.
    """
    crowns = fractal_noise(rng, shape, max(5 * scale, 1.5), octaves=2)
    fine = fractal_noise(rng, shape, 2, octaves=1)
    return (0.55 + 0.75 * crowns**1.5 + 0.15 * (fine - 0.5)).astype(np.float32)


def make_vegetation(rng: np.random.Generator, shape: Tuple[int, int],
                    scale: float, lawn_cover: float, wood_cover: float,
                    exclude: np.ndarray) -> VegetationLayer:
    """Lawn and wood patches from thresholded noise.

    Args:
        rng (np.random.Generator): Random generator.
        shape (tuple[int, int]): ``(H, W)``.
        scale (float): ``size / 256``.
        lawn_cover (float): Wanted lawn fraction of the canvas.
        wood_cover (float): Wanted wood fraction of the canvas.
        exclude (np.ndarray): ``(H, W)`` bool, no vegetation there (roads).

    Returns:
        VegetationLayer: The layer.
    """
    alphas = []
    for cover in (lawn_cover, wood_cover):
        n = fractal_noise(rng, shape, 70 * scale, octaves=4)
        thr = float(np.quantile(n, 1 - cover)) if cover > 0 else 2.0
        a = np.clip((n - thr) / 0.025, 0, 1).astype(np.float32)
        a[exclude] = 0
        alphas.append(a)
    lawn_tex = (1 + 0.16 * (fractal_noise(rng, shape, 6, 3) - 0.5)).astype(
        np.float32)
    return VegetationLayer(alphas[0], alphas[1], lawn_tex,
                           canopy_texture(rng, shape, scale))


@dataclass
class Tree:
    """A single tree crown.

    Args:
        cx (float): Centre x.
        cy (float): Centre y.
        radius (float): Crown radius in pixels.
        height (float): Height (shadow length units).
    """
    cx: float
    cy: float
    radius: float
    height: float


def tree_leaves(rng: np.random.Generator, tree: Tree) -> np.ndarray:
    """Leaf texture of one crown, drawn once and shared by both dates.

    Args:
        rng (np.random.Generator): Random generator.
        tree (Tree): The crown.

    Returns:
        np.ndarray: ``(n, n)`` float32 brightness factor around 1, with
        ``n = ceil(2 r + 3)``.
    """
    n = int(np.ceil(2 * tree.radius + 3))
    leaves = rng.uniform(0.85, 1.15, (n, n)).astype(np.float32)
    return cv2.GaussianBlur(leaves, (0, 0), 0.7)


def tree_shading(
        tree: Tree, light: np.ndarray,
        leaves: np.ndarray) -> Tuple[int, int, np.ndarray, np.ndarray]:
    """Opacity and shading of one crown in its bounding box.

    Args:
        tree (Tree): The crown.
        light (np.ndarray): ``(2,)`` unit vector towards the sun.
        leaves (np.ndarray): ``(n, n)`` leaf texture from
            :func:`tree_leaves`.

    Returns:
        tuple: ``(y0, x0, alpha, shade)``, both ``(n, n)`` float32,
        ``alpha`` a soft disc and ``shade`` a brightness factor (lit side
        brighter).
    """
    r = tree.radius
    x0, y0 = int(np.floor(tree.cx - r - 1)), int(np.floor(tree.cy - r - 1))
    n = leaves.shape[0]
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    dx = xx + x0 - tree.cx
    dy = yy + y0 - tree.cy
    dist = np.sqrt(dx**2 + dy**2)
    alpha = np.clip(r + 0.5 - dist, 0, 1)
    lit = (dx * light[0] + dy * light[1]) / max(r, 1e-3)
    shade = (0.95 + 0.35 * np.clip(lit, -1, 1) - 0.25 *
             (dist / max(r, 1e-3))**2) * leaves
    return y0, x0, alpha.astype(np.float32), shade.astype(np.float32)


def render_trees(img: np.ndarray, patches: Sequence[Tuple[int, int, np.ndarray,
                                                          np.ndarray]],
                 greenness: float) -> np.ndarray:
    """Composite tree crowns in place; return their mask.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        patches (Sequence[tuple]): Output of :func:`tree_shading` per tree.
        greenness (float): Seasonal state, 1 = lush.

    Returns:
        np.ndarray: ``(H, W)`` float32 crown opacity (max over crowns).
    """
    h, w = img.shape[:2]
    colour = lerp_colour(WOOD_DRY, WOOD_LUSH, 0.3 + 0.7 * greenness)
    mask = np.zeros((h, w), np.float32)
    for y0, x0, alpha, shade in patches:
        ys, xs = slice(max(y0, 0),
                       min(y0 + alpha.shape[0],
                           h)), slice(max(x0, 0), min(x0 + alpha.shape[1], w))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue
        ly = slice(ys.start - y0, ys.stop - y0)
        lx = slice(xs.start - x0, xs.stop - x0)
        a = alpha[ly, lx]
        composite(img[ys, xs], a, shade[ly, lx][..., None] * colour)
        np.maximum(mask[ys, xs], a, out=mask[ys, xs])
    return mask


# ------------------------------------------------------------------ cars


def make_cars(rng: np.random.Generator, roads: Sequence[Road], count: int,
              scale: float) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Cars on the roads, as footprint polygons.

    Args:
        rng (np.random.Generator): Random generator.
        roads (Sequence[Road]): The roads.
        count (int): Number of cars.
        scale (float): ``size / 256``.

    Returns:
        list[tuple[np.ndarray, np.ndarray]]: ``(corners (4, 2), colour (3,))``
        per car.
    """
    cars = []
    if not roads:
        return cars
    for _ in range(count):
        road = roads[int(rng.integers(len(roads)))]
        p, ang = road.sample(rng)
        lane = road.width * rng.choice([-0.25, 0.25])
        p = p + lane * np.array([-np.sin(ang), np.cos(ang)])
        corners = rotated_rect(p[0], p[1], 8.5 * scale, 4.0 * scale, ang)
        colour = CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))]
        cars.append((corners, colour))
    return cars


def render_cars(img: np.ndarray,
                cars: Sequence[Tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Paint cars in place; return their mask.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        cars (Sequence[tuple]): ``(corners (4, 2), colour (3,))`` pairs.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    mask = np.zeros(img.shape[:2], bool)
    for corners, colour in cars:
        loc = local_polygon_mask(corners, img.shape[:2])
        if loc is None:
            continue
        y0, x0, m = loc
        region = img[y0:y0 + m.shape[0], x0:x0 + m.shape[1]]
        region[m] = colour
        mask[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] |= m
    return mask
