"""A beating-heart phantom in the apical four-chamber view, drawn like an echo frame.

Geometry is in pixel coordinates (x = column, y = row, pixel centres at integers). The left
ventricle (LV) is a truncated ellipse: apex at the top, mitral plane at the base, the widest
point 60% of the way down. Its length and width move smoothly between an end-diastolic (ED)
and an end-systolic (ES) shape with every beat; the right ventricle moves with it, the atria
against it, and the whole heart drifts slowly, so that the EF cannot be read off one frame.

Tracings are made from the same geometry as the picture: the long axis, then 20 chords across
the cavity perpendicular to it, so masks drawn from them fit the dark cavity in the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from echobeat.data.tracings import ROWS_PER_TRACING

FRAME_SIZE = 112
# Fraction of the cardiac cycle from ED to ES (systole); the rest is diastole.
SYSTOLE = 0.35
# Where the LV is widest, and the ellipse's semi-axis, both as fractions of its length.
_LV_CENTRE = 0.6
_LV_SEMI_AXIS = 0.6
N_CHORDS = ROWS_PER_TRACING - 1


@dataclass(frozen=True)
class HeartGeometry:
    """Everything that fixes one video's picture, apart from its timing and noise."""

    apex_x: float
    apex_y: float
    tilt: float  # radians; the long axis points down and to the right by this angle
    length_ed: float
    length_es: float
    width_ed: float  # half-width of the LV at its widest, at ED
    width_es: float
    septal: float  # factor on the half-width towards the septum (left of the image)
    lateral: float  # factor on the half-width towards the lateral wall (right)
    wall: float  # myocardial thickness at ED; it thickens by 40% at ES
    apex_shift: float  # how far the apex moves down at ES
    drift: float  # amplitude of the slow whole-heart drift (breathing, probe)
    drift_period: float  # in frames
    rv_width: float
    atrium_size: float
    cavity_level: float
    tissue_level: float
    muscle_level: float
    speckle: float  # gamma shape of the multiplicative speckle: lower is grainier


def contraction(frame: float, ed_frame: int, period: float) -> float:
    """How far the heart is from ED towards ES at ``frame``: 0 at ED, 1 at ES, smooth."""
    phase = ((frame - ed_frame) / period) % 1.0
    if phase < SYSTOLE:
        return 0.5 * (1.0 - math.cos(math.pi * phase / SYSTOLE))
    return 0.5 * (1.0 + math.cos(math.pi * (phase - SYSTOLE) / (1.0 - SYSTOLE)))


@dataclass(frozen=True)
class LVShape:
    """The LV at one instant: apex, unit vectors along (u) and across (v) the long axis, size."""

    apex: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: float
    half_septal: float
    half_lateral: float
    wall: float


def lv_shape(geom: HeartGeometry, c: float, offset: tuple[float, float] = (0.0, 0.0)) -> LVShape:
    """The LV shape at contraction ``c`` (0 = ED, 1 = ES), shifted by ``offset``."""
    u = np.array([math.sin(geom.tilt), math.cos(geom.tilt)])
    v = np.array([math.cos(geom.tilt), -math.sin(geom.tilt)])
    length = geom.length_ed + c * (geom.length_es - geom.length_ed)
    width = geom.width_ed + c * (geom.width_es - geom.width_ed)
    apex = np.array([geom.apex_x + offset[0], geom.apex_y + offset[1]]) + c * geom.apex_shift * u
    return LVShape(apex, u, v, length, width * geom.septal, width * geom.lateral, geom.wall * (1 + 0.4 * c))


def _profile(t: np.ndarray) -> np.ndarray:
    """Half-width profile along the axis, t = 0 at the apex to 1 at the base (max 1)."""
    return np.sqrt(np.clip(1.0 - ((t - _LV_CENTRE) / _LV_SEMI_AXIS) ** 2, 0.0, None))


def lv_tracing(shape: LVShape) -> np.ndarray:
    """The 21 tracing rows (X1, Y1, X2, Y2) of an LV shape.

    Row 0 is the long axis from the apex to the middle of the mitral plane; rows 1-20 are
    chords at the middles of 20 equal slices, from the septal wall (X1, Y1) to the lateral
    wall (X2, Y2), apex first.
    """
    rows = np.empty((ROWS_PER_TRACING, 4))
    base = shape.apex + shape.length * shape.u
    rows[0] = [*shape.apex, *base]
    t = (np.arange(N_CHORDS) + 0.5) / N_CHORDS
    g = _profile(t)
    centres = shape.apex[None, :] + (t * shape.length)[:, None] * shape.u[None, :]
    rows[1:, 0:2] = centres - (g * shape.half_septal)[:, None] * shape.v[None, :]
    rows[1:, 2:4] = centres + (g * shape.half_lateral)[:, None] * shape.v[None, :]
    return rows


class _Grid:
    """Pixel centres of the frame and the fixed fan-shaped sector."""

    def __init__(self, size: int = FRAME_SIZE):
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
        self.x, self.y = xs, ys
        origin_x, origin_y = (size - 1) / 2.0, -2.0
        radius = np.hypot(xs - origin_x, ys - origin_y)
        angle = np.arctan2(xs - origin_x, ys - origin_y)
        self.depth = radius / (size + 2.0)
        self.sector = ((radius < size - 2.0) & (np.abs(angle) < math.radians(38))).astype(np.float64)


