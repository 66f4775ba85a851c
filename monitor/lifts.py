"""Lifts: every bend-and-return movement of the trunk or waist, its technique, risks and pace.

Input is one body sensor (trunk, or else waist) as :class:`~monitor.motionbins.MotionBins`
(body frame, 1/16 s), optionally a thigh sensor's bins on the same grid. Everything runs on
sample time; :class:`LiftDetector` is fed bins in any chunks and gives the same lifts as
:func:`detect_lifts` over the whole recording (the state between chunks is explicit).

**Anchors.** The gravity direction is smoothed over ``smooth_s`` (1 s). A bin is *steady*
when, over ``steady_span_s``, the wearer rests (acceleration magnitude SD below
``rest_sd_g``, gravity turning less than ``rest_turn_deg``) or walks or runs at an even
pace (SD of at least ``gait_sd_g``, gravity turning less than ``gait_turn_deg``): bending
down, straightening up or squatting are not steady.
Runs of at least ``anchor_min_s`` steady bins are *anchors*; the movements between them are
what is judged. The posture of an anchor next to a movement is the mean gravity over its
``anchor_edge_s`` closest to the movement.

**Excursions.** The first anchor within ``home_max_deg`` of the mount's up is *home*. When
the wearer leaves home, an excursion starts. Each anchor reached afterwards is *home-like*
if its posture is within ``return_deg`` of home and the body is not lower than at home by
more than ``return_drop_m``; other anchors (the bottom of a squat, a held stoop) are
intermediate. A home-like anchor closes the excursion, and the excursion is a **lift** when
it lasted at most ``max_lift_s`` and the sensor's segment flexed forward at least
``bend_deg`` from the home posture (trunk 20°, the EN 1005-4 bend; waist 10°, the pelvis
turning about half as far as the trunk) or went down at least ``min_drop_m`` (a squat can
keep the pelvis upright).
The home-like anchor becomes the new home. Longer excursions are postures (sitting,
kneeling, leaning over a bench); after ``rehome_s`` away the current anchor becomes home.

**Height.** Between two anchors the acceleration magnitude minus 1 g (the vertical
acceleration, to first order, whatever the tilt) is integrated twice. The vertical velocity
is taken to average zero over each anchor's edge next to the movement (exact for rests,
right on average for walking): a constant and a linear drift are removed so that both
averages vanish. Heights are chained across intermediate anchors. ``drop_m`` is how far the
sensor went below the mean of its heights at the two ends.

**Technique.** With a thigh sensor the thigh's largest inclination from its home posture
decides (guidelines §2, design proposal): at least ``squat_thigh_deg`` (45°, Acti4's sitting
angle) is a squat, below ``stoop_thigh_deg`` (25°) a stoop, between mixed. Without one the
knees are estimated from the height lost: the sensor's own rotation about the hip lowers it
by ``lever_up (1 - cos f) + lever_forward sin f`` for a flexion ``f`` (lever arms from the
hip joint to the sensor, per placement), the rest is the hip going down, and a hip drop ``d``
with legs of length ``L`` needs a knee flexion of about ``2 acos(1 - d / L)`` (thigh and
shank each tilting half of it). At least ``squat_knee_deg`` (60°) is a squat, at most
``stoop_knee_deg`` (35°) a stoop, between mixed; a trunk sensor that also flexed beyond
``awkward_flexion_deg`` makes a squat mixed (knees and back both bent).

**Per lift:** start and end (leaving and reaching an anchor), the time and size of the peak
flexion (sagittal, from the home posture; for a waist sensor the pelvis, which turns less
than the trunk), the largest tilt in any direction, flexion and extension angular velocity
(gyroscope pitch rate, or the derivative of the angle without one), the largest side bend,
the largest axial twist (integrated gyroscope yaw about the segment's long axis; None
without a gyroscope), drops, the technique and risk flags: stoop; flexion beyond
``awkward_flexion_deg`` (60°, ISO 11226); side bend beyond ``lateral_deg``; twist beyond
``twist_deg`` (the issue's 10-30° range, 20° by default); extension faster than
``fast_extension_dps`` (no published threshold found: a parameter to tune).

**Pace.** Lifts that count as bends (trunk: peak flexion at least 20°; waist: every lift,
since the waist cannot see the trunk) are counted per ``frequency_window_s`` window of
sample time on the absolute grid and rated against EN 1005-4: under 2 per minute
acceptable, 2-10 conditional, 10 or more not acceptable (guidelines §1).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from devices.mount import Mount
from devices.samples import FloatArray, Placement
from monitor.motionbins import (
    BIN_S,
    BINS_PER_S,
    MotionBins,
    append_bins,
    empty_bins,
    window_count,
    window_sum,
)

STANDARD_GRAVITY_MPS2 = 9.80665
_UP = np.array([0.0, 0.0, 1.0])
_FORWARD = np.array([1.0, 0.0, 0.0])
_RAMP_BY_TILT_DEG = 5.0
_GUARD = 4  # bins of an anchor's end skipped next to a movement
_MIN_EDGE = 4  # bins an anchor's edge keeps at least


class Technique(StrEnum):
    """How a lift was done."""

    SQUAT = "squat"  # knees and hips bent, trunk fairly upright
    STOOP = "stoop"  # trunk bent forward, legs nearly straight
    MIXED = "mixed"  # in between


class LiftRisk(StrEnum):
    """What was risky about a lift."""

    STOOP = "stoop"
    DEEP_FLEXION = "deep_flexion"
    LATERAL_BEND = "lateral_bend"
    TWIST = "twist"
    FAST_EXTENSION = "fast_extension"


class FrequencyBand(StrEnum):
    """EN 1005-4 rating of how often the trunk bends beyond 20 degrees."""

    ACCEPTABLE = "acceptable"
    CONDITIONAL = "conditional"
    NOT_ACCEPTABLE = "not_acceptable"


@dataclass(frozen=True, slots=True)
class LiftThresholds:
    """Every number lift detection uses, with its unit (see the module docstring)."""

    smooth_s: float = 1.0
    peak_smooth_s: float = 0.5
    rate_smooth_s: float = 0.25
    rest_turn_deg: float = 2.0
    gait_turn_deg: float = 8.0
    steady_span_s: float = 0.5
    rest_sd_g: float = 0.03
    rest_rate_dps: float = 15.0
    gait_sd_g: float = 0.1
    anchor_min_s: float = 0.5
    #: Rests at least this long inside an excursion pin the vertical velocity to zero.
    pin_min_s: float = 0.5
    anchor_edge_s: float = 0.5
    home_max_deg: float = 45.0
    return_deg: float = 12.0
    return_drop_m: float = 0.15
    rehome_s: float = 30.0
    max_lift_s: float = 15.0
    min_lift_s: float = 1.0
    max_moving_share: float = 0.25
    flight_g: float = 0.5
    impact_g: float = 2.5
    max_lift_lateral_deg: float = 45.0
    max_lift_backward_deg: float = 50.0
    waist_max_lift_deg: float = 80.0
    trunk_bend_deg: float = 20.0
    waist_bend_deg: float = 10.0
    min_drop_m: float = 0.12
    leg_length_m: float = 0.9
    trunk_lever_up_m: float = 0.40
    trunk_lever_forward_m: float = 0.10
    waist_lever_up_m: float = 0.10
    waist_lever_forward_m: float = 0.10
    squat_knee_deg: float = 60.0
    stoop_knee_deg: float = 35.0
    waist_stoop_flexion_deg: float = 40.0
    squat_thigh_deg: float = 45.0
    stoop_thigh_deg: float = 25.0
    awkward_flexion_deg: float = 60.0
    lateral_deg: float = 20.0
    twist_deg: float = 20.0
    fast_extension_dps: float = 150.0
    frequency_window_s: float = 300.0
    conditional_per_min: float = 2.0
    not_acceptable_per_min: float = 10.0
    #: A window needs data in at least this share of it to be rated.
    frequency_min_coverage: float = 0.5
    #: A thigh sensor lagging the body sensor by more than this is left out (s).
    stall_s: float = 5.0

    def bend_deg(self, placement: Placement) -> float:
        """Tilt from home that makes an excursion a lift, for the body sensor's placement."""
        return self.waist_bend_deg if placement is Placement.WAIST else self.trunk_bend_deg

    def lever_m(self, placement: Placement) -> tuple[float, float]:
        """Lever arm (up, forward) from the hip joint to the sensor, m."""
        if placement is Placement.WAIST:
            return self.waist_lever_up_m, self.waist_lever_forward_m
        return self.trunk_lever_up_m, self.trunk_lever_forward_m


