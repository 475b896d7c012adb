"""Semantic change scenes in SECOND layout.

A scene is a land-cover map (water, ground, low vegetation, tree, building,
playground) rendered with per-class textures, roads (ground), roofs with
shadows and sports grounds. Real changes are regions whose class differs
between the dates: new buildings (ground / low vegetation -> building),
demolitions (building -> ground), vegetation growth or clearing, water
receding or new ponds, new playgrounds. As in SECOND, ``label1`` / ``label2``
carry the date-A / date-B class in changed pixels and "unchanged" (white)
elsewhere, so both are white at exactly the same pixels. Pseudo-changes as in
:mod:`.pseudo_changes`, plus a water colour change between dates.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..palettes import SECOND_CLASSES, SECOND_PALETTE, index_to_colour
from .buildings import (Building, apply_shadow, render_buildings, shadow_mask,
                        sun_light)
from .common import (PAD, JsonParamsMixin, SeedLike, bezier, check_probability,
                     check_range, component_rngs, dilate, fill_polygons,
                     fractal_noise, randint, scene_frame, uniform)
from .placement import Occupancy, place_buildings, place_row, try_add
from .pseudo_changes import (PseudoChangeParams, acquire_dates, crop,
                             draw_conditions, local_pseudo_changes,
                             shadow_changes)
from .render import (GROUND_TONES, LAWN_DRY, LAWN_LUSH, WOOD_DRY, WOOD_LUSH,
                     canopy_texture, ground_layer, lerp_colour, make_cars,
                     make_roads, random_field, render_cars, render_roads,
                     retint_patch)
from .writer import Layout, write_dataset

GENERATOR_VERSION = 1
SECOND_FOLDERS = ('im1', 'im2', 'label1', 'label2', 'pseudo')
# Class indices of SECOND (names and colours: ``mmcd_ext.datasets.palettes``).
UNCHANGED, WATER, GROUND, LOW_VEG, TREE, BUILDING, PLAYGROUND = range(7)

WATER_COLOURS = np.array([[52, 74, 90], [58, 84, 78], [72, 82, 68]],
                         np.float32)
TRACK = np.array([172, 74, 62], np.float32)
TURF = np.array([66, 138, 74], np.float32)

_PARTS = ('conditions', 'classes', 'water', 'roads', 'buildings',
          'playgrounds', 'changes', 'textures', 'roofs', 'fields', 'cars',
          'acquire_a', 'acquire_b')
# (from classes, to class) of natural region changes.
_REGION_CHANGES = (((LOW_VEG, ), TREE), ((TREE, ), LOW_VEG),
                   ((LOW_VEG, TREE), GROUND), ((GROUND, ), LOW_VEG))


@dataclass
class SecondSceneParams(JsonParamsMixin):
    """Content of the semantic change scenes (sizes at 256 px, scaled).

    Args:
        class_bias (float): Random per-scene bias of the ground / low
            vegetation / tree proportions. Defaults to 0.15.
        p_water (float): Probability of a river or pond. Defaults to 0.5.
        num_roads (tuple[int, int]): Roads (class ground). Defaults to
            (0, 2).
        buildings (tuple[int, int]): Unchanged buildings wanted. Defaults
            to (6, 18).
        p_playground (float): Probability of an unchanged playground.
            Defaults to 0.3.
        changed_fraction (tuple[float, float]): Target fraction of changed
            pixels; change events are added until it is reached. Defaults to
            (0.08, 0.25).
        event_weights (tuple[float, ...]): Relative frequency of the events
            (build, demolish, vegetation, water, playground: the order of
            ``CHANGE_EVENTS``). Defaults to (0.35, 0.1, 0.4, 0.1, 0.05).
        blob_radius (tuple[float, float]): Radius of natural change regions
            in pixels at 256 px. Defaults to (18, 45).
        margin (float): Free space around buildings in pixels at 256 px.
            Defaults to 2.0.
    """
    class_bias: float = 0.15
    p_water: float = 0.5
    num_roads: Tuple[int, int] = (0, 2)
    buildings: Tuple[int, int] = (6, 18)
    p_playground: float = 0.3
    changed_fraction: Tuple[float, float] = (0.08, 0.25)
    event_weights: Tuple[float, ...] = (0.35, 0.1, 0.4, 0.1, 0.05)
    blob_radius: Tuple[float, float] = (18.0, 45.0)
    margin: float = 2.0

    def __post_init__(self) -> None:
        check_range('num_roads', self.num_roads, 0, 8)
        check_range('buildings', self.buildings, 0)
        check_range('changed_fraction', self.changed_fraction, 0.0, 0.8)
        check_range('blob_radius', self.blob_radius, 1.0)
        for name in ('p_water', 'p_playground'):
            check_probability(name, getattr(self, name))
        w = np.asarray(self.event_weights, np.float64)
        if w.shape != (5, ) or (w < 0).any() or w.sum() <= 0:
            raise ValueError('event_weights must be 5 non-negative numbers '
                             f'with a positive sum, got {self.event_weights}')
        if self.class_bias < 0 or self.margin < 0:
            raise ValueError('class_bias and margin must be >= 0')


@dataclass
class Playground:
    """A sports ground: a running track around a turf (or court) field.

    Args:
        cx (float): Centre x.
        cy (float): Centre y.
        length (float): Outer length.
        width (float): Outer width.
        angle (float): Orientation in radians.
        inner (np.ndarray): ``(3,)`` colour of the inner field.
    """
    cx: float
    cy: float
    length: float
    width: float
    angle: float
    inner: np.ndarray

    def corners(self) -> np.ndarray:
        """Outer footprint, a stadium (rectangle with round ends).

        Returns:
            np.ndarray: ``(N, 2)`` polygon.
        """
        return stadium(self.cx, self.cy, self.length, self.width, self.angle)

    def proxy(self) -> Building:
        """A flat box with the same outer rectangle, for placement.

        Returns:
            Building: The box.
        """
        return Building(self.cx, self.cy, self.length, self.width, self.angle,
                        0.0, 'flat', self.inner, 0.0)


def stadium(cx: float,
            cy: float,
            length: float,
            width: float,
            angle: float,
            num: int = 12) -> np.ndarray:
    """Polygon of a stadium: two half discs joined by straight sides.

    Args:
        cx (float): Centre x.
        cy (float): Centre y.
        length (float): Outer length (>= width).
        width (float): Outer width, the discs' diameter.
        angle (float): Orientation in radians.
        num (int): Points per half disc. Defaults to 12.

    Returns:
        np.ndarray: ``(2 num, 2)`` ``(x, y)`` vertices.
    """
    r = width / 2
    half = max(length / 2 - r, 0.0)
    t = np.linspace(-np.pi / 2, np.pi / 2, num)
    right = np.stack([half + r * np.cos(t), r * np.sin(t)], 1)
    left = np.stack([-half - r * np.cos(t), -r * np.sin(t)], 1)
    local = np.concatenate([right, left])
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return local @ rot.T + [cx, cy]


def _random_playground(rng: np.random.Generator, canvas: int,
                       scale: float) -> Playground:
    """Draw a playground at a random position.

    Args:
        rng (np.random.Generator): Random generator.
        canvas (int): Canvas side.
        scale (float): ``size / 256``.

    Returns:
        Playground: The playground.
    """
    length = rng.uniform(44, 80) * scale
    width = rng.uniform(0.5, 0.7) * length
    inner = TURF if rng.random() < 0.7 else TRACK * 0.9
    c = rng.uniform(0.15, 0.85, 2) * canvas
    return Playground(
        float(c[0]), float(c[1]), float(length), float(width),
        float(rng.uniform(0, np.pi)), inner * rng.uniform(0.9, 1.1))


def _render_playground(img: np.ndarray, p: Playground,
                       tex: np.ndarray) -> np.ndarray:
    """Paint a playground in place; return its footprint.

    Args:
        img (np.ndarray): ``(H, W, 3)`` float32 image.
        p (Playground): The playground.
        tex (np.ndarray): ``(H, W)`` float32 texture in ``[0, 1]``.

    Returns:
        np.ndarray: ``(H, W)`` bool footprint.
    """
    shape = img.shape[:2]
    outer = fill_polygons(shape, [p.corners()]).astype(bool)
    track = min(p.width * 0.15, 8.0)
    inner_poly = stadium(p.cx, p.cy, p.length - 2 * track, p.width - 2 * track,
                         p.angle)
    inner = fill_polygons(shape, [inner_poly]).astype(bool)
    eroded = inner & ~dilate(~inner, 1)
    line = inner & ~eroded  # white line around the inner field
    shade = (1 + 0.06 * (tex - 0.5))[..., None]
    img[outer] = (TRACK * shade)[outer]
    img[inner] = (p.inner * shade)[inner]
    img[line] = 228.0
    return outer


def _blob(rng: np.random.Generator, shape: Tuple[int, int], noise: np.ndarray,
          radius: Tuple[float, float], scale: float,
          centre_range: Tuple[float, float]) -> np.ndarray:
    """An irregular region: a noisy ellipse.

    Args:
        rng (np.random.Generator): Random generator.
        shape (tuple[int, int]): ``(H, W)``.
        noise (np.ndarray): ``(H, W)`` smooth noise in ``[0, 1]``.
        radius (tuple[float, float]): Radius range at 256 px.
        scale (float): ``size / 256``.
        centre_range (tuple[float, float]): Bounds of the centre.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    h, w = shape
    cx, cy = rng.uniform(centre_range[0], centre_range[1], 2)
    rx = uniform(rng, radius) * scale
    ry = rx * rng.uniform(0.6, 1.4)
    ang = rng.uniform(0, np.pi)
    y0, y1 = max(int(cy - 2 * max(rx, ry)),
                 0), min(int(cy + 2 * max(rx, ry)) + 1, h)
    x0, x1 = max(int(cx - 2 * max(rx, ry)),
                 0), min(int(cx + 2 * max(rx, ry)) + 1, w)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(ang), np.sin(ang)
    d = ((dx * c + dy * s) / rx)**2 + ((-dx * s + dy * c) / ry)**2
    out = np.zeros(shape, bool)
    out[y0:y1, x0:x1] = np.sqrt(d) + 0.8 * (noise[y0:y1, x0:x1] - 0.5) < 1
    return out