def _ellipse(grid: _Grid, centre: np.ndarray, axis_u: np.ndarray, ru: float, rv: float) -> np.ndarray:
    """Boolean map of an ellipse with semi-axis ``ru`` along ``axis_u`` and ``rv`` across it."""
    dx, dy = grid.x - centre[0], grid.y - centre[1]
    a = (dx * axis_u[0] + dy * axis_u[1]) / ru
    b = (dx * axis_u[1] - dy * axis_u[0]) / rv
    return a * a + b * b <= 1.0


def _lv_regions(grid: _Grid, shape: LVShape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cavity, myocardium and the mitral-plane line of the LV."""
    dx, dy = grid.x - shape.apex[0], grid.y - shape.apex[1]
    along = dx * shape.u[0] + dy * shape.u[1]
    across = dx * shape.v[0] + dy * shape.v[1]
    t = along / shape.length
    g = _profile(t)
    inside_t = (t >= 0) & (t <= 1)
    cavity = inside_t & (across >= -g * shape.half_septal) & (across <= g * shape.half_lateral)
    # The muscle: the same truncated ellipse grown by the wall thickness, open at the base.
    semi = _LV_SEMI_AXIS * shape.length + shape.wall
    centre = _LV_CENTRE * shape.length
    g_out = np.sqrt(np.clip(1.0 - ((along - centre) / semi) ** 2, 0.0, None))
    outer = (
        (along >= centre - semi)
        & (t <= 1.0)
        & (across >= -(g_out * (shape.half_septal + shape.wall)))
        & (across <= g_out * (shape.half_lateral + shape.wall))
    )
    valve = (np.abs(t - 1.0) * shape.length < 1.0) & (across >= -shape.half_septal) & (across <= shape.half_lateral)
    return cavity, outer & ~cavity, valve


def render_frame(
    grid: _Grid,
    geom: HeartGeometry,
    c: float,
    offset: tuple[float, float],
    valve_closed: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """One grey uint8 frame at contraction ``c``."""
    shape = lv_shape(geom, c, offset)
    image = np.full(grid.x.shape, geom.tissue_level)
    # Right ventricle beside the septum: it empties with the LV.
    septum_gap = shape.half_septal + 2.2 * shape.wall + geom.rv_width * (1 - 0.25 * c)
    rv_centre = shape.apex + 0.55 * shape.length * shape.u - septum_gap * shape.v
    rv_ru, rv_rv = 0.42 * shape.length * (1 - 0.08 * c), geom.rv_width * (1 - 0.25 * c)
    image[_ellipse(grid, rv_centre, shape.u, rv_ru + shape.wall, rv_rv + shape.wall)] = geom.muscle_level * 0.8
    image[_ellipse(grid, rv_centre, shape.u, rv_ru, rv_rv)] = geom.cavity_level
    # Atria below the ventricles: they fill while the ventricles empty.
    atrium = geom.atrium_size * (0.85 + 0.3 * c)
    base = shape.apex + shape.length * shape.u
    la_centre = base + (atrium + 2.0) * shape.u
    ra_centre = rv_centre + (rv_ru + atrium + 3.0) * shape.u
    for centre in (la_centre, ra_centre):
        image[_ellipse(grid, centre, shape.u, atrium + 2.5, atrium * 1.1 + 2.5)] = geom.muscle_level * 0.6
    for centre in (la_centre, ra_centre):
        image[_ellipse(grid, centre, shape.u, atrium, atrium * 1.1)] = geom.cavity_level
    cavity, muscle, valve = _lv_regions(grid, shape)
    image[muscle] = geom.muscle_level
    image[cavity] = geom.cavity_level
    if valve_closed:
        image[valve] = geom.muscle_level * 0.9
    image = cv2.GaussianBlur(image, (0, 0), 0.8)
    speckle = rng.gamma(geom.speckle, 1.0 / geom.speckle, size=image.shape)
    image = image * speckle * (1.0 - 0.35 * grid.depth) + rng.normal(0.0, 3.0, size=image.shape)
    image = cv2.GaussianBlur(image, (0, 0), 0.5) * grid.sector
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def drift_offset(geom: HeartGeometry, frame: float) -> tuple[float, float]:
    """The slow whole-heart displacement at ``frame``."""
    phase = 2.0 * math.pi * frame / geom.drift_period
    return geom.drift * math.sin(phase), 0.5 * geom.drift * math.sin(0.7 * phase + 1.0)


def render_video(
    geom: HeartGeometry, n_frames: int, ed_frame: int, period: float, rng: np.random.Generator
) -> np.ndarray:
    """All frames of a video, uint8 (frames, height, width)."""
    grid = _Grid()
    frames = np.empty((n_frames, FRAME_SIZE, FRAME_SIZE), dtype=np.uint8)
    for f in range(n_frames):
        phase = ((f - ed_frame) / period) % 1.0
        frames[f] = render_frame(
            grid,
            geom,
            contraction(f, ed_frame, period),
            drift_offset(geom, f),
            phase < SYSTOLE + 0.05,
            rng,
        )
    return frames


def frame_tracing(geom: HeartGeometry, frame: int, ed_frame: int, period: float) -> np.ndarray:
    """The tracing (21 rows) of the LV as drawn in ``frame``."""
    return lv_tracing(lv_shape(geom, contraction(frame, ed_frame, period), drift_offset(geom, frame)))
