"""Placing buildings and trees without overlaps."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .buildings import Building, random_building
from .common import local_polygon_mask, rotated_rect
from .render import Road, Tree


class Occupancy:
    """A canvas-sized mask of blocked pixels.

    Args:
        blocked (np.ndarray): ``(H, W)`` bool, initially blocked pixels
            (copied).
    """

    def __init__(self, blocked: np.ndarray) -> None:
        self.blocked = blocked.astype(bool).copy()

    def free(self, polygon: np.ndarray) -> bool:
        """Whether a polygon lies on the canvas and touches no blocked pixel.

        Args:
            polygon (np.ndarray): ``(N, 2)`` ``(x, y)`` vertices.

        Returns:
            bool: True when it can be placed.
        """
        h, w = self.blocked.shape
        if polygon[:, 0].min() < 0 or polygon[:, 1].min() < 0 or \
                polygon[:, 0].max() > w - 1 or polygon[:, 1].max() > h - 1:
            return False
        loc = local_polygon_mask(polygon, self.blocked.shape)
        if loc is None:
            return False
        y0, x0, m = loc
        region = self.blocked[y0:y0 + m.shape[0], x0:x0 + m.shape[1]]
        return not bool((region & m).any())

    def add(self, polygon: np.ndarray) -> None:
        """Block the pixels of a polygon.

        Args:
            polygon (np.ndarray): ``(N, 2)`` ``(x, y)`` vertices.
        """
        loc = local_polygon_mask(polygon, self.blocked.shape)
        if loc is not None:
            y0, x0, m = loc
            self.blocked[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] |= m


def grown(b: Building, margin: float) -> np.ndarray:
    """Footprint of a building enlarged by a margin on every side.

    Args:
        b (Building): The building.
        margin (float): Margin in pixels.

    Returns:
        np.ndarray: ``(4, 2)`` corners.
    """
    return rotated_rect(b.cx, b.cy, b.length + 2 * margin,
                        b.width + 2 * margin, b.angle)


def try_add(occ: Occupancy,
            b: Building,
            margin: float,
            centre_box: Optional[Tuple[float, float]] = None) -> bool:
    """Place a building if its grown footprint is free.

    Args:
        occ (Occupancy): Occupancy, updated on success.
        b (Building): Candidate.
        margin (float): Free space required around it.
        centre_box (tuple[float, float], optional): ``(low, high)`` bounds
            its centre must lie in (both axes). Defaults to None.

    Returns:
        bool: Whether it was placed.
    """
    if centre_box is not None:
        lo, hi = centre_box
        if not (lo <= b.cx < hi and lo <= b.cy < hi):
            return False
    h, w = occ.blocked.shape
    if not (0 <= b.cx < w and 0 <= b.cy < h) or \
            occ.blocked[int(b.cy), int(b.cx)]:
        return False  # cheap early rejection
    poly = grown(b, margin)
    if not occ.free(poly):
        return False
    occ.add(poly)
    return True


def roadside_position(rng: np.random.Generator, road: Road, depth: float,
                      scale: float) -> Tuple[np.ndarray, float, np.ndarray]:
    """A lot beside a road: centre, facing angle and the along-road vector.

    Args:
        rng (np.random.Generator): Random generator.
        road (Road): The road.
        depth (float): Building depth (its side across the road).
        scale (float): ``size / 256``.

    Returns:
        tuple: ``(centre (2,), angle, along (2,))``.
    """
    p, ang = road.sample(rng)
    along = np.array([np.cos(ang), np.sin(ang)])
    normal = np.array([-along[1], along[0]]) * rng.choice([-1.0, 1.0])
    setback = rng.uniform(3, 12) * scale
    dist = road.width / 2 + road.kerb + setback + depth / 2
    return p + dist * normal, ang, along


def place_buildings(rng: np.random.Generator,
                    occ: Occupancy,
                    roads: Sequence[Road],
                    count: int,
                    scale: float,
                    p_large: float,
                    p_aligned: float,
                    margin: float,
                    centre_box: Optional[Tuple[float, float]] = None,
                    max_attempts: int = 20) -> List[Building]:
    """Scatter independent buildings, many along roads.

    Args:
        rng (np.random.Generator): Random generator.
        occ (Occupancy): Occupancy, updated.
        roads (Sequence[Road]): Roads (may be empty).
        count (int): Buildings wanted.
        scale (float): ``size / 256``.
        p_large (float): Probability of a large flat-roofed building.
        p_aligned (float): Probability of a roadside, road-aligned lot.
        margin (float): Free space around each building.
        centre_box (tuple[float, float], optional): Bounds of the centres.
            Defaults to None.
        max_attempts (int): Attempts per wanted building; placement also
            stops after ``3 * max_attempts`` failures in a row. Defaults to
            20.

    Returns:
        list[Building]: The placed buildings (possibly fewer than wanted).
    """
    h, w = occ.blocked.shape
    placed: List[Building] = []
    if roads:
        d = roads[0].points[1] - roads[0].points[0]
        main_angle = float(np.arctan2(d[1], d[0]))
    else:
        main_angle = float(rng.uniform(0, np.pi))
    failures = 0
    for _ in range(count * max_attempts):
        if len(placed) >= count or failures >= 3 * max_attempts:
            break  # done, or the free space is used up
        failures += 1
        large = bool(rng.random() < p_large)
        if roads and rng.random() < p_aligned:
            road = roads[int(rng.integers(len(roads)))]
            b = random_building(rng, 0, 0, 0, scale, large)
            centre, b.angle, _ = roadside_position(rng, road, b.width, scale)
            b.cx, b.cy = float(centre[0]), float(centre[1])
        else:
            ang = main_angle if rng.random() < 0.5 else rng.uniform(0, np.pi)
            ang += rng.normal(0, 0.05)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            if occ.blocked[int(cy), int(cx)]:
                continue
            b = random_building(rng, cx, cy, ang, scale, large)
        if try_add(occ, b, margin, centre_box):
            placed.append(b)
            failures = 0
    return placed


def place_row(
        rng: np.random.Generator,
        occ: Occupancy,
        road: Road,
        count: int,
        scale: float,
        margin: float,
        centre_box: Optional[Tuple[float, float]] = None) -> List[Building]:
    """A row of identical houses along a road (a new development).

    Houses that do not fit are skipped; the row stops at the first gap of
    two failures.

    Args:
        rng (np.random.Generator): Random generator.
        occ (Occupancy): Occupancy, updated.
        road (Road): The road.
        count (int): Houses wanted.
        scale (float): ``size / 256``.
        margin (float): Free space around each house.
        centre_box (tuple[float, float], optional): Bounds of the centres.
            Defaults to None.

    Returns:
        list[Building]: The placed houses.
    """
    proto = random_building(rng, 0, 0, 0, scale)
    centre, ang, along = roadside_position(rng, road, proto.width, scale)
    gap = rng.uniform(3, 7) * scale
    step = (proto.length + gap + 2 * margin) * along
    placed: List[Building] = []
    failures = 0
    k = 0
    while len(placed) < count and failures < 2:
        c = centre + k * step
        k += 1
        b = random_building(rng, c[0], c[1], ang, scale, like=proto)
        if try_add(occ, b, margin, centre_box):
            placed.append(b)
            failures = 0
        else:
            failures += 1
    return placed


def place_trees(rng: np.random.Generator, blocked: np.ndarray, count: int,
                scale: float) -> List[Tree]:
    """Clusters of tree crowns on unblocked pixels.

    Args:
        rng (np.random.Generator): Random generator.
        blocked (np.ndarray): ``(H, W)`` bool, crowns must not cover these.
        count (int): Trees wanted.
        scale (float): ``size / 256``.

    Returns:
        list[Tree]: The trees.
    """
    h, w = blocked.shape
    trees: List[Tree] = []
    if count <= 0:
        return trees
    centres = rng.uniform(0, 1, (int(rng.integers(1, 5)), 2)) * [w, h]
    for _ in range(count * 10):
        if len(trees) >= count:
            break
        c = centres[int(rng.integers(len(centres)))]
        x, y = c + rng.normal(0, 22 * scale, 2)
        r = rng.uniform(3, 7) * scale
        if r < 1.0:
            r = 1.0
        x0, x1 = int(np.floor(x - r)), int(np.ceil(x + r)) + 1
        y0, y1 = int(np.floor(y - r)), int(np.ceil(y + r)) + 1
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue
        if blocked[y0:y1, x0:x1].any():
            continue
        trees.append(
            Tree(
                float(x), float(y), float(r),
                float(r * rng.uniform(1.2, 2.0))))
    return trees