def _land_cover(rng: np.random.Generator, rw: np.random.Generator,
                shape: Tuple[int, int], scale: float,
                params: SecondSceneParams) -> np.ndarray:
    """Natural classes (ground / low vegetation / tree) plus water.

    Args:
        rng (np.random.Generator): Random generator of the classes.
        rw (np.random.Generator): Random generator of the water.
        shape (tuple[int, int]): ``(H, W)``.
        scale (float): ``size / 256``.
        params (SecondSceneParams): Scene parameters.

    Returns:
        np.ndarray: ``(H, W)`` uint8 class map.
    """
    fields = np.stack(
        [fractal_noise(rng, shape, 90 * scale, octaves=4) for _ in range(3)])
    fields += rng.uniform(-params.class_bias, params.class_bias, (3, 1, 1))
    classes = np.array([GROUND, LOW_VEG, TREE], np.uint8)[fields.argmax(0)]
    has_water = rw.random() < params.p_water
    river = rw.random() < 0.5
    h, w = shape
    if has_water:
        if river:
            a = rw.uniform(0, 2 * np.pi)
            p0 = np.array([w, h]) / 2 + 0.8 * w * np.array(
                [np.cos(a), np.sin(a)])
            p2 = np.array([w, h]) / 2 - 0.8 * w * np.array(
                [np.cos(a), np.sin(a)])
            p1 = rw.uniform(0.2, 0.8, 2) * [w, h]
            water = np.zeros(shape, np.uint8)
            pts = np.round(bezier(p0, p1, p2) * 16).astype(np.int32)[None]
            cv2.polylines(water, pts, False, 1,
                          max(2, int(rw.uniform(14, 34) * scale)), cv2.LINE_8,
                          4)
            water = water.astype(bool)
        else:
            noise = fractal_noise(rw, shape, 30 * scale, octaves=3)
            water = _blob(rw, shape, noise, (25.0, 55.0), scale,
                          (0.2 * w, 0.8 * w))
        classes[water] = WATER
    return classes