@dataclass(frozen=True, slots=True)
class Lift:
    """One bend-and-return movement (see the module docstring for each measure)."""

    start_s: float
    end_s: float
    peak_s: float
    peak_flexion_deg: float
    peak_inclination_deg: float
    flexion_velocity_dps: float
    extension_velocity_dps: float
    peak_lateral_deg: float
    twist_deg: float | None
    drop_m: float
    hip_drop_m: float
    knee_flexion_deg: float | None
    thigh_peak_deg: float | None
    technique: Technique
    risks: frozenset[LiftRisk]
    bend: bool

    @property
    def duration_s(self) -> float:
        """Length of the movement."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class BendFrequency:
    """Bends in one window of sample time and their EN 1005-4 rating."""

    start_s: float
    end_s: float
    covered_s: float
    bends: int
    per_min: float
    band: FrequencyBand


def frequency_band(per_min: float, thresholds: LiftThresholds) -> FrequencyBand:
    """The EN 1005-4 band for a rate of bends per minute."""
    if per_min >= thresholds.not_acceptable_per_min:
        return FrequencyBand.NOT_ACCEPTABLE
    if per_min >= thresholds.conditional_per_min:
        return FrequencyBand.CONDITIONAL
    return FrequencyBand.ACCEPTABLE


# --------------------------------------------------------------------------- signals


def _bins(seconds: float) -> int:
    return max(1, round(seconds * BINS_PER_S))


def _smoothed(bins: MotionBins, width: int) -> FloatArray:
    """Mean acceleration over ``width`` bins centred on each bin (NaN where no samples).

    Row ``i`` covers bins ``i - width // 2 .. i - width // 2 + width - 1``; rows without the
    full window (the ends) are NaN.
    """
    count = len(bins)
    out = np.full((count, 3), np.nan)
    sums = window_sum(bins.acc_sum, width)
    n = window_count(bins.n, width)
    lo = width // 2
    rows = sums.shape[0]
    if rows:
        empty = n == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            for axis in range(3):  # column by column: whole columns, not rows of three
                mean = np.divide(sums[:, axis], n, out=out[lo : lo + rows, axis])
                mean[empty] = np.nan
    return out


def _unit_axes(v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The x, y and z components of ``v``'s rows (or of ``v``) scaled to unit length.

    Column by column: numpy runs operations along rows of three three elements at a time.
    """
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    norm = np.sqrt(x * x + y * y + z * z)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / norm, y / norm, z / norm


