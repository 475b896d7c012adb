"""Pseudo-changes: appearance differences between dates that are not change.

Two kinds are modelled.

* **Global** (every pixel; not in the pseudo mask): a radiometric transform
  per date (per-channel gain, offset and gamma), haze, sensor blur and
  sensor noise.
* **Local** (a subset of pixels; written to the pseudo mask): seasonal
  vegetation tint, misregistration of date B (its edges), re-tinted ground
  patches (ploughed / harvested fields), moving cars, and the shadows of
  unchanged buildings and trees moving with the sun.

The parameters of a whole data set live in :class:`PseudoChangeParams`; the
per-date draws of one image in :class:`DateConditions`.
"""
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

from .buildings import Building, shadow_mask
from .common import (PAD, JsonParamsMixin, check_probability, check_range,
                     dilate, fractal_noise, gaussian_blur, uniform)
from .render import Tree

PHOTOMETRIC_DATES = ('both', 'b', 'random')


@dataclass
class PseudoChangeParams(JsonParamsMixin):
    """Strength and frequency of every pseudo-change.

    Ranges are ``(low, high)`` and drawn uniformly per image (per date where
    it makes sense); probabilities are per image.

    Args:
        photometric_dates (str): Which dates get a random radiometric
            transform: ``'both'`` (each its own), ``'b'`` (date A untouched)
            or ``'random'`` (one of the two, chosen per image). Defaults to
            ``'both'``.
        gain (tuple[float, float]): Global gain. Defaults to (0.85, 1.15).
        channel_jitter (float): Extra per-channel gain in
            ``[1 - j, 1 + j]`` (colour cast). Defaults to 0.05.
        offset (tuple[float, float]): Per-channel offset in grey levels.
            Defaults to (-10, 10).
        gamma (tuple[float, float]): Global gamma, with a per-channel jitter
            of +-3%. Defaults to (0.85, 1.15).
        p_haze (float): Probability of haze per date. Defaults to 0.25.
        haze (tuple[float, float]): Haze opacity (modulated by smooth noise
            between 50% and 100%). Defaults to (0.05, 0.25).
        blur_sigma (tuple[float, float]): Sensor blur (Gaussian sigma in
            pixels) per date. Defaults to (0.4, 0.8).
        noise_sigma (tuple[float, float]): Gaussian sensor noise (grey
            levels) per date. Defaults to (1.0, 3.0).
        p_season (float): Probability that the vegetation greenness differs
            between dates. Defaults to 0.5.
        greenness (tuple[float, float]): Greenness of date A (1 = lush).
            Defaults to (0.45, 1.0).
        season_delta (tuple[float, float]): Magnitude of the greenness
            change (sign random, flipped when needed to stay in [0, 1]).
            Defaults to (0.3, 0.6).
        p_misregistration (float): Probability that date B is shifted.
            Defaults to 0.5.
        max_shift (int): Largest shift of date B per axis in pixels; a
            shifted image moves by 1..max_shift px along at least one axis.
            Defaults to 2.
        p_field (float): Probability of re-tinted ground patches.
            Defaults to 0.5.
        num_fields (tuple[int, int]): Number of patches when they occur.
            Defaults to (1, 2).
        cars (tuple[int, int]): Cars on the roads per date. Defaults to
            (0, 6).
        p_water_tint (float): Probability that the water colour differs
            between dates (SECOND-like scenes, which have water). Defaults
            to 0.5.
        water_tint (float): Largest per-channel relative change of the
            water colour. Defaults to 0.2.
        sun_jitter_deg (float): Sun azimuth difference between dates (up to,
            in degrees). Defaults to 12.
        shadow_ratio (tuple[float, float]): Shadow length of date B over
            date A. Defaults to (0.75, 1.3).
        edge_threshold (float): A pixel is a misregistration edge when the
            shift changes it by more than this (grey levels, max over
            channels, before the radiometric transforms). Defaults to 24.
        label_buffer (int): Pseudo-mask pixels within this distance of a
            real change are dropped (boundary blur is not a pseudo-change).
            Defaults to 2.
    """
    photometric_dates: str = 'both'
    gain: Tuple[float, float] = (0.85, 1.15)
    channel_jitter: float = 0.05
    offset: Tuple[float, float] = (-10.0, 10.0)
    gamma: Tuple[float, float] = (0.85, 1.15)
    p_haze: float = 0.25
    haze: Tuple[float, float] = (0.05, 0.25)
    blur_sigma: Tuple[float, float] = (0.4, 0.8)
    noise_sigma: Tuple[float, float] = (1.0, 3.0)
    p_season: float = 0.5
    greenness: Tuple[float, float] = (0.45, 1.0)
    season_delta: Tuple[float, float] = (0.3, 0.6)
    p_misregistration: float = 0.5
    max_shift: int = 2
    p_field: float = 0.5
    num_fields: Tuple[int, int] = (1, 2)
    cars: Tuple[int, int] = (0, 6)
    p_water_tint: float = 0.5
    water_tint: float = 0.2
    sun_jitter_deg: float = 12.0
    shadow_ratio: Tuple[float, float] = (0.75, 1.3)
    edge_threshold: float = 24.0
    label_buffer: int = 2

    def __post_init__(self) -> None:
        if self.photometric_dates not in PHOTOMETRIC_DATES:
            raise ValueError(
                f'photometric_dates must be one of {PHOTOMETRIC_DATES}, '
                f'got {self.photometric_dates!r}')
        check_range('gain', self.gain, 0.0)
        check_range('offset', self.offset, -255.0, 255.0)
        check_range('gamma', self.gamma, 1e-3)
        check_range('haze', self.haze, 0.0, 1.0)
        check_range('blur_sigma', self.blur_sigma, 0.0)
        check_range('noise_sigma', self.noise_sigma, 0.0)
        check_range('greenness', self.greenness, 0.0, 1.0)
        check_range('season_delta', self.season_delta, 0.0, 1.0)
        check_range('num_fields', self.num_fields, 0)
        check_range('cars', self.cars, 0)
        check_range('shadow_ratio', self.shadow_ratio, 0.0)
        for name in ('p_haze', 'p_season', 'p_misregistration', 'p_field',
                     'p_water_tint'):
            check_probability(name, getattr(self, name))
        if not 0.0 <= self.water_tint < 1.0:
            raise ValueError('water_tint must be in [0, 1), got '
                             f'{self.water_tint!r}')
        if not 0.0 <= self.channel_jitter < 1.0:
            raise ValueError('channel_jitter must be in [0, 1), got '
                             f'{self.channel_jitter!r}')
        if int(self.max_shift) != self.max_shift or not \
                0 <= self.max_shift <= PAD:
            raise ValueError(f'max_shift must be an int in [0, {PAD}], got '
                             f'{self.max_shift!r}')
        if self.p_misregistration > 0 and self.max_shift < 1:
            raise ValueError('p_misregistration > 0 needs max_shift >= 1')
        if self.sun_jitter_deg < 0 or self.edge_threshold < 0 or \
                self.label_buffer < 0:
            raise ValueError('sun_jitter_deg, edge_threshold and '
                             'label_buffer must be >= 0')

    @classmethod
    def disabled(cls) -> 'PseudoChangeParams':
        """Parameters with every pseudo-change switched off.

        Both dates then share the same sensor blur and no noise, so the
        unchanged pixels of A and B are identical.

        Returns:
            PseudoChangeParams: The parameters.
        """
        return cls(
            gain=(1.0, 1.0),
            channel_jitter=0.0,
            offset=(0.0, 0.0),
            gamma=(1.0, 1.0),
            p_haze=0.0,
            blur_sigma=(0.6, 0.6),
            noise_sigma=(0.0, 0.0),
            p_season=0.0,
            p_misregistration=0.0,
            p_field=0.0,
            cars=(0, 0),
            p_water_tint=0.0,
            sun_jitter_deg=0.0,
            shadow_ratio=(1.0, 1.0))