@dataclass
class _ChangeState:
    """What the change events read and update while a scene is drawn.

    Every event takes this state, draws from ``rng`` and changes the state
    in place; the order of the draws fixes the output for a seed.

    Args:
        rng (np.random.Generator): Random generator of the change events.
        scene (SecondSceneParams): Scene parameters.
        shape (tuple[int, int]): Canvas ``(H, W)``.
        canvas (int): Canvas side.
        scale (float): ``size / 256``.
        margin (float): Free space around buildings, in pixels.
        inside (tuple[float, float]): Bounds of the image inside the
            canvas; new objects are centred there.
        roads (list): Roads of the scene.
        road_mask (np.ndarray): ``(H, W)`` bool road pixels.
        occ (Occupancy): Occupancy of buildings and playgrounds.
        cover (np.ndarray): ``(H, W)`` uint8 date-A land cover.
        cover_b (np.ndarray): ``(H, W)`` uint8 date-B land cover.
        blob_noise (np.ndarray): ``(H, W)`` noise that shapes the regions.
        protected (np.ndarray): ``(H, W)`` bool pixels region events never
            change (roads and earlier regions).
        objects (np.ndarray): ``(H, W)`` bool footprints of buildings and
            playgrounds; region events keep off them.
        persistent (list[Building]): Buildings standing on date A (those
            demolished are moved to ``vanished``).
        playgrounds_b (list[Playground]): Playgrounds of date B.
        appeared (list[Building]): New buildings of date B. Defaults to an
            empty list.
        vanished (list[Building]): Demolished buildings. Defaults to an
            empty list.
    """
    rng: np.random.Generator
    scene: SecondSceneParams
    shape: Tuple[int, int]
    canvas: int
    scale: float
    margin: float
    inside: Tuple[float, float]
    roads: list
    road_mask: np.ndarray
    occ: Occupancy
    cover: np.ndarray
    cover_b: np.ndarray
    blob_noise: np.ndarray
    protected: np.ndarray
    objects: np.ndarray
    persistent: List[Building]
    playgrounds_b: List[Playground]
    appeared: List[Building] = field(default_factory=list)
    vanished: List[Building] = field(default_factory=list)

    def footprint(self, polygons: List[np.ndarray]) -> np.ndarray:
        """Pixels covered by polygons.

        Args:
            polygons (list[np.ndarray]): ``(N, 2)`` polygons.

        Returns:
            np.ndarray: ``(H, W)`` bool.
        """
        return fill_polygons(self.shape, polygons).astype(bool)


