"""Falls: an impact, the body turned over from upright or seated, and what the wearer does next.

Input is the body sensor (trunk, or else waist) as :class:`~monitor.motionbins.MotionBins`
(body frame, 1/16 s; up is the mount's up). Everything runs on sample time;
:class:`FallDetector` is fed bins in any chunks and finds the same falls as
:func:`detect_falls` over the whole recording.

**Candidates** are impacts: a bin whose largest acceleration magnitude reaches
``impact_g`` and is the largest within ``impact_spacing_s`` either side. For each:

- the posture *before*, mean gravity over ``pre_s`` (from 2.5 s to 1 s before the impact,
  before the fall began), and *after*, over ``post_s`` (from 1 s to 2.5 s after it, once the
  body has settled);
- the orientation change between the two (Bourke & Lyons 2008 use a trunk-angle change of
  0.59 rad, 34°; here ``change_deg``, 40°), and the inclination of each from the mount's up;
- the largest angular rate from ``rate_window_s`` before the impact to just after it
  (Bourke & Lyons: 3.1 rad/s, 178 °/s, at the trunk; a waist turns slower, so
  ``fall_rate_dps`` is lower), where the sensor has a gyroscope;
- whether the wearer stayed down: the inclination (smoothed over 1 s) stays at or above
  ``down_deg`` from 1 s after the impact until ``stay_down_s`` after it, or until the data
  end if sooner; ``down_s`` is how long that lasted.

**A fall** starts from a posture that is not lying (before: inclination below the
placement's lying angle: trunk 45°, waist 65°, Acti4; or bent forward over the feet, up to
``bent_max_deg``), with data in most of both windows, turns the body by at least
``change_deg`` and ends down (after: at least ``down_deg``: trunk 35°, waist 45°). Then:

- a *hard* impact (at least ``hard_impact_g``, 3 g) is a fall whatever follows; the
  report says whether the wearer stayed down;
- a softer impact is a fall only if the body ended lying (after: at least the lying angle),
  the rotation was fast (gyroscope: at least ``fall_rate_dps``) and the wearer stayed down
  for ``stay_down_s``. Lying down on purpose, even quickly onto a bed, turns as far and can
  jolt as hard, but the wearer gets up again or was not hurried; sitting down hard into a
  chair (SisFall D11), stumbling (D18) and jumping (D19) leave the body upright or seated.

Impacts within ``merge_s`` after a fall belong to it. A fall is reported ``stay_down_s``
after its impact (or at the end of the data), so that whether the wearer got up is known.
Known limitation: lying down fast onto a bed and staying there looks like a soft fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from devices.samples import FloatArray, Placement
from monitor.motionbins import (
    BIN_S,
    BINS_PER_S,
    IntArray,
    MotionBins,
    append_bins,
    empty_bins,
    window_count,
    window_sum,
)

_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True, slots=True)
class FallThresholds:
    """Every number fall detection uses, with its unit (see the module docstring)."""

    impact_g: float = 1.6
    hard_impact_g: float = 3.0
    impact_spacing_s: float = 0.5
    pre_start_s: float = 2.5
    pre_end_s: float = 1.0
    post_start_s: float = 1.0
    post_end_s: float = 2.5
    rate_window_s: float = 1.0
    change_deg: float = 40.0
    trunk_lying_deg: float = 45.0
    waist_lying_deg: float = 65.0
    trunk_down_deg: float = 35.0
    waist_down_deg: float = 45.0
    #: A posture before a fall tilted mostly forward (flexion at least ``bent_share`` of the
    #: inclination) is bent over the feet, not lying, up to this inclination (deg).
    trunk_bent_max_deg: float = 100.0
    waist_bent_max_deg: float = 80.0
    bent_share: float = 0.8
    #: The windows before and after an impact need samples in this share of their bins.
    min_coverage: float = 0.75
    fall_rate_dps: float = 120.0
    stay_down_s: float = 10.0
    #: Getting up: the inclination stays below the down angle for this long (s).
    got_up_s: float = 1.0
    merge_s: float = 3.0

    def lying_deg(self, placement: Placement) -> float:
        """Inclination from upright beyond which the body sensor is lying."""
        return self.waist_lying_deg if placement is Placement.WAIST else self.trunk_lying_deg

    def bent_max_deg(self, placement: Placement) -> float:
        """Largest forward tilt before a fall still taken as bent over, not lying."""
        return self.waist_bent_max_deg if placement is Placement.WAIST else self.trunk_bent_max_deg

    def down_deg(self, placement: Placement) -> float:
        """Inclination from upright beyond which the wearer is down (not upright or seated)."""
        return self.waist_down_deg if placement is Placement.WAIST else self.trunk_down_deg


@dataclass(frozen=True, slots=True)
class Fall:
    """One detected fall.

    ``impact_s``: time of the impact bin's start; ``peak_acc_g``: the largest acceleration
    magnitude from 1 s before the impact to ``merge_s`` after; ``peak_rate_dps``: the
    largest angular rate around it (None without a gyroscope); ``orientation_change_deg``:
    between the posture before and after; ``pre``/``post_inclination_deg``: those postures'
    tilt from upright; ``hard``: the impact alone decided; ``stayed_down``: the wearer did
    not get up within ``stay_down_s`` (or before the data ended); ``down_s``: how long the
    wearer stayed down after the impact (up to ``stay_down_s``); ``decided_s``: the sample
    time at which the fall was known.
    """

    impact_s: float
    peak_acc_g: float
    peak_rate_dps: float | None
    orientation_change_deg: float
    pre_inclination_deg: float
    post_inclination_deg: float
    hard: bool
    stayed_down: bool
    down_s: float
    decided_s: float


def _bins(seconds: float) -> int:
    return max(1, round(seconds * BINS_PER_S))


def _angle_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        na = np.linalg.norm(a, axis=-1)
        nb = np.linalg.norm(b, axis=-1)
        cos = np.einsum("...i,...i->...", a, b) / (na * nb)
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), dtype=np.float64)


def _window_mean(bins: MotionBins, starts: IntArray, width: int) -> FloatArray:
    """Mean acceleration over bins [start, start + width) for each relative start.

    Summed in a fixed order (:func:`window_sum`), so the same bins give the same mean in
    any chunk. Starts must leave the window inside the bins.
    """
    sums = window_sum(bins.acc_sum, width)
    n = window_count(bins.n, width)
    at = starts.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums[at] / n[at, None], dtype=np.float64)


def _filled_share(bins: MotionBins, starts: IntArray, width: int) -> FloatArray:
    """Share of the bins [start, start + width) holding samples, for each relative start."""
    filled = window_count(bins.n > 0, width)
    return np.asarray(filled[starts.astype(np.int64)] / width, dtype=np.float64)


def _local_peaks(mag: FloatArray, idx: IntArray, spacing: int) -> IntArray:
    """Those of ``idx`` whose magnitude is the largest within ``spacing`` bins either side.

    Strictly larger than the bins before, at least as large as those after.
    """
    padded = np.concatenate((np.full(spacing, -np.inf), mag, np.full(spacing, -np.inf)))
    view = np.lib.stride_tricks.sliding_window_view(padded, spacing)
    left = view[idx]  # the spacing bins before each (padded index idx .. idx + spacing - 1)
    right = view[idx + spacing + 1]
    here = mag[idx]
    keep = (here > left.max(axis=1)) & (here >= right.max(axis=1))
    return np.asarray(idx[keep], dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class FallState:
    """Everything :class:`FallDetector` carries between chunks (explicit, immutable)."""

    bins: MotionBins | None = None
    next_bin: int | None = None  # first bin not yet looked at as a candidate
    last_fall_bin: int | None = None  # impact bin of the latest fall (for merging)


class FallDetector:
    """Streaming fall detection for one body sensor: bins in, falls out.

    Feed :meth:`update` with consecutive bins and call :meth:`finish` at the end of data.
    Falls come out ``stay_down_s`` after their impact. Cutting the bins into chunks
    differently never changes the result.
    """

    __slots__ = ("_placement", "_state", "_th")

    def __init__(self, placement: Placement, thresholds: FallThresholds | None = None) -> None:
        """``placement``: of the body sensor (trunk or waist)."""
        if placement is Placement.THIGH:
            raise ValueError("falls are detected from a trunk or waist sensor")
        self._placement = placement
        self._th = thresholds if thresholds is not None else FallThresholds()
        self._state = FallState()

    @property
    def state(self) -> FallState:
        """The state carried between chunks."""
        return self._state

    def update(self, bins: MotionBins) -> list[Fall]:
        """Add bins; return the falls decided by them."""
        self._state, falls = step_falls(self._state, bins, self._placement, self._th, final=False)
        return falls

    def finish(self) -> list[Fall]:
        """End of data: decide the impacts still waiting."""
        self._state, falls = step_falls(self._state, None, self._placement, self._th, final=True)
        return falls


def detect_falls(
    bins: MotionBins, placement: Placement, thresholds: FallThresholds | None = None
) -> list[Fall]:
    """All falls in a recording's bins (the offline form of the detector)."""
    th = thresholds if thresholds is not None else FallThresholds()
    state, falls = step_falls(FallState(), bins, placement, th, final=False)
    state, more = step_falls(state, None, placement, th, final=True)
    return falls + more