@dataclass
class DateConditions:
    """Acquisition conditions of one date of one image.

    Args:
        gain (np.ndarray): ``(3,)`` per-channel gain.
        offset (np.ndarray): ``(3,)`` per-channel offset (grey levels).
        gamma (np.ndarray): ``(3,)`` per-channel gamma.
        haze (float): Haze opacity (0 = none).
        blur_sigma (float): Sensor blur sigma in pixels.
        noise_sigma (float): Sensor noise in grey levels.
        greenness (float): Vegetation state, 1 = lush.
        shadow_dir (np.ndarray): ``(2,)`` unit vector shadows point along.
        shadow_length (float): Shadow length per unit height.
        shadow_darkness (float): Brightness factor inside shadows.
    """
    gain: np.ndarray
    offset: np.ndarray
    gamma: np.ndarray
    haze: float
    blur_sigma: float
    noise_sigma: float
    greenness: float
    shadow_dir: np.ndarray
    shadow_length: float
    shadow_darkness: float

    def summary(self) -> dict:
        """Rounded JSON-friendly summary for ``meta.json``.

        Returns:
            dict: The conditions.
        """
        r = _rounded
        return dict(
            gain=r(self.gain),
            offset=r(self.offset),
            gamma=r(self.gamma),
            haze=r(self.haze),
            blur_sigma=r(self.blur_sigma),
            noise_sigma=r(self.noise_sigma),
            greenness=r(self.greenness),
            shadow_dir=r(self.shadow_dir),
            shadow_length=r(self.shadow_length))