def _build_event(st: _ChangeState) -> None:
    """New buildings: a row along a road or a small free-standing group.

    Args:
        st (_ChangeState): Scene state, updated in place.
    """
    rc = st.rng
    if st.roads and rc.random() < 0.5:
        road = st.roads[int(rc.integers(len(st.roads)))]
        group = place_row(rc, st.occ, road, randint(rc, (2, 5)), st.scale,
                          st.margin, st.inside)
    else:
        group = place_buildings(rc, st.occ, st.roads, randint(rc, (1, 3)),
                                st.scale, 0.2, 0.5, st.margin, st.inside, 15)
    st.appeared.extend(group)
    st.objects |= st.footprint([b.corners() for b in group])


def _demolish_event(st: _ChangeState) -> None:
    """One date-A building inside the image is demolished (becomes ground).

    Args:
        st (_ChangeState): Scene state, updated in place.
    """
    low, high = st.inside
    candidates = [
        b for b in st.persistent if low <= b.cx < high and low <= b.cy < high
    ]
    if candidates:
        b = candidates[int(st.rng.integers(len(candidates)))]
        st.persistent.remove(b)
        st.vanished.append(b)


def _playground_event(st: _ChangeState) -> None:
    """A new sports ground; it may also replace trees.

    Args:
        st (_ChangeState): Scene state, updated in place.
    """
    occ_pg = Occupancy(
        dilate(st.objects, int(np.ceil(st.margin)))
        | dilate(st.road_mask, 1) | (st.cover == WATER)
        | (st.cover_b == WATER))
    for _ in range(10):
        p = _random_playground(st.rng, st.canvas, st.scale)
        if try_add(occ_pg, p.proxy(), st.margin, st.inside):
            st.occ.add(p.proxy().corners())
            st.objects |= st.footprint([p.corners()])
            st.playgrounds_b.append(p)
            break


