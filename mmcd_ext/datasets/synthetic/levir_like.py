"""Binary building change scenes in LEVIR-CD layout.

A scene is suburban ground (blended soil tones), roads with sidewalks, lawns,
woods, tree crowns, cars and buildings with lit roofs and cast shadows. The
real changes are buildings that appear (built between the dates) or vanish
(demolished); the label is their footprint (LEVIR-CD convention: shadows are
not change). Pseudo-changes are added as described in
:mod:`.pseudo_changes`. Everything is drawn on a canvas with a margin of
``PAD`` pixels (:mod:`.common`) so that date B can be shifted without border
artefacts; labels and pseudo masks are in date A's frame.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .buildings import (Building, apply_shadow, render_buildings, shadow_mask,
                        sun_light)
from .common import (PAD, JsonParamsMixin, SeedLike, check_probability,
                     check_range, component_rngs, dilate, fill_polygons,
                     fractal_noise, randint, scene_frame, uniform)
from .placement import Occupancy, place_buildings, place_row, place_trees
from .pseudo_changes import (PseudoChangeParams, acquire_dates, crop,
                             draw_conditions, local_pseudo_changes,
                             shadow_changes)
from .render import (GROUND_TONES, ground_layer, make_cars, make_roads,
                     make_vegetation, random_field, render_cars, render_roads,
                     render_trees, retint_patch, tree_leaves, tree_shading)
from .writer import Layout, write_dataset

#: Version of the scene design, stored in meta.json.
GENERATOR_VERSION = 1
LEVIR_FOLDERS = ('A', 'B', 'label', 'pseudo')

_PARTS = ('conditions', 'ground', 'roads', 'vegetation', 'changes',
          'buildings', 'trees', 'roofs', 'fields', 'cars', 'acquire_a',
          'acquire_b')


@dataclass
class LevirSceneParams(JsonParamsMixin):
    """Content of the binary change scenes (sizes at 256 px, scaled).

    Args:
        num_roads (tuple[int, int]): Roads per scene. Defaults to (1, 3).
        buildings (tuple[int, int]): Unchanged buildings wanted per scene.
            Defaults to (6, 16).
        p_large (float): Probability that a building is a large
            flat-roofed one. Defaults to 0.12.
        p_aligned (float): Probability that an unchanged building sits on a
            roadside lot. Defaults to 0.7.
        changed_fraction (tuple[int, int]): Target fraction of changed
            pixels, drawn per image; changed buildings are added until it is
            reached (or no room is left). Defaults to (0.03, 0.10).
        max_changed (int): At most this many changed buildings. Defaults to
            14.
        p_no_change (float): Probability of an image without real change.
            Defaults to 0.0.
        p_row (float): Probability that a changed group is a row of
            identical houses along a road. Defaults to 0.4.
        row_length (tuple[int, int]): Houses per row. Defaults to (2, 5).
        p_vanish (float): Probability that a changed group is demolished
            (present in A only) rather than built (present in B only).
            Defaults to 0.25.
        lawn_cover (tuple[float, float]): Lawn fraction. Defaults to
            (0.05, 0.25).
        wood_cover (tuple[float, float]): Wood fraction. Defaults to
            (0.0, 0.12).
        trees (tuple[int, int]): Single tree crowns. Defaults to (5, 30).
        margin (float): Free space around buildings in pixels at 256 px.
            Defaults to 2.5.
    """
    num_roads: Tuple[int, int] = (1, 3)
    buildings: Tuple[int, int] = (6, 16)
    p_large: float = 0.12
    p_aligned: float = 0.7
    changed_fraction: Tuple[float, float] = (0.03, 0.10)
    max_changed: int = 14
    p_no_change: float = 0.0
    p_row: float = 0.4
    row_length: Tuple[int, int] = (2, 5)
    p_vanish: float = 0.25
    lawn_cover: Tuple[float, float] = (0.05, 0.25)
    wood_cover: Tuple[float, float] = (0.0, 0.12)
    trees: Tuple[int, int] = (5, 30)
    margin: float = 2.5

    def __post_init__(self) -> None:
        check_range('num_roads', self.num_roads, 0, 8)
        check_range('buildings', self.buildings, 0)
        check_range('changed_fraction', self.changed_fraction, 0.0, 0.5)
        check_range('row_length', self.row_length, 1)
        check_range('lawn_cover', self.lawn_cover, 0.0, 0.9)
        check_range('wood_cover', self.wood_cover, 0.0, 0.9)
        check_range('trees', self.trees, 0)
        for name in ('p_large', 'p_aligned', 'p_no_change', 'p_row',
                     'p_vanish'):
            check_probability(name, getattr(self, name))
        if self.max_changed < 0 or self.margin < 0:
            raise ValueError('max_changed and margin must be >= 0')


def _changed_buildings(rng: np.random.Generator, occ: Occupancy, roads: list,
                       params: LevirSceneParams, size: int,
                       scale: float) -> Tuple[List[Building], List[Building]]:
    """Add appearing / vanishing groups until the target area is reached.

    Args:
        rng (np.random.Generator): Random generator.
        occ (Occupancy): Occupancy, updated.
        roads (list): Roads.
        params (LevirSceneParams): Scene parameters.
        size (int): Image side.
        scale (float): ``size / 256``.

    Returns:
        tuple[list[Building], list[Building]]: ``(appeared, vanished)``.
    """
    target = uniform(rng, params.changed_fraction)
    if rng.random() < params.p_no_change:
        target = 0.0
    wanted = target * size * size
    box = (PAD, PAD + size)  # changed buildings are centred in the image
    margin = params.margin * scale
    appeared: List[Building] = []
    vanished: List[Building] = []
    area = 0.0
    for _ in range(60):
        n_changed = len(appeared) + len(vanished)
        if area >= wanted or n_changed >= params.max_changed:
            break
        room = params.max_changed - n_changed
        if roads and rng.random() < params.p_row:
            road = roads[int(rng.integers(len(roads)))]
            group = place_row(rng, occ, road,
                              min(randint(rng, params.row_length), room),
                              scale, margin, box)
        else:
            group = place_buildings(
                rng,
                occ,
                roads,
                1,
                scale,
                params.p_large,
                0.5,
                margin,
                box,
                max_attempts=5)
        vanish = bool(rng.random() < params.p_vanish)
        (vanished if vanish else appeared).extend(group)
        for b in group:
            area += b.length * b.width
    return appeared, vanished


def make_levir_like_sample(
        seed: SeedLike = 0,
        size: int = 256,
        scene: Optional[LevirSceneParams] = None,
        pseudo: Optional[PseudoChangeParams] = None) -> Dict[str, object]:
    """Generate one bitemporal scene with its change label, in memory.

    Args:
        seed (int | np.random.SeedSequence): Seed of this image. Defaults
            to 0.
        size (int): Image side in pixels (>= 32). Defaults to 256.
        scene (LevirSceneParams, optional): Scene content. Defaults to
            ``LevirSceneParams()``.
        pseudo (PseudoChangeParams, optional): Pseudo-changes. Defaults to
            ``PseudoChangeParams()``.

    Returns:
        dict: ``img_a``, ``img_b`` (``(S, S, 3)`` uint8 RGB), ``label``
        (``(S, S)`` uint8, 255 = changed building footprint, else 0),
        ``pseudo`` (``(S, S)`` uint8, 255 = unchanged pixel altered by a
        local pseudo-change), ``pseudo_parts`` (dict of ``(S, S)`` bool, one
        per source: ``season``, ``field``, ``cars``, ``shadow``,
        ``misregistration``; before the buffer around real change is
        removed), ``changed_shadow`` (``(S, S)`` bool, shadows of the
        changed buildings: neither change nor pseudo-change) and ``info``
        (JSON-friendly summary: counts, changed fraction, shift
        ``[dy, dx]``, per-date conditions).
    """
    scale, canvas, shape = scene_frame(size)
    scene = LevirSceneParams() if scene is None else scene
    pseudo = PseudoChangeParams() if pseudo is None else pseudo
    rngs = component_rngs(seed, _PARTS)

    cond_a, cond_b, shift = draw_conditions(rngs['conditions'], pseudo)

    # Shared background: ground, roads, vegetation geometry.
    base = ground_layer(rngs['ground'], shape, scale)
    roads = make_roads(rngs['roads'], canvas, scale,
                       randint(rngs['roads'], scene.num_roads))
    road_mask = render_roads(base, rngs['roads'], roads)
    rv = rngs['vegetation']
    veg = make_vegetation(rv, shape, scale, uniform(rv, scene.lawn_cover),
                          uniform(rv, scene.wood_cover), dilate(road_mask, 1))

    # Buildings: changed groups first (they need room), then the rest.
    occ = Occupancy(dilate(road_mask, max(1, int(round(2 * scale)))))
    appeared, vanished = _changed_buildings(rngs['changes'], occ, roads, scene,
                                            size, scale)
    persistent = place_buildings(rngs['buildings'], occ, roads,
                                 randint(rngs['buildings'], scene.buildings),
                                 scale, scene.p_large, scene.p_aligned,
                                 scene.margin * scale)
    rt = rngs['trees']
    trees = place_trees(rt, occ.blocked, randint(rt, scene.trees), scale)
    leaves = [tree_leaves(rt, t) for t in trees]
    roof_tex = fractal_noise(rngs['roofs'], shape, 2.5, octaves=2)

    # Re-tinted ground patches (ploughed / harvested fields) on one date.
    rf = rngs['fields']
    bases = [base, base]
    field_mask = np.zeros(shape, bool)
    n_fields = randint(rf, pseudo.num_fields)
    if rf.random() < pseudo.p_field and n_fields > 0:
        date_masks = [np.zeros(shape, bool), np.zeros(shape, bool)]
        for _ in range(n_fields):
            poly = random_field(rf, canvas, scale)
            date_masks[int(rf.integers(2))] |= fill_polygons(
                shape, [poly]).astype(bool)
        tone = GROUND_TONES[int(rf.integers(len(GROUND_TONES)))]
        strength = rf.uniform(0.6, 0.9)
        bases = [
            retint_patch(base, m & ~dilate(road_mask, 1), tone, strength)
            for m in date_masks
        ]
        field_mask = date_masks[0] | date_masks[1]

    rc = rngs['cars']
    cars = [
        make_cars(rc, roads, randint(rc, pseudo.cars), scale) for _ in range(2)
    ]

    # Render both dates. Roofs and crowns are shaded with date A's sun on
    # both dates (only the cast shadows move with the sun).
    light = sun_light(cond_a.shadow_dir)
    patches = [tree_shading(t, light, lv) for t, lv in zip(trees, leaves)]
    canvases, footprints, crowns, car_masks = [], [], [], []
    for date, cond in enumerate((cond_a, cond_b)):
        img = bases[date].copy()
        veg.render(img, cond.greenness)
        car_masks.append(render_cars(img, cars[date]))
        present = persistent + (vanished if date == 0 else appeared)
        shadows = shadow_mask(shape, present, trees, cond.shadow_dir,
                              cond.shadow_length)
        apply_shadow(img, shadows, cond.shadow_darkness)
        footprints.append(render_buildings(img, present, light, roof_tex))
        crowns.append(render_trees(img, patches, cond.greenness))
        canvases.append(img)

    # Labels and pseudo-change masks, in date A's frame.
    changed = fill_polygons(shape, [b.corners() for b in appeared + vanished])
    label = crop(changed.astype(bool), PAD, size)
    buildings_any = footprints[0] | footprints[1]
    # Crowns are the same on both dates; > 0.1 counts their soft edges.
    crown_any = crowns[0] > 0.1
    crown_core = crowns[0] > 0.9
    parts = {}
    season = cond_a.greenness != cond_b.greenness
    parts['season'] = ((veg.mask(0.1) | crown_any) & ~buildings_any & season)
    # Re-tinted ground counts where at least 10% of it shows.
    parts['field'] = (
        field_mask & ~dilate(road_mask, 1) & ~buildings_any
        & ~crown_core & (veg.ground_weight() > 0.1))
    parts['cars'] = dilate(car_masks[0] | car_masks[1], 1)
    moved_shadow, changed_shadows = shadow_changes(shape, persistent, trees,
                                                   appeared, vanished, cond_a,
                                                   cond_b)
    parts['shadow'] = moved_shadow & ~buildings_any & ~crown_core
    parts, changed_shadow, pseudo_mask = local_pseudo_changes(
        parts, changed_shadows & ~buildings_any, label, canvases[1], cond_b,
        size, shift, pseudo)

    img_a, img_b = acquire_dates(canvases, (cond_a, cond_b), size, shift, rngs)
    info = dict(
        num_unchanged_buildings=len(persistent),
        num_appeared=len(appeared),
        num_vanished=len(vanished),
        changed_fraction=round(float(label.mean()), 5),
        pseudo_fraction=round(float(pseudo_mask.mean()), 5),
        shift=[int(shift[0]), int(shift[1])],
        season_change=bool(season),
        num_fields=int(n_fields) if field_mask.any() else 0,
        cars=[len(cars[0]), len(cars[1])],
        date_a=cond_a.summary(),
        date_b=cond_b.summary())
    return dict(
        img_a=img_a,
        img_b=img_b,
        label=(label * 255).astype(np.uint8),
        pseudo=(pseudo_mask * 255).astype(np.uint8),
        pseudo_parts=parts,
        changed_shadow=changed_shadow,
        info=info)


def _levir_images(sample: Dict[str, object]) -> List[Tuple[str, np.ndarray]]:
    """The PNGs of one LEVIR-like sample, by folder.

    Args:
        sample (dict): Output of :func:`make_levir_like_sample`.

    Returns:
        list[tuple[str, np.ndarray]]: ``(folder, uint8 image)`` pairs.
    """
    return [(folder, sample[key])
            for folder, key in (('A', 'img_a'), ('B', 'img_b'),
                                ('label', 'label'), ('pseudo', 'pseudo'))]


def generate_levir_like(
        out_dir: str,
        num_train: int = 200,
        num_val: int = 40,
        num_test: int = 40,
        size: int = 256,
        seed: int = 0,
        scene: Optional[LevirSceneParams] = None,
        pseudo: Optional[PseudoChangeParams] = None,
        overwrite: bool = False,
        progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Write a LEVIR-CD-layout data set of synthetic scenes.

    Layout: ``<out>/{train,val,test}/{A,B,label,pseudo}/<split>_<i>.png``
    (RGB dates, 0/255 change labels, 0/255 pseudo-change masks) and
    ``<out>/meta.json`` (seed, sizes, parameters, per-image summary).

    Args:
        out_dir (str): Data-set root; must be empty or absent unless
            ``overwrite`` (or left unfinished by a stopped run, which is
            written again).
        num_train (int): Training images. Defaults to 200.
        num_val (int): Validation images. Defaults to 40.
        num_test (int): Test images. Defaults to 40.
        size (int): Image side in pixels. Defaults to 256.
        seed (int): Data-set seed; image ``i`` of a split depends only on
            ``(seed, split, i)``. Defaults to 0.
        scene (LevirSceneParams, optional): Scene content. Defaults to
            ``LevirSceneParams()``.
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
    return write_dataset(_LEVIR_LAYOUT, out_dir, counts, size, seed, scene,
                         pseudo, overwrite, progress)


_LEVIR_LAYOUT = Layout(
    name='levir',
    generator='mmcd_ext.datasets.synthetic.generate_levir_like',
    version=GENERATOR_VERSION,
    folders=LEVIR_FOLDERS,
    scene_params=LevirSceneParams,
    make_sample=make_levir_like_sample,
    images=_levir_images,
    extra_meta=dict(label_values=dict(unchanged=0, changed=255)))
