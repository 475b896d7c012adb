"""Buildings with lit roofs, and the shadows of buildings and trees.

The sun is described by the unit vector along which shadows are cast
(``shadow_dir``, image ``(x, y)`` axes) and a shadow length per unit of
object height; roofs are lit from the opposite direction (:func:`sun_light`).
"""
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import fill_polygons, local_polygon_mask, rotated_rect
from .render import Tree

# Pitched roofs (shingle greys and browns, terracotta, blue-grey) and flat
# roofs (white membranes, concrete, gravel).
PITCHED_ROOFS = np.array(
    [[118, 108, 98], [92, 90, 94], [142, 130, 114], [166, 98, 74],
     [124, 86, 72], [150, 150, 148], [104, 116, 132], [176, 160, 132]],
    dtype=np.float32)
FLAT_ROOFS = np.array(
    [[214, 214, 208], [186, 184, 178], [156, 156, 154], [122, 128, 138]],
    dtype=np.float32)


@dataclass
class Building:
    """A building: a rotated rectangular footprint and its roof.

    Args:
        cx (float): Centre x.
        cy (float): Centre y.
        length (float): Side along ``angle`` (the ridge direction).
        width (float): The other side.
        angle (float): Orientation in radians.
        height (float): Height (shadow length units).
        roof (str): ``'gable'``, ``'hip'`` or ``'flat'``.
        colour (np.ndarray): ``(3,)`` roof base colour.
        relief (float): Strength of the sun shading of roof faces.
        units (list): Rooftop units of flat roofs as ``(u, v, size)`` in
            local coordinates. Defaults to an empty list.
    """
    cx: float
    cy: float
    length: float
    width: float
    angle: float
    height: float
    roof: str
    colour: np.ndarray
    relief: float
    units: list = field(default_factory=list)

    def corners(self) -> np.ndarray:
        """Footprint corners.

        Returns:
            np.ndarray: ``(4, 2)`` ``(x, y)``.
        """
        return rotated_rect(self.cx, self.cy, self.length, self.width,
                            self.angle)


def random_building(rng: np.random.Generator,
                    cx: float,
                    cy: float,
                    angle: float,
                    scale: float,
                    large: bool = False,
                    like: Optional[Building] = None) -> Building:
    """Draw a house (or a large flat-roofed building) at a position.

    Args:
        rng (np.random.Generator): Random generator.
        cx (float): Centre x.
        cy (float): Centre y.
        angle (float): Orientation in radians.
        scale (float): ``size / 256``.
        large (bool): Draw a large commercial building. Defaults to False.
        like (Building, optional): Copy size, roof and colour from this one
            (rows of identical houses). Defaults to None.

    Returns:
        Building: The building.
    """
    if like is not None:
        return Building(cx, cy, like.length, like.width, angle, like.height,
                        like.roof, like.colour.copy(), like.relief,
                        list(like.units))
    if large:
        length = rng.uniform(38, 64) * scale
        width = rng.uniform(24, 38) * scale
        roof = 'flat' if rng.random() < 0.8 else 'hip'
        height = rng.uniform(7, 12) * scale
    else:
        length = rng.uniform(16, 34) * scale
        width = rng.uniform(12, min(24, length / scale)) * scale
        roof = str(rng.choice(['gable', 'hip', 'flat'], p=[0.45, 0.4, 0.15]))
        height = rng.uniform(4, 8) * scale
    palette = FLAT_ROOFS if roof == 'flat' else PITCHED_ROOFS
    colour = palette[rng.integers(len(palette))] * rng.uniform(0.9, 1.1)
    colour = colour + rng.uniform(-6, 6, 3)
    units = []
    if roof == 'flat':
        for _ in range(int(rng.integers(0, 4 if large else 2))):
            units.append((float(rng.uniform(-0.35, 0.35) * length),
                          float(rng.uniform(-0.3, 0.3) * width),
                          float(rng.uniform(2, 5) * scale)))
    return Building(
        float(cx), float(cy), float(length), float(width), float(angle),
        float(height), roof, colour.astype(np.float32),
        float(rng.uniform(0.12, 0.28)), units)