def _region_blob(st: _ChangeState) -> np.ndarray:
    """A natural region that keeps off roads, earlier regions and objects.

    Args:
        st (_ChangeState): Scene state.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    return _blob(st.rng, st.shape, st.blob_noise, st.scene.blob_radius,
                 st.scale, st.inside) & ~st.protected & ~st.objects


def _change_region(st: _ChangeState, blob: np.ndarray,
                   sources: Tuple[int, ...], dest: int) -> None:
    """Turn the ``sources`` pixels of ``blob`` into class ``dest`` on date B.

    Args:
        st (_ChangeState): Scene state, updated in place.
        blob (np.ndarray): ``(H, W)`` bool candidate region.
        sources (tuple[int, ...]): Date-B classes that may change.
        dest (int): Their new class.
    """
    region = blob & np.isin(st.cover_b, sources)
    st.cover_b[region] = dest
    st.protected |= region
    if dest in (WATER, TREE):
        st.occ.blocked |= region  # nothing is built there later


def _vegetation_event(st: _ChangeState) -> None:
    """Vegetation grows or is cleared (one of ``_REGION_CHANGES``).

    Args:
        st (_ChangeState): Scene state, updated in place.
    """
    blob = _region_blob(st)
    sources, dest = _REGION_CHANGES[int(st.rng.integers(len(_REGION_CHANGES)))]
    _change_region(st, blob, sources, dest)


def _water_event(st: _ChangeState) -> None:
    """Water recedes to ground or low vegetation, or a new pond appears.

    Args:
        st (_ChangeState): Scene state, updated in place.
    """
    rc = st.rng
    blob = _region_blob(st)
    if (st.cover == WATER).any() and rc.random() < 0.8:
        sources, dest = (WATER, ), (GROUND, LOW_VEG)[int(rc.integers(2))]
    else:
        # A new pond keeps away from buildings and roads.
        blob &= ~dilate(st.objects | st.protected, max(1, int(8 * st.scale)))
        sources, dest = (GROUND, LOW_VEG), WATER
    _change_region(st, blob, sources, dest)


# The change events by name, in the order of
# ``SecondSceneParams.event_weights``.
CHANGE_EVENTS: Dict[str, Callable[[_ChangeState], None]] = {
    'build': _build_event,
    'demolish': _demolish_event,
    'vegetation': _vegetation_event,
    'water': _water_event,
    'playground': _playground_event,
}


def _apply_change_events(st: _ChangeState, target: float,
                         size: int) -> List[str]:
    """Draw change events until ``target`` pixels changed (at most 40).

    Args:
        st (_ChangeState): Scene state, updated in place.
        target (float): Wanted number of changed pixels in the image.
        size (int): Image side.

    Returns:
        list[str]: Names of the events drawn, in order.
    """
    names = list(CHANGE_EVENTS)
    weights = np.asarray(st.scene.event_weights, np.float64)
    weights = weights / weights.sum()
    events: List[str] = []
    for _ in range(40):
        changed = crop(st.cover != st.cover_b, PAD, size).sum()
        changed += sum(b.length * b.width for b in st.appeared + st.vanished)
        if changed >= target:
            break
        kind = names[int(st.rng.choice(len(names), p=weights))]
        CHANGE_EVENTS[kind](st)
        events.append(kind)
    return events


def _draw_objects(st: _ChangeState, playgrounds_a: List[Playground]) -> None:
    """Draw buildings and playgrounds into both cover maps.

    Done after the change events, so objects cover the region changes.

    Args:
        st (_ChangeState): Scene state after the events; ``cover`` and
            ``cover_b`` are updated in place.
        playgrounds_a (list[Playground]): Playgrounds of date A.
    """
    for b in st.persistent + st.vanished:
        st.cover[st.footprint([b.corners()])] = BUILDING
    for b in st.persistent:
        st.cover_b[st.footprint([b.corners()])] = BUILDING
    for b in st.vanished:
        st.cover_b[st.footprint([b.corners()])] = GROUND
    for b in st.appeared:
        st.cover_b[st.footprint([b.corners()])] = BUILDING
    for p in playgrounds_a:
        st.cover[st.footprint([p.corners()])] = PLAYGROUND
    for p in st.playgrounds_b:
        st.cover_b[st.footprint([p.corners()])] = PLAYGROUND


def _transitions(label_a: np.ndarray, label_b: np.ndarray,
                 change: np.ndarray) -> Dict[str, int]:
    """Changed pixels per class transition, e.g. ``{'tree->ground': 412}``.

    Args:
        label_a (np.ndarray): ``(S, S)`` uint8 date-A classes.
        label_b (np.ndarray): ``(S, S)`` uint8 date-B classes.
        change (np.ndarray): ``(S, S)`` bool changed pixels.

    Returns:
        dict: ``'<class A>-><class B>'`` to pixel count.
    """
    transitions: Dict[str, int] = {}
    pairs, counts = np.unique(
        label_a[change].astype(np.int64) * 8 + label_b[change],
        return_counts=True)
    for pair, n in zip(pairs, counts):
        key = f'{SECOND_CLASSES[pair // 8]}->{SECOND_CLASSES[pair % 8]}'
        transitions[key] = int(n)
    return transitions


def make_second_like_sample(
        seed: SeedLike = 0,
        size: int = 256,
        scene: Optional[SecondSceneParams] = None,
        pseudo: Optional[PseudoChangeParams] = None) -> Dict[str, object]:
    """Generate one bitemporal semantic change scene, in memory.

    Args:
        seed (int | np.random.SeedSequence): Seed of this image. Defaults
            to 0.
        size (int): Image side in pixels (>= 32). Defaults to 256.
        scene (SecondSceneParams, optional): Scene content. Defaults to
            ``SecondSceneParams()``.
        pseudo (PseudoChangeParams, optional): Pseudo-changes. Defaults to
            ``PseudoChangeParams()``.

    Returns:
        dict: ``img_a``, ``img_b`` (``(S, S, 3)`` uint8 RGB), ``cover_a``,
        ``cover_b`` (``(S, S)`` uint8 full land cover, classes 1..6),
        ``label_a``, ``label_b`` (``(S, S)`` uint8, the cover where it
        changed, 0 elsewhere), ``change`` (``(S, S)`` bool), ``pseudo``
        (``(S, S)`` uint8 0/255), ``pseudo_parts`` (dict of ``(S, S)`` bool
        per source: ``season``, ``water``, ``field``, ``cars``, ``shadow``,
        ``misregistration``; before the buffer around real change is
        removed), ``changed_shadow`` (``(S, S)`` bool, shadows of changed
        buildings) and ``info`` (JSON-friendly summary).
    """
    scale, canvas, shape = scene_frame(size)
    scene = SecondSceneParams() if scene is None else scene
    pseudo = PseudoChangeParams() if pseudo is None else pseudo
    rngs = component_rngs(seed, _PARTS)
    cond_a, cond_b, shift = draw_conditions(rngs['conditions'], pseudo)

    cover = _land_cover(rngs['classes'], rngs['water'], shape, scale, scene)
    roads = make_roads(rngs['roads'], canvas, scale,
                       randint(rngs['roads'], scene.num_roads))
    # Bare-soil tones only: no grass-like ground next to low vegetation.
    ground = ground_layer(
        rngs['textures'], shape, scale, tones=GROUND_TONES[[1, 2, 3, 5]])
    road_mask = render_roads(ground, rngs['roads'], roads)
    cover[road_mask] = GROUND

    # Unchanged objects.
    margin = scene.margin * scale
    natural_block = dilate(road_mask, 1) | np.isin(cover, (WATER, TREE))
    occ = Occupancy(natural_block)
    rp = rngs['playgrounds']
    playgrounds_a: List[Playground] = []
    if rp.random() < scene.p_playground:
        for _ in range(10):
            p = _random_playground(rp, canvas, scale)
            if try_add(occ, p.proxy(), margin):
                playgrounds_a.append(p)
                break
    rb = rngs['buildings']
    persistent = place_buildings(rb, occ, roads, randint(rb, scene.buildings),
                                 scale, 0.15, 0.6, margin)
    # Footprints of every object so far (region events keep off them).
    objects = fill_polygons(shape,
                            [o.corners()
                             for o in persistent + playgrounds_a]).astype(bool)

    # Change events.
    rc = rngs['changes']
    target = uniform(rc, scene.changed_fraction) * size * size
    state = _ChangeState(
        rng=rc,
        scene=scene,
        shape=shape,
        canvas=canvas,
        scale=scale,
        margin=margin,
        inside=(PAD, PAD + size),
        roads=roads,
        road_mask=road_mask,
        occ=occ,
        cover=cover,
        cover_b=cover.copy(),
        blob_noise=fractal_noise(rc, shape, 20 * scale, octaves=3),
        protected=road_mask.copy(),
        objects=objects,
        persistent=persistent,
        playgrounds_b=list(playgrounds_a))
    events = _apply_change_events(state, target, size)
    cover_b, appeared, vanished = state.cover_b, state.appeared, state.vanished
    playgrounds_b = state.playgrounds_b
    _draw_objects(state, playgrounds_a)

    # Textures shared by both dates.
    rt = rngs['textures']
    lawn_tex = 1 + 0.18 * (fractal_noise(rt, shape, 6, 3) - 0.5)
    wood_tex = canopy_texture(rt, shape, scale)
    water_base = WATER_COLOURS[int(rt.integers(len(WATER_COLOURS)))]
    water_tex = 1 + 0.06 * (fractal_noise(rt, shape, 24 * scale, 3) - 0.5)
    water_tint = (1 + rt.uniform(-1, 1, 3) * pseudo.water_tint).astype(
        np.float32)
    tint_water = bool(rt.random() < pseudo.p_water_tint)
    pg_tex = fractal_noise(rt, shape, 4, 2)
    roof_tex = fractal_noise(rngs['roofs'], shape, 2.5, octaves=2)

    rf = rngs['fields']
    grounds = [ground, ground]
    field_mask = np.zeros(shape, bool)
    if rf.random() < pseudo.p_field:
        poly = random_field(rf, canvas, scale)
        field_mask = fill_polygons(
            shape, [poly]).astype(bool) & ~dilate(road_mask, 1)
        tone = GROUND_TONES[int(rf.integers(len(GROUND_TONES)))]
        date = int(rf.integers(2))
        grounds[date] = retint_patch(ground, field_mask, tone,
                                     rf.uniform(0.6, 0.9))
    rcar = rngs['cars']
    cars = [
        make_cars(rcar, roads, randint(rcar, pseudo.cars), scale)
        for _ in range(2)
    ]

    canvases, car_masks = [], []
    for date, (cond, cov) in enumerate(((cond_a, cover), (cond_b, cover_b))):
        img = grounds[date].copy()
        g = cond.greenness
        lawn = lawn_tex[..., None] * lerp_colour(LAWN_DRY, LAWN_LUSH, g)
        wood = wood_tex[..., None] * lerp_colour(WOOD_DRY, WOOD_LUSH,
                                                 0.4 + 0.6 * g)
        water_col = water_base * (
            water_tint if date == 1 and tint_water else 1.0)
        for cls, tex in ((LOW_VEG, lawn), (TREE, wood)):
            m = cov == cls
            img[m] = tex[m]
        m = cov == WATER
        img[m] = (water_tex[..., None] * water_col)[m]
        car_masks.append(render_cars(img, cars[date]))
        present = persistent + (vanished if date == 0 else appeared)
        shadows = shadow_mask(shape, present, [], cond.shadow_dir,
                              cond.shadow_length)
        apply_shadow(img, shadows & (cov != WATER), cond.shadow_darkness)
        # Roofs are shaded with date A's sun on both dates.
        render_buildings(img, present, sun_light(cond_a.shadow_dir), roof_tex)
        for p in (playgrounds_a if date == 0 else playgrounds_b):
            _render_playground(img, p, pg_tex)
        canvases.append(img)

    # Labels in date A's frame.
    cover_a_img = crop(cover, PAD, size).copy()
    cover_b_img = crop(cover_b, PAD, size).copy()
    change = cover_a_img != cover_b_img
    label_a = np.where(change, cover_a_img, UNCHANGED).astype(np.uint8)
    label_b = np.where(change, cover_b_img, UNCHANGED).astype(np.uint8)

    same = cover == cover_b
    veg = np.isin(cover, (LOW_VEG, TREE)) & same
    parts = {
        'season': veg & (cond_a.greenness != cond_b.greenness),
        'water': (cover == WATER) & same & tint_water,
        'field': field_mask & (cover == GROUND) & same & ~road_mask,
        'cars': dilate(car_masks[0] | car_masks[1], 1),
    }
    moved_shadow, changed_shadows = shadow_changes(shape, persistent, [],
                                                   appeared, vanished, cond_a,
                                                   cond_b)
    parts['shadow'] = (
        moved_shadow & same
        & ~np.isin(cover, (BUILDING, WATER, PLAYGROUND)))
    parts, changed_shadow, pseudo_mask = local_pseudo_changes(
        parts, changed_shadows & (cover != BUILDING) & (cover_b != BUILDING),
        change, canvases[1], cond_b, size, shift, pseudo)

    img_a, img_b = acquire_dates(canvases, (cond_a, cond_b), size, shift, rngs)
    info = dict(
        changed_fraction=round(float(change.mean()), 5),
        pseudo_fraction=round(float(pseudo_mask.mean()), 5),
        transitions=_transitions(label_a, label_b, change),
        events=events,
        num_unchanged_buildings=len(persistent),
        num_appeared=len(appeared),
        num_vanished=len(vanished),
        shift=[int(shift[0]), int(shift[1])],
        season_change=bool(cond_a.greenness != cond_b.greenness),
        water_tint=bool(tint_water and (cover == WATER).any()),
        cars=[len(cars[0]), len(cars[1])],
        date_a=cond_a.summary(),
        date_b=cond_b.summary())
    return dict(
        img_a=img_a,
        img_b=img_b,
        cover_a=cover_a_img,
        cover_b=cover_b_img,
        label_a=label_a,
        label_b=label_b,
        change=change,
        pseudo=(pseudo_mask * 255).astype(np.uint8),
        pseudo_parts=parts,
        changed_shadow=changed_shadow,
        info=info)


def _second_images(sample: Dict[str, object]) -> List[Tuple[str, np.ndarray]]:
    """The PNGs of one SECOND-like sample, by folder (labels colour-coded).

    Args:
        sample (dict): Output of :func:`make_second_like_sample`.

    Returns:
        list[tuple[str, np.ndarray]]: ``(folder, uint8 image)`` pairs.
    """
    return [('im1', sample['img_a']), ('im2', sample['img_b']),
            ('label1', index_to_colour(sample['label_a'], SECOND_PALETTE)),
            ('label2', index_to_colour(sample['label_b'], SECOND_PALETTE)),
            ('pseudo', sample['pseudo'])]


def generate_second_like(
        out_dir: str,
        num_train: int = 120,
        num_val: int = 30,
        num_test: int = 30,
        size: int = 256,
        seed: int = 0,
        scene: Optional[SecondSceneParams] = None,
        pseudo: Optional[PseudoChangeParams] = None,
        overwrite: bool = False,
        progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Write a SECOND-layout data set of synthetic scenes.

    Layout:
    ``<out>/{train,val,test}/{im1,im2,label1,label2,pseudo}/<split>_<i>.png``
    (RGB dates, RGB labels colour-coded with
    ``mmcd_ext.datasets.palettes.SECOND_PALETTE``, 0/255 pseudo-change masks)
    and ``<out>/meta.json``.

    Args:
        out_dir (str): Data-set root; must be empty or absent unless
            ``overwrite`` (or left unfinished by a stopped run, which is
            written again).
        num_train (int): Training images. Defaults to 120.
        num_val (int): Validation images. Defaults to 30.
        num_test (int): Test images. Defaults to 30.
        size (int): Image side in pixels. Defaults to 256.
        seed (int): Data-set seed; image ``i`` of a split depends only on
            ``(seed, split, i)``. Defaults to 0.
        scene (SecondSceneParams, optional): Scene content. Defaults to
            ``SecondSceneParams()``.
        pseudo (PseudoChangeParams, optional): Pseudo-changes. Defaults to
            ``PseudoChangeParams()``.
        overwrite (bool): Write into a non-empty directory, replacing a
            previous run's PNGs and meta.json. Defaults to False.
        progress (Callable, optional): Called as ``progress(done, total)``
            after each image. Defaults to None.

    Returns:
        dict: The content of ``meta.json``.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    return write_dataset(_SECOND_LAYOUT, out_dir, counts, size, seed, scene,
                         pseudo, overwrite, progress)


_SECOND_LAYOUT = Layout(
    name='second',
    generator='mmcd_ext.datasets.synthetic.generate_second_like',
    version=GENERATOR_VERSION,
    folders=SECOND_FOLDERS,
    scene_params=SecondSceneParams,
    make_sample=make_second_like_sample,
    images=_second_images,
    extra_meta=dict(
        classes=list(SECOND_CLASSES),
        palette=[list(c) for c in SECOND_PALETTE]))