def _unit(v: FloatArray) -> FloatArray:
    return np.stack(_unit_axes(v), axis=-1)


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle between rows of ``a`` and the vector(s) ``b`` (NaN where undefined)."""
    ax, ay, az = _unit_axes(a)
    bx, by, bz = _unit_axes(b)
    cos = ax * bx + ay * by + az * bz
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), dtype=np.float64)


def _magnitude_sd(bins: MotionBins, width: int) -> FloatArray:
    """SD of the acceleration magnitude over ``width`` bins centred on each bin (NaN at ends)."""
    count = len(bins)
    out = np.full(count, np.nan)
    n = window_count(bins.n, width)
    s1 = window_sum(bins.mag_sum[:, None], width)[:, 0]
    s2 = window_sum(bins.mag_sq_sum[:, None], width)[:, 0]
    rows = n.shape[0]
    if rows:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n
            var = np.maximum(s2 / n - mean * mean, 0.0)
        lo = width // 2
        out[lo : lo + rows] = np.where(n > 1, np.sqrt(var), np.nan)
    return out


def _steady(bins: MotionBins, th: LiftThresholds) -> FloatArray:
    """Per bin: 1.0 where steady, 0.0 where not (float for speed).

    Steady: over ``steady_span_s`` either the magnitude is still (SD below ``rest_sd_g``),
    the smoothed gravity turns less than ``rest_turn_deg`` and the angular rate stays below
    ``rest_rate_dps`` on average (a rest), or the magnitude moves
    clearly (SD of at least ``gait_sd_g``) and gravity turns less than ``gait_turn_deg``
    (walking or running at an even pace: the gait sways the sensor a little). In between is
    a slow movement, such as a squat that keeps the pelvis upright.
    """
    g = _smoothed(bins, _bins(th.smooth_s))
    half = _bins(th.steady_span_s) // 2
    sd = _magnitude_sd(bins, 2 * half)
    out = np.zeros(len(bins))
    if len(bins) > 2 * half:
        turn = _angle_deg(g[: len(bins) - 2 * half], g[2 * half :])
        mid = sd[half : len(bins) - half]
        still = (mid < th.rest_sd_g) & (turn < th.rest_turn_deg)
        if bins.rate_max_dps is not None:
            rate = window_sum(bins.rate_max_dps[:, None], 2 * half)[:, 0] / (2 * half)
            quiet = np.zeros(len(bins), dtype=bool)
            quiet[half : half + rate.shape[0]] = rate < th.rest_rate_dps
            still &= quiet[half : len(bins) - half]
        gait = (mid >= th.gait_sd_g) & (turn < th.gait_turn_deg)
        out[half : len(bins) - half] = np.where(still | gait, 1.0, 0.0)
    return out


def _lookahead_bins(th: LiftThresholds) -> int:
    """Bins after a bin needed before its steadiness is final."""
    return _bins(th.smooth_s) // 2 + _bins(th.steady_span_s) // 2 + 1


# --------------------------------------------------------------------------- anchors


@dataclass(frozen=True, slots=True, eq=False)
class _Anchor:
    """A steady run of bins ``start .. end - 1`` (end None while it lasts)."""

    start: int
    first_g: FloatArray  # posture over its first edge
    end: int | None = None
    last_g: FloatArray | None = None  # posture over its last edge


class _Role(StrEnum):
    NONE = "none"
    HOME = "home"  # becomes home when left
    INTERMEDIATE = "intermediate"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Orientation of a home posture: rows map body vectors into the home frame."""

    to_home: FloatArray  # (3, 3): v_home = v_body @ to_home


def _home_frame(g_home: FloatArray) -> _Frame:
    forward = _FORWARD if abs(float(g_home[0])) < 0.9 else np.array([0.0, 0.0, -1.0])
    mount = Mount.from_axes(up_s=g_home, forward_s=forward)
    return _Frame(mount.sensor_from_body)


@dataclass(frozen=True, slots=True, eq=False)
class LiftState:
    """Everything :class:`LiftDetector` carries between chunks (explicit, immutable)."""

    body: MotionBins | None = None
    thigh: MotionBins | None = None
    scan_from: int | None = None  # first bin whose steadiness was not looked at yet
    run_start: int | None = None  # start of the steady run still going on at scan_from
    run_arrived: bool = False
    current: _Anchor | None = None  # the anchor the wearer is in (arrived, not left)
    current_role: _Role = _Role.NONE
    home: _Anchor | None = None
    intermediates: tuple[_Anchor, ...] = ()
    last_away: int | None = None  # last bin of the current excursion known (for rehome)
    window_bends: tuple[tuple[int, int], ...] = ()  # (window index, bends) not yet rated
    window_known: tuple[tuple[int, int], ...] = ()  # (window index, bins with data)


# --------------------------------------------------------------------------- excursions


def _edge_mean(bins: MotionBins, start: int, stop: int) -> FloatArray | None:
    part = bins.slice(start, stop)
    total = int(part.n.sum())
    if total == 0:
        return None
    return np.asarray(part.acc_sum.sum(axis=0) / total, dtype=np.float64)


def _first_edge(anchor_start: int, anchor_stop: int, edge: int) -> tuple[int, int]:
    """Bins of an anchor that stand for it next to the movement before it.

    The first ``guard`` (a quarter of a second) bins are skipped when the anchor is long
    enough: the steadiness test blurs the anchor's ends, which may still hold the end of the
    movement.
    """
    guard = min(_GUARD, max(0, anchor_stop - anchor_start - _MIN_EDGE))
    a = anchor_start + guard
    return a, min(anchor_stop, a + edge)


def _last_edge(anchor_start: int, anchor_end: int, edge: int) -> tuple[int, int]:
    """Bins of an anchor that stand for it next to the movement after it (see above)."""
    guard = min(_GUARD, max(0, anchor_end - anchor_start - _MIN_EDGE))
    b = anchor_end - guard
    return max(anchor_start, b - edge), b


@dataclass(frozen=True, slots=True)
class _Height:
    """Height relative to home at the end anchor, and the lowest point (m, negative down)."""

    end_m: float
    low_m: float
    low_bin: int


@dataclass(frozen=True, slots=True)
class _Moved:
    """One movement between two rests: height change and lowest point (m, from the first).

    ``arrival_mps``: the vertical velocity reached at the second rest had it not been taken
    to be zero.
    """

    change_m: float
    low_m: float
    low_bin: int
    arrival_mps: float