def _reach(th: FallThresholds) -> tuple[int, int]:
    """Bins needed before and after a candidate to judge it."""
    before = max(_bins(th.pre_start_s), _bins(th.rate_window_s), _bins(th.impact_spacing_s)) + 1
    after = max(_bins(th.stay_down_s), _bins(th.post_end_s), _bins(th.merge_s)) + _bins(th.got_up_s)
    return before, after + _bins(1.0)


def step_falls(
    state: FallState,
    bins: MotionBins | None,
    placement: Placement,
    th: FallThresholds,
    *,
    final: bool,
) -> tuple[FallState, list[Fall]]:
    """Advance fall detection by some bins: a pure function of the state and the new bins."""
    hist = append_bins(state.bins, bins)
    if hist is None or len(hist) == 0:
        return replace(state, bins=hist), []
    before, after = _reach(th)
    if state.next_bin is None:
        lead = before + _bins(1.0)
        hist = empty_bins(hist.first - lead, lead, hist.has_gyro).concat(hist)
        state = replace(state, next_bin=hist.first + lead)
    next_bin = state.next_bin
    assert next_bin is not None
    data_end = hist.end
    stop = data_end if final else data_end - after
    falls: list[Fall] = []
    if stop > next_bin:
        padded = hist.concat(empty_bins(data_end, after + 1, hist.has_gyro)) if final else hist
        state, falls = _judge_range(
            state, padded, (next_bin, stop), data_end=data_end, placement=placement, th=th
        )
        state = replace(state, next_bin=stop)
    keep_from = max(next_bin, min(stop, data_end)) - before - _bins(2.0)
    if keep_from > hist.first:
        hist = hist.slice(keep_from, hist.end)
    return replace(state, bins=hist), falls


