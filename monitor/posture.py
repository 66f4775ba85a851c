"""Trunk posture against ISO 11226 / EN 1005-4: flexion bands, static holds, side bends, twist.

Inputs are one value per decided one-second window (the 2 s Acti4 windows of
:mod:`monitor.windows`): the window's activity and, from the trunk sensor's mean
acceleration in the body frame, its flexion and lateral bend (:func:`~monitor.orientation.
trunk_angles`), and the trunk's twist (below). Everything is on sample time; window ``c``
stands for the slot ``[c - 0.5, c + 0.5)``.

- **Flexion bands** (ISO 11226 / EN 1005-4): up to 20° (neutral; leaning back counts here
  too), 20-60° (moderate), above 60° (awkward). Time in each band is counted while the
  wearer sits, stands, walks or runs and the trunk angles are known.
- **Static holds** (after ErgoCapture's reading of ISO 11226): a hold is a run of
  consecutive windows whose values stay within ``hold_tolerance_deg`` (±5°) of the middle
  of their range, i.e. the range stays within 10°, lasting at least ``hold_min_s`` (4 s).
  Holds are cut greedily in time order; the hold's angle is the mean of its windows.
  A window of another context (or without a known angle) ends a hold.
- **Holding-time limit** (:func:`max_hold_s`): unlimited up to 20°, then falling linearly
  from 240 s at 20° to 60 s at 60°; beyond 60° no hold is acceptable.
- **Slouch**: a flexion hold while sitting that reaches its limit (at least ``hold_min_s``)
  gives one :data:`~alerts.events.EventType.SLOUCH` observation, at the moment it does.
- **Side bend**: a lateral-bend hold while sitting or standing whose angle exceeds
  ``side_bend_deg`` (10°) and that lasts ``side_bend_hold_s`` gives one
  :data:`~alerts.events.EventType.SIDE_BEND` observation. ISO 11226 accepts no such hold at
  all; the default of 60 s (RULA and REBA score static holds of over a minute) keeps the
  nudge for real holds rather than every reach.
- **Twist** (:class:`TwistEstimator`, needs a gyroscope): the trunk's turn about the
  vertical, integrated from the gyroscope's rate about the measured gravity direction
  (bias removed with the mean rate of still windows), relative to its mean over the
  preceding ``twist_baseline_s``. One trunk sensor cannot tell a twist of the trunk from a
  turn of the whole body (or of a swivel chair), so turns count for up to that long; a
  twist cannot be followed for long enough to judge a hold.
- **Daily exposure** (Hoogendoorn 2000): time at 60° flexion or more, and time with a twist
  of 30° or more while sitting or standing, as shares of the time measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from alerts.events import EventType, Observation
from devices.samples import FloatArray
from monitor.activity import RUNNING, SITTING, STANDING, WALKING

if TYPE_CHECKING:
    from monitor.evaluation import EvaluationThresholds

BoolArray = npt.NDArray[np.bool_]
#: Flexion band codes of :func:`flexion_bands`.
BAND_UNKNOWN, BAND_NEUTRAL, BAND_MODERATE, BAND_AWKWARD = -1, 0, 1, 2


def flexion_bands(
    flexion_deg: FloatArray, neutral_deg: float = 20.0, awkward_deg: float = 60.0
) -> npt.NDArray[np.int8]:
    """Band of each flexion: 0 up to ``neutral_deg``, 1 up to ``awkward_deg``, 2 above; -1 NaN."""
    flexion = np.asarray(flexion_deg, dtype=np.float64)
    bands = np.full(flexion.shape, BAND_UNKNOWN, dtype=np.int8)
    bands[flexion <= neutral_deg] = BAND_NEUTRAL
    bands[(flexion > neutral_deg) & (flexion <= awkward_deg)] = BAND_MODERATE
    bands[flexion > awkward_deg] = BAND_AWKWARD
    return bands


def max_hold_s(
    flexion_deg: float | FloatArray,
    neutral_deg: float = 20.0,
    awkward_deg: float = 60.0,
    at_neutral_s: float = 240.0,
    at_awkward_s: float = 60.0,
) -> FloatArray:
    """Longest acceptable static hold (s) at each trunk flexion, ISO 11226 linearised.

    Infinite up to ``neutral_deg``; from ``at_neutral_s`` at ``neutral_deg`` falling linearly
    to ``at_awkward_s`` at ``awkward_deg``; zero beyond ``awkward_deg``; NaN for NaN.
    """
    flexion = np.asarray(flexion_deg, dtype=np.float64)
    slope = (at_awkward_s - at_neutral_s) / (awkward_deg - neutral_deg)
    limit = at_neutral_s + slope * (flexion - neutral_deg)
    limit = np.where(flexion <= neutral_deg, math.inf, limit)
    limit = np.where(flexion > awkward_deg, 0.0, limit)
    return np.asarray(np.where(np.isnan(flexion), np.nan, limit), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class PostureWindows:
    """Per decided window, from the trunk sensor (arrays of equal length).

    ``known``: the trunk angles are known (a trunk sensor with data and a mount whose
    forward direction is known); ``flexion_deg`` and ``lateral_deg`` as in
    :func:`~monitor.orientation.trunk_angles`; ``twist_deg`` from :class:`TwistEstimator`
    (NaN without a gyroscope).
    """

    known: BoolArray
    flexion_deg: FloatArray
    lateral_deg: FloatArray
    twist_deg: FloatArray


@dataclass(frozen=True, slots=True)
class PostureHold:
    """A static hold that went past its limit: a slouch or a side bend.

    ``start_s``/``end_s``: the whole hold; ``angle_deg``: its mean flexion (slouch) or
    lateral bend (side bend, positive to the right); ``limit_s``: the holding time it was
    judged against; ``nudge_s``: when it reached that limit (the observation's time).
    """

    type: EventType
    start_s: float
    end_s: float
    angle_deg: float
    limit_s: float
    nudge_s: float

    @property
    def duration_s(self) -> float:
        """Length of the hold in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class PostureExposure:
    """Seconds of trunk posture so far (sitting, standing, walking or running, angles known).

    ``rotation_measured_s`` is the part of ``measured_s`` with a gyroscope; a twist counts in
    ``rotation_over_s`` only while sitting or standing.
    """

    measured_s: float = 0.0
    neutral_s: float = 0.0
    moderate_s: float = 0.0
    awkward_s: float = 0.0
    rotation_measured_s: float = 0.0
    rotation_over_s: float = 0.0

    @property
    def awkward_share(self) -> float | None:
        """Share of the measured time above the awkward flexion (None before any)."""
        return self.awkward_s / self.measured_s if self.measured_s > 0 else None

    @property
    def rotation_share(self) -> float | None:
        """Share of the measured time twisted beyond the rotation threshold (None before any)."""
        if self.rotation_measured_s <= 0:
            return None
        return self.rotation_over_s / self.rotation_measured_s


class TwistEstimator:
    """Trunk twist (deg) per window from gyroscope and gravity means in the sensor frame.

    Fed every window once, in order (label time); the result depends only on the windows,
    not on how they were grouped into calls: running sums are carried exactly (one
    sequential cumulative sum) and the baseline is a plain mean of stored values.
    """

    __slots__ = ("_baseline", "_bias_count", "_bias_sum", "_still_rate_dps", "_tail", "_yaw")

    def __init__(self, baseline_s: float = 30.0, still_rate_dps: float = 5.0) -> None:
        """``baseline_s``: seconds of heading the twist is measured from."""
        self._baseline = max(1, round(baseline_s))
        self._still_rate_dps = still_rate_dps
        self._bias_sum = np.zeros(3)
        self._bias_count = 0
        self._yaw = 0.0
        self._tail = np.zeros(0)

    def update(self, gyro_mean_dps: FloatArray, mean_g: FloatArray, still: BoolArray) -> FloatArray:
        """Twist of each window: ``gyro_mean_dps`` and ``mean_g`` (w, 3), ``still`` (w,)."""
        count = mean_g.shape[0]
        if count == 0:
            return np.zeros(0)
        gyro = np.nan_to_num(np.asarray(gyro_mean_dps, dtype=np.float64), nan=np.inf)
        norm = np.sqrt(np.einsum("ij,ij->i", mean_g, mean_g))
        speed_sq = np.einsum("ij,ij->i", gyro, gyro)  # inf where unknown
        usable = np.isfinite(speed_sq) & (norm > 0.5)  # False for NaN norms too
        at_rest = usable & still & (speed_sq < self._still_rate_dps**2)
        gyro = np.where(usable[:, None], gyro, 0.0)
        contribution = np.where(at_rest[:, None], gyro, 0.0)
        sums = np.cumsum(np.vstack((self._bias_sum[None, :], contribution)), axis=0)[1:]
        counts = self._bias_count + np.cumsum(at_rest)
        self._bias_sum = sums[-1]
        self._bias_count = int(counts[-1])
        bias = sums / np.maximum(counts, 1)[:, None]
        up = np.where(usable[:, None], mean_g, 0.0) / np.where(usable, norm, 1.0)[:, None]
        rate = np.einsum("ij,ij->i", gyro - bias, up)  # 0 where not usable
        yaw = np.cumsum(np.concatenate(([self._yaw], rate)))[1:]  # 1 s per window
        self._yaw = float(yaw[-1])
        n = self._baseline
        held = self._tail.shape[0]
        history = np.concatenate((np.full(n - held, np.nan), self._tail, yaw))
        baseline = sliding_window_view(history, n)[:count].mean(axis=1)
        self._tail = history[-n:]
        return np.asarray(np.where(usable, yaw - baseline, np.nan), dtype=np.float64)


class _Hold:
    """A hold being followed: its windows so far, range, sum and whether it fired."""

    __slots__ = ("fired", "hi", "last", "limit_s", "lo", "nudge_s", "start", "total")

    def __init__(self, start: int) -> None:
        """An empty hold that will start at window ``start``."""
        self.start = start
        self.last = start - 1
        self.lo = math.inf
        self.hi = -math.inf
        self.total = 0.0
        self.fired = False
        self.limit_s = math.nan
        self.nudge_s = math.nan

    @property
    def mean(self) -> float:
        return self.total / (self.last - self.start + 1)


class PostureTracker:
    """Consumes decided windows in time order; slouch and side-bend observations, exposure.

    Windows may be handed in cut anywhere; the result is the same.
    """

    __slots__ = ("_exposure", "_flexion_hold", "_holds", "_lateral_hold", "_th", "wearer")

    def __init__(self, wearer: str, thresholds: EvaluationThresholds) -> None:
        """A tracker for one wearer with the evaluation's posture thresholds."""
        self.wearer = wearer
        self._th = thresholds
        self._flexion_hold: _Hold | None = None
        self._lateral_hold: _Hold | None = None
        self._holds: list[PostureHold] = []
        self._exposure = PostureExposure()

    @property
    def exposure(self) -> PostureExposure:
        """Seconds per band and of twist so far."""
        return self._exposure

    @property
    def holds(self) -> list[PostureHold]:
        """Holds that went past their limit: closed ones, then any still going on."""
        ongoing = [
            _record(hold, kind)
            for hold, kind in (
                (self._flexion_hold, EventType.SLOUCH),
                (self._lateral_hold, EventType.SIDE_BEND),
            )
            if hold is not None and hold.fired
        ]
        return sorted([*self._holds, *ongoing], key=lambda h: (h.nudge_s, h.type))

    def forget_before(self, cutoff_s: float) -> None:
        """Drop finished holds that ended by ``cutoff_s`` (a live daemon keeps no history)."""
        self._holds = [hold for hold in self._holds if hold.end_s > cutoff_s]

    def push(
        self, first: int, codes: npt.NDArray[np.int8], windows: PostureWindows
    ) -> list[tuple[float, Observation]]:
        """Windows ``first ..``: their activity codes and trunk values.

        Returns ``(known_s, observation)`` pairs, ``known_s`` being the sample time at which
        the observation became known.
        """
        if codes.shape[0] == 0:
            return []
        self._count(codes, windows)
        out: list[tuple[float, Observation]] = []
        if not np.any(windows.known):
            for hold, kind in (
                (self._flexion_hold, EventType.SLOUCH),
                (self._lateral_hold, EventType.SIDE_BEND),
            ):
                if hold is not None:
                    self._close(hold, kind)
            self._flexion_hold = self._lateral_hold = None
            return []
        sitting = codes == SITTING
        flexion_ok = windows.known & sitting & np.isfinite(windows.flexion_deg)
        lateral_ok = (
            windows.known & (sitting | (codes == STANDING)) & np.isfinite(windows.lateral_deg)
        )
        self._flexion_hold = self._follow(
            first,
            flexion_ok,
            values=windows.flexion_deg,
            hold=self._flexion_hold,
            kind=EventType.SLOUCH,
            out=out,
        )
        self._lateral_hold = self._follow(
            first,
            lateral_ok,
            values=windows.lateral_deg,
            hold=self._lateral_hold,
            kind=EventType.SIDE_BEND,
            out=out,
        )
        out.sort(key=lambda item: item[0])
        return out

    def finish(self) -> None:
        """End of input: close the holds going on."""
        for hold, kind in (
            (self._flexion_hold, EventType.SLOUCH),
            (self._lateral_hold, EventType.SIDE_BEND),
        ):
            if hold is not None and hold.fired:
                self._holds.append(_record(hold, kind))
        self._flexion_hold = self._lateral_hold = None

    def _count(self, codes: npt.NDArray[np.int8], windows: PostureWindows) -> None:
        th = self._th
        still = (codes == SITTING) | (codes == STANDING)
        measured = windows.known & (still | (codes == WALKING) | (codes == RUNNING))
        if not np.any(measured):
            return
        bands = flexion_bands(
            windows.flexion_deg[measured], th.neutral_flexion_deg, th.awkward_flexion_deg
        )
        counts = np.bincount(bands + 1, minlength=4)  # unknown, neutral, moderate, awkward
        twist = windows.twist_deg
        rotation_known = measured & np.isfinite(twist)
        with np.errstate(invalid="ignore"):
            twisted = rotation_known & still & (np.abs(twist) >= th.rotation_deg)
        e = self._exposure
        self._exposure = PostureExposure(
            measured_s=e.measured_s + int(counts[1:].sum()),
            neutral_s=e.neutral_s + int(counts[1 + BAND_NEUTRAL]),
            moderate_s=e.moderate_s + int(counts[1 + BAND_MODERATE]),
            awkward_s=e.awkward_s + int(counts[1 + BAND_AWKWARD]),
            rotation_measured_s=e.rotation_measured_s + int(np.count_nonzero(rotation_known)),
            rotation_over_s=e.rotation_over_s + int(np.count_nonzero(twisted)),
        )

    def _follow(
        self,
        first: int,
        ok: BoolArray,
        *,
        values: FloatArray,
        hold: _Hold | None,
        kind: EventType,
        out: list[tuple[float, Observation]],
    ) -> _Hold | None:
        """Advance one quantity's holds over the windows, a few numpy calls per hold."""
        index = np.flatnonzero(ok)
        if index.shape[0]:
            usable = values[index]
            breaks = np.flatnonzero(np.diff(index) != 1) + 1
            starts = [0, *breaks.tolist()]
            stops = [*breaks.tolist(), int(index.shape[0])]
            for a, b in zip(starts, stops, strict=True):
                c = first + int(index[a])
                if hold is not None and hold.last != c - 1:
                    self._close(hold, kind)
                    hold = None
                hold = self._extend(hold, c, usable[a:b], kind, out)
        # A window that could not continue the hold after the last usable one ends it.
        if hold is not None and hold.last < first + ok.shape[0] - 1:
            self._close(hold, kind)
            hold = None
        return hold

    def _extend(
        self,
        hold: _Hold | None,
        c: int,
        run: FloatArray,
        kind: EventType,
        out: list[tuple[float, Observation]],
    ) -> _Hold:
        """Follow holds over consecutive usable windows ``c ..`` (values ``run``)."""
        th = self._th
        tolerance = 2.0 * th.hold_tolerance_deg
        hold_min = max(1, math.ceil(th.hold_min_s))
        pos = 0
        n = run.shape[0]
        while True:
            if hold is None:
                hold = _Hold(c + pos)
            segment = run[pos:]
            hi = np.maximum(np.maximum.accumulate(segment), hold.hi)
            lo = np.minimum(np.minimum.accumulate(segment), hold.lo)
            inside = hi - lo <= tolerance  # once outside, always outside
            taken = int(segment.shape[0]) if bool(inside[-1]) else int(np.argmin(inside))
            if taken:
                totals = np.cumsum(np.concatenate(([hold.total], segment[:taken])))[1:]
                if not hold.fired:
                    self._fire(hold, c + pos, totals, kind=kind, hold_min=hold_min, out=out)
                hold.last = c + pos + taken - 1
                hold.hi, hold.lo = float(hi[taken - 1]), float(lo[taken - 1])
                hold.total = float(totals[-1])
            pos += taken
            if pos >= n:
                return hold
            self._close(hold, kind)  # the range would grow beyond the tolerance
            hold = None

    def _fire(
        self,
        hold: _Hold,
        c: int,
        totals: FloatArray,
        *,
        kind: EventType,
        hold_min: int,
        out: list[tuple[float, Observation]],
    ) -> None:
        """Fire the observation at the first window ``c ..`` where the hold reaches its limit."""
        th = self._th
        durations = np.arange(c, c + totals.shape[0]) - hold.start + 1
        means = totals / durations
        if kind is EventType.SLOUCH:
            limits = max_hold_s(
                means,
                th.neutral_flexion_deg,
                th.awkward_flexion_deg,
                th.hold_at_neutral_s,
                th.hold_at_awkward_s,
            )
            angle_key = "flexion_deg"
        else:
            limits = np.where(np.abs(means) > th.side_bend_deg, th.side_bend_hold_s, np.inf)
            angle_key = "lateral_deg"
        due = (durations >= hold_min) & (durations >= limits)
        if not np.any(due):
            return
        k = int(np.argmax(due))
        at = c + k
        duration, mean, limit = float(durations[k]), float(means[k]), float(limits[k])
        hold.fired = True
        hold.limit_s = limit
        hold.nudge_s = at + 0.5
        observation = Observation(
            wearer=self.wearer,
            type=kind,
            start_s=hold.start - 0.5,
            end_s=at + 0.5,
            evidence=MappingProxyType({"hold_s": duration, angle_key: mean, "limit_s": limit}),
        )
        out.append((at + 0.5, observation))

    def _close(self, hold: _Hold, kind: EventType) -> None:
        if hold.fired:
            self._holds.append(_record(hold, kind))


def _record(hold: _Hold, kind: EventType) -> PostureHold:
    return PostureHold(
        type=kind,
        start_s=hold.start - 0.5,
        end_s=hold.last + 0.5,
        angle_deg=hold.mean,
        limit_s=hold.limit_s,
        nudge_s=hold.nudge_s,
    )