def _movement_height(bins: MotionBins, e1: tuple[int, int], e2: tuple[int, int]) -> _Moved | None:
    """Height change between the mean heights over edges e1 and e2, and the lowest point.

    The bins from the start of e1 to the end of e2 are integrated. The resting magnitude
    goes linearly from its mean over e1 to its mean over e2 (a sensor's magnitude at rest
    depends a little on its tilt); a constant acceleration offset is then removed so that
    the velocity averages the same over both edges, and the velocity is set to average zero
    over them.
    """
    part = bins.slice(e1[0], e2[1])
    count = len(part)
    if count == 0 or part.first != e1[0] or bool(np.any(part.n == 0)):
        return None
    mag = part.mag_sum / part.n
    a1 = slice(0, e1[1] - e1[0])
    a2 = slice(e2[0] - e1[0], count)
    dt = BIN_S
    t_mid = (np.arange(count) + 0.5) * dt
    c1 = float(t_mid[a1].mean())
    c2 = float(t_mid[a2].mean())
    m1 = float(mag[a1].mean())
    m2 = float(mag[a2].mean())
    ramp = np.clip((t_mid - c1) / max(c2 - c1, dt), 0.0, 1.0)
    g = _smoothed(bins.slice(e1[0] - 4, e2[1] + 4), 8)[4:-4]
    g1 = part.acc_sum[a1].sum(axis=0)
    g2 = part.acc_sum[a2].sum(axis=0)
    turn = float(_angle_deg(g1, g2))
    if turn >= _RAMP_BY_TILT_DEG and g.shape[0] == count and not bool(np.any(np.isnan(g))):
        # A sensor's magnitude at rest depends on its tilt (axis scale errors): follow the
        # tilt from one posture to the other rather than time.
        ramp = np.clip(_angle_deg(g, g1) / turn, 0.0, 1.0)
    acc = (mag - (m1 + (m2 - m1) * ramp)) * STANDARD_GRAVITY_MPS2
    t_end = t_mid + dt / 2.0
    v = np.cumsum(acc) * dt
    arrival_mps = float(v[a2].mean() - v[a1].mean())
    span = float(t_end[a2].mean() - t_end[a1].mean())
    if span > 0.0:
        v = v - (float(v[a2].mean() - v[a1].mean()) / span) * t_end
    v = v - float(v[a1].mean())
    h = np.cumsum(v) * dt
    h0 = float(h[a1].mean())
    h1 = float(h[a2].mean())
    low_index = int(np.argmin(h))
    return _Moved(h1 - h0, float(h[low_index]) - h0, part.first + low_index, arrival_mps)


def _still(bins: MotionBins, th: LiftThresholds) -> npt.NDArray[np.bool_]:
    """Per bin: whether the sensor rests.

    Rests: magnitude SD below ``rest_sd_g`` over ``steady_span_s``, and the angular rate
    below ``rest_rate_dps`` on average (without a gyroscope: the smoothed gravity turning
    less than twice ``rest_turn_deg``).
    """
    width = _bins(th.steady_span_s)
    half = width // 2
    sd = _magnitude_sd(bins, width)
    still = sd < th.rest_sd_g
    count = len(bins)
    if bins.rate_max_dps is not None:
        rate = window_sum(bins.rate_max_dps[:, None], width)[:, 0] / width
        quiet = np.zeros(count, dtype=bool)
        quiet[half : half + rate.shape[0]] = rate < th.rest_rate_dps
        return np.asarray(still & quiet)
    g = _smoothed(bins, width)
    quiet = np.zeros(count, dtype=bool)
    if count > width:
        quiet[half : count - half] = (
            _angle_deg(g[: count - width], g[width:]) < 2 * th.rest_turn_deg
        )
    return np.asarray(still & quiet)


def _excursion_height(
    bins: MotionBins, e1: tuple[int, int], e2: tuple[int, int], th: LiftThresholds
) -> _Height | None:
    """Height profile from the home edge ``e1`` to the arrival edge ``e2``.

    Every rest of at least ``pin_min_s`` in between (the bottom of a squat, a held stoop)
    pins the vertical velocity to zero; the movements between pins are integrated one by
    one (:func:`_movement_height`) and their heights chained.
    """
    pin = _bins(th.pin_min_s)
    ctx = _bins(th.steady_span_s)
    around = bins.slice(e1[1] - ctx, e2[0] + ctx)
    pins: list[tuple[int, int]] = [e1]
    if len(around) == e2[0] - e1[1] + 2 * ctx:
        still = _still(around, th)[ctx:-ctx]
        change = (np.flatnonzero(still[1:] != still[:-1]) + 1).tolist()
        for a, b in zip([0, *change], [*change, still.shape[0]], strict=True):
            if still[a] and b - a >= pin:
                pins.append((e1[1] + a, e1[1] + b))
    pins.append(e2)
    base = 0.0
    low = 0.0
    low_bin = e1[1]
    for p1, p2 in itertools.pairwise(pins):
        moved = _movement_height(bins, p1, p2)
        if moved is None:
            return None
        if base + moved.low_m < low:
            low = base + moved.low_m
            low_bin = moved.low_bin
        base += moved.change_m
    return _Height(end_m=base, low_m=min(low, base), low_bin=low_bin)


def _classify(
    placement: Placement,
    th: LiftThresholds,
    peak_flexion_deg: float,
    hip_drop_m: float,
    thigh_peak_deg: float | None,
) -> tuple[Technique, float | None]:
    """Technique, and the knee flexion estimated from the hip drop (body only)."""
    if thigh_peak_deg is not None:
        if thigh_peak_deg >= th.squat_thigh_deg:
            return Technique.SQUAT, None
        if thigh_peak_deg < th.stoop_thigh_deg:
            return Technique.STOOP, None
        return Technique.MIXED, None
    ratio = 1.0 - max(0.0, hip_drop_m) / th.leg_length_m
    knee = 2.0 * math.degrees(math.acos(max(-1.0, min(1.0, ratio))))
    if knee >= th.squat_knee_deg:
        trunk_bent = placement is Placement.TRUNK and peak_flexion_deg > th.awkward_flexion_deg
        return (Technique.MIXED if trunk_bent else Technique.SQUAT), knee
    stoop_flexion = (
        th.waist_stoop_flexion_deg if placement is Placement.WAIST else th.awkward_flexion_deg
    )
    if knee <= th.stoop_knee_deg or peak_flexion_deg >= stoop_flexion:
        return Technique.STOOP, knee
    return Technique.MIXED, knee