def _judge_range(
    state: FallState,
    bins: MotionBins,
    span: tuple[int, int],
    *,
    data_end: int,
    placement: Placement,
    th: FallThresholds,
) -> tuple[FallState, list[Fall]]:
    """Judge the candidate impacts in bins [start, stop) = ``span`` (absolute indices)."""
    start, stop = span
    first = bins.first
    mag = bins.mag_max_g
    spacing = _bins(th.impact_spacing_s)
    a, b = start - first, stop - first
    idx = np.flatnonzero(mag[a:b] >= th.impact_g) + a
    if idx.shape[0] == 0:
        return state, []
    cand = _local_peaks(mag, idx, spacing)
    if cand.shape[0] == 0:
        return state, []
    pre_len = _bins(th.pre_start_s) - _bins(th.pre_end_s)
    post_len = _bins(th.post_end_s) - _bins(th.post_start_s)
    pre = _window_mean(bins, cand - _bins(th.pre_start_s), pre_len)
    post = _window_mean(bins, cand + _bins(th.post_start_s), post_len)
    change = _angle_deg(pre, post)
    pre_incl = _angle_deg(pre, _UP)
    post_incl = _angle_deg(post, _UP)
    lying = th.lying_deg(placement)
    down = th.down_deg(placement)
    # Bent forward over the feet is not lying, up to ``bent_max_deg``.
    with np.errstate(invalid="ignore"):
        pre_flexion = np.degrees(np.arctan2(-pre[:, 0], pre[:, 2]))
    bent = (pre_flexion >= th.bent_share * pre_incl) & (pre_incl < th.bent_max_deg(placement))
    pre_ok = (pre_incl < lying) | bent
    covered = (_filled_share(bins, cand - _bins(th.pre_start_s), pre_len) >= th.min_coverage) & (
        _filled_share(bins, cand + _bins(th.post_start_s), post_len) >= th.min_coverage
    )
    ok = pre_ok & covered & (change >= th.change_deg) & (post_incl >= down)
    falls: list[Fall] = []
    last = state.last_fall_bin
    merge = _bins(th.merge_s)
    for k in np.flatnonzero(ok).tolist():
        c = int(cand[k])
        if last is not None and first + c - last <= merge:
            continue
        fall = _decide(
            bins,
            c,
            (float(change[k]), float(pre_incl[k]), float(post_incl[k])),
            data_stop=data_end - first,
            placement=placement,
            th=th,
        )
        if fall is not None:
            falls.append(fall)
            last = first + c
    return replace(state, last_fall_bin=last), falls