def render_buildings(img: np.ndarray, buildings: Sequence[Building],
                     light: np.ndarray, roof_tex: np.ndarray) -> np.ndarray:
    """Paint roofs in place; return the footprint mask.

    Pitched roofs are lit per face (face normal against the sun direction),
    gable roofs get a bright ridge, flat roofs a dark parapet and rooftop
    units.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        buildings (Sequence[Building]): The buildings.
        light (np.ndarray): ``(2,)`` unit vector towards the sun.
        roof_tex (np.ndarray): ``(H, W)`` float32 texture in ``[0, 1]``.

    Returns:
        np.ndarray: ``(H, W)`` bool footprint mask.
    """
    shape = img.shape[:2]
    mask = np.zeros(shape, bool)
    for b in buildings:
        loc = local_polygon_mask(b.corners(), shape)
        if loc is None:
            continue
        y0, x0, m = loc
        yy, xx = np.nonzero(m)
        px = xx + x0 - b.cx
        py = yy + y0 - b.cy
        c, s = np.cos(b.angle), np.sin(b.angle)
        u = px * c + py * s
        v = -px * s + py * c
        half_l, half_w = b.length / 2, b.width / 2
        along = np.array([c, s])
        across = np.array([-s, c])
        if b.roof == 'flat':
            shade = 1.0 + 0.04 * (u / max(half_l, 1)) * np.sign(along @ light)
            edge = np.minimum(half_l - np.abs(u), half_w - np.abs(v))
            shade = np.where(edge < 1.2, 0.82, shade)
            for cu, cv, size in b.units:
                box = (np.abs(u - cu) < size / 2) & (np.abs(v - cv) < size / 2)
                shade = np.where(box, 1.12, shade)
        else:
            side = np.sign(v) + (v == 0)
            normal_side = side[:, None] * across[None]
            if b.roof == 'hip':
                # End faces where the distance to a short side is smaller.
                end = (half_l - np.abs(u)) < (half_w - np.abs(v))
                end_sign = np.sign(u) + (u == 0)
                normal = np.where(end[:, None],
                                  end_sign[:, None] * along[None], normal_side)
            else:
                normal = normal_side
            shade = 1.0 + b.relief * (normal @ light)
            if b.roof == 'gable':
                shade = np.where(np.abs(v) < 0.7, 1.0 + b.relief, shade)
        tex = 1.0 + 0.09 * (roof_tex[yy + y0, xx + x0] - 0.5)
        img[yy + y0, xx + x0] = (shade * tex)[:, None] * b.colour
        mask[yy + y0, xx + x0] = True
    return mask


def shadow_polygon(corners: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Shadow of a prism: hull of the footprint and its displaced copy.

    Args:
        corners (np.ndarray): ``(N, 2)`` footprint vertices.
        offset (np.ndarray): ``(2,)`` displacement of the roof's shadow.

    Returns:
        np.ndarray: ``(M, 2)`` hull vertices.
    """
    pts = np.concatenate([corners, corners + offset]).astype(np.float32)
    return cv2.convexHull(pts)[:, 0, :].astype(np.float64)


def shadow_mask(shape: Tuple[int, int], buildings: Sequence[Building],
                trees: Sequence[Tree], shadow_dir: np.ndarray,
                length: float) -> np.ndarray:
    """Cast shadows of buildings and trees (before removing the objects).

    Args:
        shape (tuple[int, int]): ``(H, W)``.
        buildings (Sequence[Building]): Buildings present at the date.
        trees (Sequence[Tree]): Trees.
        shadow_dir (np.ndarray): ``(2,)`` unit vector shadows point along.
        length (float): Shadow length per unit height.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    polys = [
        shadow_polygon(b.corners(), shadow_dir * b.height * length)
        for b in buildings
    ]
    mask = fill_polygons(shape, polys).astype(bool)
    if trees:
        tmask = np.zeros(shape, np.uint8)
        for t in trees:
            off = shadow_dir * t.height * length
            cv2.circle(tmask, (int(round(
                (t.cx + off[0]) * 16)), int(round((t.cy + off[1]) * 16))),
                       int(round(t.radius * 16)), 1, -1, cv2.LINE_8, 4)
        mask |= tmask.astype(bool)
    return mask


def apply_shadow(img: np.ndarray, mask: np.ndarray, darkness: float) -> None:
    """Darken shadowed pixels in place (soft edge, slightly blue).

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        mask (np.ndarray): ``(H, W)`` bool shadow mask.
        darkness (float): Brightness factor inside the shadow.
    """
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)
    tint = np.array([0.92, 0.97, 1.1], np.float32) * darkness
    img *= (1.0 - soft[..., None] * (1.0 - tint))


def sun_light(shadow_dir: np.ndarray) -> np.ndarray:
    """Horizontal direction towards the sun (opposite to the shadows).

    Args:
        shadow_dir (np.ndarray): ``(2,)`` unit vector.

    Returns:
        np.ndarray: ``(2,)`` unit vector.
    """
    return -np.asarray(shadow_dir, np.float64)