def _judge(
    state: LiftState,
    home: _Anchor,
    arrival: _Anchor,
    height: _Height,
    *,
    placement: Placement,
    th: LiftThresholds,
) -> Lift | None:
    """The lift made by an excursion from ``home`` back to a home-like anchor, if any.

    ``height``: the excursion's height profile from home's last edge to the arrival's first.
    """
    body = state.body
    assert body is not None
    assert home.end is not None
    assert home.last_g is not None
    start, stop = home.end, arrival.start
    pad = _bins(th.peak_smooth_s)
    span = body.slice(start - pad, stop + pad)
    if span.first != start - pad or len(span) != stop - start + 2 * pad:
        return None
    frame = _home_frame(_unit(home.last_g))
    g = _smoothed(span, _bins(th.peak_smooth_s))[pad:-pad] @ frame.to_home
    if bool(np.any(np.isnan(g))):
        return None
    flexion = np.degrees(np.arctan2(-g[:, 0], g[:, 2]))
    norm = np.linalg.norm(g, axis=1)
    lateral = np.degrees(np.arcsin(np.clip(g[:, 1] / norm, -1.0, 1.0)))
    incl = np.degrees(np.arccos(np.clip(g[:, 2] / norm, -1.0, 1.0)))
    peak_flexion = float(flexion.max())
    peak_incl = float(incl.max())
    drop = max(0.0, height.end_m / 2.0 - height.low_m)
    bend_deg = th.bend_deg(placement)
    # The peak of the movement: its largest tilt, or its lowest point when it hardly tilted.
    if peak_incl >= bend_deg:
        peak = int(np.argmax(incl))
    else:
        peak = min(max(height.low_bin - start, 0), flexion.shape[0] - 1)
    thigh_peak = _thigh_peak(state.thigh, home, start, stop, th)
    qualifies = peak_flexion >= bend_deg or drop >= th.min_drop_m
    if thigh_peak is not None:
        qualifies = qualifies or thigh_peak >= th.squat_thigh_deg
    angles = (flexion, lateral, incl)
    if not qualifies or not _lift_like(body.slice(start, stop), angles, placement=placement, th=th):
        return None
    rates = _rates(span, pad, frame, flexion, th)
    flex_rate, ext_rate, twist = _velocities(rates, peak, span.has_gyro)
    lever_up, lever_fwd = th.lever_m(placement)
    f = math.radians(float(flexion[peak]))
    hip_drop = drop - (lever_up * (1.0 - math.cos(f)) + lever_fwd * math.sin(f))
    technique, knee = _classify(placement, th, peak_flexion, hip_drop, thigh_peak)
    risks = set()
    if technique is Technique.STOOP:
        risks.add(LiftRisk.STOOP)
    if peak_flexion > th.awkward_flexion_deg:
        risks.add(LiftRisk.DEEP_FLEXION)
    if float(np.abs(lateral).max()) > th.lateral_deg:
        risks.add(LiftRisk.LATERAL_BEND)
    if twist is not None and twist > th.twist_deg:
        risks.add(LiftRisk.TWIST)
    if ext_rate > th.fast_extension_dps:
        risks.add(LiftRisk.FAST_EXTENSION)
    bend = placement is Placement.WAIST or peak_flexion >= th.trunk_bend_deg
    return Lift(
        start_s=start * BIN_S,
        end_s=stop * BIN_S,
        peak_s=(start + peak + 0.5) * BIN_S,
        peak_flexion_deg=peak_flexion,
        peak_inclination_deg=peak_incl,
        flexion_velocity_dps=flex_rate,
        extension_velocity_dps=ext_rate,
        peak_lateral_deg=float(np.abs(lateral).max()),
        twist_deg=twist,
        drop_m=drop,
        hip_drop_m=hip_drop,
        knee_flexion_deg=knee,
        thigh_peak_deg=thigh_peak,
        technique=technique,
        risks=frozenset(risks),
        bend=bend,
    )


def _lift_like(
    span: MotionBins,
    angles: tuple[FloatArray, FloatArray, FloatArray],
    *,
    placement: Placement,
    th: LiftThresholds,
) -> bool:
    """Whether an excursion moved like a lift rather than a walk, a jump or lying down.

    Not a lift: shorter than ``min_lift_s``; more than ``max_moving_share`` of it with the
    magnitude SD of walking (``gait_sd_g``); any magnitude below ``flight_g`` (feet off the
    ground) or above ``impact_g`` (landing, collapsing into a seat); tilting sideways beyond
    ``max_lift_lateral_deg`` or backwards beyond ``max_lift_backward_deg`` (lying down); a
    waist tilting beyond ``waist_max_lift_deg`` (the pelvis of a stooping wearer stays well
    short of horizontal; lying does not). ``angles``: flexion, side bend and inclination.
    """
    flexion, lateral, incl = angles
    if len(span) * BIN_S < th.min_lift_s:
        return False
    sd = _magnitude_sd(span, _bins(th.steady_span_s))
    moving = np.count_nonzero(sd >= th.gait_sd_g)
    if moving > th.max_moving_share * len(span):
        return False
    filled = span.n > 0
    if bool(np.any(span.mag_min_g[filled] < th.flight_g)) or bool(
        np.any(span.mag_max_g[filled] > th.impact_g)
    ):
        return False
    if float(np.abs(lateral).max()) > th.max_lift_lateral_deg:
        return False
    if float(flexion.min()) < -th.max_lift_backward_deg:
        return False
    return not (placement is Placement.WAIST and float(incl.max()) > th.waist_max_lift_deg)