def _decide(
    bins: MotionBins,
    c: int,
    posture: tuple[float, float, float],
    *,
    data_stop: int,
    placement: Placement,
    th: FallThresholds,
) -> Fall | None:
    """Whether the qualifying impact at relative bin ``c`` is a fall, and its report.

    ``posture``: orientation change, inclination before and after (deg).
    """
    change, pre_incl, post_incl = posture
    first = bins.first
    peak = float(bins.mag_max_g[max(0, c - _bins(1.0)) : c + _bins(th.merge_s) + 1].max())
    rate = None
    if bins.rate_max_dps is not None:
        window = bins.rate_max_dps[max(0, c - _bins(th.rate_window_s)) : c + _bins(0.25) + 1]
        rate = float(window.max())
    down_s, stayed = _stay_down(bins, c, data_stop, placement, th)
    hard = float(bins.mag_max_g[c]) >= th.hard_impact_g
    if not hard:
        if post_incl < th.lying_deg(placement) or not stayed:
            return None
        if rate is not None and rate < th.fall_rate_dps:
            return None
    decided = min(c + _bins(th.stay_down_s), data_stop)
    return Fall(
        impact_s=(first + c) * BIN_S,
        peak_acc_g=peak,
        peak_rate_dps=rate,
        orientation_change_deg=change,
        pre_inclination_deg=pre_incl,
        post_inclination_deg=post_incl,
        hard=hard,
        stayed_down=stayed,
        down_s=down_s,
        decided_s=(first + decided) * BIN_S,
    )


def _stay_down(
    bins: MotionBins, c: int, data_stop: int, placement: Placement, th: FallThresholds
) -> tuple[float, bool]:
    """How long the wearer stayed down after the impact, and whether for ``stay_down_s``.

    Down: the inclination smoothed over 1 s at or above ``down_deg``. The wearer got up at
    the first bin from which it stays below for ``got_up_s``. Data ending while the wearer is
    down counts as staying down.
    """
    width = _bins(1.0)
    start = c + _bins(th.post_start_s)
    horizon = c + _bins(th.stay_down_s)
    end = min(horizon, data_stop)
    if end <= start:
        return 0.0, True
    lo = start - width // 2
    part = bins.slice(bins.first + lo, bins.first + end + width)
    sums = window_sum(part.acc_sum, width)
    n = window_count(part.n, width)
    rows = min(end - start, sums.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        g = sums[:rows] / n[:rows, None]
    incl = _angle_deg(g, _UP)
    up = ~(incl >= th.down_deg(placement))  # NaN (no data) counts as not down
    need = _bins(th.got_up_s)
    runs = window_sum(up.astype(np.float64)[:, None], need)[:, 0] if rows >= need else np.zeros(0)
    got_up = np.flatnonzero(runs >= need)
    # Only a getting-up whose confirmation lies within the data counts.
    if got_up.shape[0]:
        at = int(got_up[0])
        return (at + _bins(th.post_start_s)) * BIN_S, False
    down_s = (end - c) * BIN_S
    return down_s, True


def fall_evidence(fall: Fall) -> dict[str, float]:
    """The numbers behind a fall, named with units, for an observation's evidence."""
    out = {
        "peak_acc_g": fall.peak_acc_g,
        "orientation_change_deg": fall.orientation_change_deg,
        "post_inclination_deg": fall.post_inclination_deg,
        "hard": 1.0 if fall.hard else 0.0,
        "stayed_down": 1.0 if fall.stayed_down else 0.0,
        "down_s": fall.down_s,
    }
    if fall.peak_rate_dps is not None and math.isfinite(fall.peak_rate_dps):
        out["peak_rate_dps"] = fall.peak_rate_dps
    return out