def _rounded(x: Union[float, np.ndarray]) -> Union[float, list]:
    """Round to 4 decimals for ``meta.json`` (arrays become lists).

    Args:
        x (float | np.ndarray): Value(s).

    Returns:
        float | list: Rounded value(s).
    """
    return np.round(np.asarray(x, np.float64), 4).tolist()


def _radiometry(rng: np.random.Generator, params: PseudoChangeParams,
                active: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw gain, offset and gamma (identity when not active).

    Args:
        rng (np.random.Generator): Random generator.
        params (PseudoChangeParams): Parameters.
        active (bool): Whether this date gets a transform.

    Returns:
        tuple: ``(gain, offset, gamma)``, each ``(3,)``.
    """
    # Always draw, so that the stream does not depend on ``active``.
    j = params.channel_jitter
    gain = uniform(rng, params.gain) * rng.uniform(1 - j, 1 + j, 3)
    offset = rng.uniform(params.offset[0], params.offset[1], 3)
    gamma = uniform(rng, params.gamma) * rng.uniform(0.97, 1.03, 3)
    if params.gamma[0] == params.gamma[1] == 1.0:
        gamma = np.ones(3)
    if not active:
        return np.ones(3), np.zeros(3), np.ones(3)
    return gain, offset, gamma


def _season_shift(greenness: float, delta: float) -> float:
    """Greenness of date B: ``greenness + delta``, flipping the sign of
    ``delta`` when that keeps the result in ``[0, 1]`` (else the larger of
    the two clipped changes).

    Args:
        greenness (float): Date A's greenness.
        delta (float): Signed change.

    Returns:
        float: Date B's greenness.
    """
    for d in (delta, -delta):
        if 0.0 <= greenness + d <= 1.0:
            return float(greenness + d)
    options = [float(np.clip(greenness + d, 0, 1)) for d in (delta, -delta)]
    return max(options, key=lambda g: abs(g - greenness))


def draw_conditions(
    rng: np.random.Generator, params: PseudoChangeParams
) -> Tuple[DateConditions, DateConditions, Tuple[int, int]]:
    """Draw both dates' acquisition conditions and the shift of date B.

    Args:
        rng (np.random.Generator): Random generator.
        params (PseudoChangeParams): Parameters.

    Returns:
        tuple: ``(cond_a, cond_b, (dy, dx))``; date B's content is displaced
        by ``(dy, dx)`` pixels relative to date A (and to the labels).
    """
    if params.photometric_dates == 'both':
        active = (True, True)
    elif params.photometric_dates == 'b':
        active = (False, True)
    else:
        pick_b = bool(rng.random() < 0.5)
        active = (not pick_b, pick_b)

    g_a = uniform(rng, params.greenness)
    delta = uniform(rng, params.season_delta) * rng.choice([-1.0, 1.0])
    season = bool(rng.random() < params.p_season)
    g_b = _season_shift(g_a, delta) if season else g_a

    azimuth = rng.uniform(0, 2 * np.pi)
    jitter = np.deg2rad(params.sun_jitter_deg) * rng.uniform(-1, 1)
    length_a = rng.uniform(0.6, 1.1)
    length_b = length_a * uniform(rng, params.shadow_ratio)
    # One shadow darkness for both dates (gamma and gain still change the
    # shadows' contrast on every pixel).
    dark = float(rng.uniform(0.45, 0.62))

    conds = []
    suns = ((azimuth, length_a), (azimuth + jitter, length_b))
    for date, (az, length) in enumerate(suns):
        gain, offset, gamma = _radiometry(rng, params, active[date])
        haze_on = rng.random() < params.p_haze
        haze = uniform(rng, params.haze) if haze_on else 0.0
        conds.append(
            DateConditions(
                gain=gain,
                offset=offset,
                gamma=gamma,
                haze=float(haze),
                blur_sigma=uniform(rng, params.blur_sigma),
                noise_sigma=uniform(rng, params.noise_sigma),
                greenness=g_a if date == 0 else g_b,
                shadow_dir=np.array([np.cos(az), np.sin(az)]),
                shadow_length=float(length),
                shadow_darkness=float(dark)))

    shift = (0, 0)
    if rng.random() < params.p_misregistration:
        m = params.max_shift
        while shift == (0, 0):
            shift = (int(rng.integers(-m,
                                      m + 1)), int(rng.integers(-m, m + 1)))
    return conds[0], conds[1], shift


def crop(canvas: np.ndarray,
         pad: int,
         size: int,
         shift: Tuple[int, int] = (0, 0)) -> np.ndarray:
    """Cut the image out of a padded canvas, displacing its content.

    ``out[y, x] = canvas[pad + y - dy, pad + x - dx]``: what sits at A-frame
    position ``q`` appears at ``q + (dy, dx)`` in the output.

    Args:
        canvas (np.ndarray): ``(size + 2 pad, size + 2 pad, ...)`` array.
        pad (int): Canvas margin.
        size (int): Output side.
        shift (tuple[int, int]): ``(dy, dx)``, each within ``[-pad, pad]``.
            Defaults to (0, 0).

    Returns:
        np.ndarray: ``(size, size, ...)`` view.
    """
    dy, dx = shift
    if abs(dy) > pad or abs(dx) > pad:
        raise ValueError(f'shift {shift} exceeds the canvas margin {pad}')
    return canvas[pad - dy:pad - dy + size, pad - dx:pad - dx + size]


def acquire(canvas: np.ndarray, cond: DateConditions, pad: int, size: int,
            shift: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Turn a rendered scene canvas into one date's uint8 image.

    Order: sensor blur (on the canvas, so borders are clean), crop with the
    shift, haze, gamma, gain and offset, sensor noise, rounding.

    Args:
        canvas (np.ndarray): ``(S + 2 pad, S + 2 pad, 3)`` float32 scene.
        cond (DateConditions): The date's conditions.
        pad (int): Canvas margin.
        size (int): Output side ``S``.
        shift (tuple[int, int]): Content displacement ``(dy, dx)``.
        rng (np.random.Generator): Random generator (haze field, noise).

    Returns:
        np.ndarray: ``(S, S, 3)`` uint8 RGB.
    """
    img = crop(gaussian_blur(canvas, cond.blur_sigma), pad, size,
               shift).astype(np.float32)
    # Always draw the random fields, so that switching one effect off
    # leaves the others unchanged.
    haze_field = fractal_noise(rng, (size, size), 0.6 * size, octaves=2)
    noise = rng.standard_normal(img.shape).astype(np.float32)
    if cond.haze > 0:
        a = (cond.haze * (0.5 + 0.5 * haze_field))[..., None]
        img = img * (1 - a) + a * np.array([206, 210, 218], np.float32)
    img = np.clip(img, 0, 255)
    img = 255.0 * (img / 255.0)**cond.gamma.astype(np.float32)
    img = img * cond.gain.astype(np.float32) + cond.offset.astype(np.float32)
    img = img + cond.noise_sigma * noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def misregistration_edges(canvas_b: np.ndarray, cond_b: DateConditions,
                          pad: int, size: int, shift: Tuple[int, int],
                          threshold: float) -> np.ndarray:
    """Pixels whose appearance the shift of date B changes noticeably.

    Compares date B's blurred scene cut with and without the shift.

    Args:
        canvas_b (np.ndarray): ``(S + 2 pad, S + 2 pad, 3)`` date-B scene.
        cond_b (DateConditions): Date B's conditions (blur).
        pad (int): Canvas margin.
        size (int): Output side ``S``.
        shift (tuple[int, int]): ``(dy, dx)``.
        threshold (float): Grey-level threshold (max over channels).

    Returns:
        np.ndarray: ``(S, S)`` bool.
    """
    if shift == (0, 0):
        return np.zeros((size, size), bool)
    blurred = gaussian_blur(canvas_b, cond_b.blur_sigma)
    diff = np.abs(crop(blurred, pad, size, shift) - crop(blurred, pad, size))
    return diff.max(-1) > threshold


def combine_pseudo(parts: Dict[str, np.ndarray], label: np.ndarray,
                   exclude: np.ndarray, buffer: int) -> np.ndarray:
    """Union of the local pseudo-change parts, away from real change.

    Args:
        parts (dict[str, np.ndarray]): ``(S, S)`` bool masks per source.
        label (np.ndarray): ``(S, S)`` bool real-change mask.
        exclude (np.ndarray): ``(S, S)`` bool pixels never counted (shadows
            of changed buildings).
        buffer (int): Distance to real change below which pixels are
            dropped.

    Returns:
        np.ndarray: ``(S, S)`` bool.
    """
    union = np.zeros(label.shape, bool)
    for m in parts.values():
        union |= m
    return union & ~dilate(label, buffer) & ~exclude


def shadow_changes(shape: Tuple[int, int], persistent: Sequence[Building],
                   trees: Sequence[Tree], appeared: Sequence[Building],
                   vanished: Sequence[Building], cond_a: DateConditions,
                   cond_b: DateConditions) -> Tuple[np.ndarray, np.ndarray]:
    """Where shadows differ between the dates, in the canvas frame.

    Args:
        shape (tuple[int, int]): ``(H, W)`` of the canvas.
        persistent (Sequence[Building]): Buildings present on both dates.
        trees (Sequence[Tree]): Trees (present on both dates).
        appeared (Sequence[Building]): Buildings of date B only.
        vanished (Sequence[Building]): Buildings of date A only.
        cond_a (DateConditions): Date A's conditions (sun).
        cond_b (DateConditions): Date B's conditions (sun).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(moved, changed)``, ``(H, W)``
        bool each: ``moved`` where the shadows of the unchanged objects fall
        on one date only (a pseudo-change once the callers remove what they
        do not count), ``changed`` the shadows of the changed buildings
        (vanished ones under date A's sun, appeared ones under date B's),
        which are neither change nor pseudo-change.
    """
    persist_shadow = [
        shadow_mask(shape, persistent, trees, c.shadow_dir, c.shadow_length)
        for c in (cond_a, cond_b)
    ]
    changed = (
        shadow_mask(shape, vanished, [], cond_a.shadow_dir,
                    cond_a.shadow_length)
        | shadow_mask(shape, appeared, [], cond_b.shadow_dir,
                      cond_b.shadow_length))
    return persist_shadow[0] ^ persist_shadow[1], changed


def local_pseudo_changes(
    parts: Mapping[str, np.ndarray], changed_shadows: np.ndarray,
    change: np.ndarray, canvas_b: np.ndarray, cond_b: DateConditions,
    size: int, shift: Tuple[int, int], params: PseudoChangeParams
) -> Tuple[Dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Cut the local pseudo-change parts out of the canvas and combine them.

    Adds the ``misregistration`` part (edges moved by date B's shift) and
    drops what lies near real change or in the shadows of changed
    buildings (:func:`combine_pseudo`).

    Args:
        parts (Mapping[str, np.ndarray]): ``(S + 2 PAD, S + 2 PAD)`` bool
            mask per source, in the canvas frame.
        changed_shadows (np.ndarray): ``(S + 2 PAD, S + 2 PAD)`` bool
            shadows of the changed buildings (not counted).
        change (np.ndarray): ``(S, S)`` bool real change.
        canvas_b (np.ndarray): ``(S + 2 PAD, S + 2 PAD, 3)`` date-B scene.
        cond_b (DateConditions): Date B's conditions.
        size (int): Image side ``S``.
        shift (tuple[int, int]): Date B's shift ``(dy, dx)``.
        params (PseudoChangeParams): Parameters (``edge_threshold``,
            ``label_buffer``).

    Returns:
        tuple: ``(parts, changed_shadow, pseudo_mask)``: the ``(S, S)``
        parts (``misregistration`` last; before the buffer around real
        change is removed), the ``(S, S)`` changed-building shadows and the
        ``(S, S)`` bool pseudo-change mask.
    """
    cut = {k: crop(v, PAD, size).copy() for k, v in parts.items()}
    cut['misregistration'] = misregistration_edges(canvas_b, cond_b, PAD, size,
                                                   shift,
                                                   params.edge_threshold)
    changed_shadow = crop(changed_shadows, PAD, size).copy()
    pseudo_mask = combine_pseudo(cut, change, changed_shadow,
                                 params.label_buffer)
    return cut, changed_shadow, pseudo_mask


def acquire_dates(canvases: Sequence[np.ndarray],
                  conds: Sequence[DateConditions], size: int,
                  shift: Tuple[int, int],
                  rngs: Mapping[str, np.random.Generator]) -> List[np.ndarray]:
    """Both dates' uint8 images: date A as drawn, date B shifted.

    Args:
        canvases (Sequence[np.ndarray]): ``(S + 2 PAD, S + 2 PAD, 3)``
            float32 scenes of date A and date B.
        conds (Sequence[DateConditions]): Their conditions.
        size (int): Image side ``S``.
        shift (tuple[int, int]): Date B's shift ``(dy, dx)``.
        rngs (Mapping[str, np.random.Generator]): The sample's generators;
            ``'acquire_a'`` and ``'acquire_b'`` are used.

    Returns:
        list[np.ndarray]: ``[img_a, img_b]``, ``(S, S, 3)`` uint8 RGB each.
    """
    return [
        acquire(canvases[0], conds[0], PAD, size, (0, 0), rngs['acquire_a']),
        acquire(canvases[1], conds[1], PAD, size, shift, rngs['acquire_b'])
    ]