@dataclass(frozen=True, slots=True)
class _Rates:
    pitch_dps: FloatArray  # flexion rate, positive forward
    yaw_dps: FloatArray | None  # rate about the segment's long axis


def _rates(
    span: MotionBins, pad: int, frame: _Frame, flexion: FloatArray, th: LiftThresholds
) -> _Rates:
    """Pitch (and yaw) rate over the movement, smoothed over ``rate_smooth_s``."""
    width = _bins(th.rate_smooth_s)
    count = flexion.shape[0]
    if span.has_gyro:
        n = np.maximum(span.n, 1).astype(np.float64)
        rate = (span.gyro_sum / n[:, None]) @ frame.to_home
        lo = pad - width // 2
        smooth = window_sum(rate[lo:], width)[:count] / width
        return _Rates(pitch_dps=smooth[:, 1], yaw_dps=smooth[:, 2])
    # Without a gyroscope: the derivative of the flexion angle, smoothed over twice
    # ``peak_smooth_s`` (the sensor's own acceleration while it turns would otherwise add to
    # the apparent rate).
    g = _smoothed(span, 2 * pad)[pad : pad + count] @ frame.to_home
    slow = np.degrees(np.arctan2(-g[:, 0], g[:, 2]))
    pitch = np.gradient(slow, BIN_S) if count > 1 else np.zeros(count)
    return _Rates(pitch_dps=np.asarray(pitch, dtype=np.float64), yaw_dps=None)


def _velocities(rates: _Rates, peak: int, has_gyro: bool) -> tuple[float, float, float | None]:
    """Largest flexion rate up to the peak, extension rate after it, largest twist."""
    pitch = rates.pitch_dps
    flex = float(max(0.0, pitch[: peak + 1].max()))
    ext = float(max(0.0, (-pitch[peak:]).max()))
    twist = None
    if has_gyro and rates.yaw_dps is not None:
        twist = float(np.abs(np.cumsum(rates.yaw_dps) * BIN_S).max())
    return flex, ext, twist


def _thigh_peak(
    thigh: MotionBins | None, home: _Anchor, start: int, stop: int, th: LiftThresholds
) -> float | None:
    """The thigh's largest inclination from its posture at home during the movement."""
    if thigh is None:
        return None
    edge = _bins(th.anchor_edge_s)
    assert home.end is not None
    ref = _edge_mean(thigh, *_last_edge(home.start, home.end, edge))
    pad = _bins(th.peak_smooth_s)
    span = thigh.slice(start - pad, stop + pad)
    if ref is None or span.first != start - pad or len(span) != stop - start + 2 * pad:
        return None
    g = _smoothed(span, pad)[pad:-pad]
    if bool(np.all(np.isnan(g[:, 0]))):
        return None
    return float(np.nanmax(_angle_deg(g, ref)))


# --------------------------------------------------------------------------- the detector


class LiftDetector:
    """Streaming lift detection for one wearer: body bins (and thigh bins) in, lifts out.

    Feed :meth:`update` with consecutive body bins and, with a thigh sensor, consecutive
    thigh bins (in the same or later calls); :meth:`finish` at the end of data. Lifts come
    out about ``anchor_edge_s`` after the wearer is back to a steady posture. Cutting the
    bins into chunks differently never changes the result (a thigh sensor must not lag the
    body sensor by more than ``stall_s``, or it is left out where it lagged).
    """

    __slots__ = ("_has_thigh", "_placement", "_state", "_th")

    def __init__(
        self,
        placement: Placement,
        *,
        has_thigh: bool = False,
        thresholds: LiftThresholds | None = None,
    ) -> None:
        """``placement``: of the body sensor (trunk or waist)."""
        if placement is Placement.THIGH:
            raise ValueError("the body sensor for lifts is worn on the trunk or waist")
        self._placement = placement
        self._has_thigh = has_thigh
        self._th = thresholds if thresholds is not None else LiftThresholds()
        self._state = LiftState()

    @property
    def state(self) -> LiftState:
        """The state carried between chunks."""
        return self._state

    def update(
        self, body: MotionBins | None = None, thigh: MotionBins | None = None
    ) -> tuple[list[Lift], list[BendFrequency]]:
        """Add bins; return the lifts and rated windows decided so far (new ones only)."""
        self._state, lifts, windows = step_lifts(
            self._state,
            body,
            thigh,
            placement=self._placement,
            has_thigh=self._has_thigh,
            th=self._th,
            final=False,
        )
        return lifts, windows

    def finish(self) -> tuple[list[Lift], list[BendFrequency]]:
        """End of data: decide everything left."""
        self._state, lifts, windows = step_lifts(
            self._state,
            None,
            None,
            placement=self._placement,
            has_thigh=self._has_thigh,
            th=self._th,
            final=True,
        )
        return lifts, windows


def detect_lifts(
    body: MotionBins,
    placement: Placement,
    thigh: MotionBins | None = None,
    thresholds: LiftThresholds | None = None,
) -> tuple[list[Lift], list[BendFrequency]]:
    """All lifts and rated windows in a recording's bins (the offline form of the detector)."""
    th = thresholds if thresholds is not None else LiftThresholds()
    has_thigh = thigh is not None
    state, lifts, windows = step_lifts(
        LiftState(), body, thigh, placement=placement, has_thigh=has_thigh, th=th, final=False
    )
    state, more, more_windows = step_lifts(
        state, None, None, placement=placement, has_thigh=has_thigh, th=th, final=True
    )
    return lifts + more, windows + more_windows


def step_lifts(
    state: LiftState,
    body: MotionBins | None,
    thigh: MotionBins | None,
    *,
    placement: Placement,
    has_thigh: bool,
    th: LiftThresholds,
    final: bool,
) -> tuple[LiftState, list[Lift], list[BendFrequency]]:
    """Advance lift detection by some bins: a pure function of the state and the new bins.

    Returns the new state, the lifts decided and the windows rated in this step.
    """
    state = replace(
        state, body=append_bins(state.body, body), thigh=append_bins(state.thigh, thigh)
    )
    hist = state.body
    if hist is None or len(hist) == 0:
        return state, [], []
    if state.scan_from is None:
        # Empty bins before the data, so windows at its start are partial, not missing.
        lead = _lookahead_bins(th) + _bins(th.smooth_s)
        hist = empty_bins(hist.first - lead, lead, hist.has_gyro).concat(hist)
        state = replace(state, body=hist, scan_from=hist.first + lead)
    scan_from = state.scan_from
    assert scan_from is not None
    horizon = hist.end
    if has_thigh and not final:
        thigh_end = state.thigh.end if state.thigh is not None else hist.first
        horizon = min(horizon, max(thigh_end, hist.end - round(th.stall_s * BINS_PER_S)))
    look = _lookahead_bins(th)
    if final:
        padded = hist.concat(empty_bins(hist.end, look + 1, hist.has_gyro))
        stop = hist.end
    else:
        padded = hist
        stop = horizon - look
    lifts: list[Lift] = []
    if stop > scan_from:
        context = _bins(th.smooth_s) + _bins(th.steady_span_s)
        lo = max(padded.first, scan_from - context)
        part = padded.slice(lo, stop + look)
        steady = _steady(part, th)[scan_from - lo : stop - lo]
        state, lifts = _scan(
            state, steady, (scan_from, stop), placement=placement, th=th, final=final
        )
        state = _count_known(state, hist, scan_from, stop, th)
        state = replace(state, scan_from=stop)
    state, windows = _rate_windows(state, lifts, th, final)
    return _trim(state, th), lifts, windows


def _scan(
    state: LiftState,
    steady: FloatArray,
    span: tuple[int, int],
    *,
    placement: Placement,
    th: LiftThresholds,
    final: bool,
) -> tuple[LiftState, list[Lift]]:
    """Find anchors in bins [first, stop) = ``span`` and run the excursion logic on them."""
    first, stop = span
    body = state.body
    assert body is not None
    edge = _bins(th.anchor_edge_s)
    arrive_len = max(_bins(th.anchor_min_s), edge + _GUARD)
    flags = steady > 0.5
    change = (np.flatnonzero(flags[1:] != flags[:-1]) + 1).tolist()
    starts = [0, *change]
    stops = [*change, flags.shape[0]]
    lifts: list[Lift] = []
    for a, b in zip(starts, stops, strict=True):
        if not flags[a]:
            if state.run_start is not None:  # a run ended at first + a
                state, lift = _close_run(state, first + a, placement, th)
                if lift is not None:
                    lifts.append(lift)
            continue
        run_start = state.run_start if state.run_start is not None else first + a
        if state.run_start is None:
            state = replace(state, run_start=run_start)
        run_stop = first + b
        if not state.run_arrived and run_stop - run_start >= arrive_len:
            state, lift = _arrive(state, run_start, run_start + arrive_len, placement, th)
            if lift is not None:
                lifts.append(lift)
    if final and state.run_start is not None:
        state, lift = _close_run(state, stop, placement, th)
        if lift is not None:
            lifts.append(lift)
    return state, lifts


def _close_run(
    state: LiftState, run_stop: int, placement: Placement, th: LiftThresholds
) -> tuple[LiftState, Lift | None]:
    """A steady run ended at ``run_stop``: arrive (if short) and leave, if an anchor."""
    assert state.run_start is not None
    run_start = state.run_start
    lift = None
    if run_stop - run_start >= _bins(th.anchor_min_s):
        if not state.run_arrived:
            state, lift = _arrive(state, run_start, run_stop, placement, th)
        state = _leave(state, run_stop, th)
    return replace(state, run_start=None, run_arrived=False), lift


def _arrive(
    state: LiftState, start: int, known_stop: int, placement: Placement, th: LiftThresholds
) -> tuple[LiftState, Lift | None]:
    """The wearer reached a steady posture: an anchor from ``start``, steady to ``known_stop``."""
    body = state.body
    assert body is not None
    state = replace(state, run_arrived=True)
    edge = _bins(th.anchor_edge_s)
    first = _first_edge(start, known_stop, edge)
    g = _edge_mean(body, *first)
    if g is None:
        return replace(state, current=None, current_role=_Role.NONE), None
    anchor = _Anchor(start=start, first_g=g)
    home = state.home
    fresh_role = _Role.HOME if float(_angle_deg(g, _UP)) <= th.home_max_deg else _Role.NONE
    if home is None or home.end is None or home.last_g is None:
        return replace(state, current=anchor, current_role=fresh_role), None
    away_bins = start - home.end
    if away_bins > round(th.rehome_s * BINS_PER_S):
        state = replace(state, home=None, intermediates=())
        return replace(state, current=anchor, current_role=fresh_role), None
    lift = None
    near = float(_angle_deg(g, home.last_g)) <= th.return_deg
    height = None
    if near and away_bins <= round(th.max_lift_s * BINS_PER_S):
        height = _excursion_height(body, _last_edge(home.start, home.end, edge), first, th)
    home_like = near and (height is None or height.end_m >= -th.return_drop_m)
    if home_like:
        if height is not None:  # computed just above: the excursion is short enough
            lift = _judge(state, home, anchor, height, placement=placement, th=th)
        state = replace(state, intermediates=())
        return replace(state, current=anchor, current_role=_Role.HOME), lift
    return replace(state, current=anchor, current_role=_Role.INTERMEDIATE), None


def _leave(state: LiftState, end: int, th: LiftThresholds) -> LiftState:
    """The wearer left the current anchor at ``end``."""
    body = state.body
    current = state.current
    if current is None or body is None:
        return state
    edge = _bins(th.anchor_edge_s)
    g = _edge_mean(body, *_last_edge(current.start, end, edge))
    left = replace(current, end=end, last_g=g if g is not None else current.first_g)
    if state.current_role is _Role.HOME:
        return replace(state, home=left, intermediates=(), current=None, current_role=_Role.NONE)
    if state.current_role is _Role.INTERMEDIATE:
        return replace(
            state,
            intermediates=(*state.intermediates, left),
            current=None,
            current_role=_Role.NONE,
        )
    return replace(state, current=None, current_role=_Role.NONE)


# --------------------------------------------------------------------------- frequency


def _window_bins(th: LiftThresholds) -> int:
    return max(1, round(th.frequency_window_s * BINS_PER_S))


def _count_known(
    state: LiftState, hist: MotionBins, start: int, stop: int, th: LiftThresholds
) -> LiftState:
    """Add the bins with data in [start, stop) to their windows' coverage."""
    part = hist.slice(start, stop)
    if len(part) == 0:
        return state
    size = _window_bins(th)
    index = np.arange(part.first, part.end) // size
    known = part.n > 0
    counts = dict(state.window_known)
    for w in np.unique(index[known]).tolist():
        counts[w] = counts.get(w, 0) + int(np.count_nonzero(known & (index == w)))
    return replace(state, window_known=tuple(sorted(counts.items())))


def _rate_windows(
    state: LiftState, lifts: list[Lift], th: LiftThresholds, final: bool
) -> tuple[LiftState, list[BendFrequency]]:
    """Count new bends into their windows; rate the windows no lift can still fall in."""
    size = _window_bins(th)
    bends = dict(state.window_bends)
    for lift in lifts:
        if lift.bend:
            w = round(lift.start_s * BINS_PER_S) // size
            bends[w] = bends.get(w, 0) + 1
    known = dict(state.window_known)
    scan_from = state.scan_from
    assert scan_from is not None
    # A lift starting in a window is decided at most this long after the window ends.
    settle = round((th.max_lift_s + 2.0 * th.anchor_edge_s) * BINS_PER_S) + 2
    last = max([*known, *bends], default=-1) + 1 if final else (scan_from - settle) // size
    out: list[BendFrequency] = []
    for w in sorted(set(known) | set(bends)):
        if w >= last:
            continue
        covered = known.pop(w, 0) * BIN_S
        count = bends.pop(w, 0)
        if covered < th.frequency_min_coverage * th.frequency_window_s:
            continue
        per_min = count / (covered / 60.0)
        out.append(
            BendFrequency(
                start_s=w * size * BIN_S,
                end_s=(w + 1) * size * BIN_S,
                covered_s=covered,
                bends=count,
                per_min=per_min,
                band=frequency_band(per_min, th),
            )
        )
    state = replace(
        state,
        window_bends=tuple(sorted(bends.items())),
        window_known=tuple(sorted(known.items())),
    )
    return state, out


def _trim(state: LiftState, th: LiftThresholds) -> LiftState:
    """Forget bins no decision can need any more."""
    hist = state.body
    if hist is None or state.scan_from is None:
        return state
    edge = _bins(th.anchor_edge_s)
    keep_from = state.scan_from - _lookahead_bins(th) - _bins(th.smooth_s) - 2 * edge
    if state.home is not None and state.home.end is not None:
        keep_from = min(keep_from, state.home.start, state.home.end - 2 * edge)
    for anchor in (*state.intermediates, state.current):
        if anchor is not None:
            keep_from = min(keep_from, anchor.start)
    if state.run_start is not None:
        keep_from = min(keep_from, state.run_start)
    # Never more than the longest lift plus margins back from the scan position.
    floor = state.scan_from - round((th.max_lift_s + 4.0 * th.anchor_edge_s) * BINS_PER_S)
    keep_from = max(keep_from, floor) - _bins(th.peak_smooth_s) - 2
    if keep_from <= hist.first:
        return state
    thigh = state.thigh.slice(keep_from, state.thigh.end) if state.thigh is not None else None
    return replace(state, body=hist.slice(keep_from, hist.end), thigh=thigh)


def lift_evidence(lift: Lift) -> dict[str, float]:
    """The numbers behind a lift, named with units, for an observation's evidence.

    The technique and the risks are names, not numbers: they travel beside the evidence
    (``lift.technique``, ``lift.risks``); here each risk is also a 0/1 flag ``risk_<name>``.
    """
    out = {
        "peak_flexion_deg": lift.peak_flexion_deg,
        "peak_inclination_deg": lift.peak_inclination_deg,
        "flexion_velocity_dps": lift.flexion_velocity_dps,
        "extension_velocity_dps": lift.extension_velocity_dps,
        "peak_lateral_deg": lift.peak_lateral_deg,
        "drop_m": lift.drop_m,
        "hip_drop_m": lift.hip_drop_m,
        "duration_s": lift.duration_s,
    }
    if lift.twist_deg is not None:
        out["twist_deg"] = lift.twist_deg
    if lift.knee_flexion_deg is not None:
        out["knee_flexion_deg"] = lift.knee_flexion_deg
    if lift.thigh_peak_deg is not None:
        out["thigh_peak_deg"] = lift.thigh_peak_deg
    for risk in LiftRisk:
        out[f"risk_{risk.value}"] = 1.0 if risk in lift.risks else 0.0
    return out


def frequency_evidence(window: BendFrequency) -> dict[str, float]:
    """The numbers behind a rated window (its band is a name: ``window.band``)."""
    return {
        "bends": float(window.bends),
        "per_min": window.per_min,
        "covered_s": window.covered_s,
    }
