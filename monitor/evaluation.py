"""Per-wearer evaluation: sample blocks in, activity segments, sitting bouts and observations out.

:class:`WearerEvaluator` is what the daemon feeds and what ``analyze`` runs on a recording.
Everything runs on sample time. The work per block is one vectorised copy into the sensor's
ring; once per ``evaluate_every_s`` of sample time (2 s live) the new complete
quarter-seconds are summed, window features built, the transition detector and the
window labeller advanced, minimum bouts applied and the sitting tracker fed.

Latency: a one-second slot is labelled once ``decision_lookahead_s`` (4 s) of data after
its window is in (a transition is judged when the rest after it begins), and decided once
the bout filter has seen up to 4 more labels (a 5 s minimum bout needs them); with the 2 s
live pace a decision comes 6-11 s of sample time after the slot. An evaluation pass costs a
few hundred microseconds whatever its length, so a longer pace costs less per day.

Cutting the same samples into blocks differently, or evaluating at another pace, never
changes the result: quarters, windows, transitions and decisions are all fixed on the
absolute sample-time grid. With several sensors this holds as long as none lags the others
by more than ``stall_s`` (then it is left out of the windows it missed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alerts.events import Observation
from devices.mount import Mount
from devices.samples import FloatArray, Placement, SampleBlock
from monitor.activity import (
    ACTIVITIES,
    LYING,
    RUNNING,
    SITTING,
    STANDING,
    UNKNOWN,
    WALKING,
    Activity,
    BodyWindows,
    BoutFilter,
    PostureLabeler,
    Segment,
    ThighWindows,
    Transition,
    TransitionDetector,
    segments_from_runs,
)
from monitor.orientation import (
    MountSource,
    OrientationError,
    SensorOrientation,
    calibrate_upright,
    inclination_deg,
    trunk_angles,
)
from monitor.ringbuffer import SampleRing
from monitor.sitting import SittingBout, SittingTracker
from monitor.windows import (
    QUARTER_S,
    QUARTERS_PER_S,
    QuarterSums,
    WindowFeatures,
    empty_quarter_sums,
    quarter_index,
    quarter_sums,
    window_features,
)


class EvaluationError(ValueError):
    """A wearer set-up the evaluation cannot work with."""


@dataclass(frozen=True, slots=True)
class EvaluationThresholds:
    """Every number the evaluation uses, with its unit; defaults from the guidelines.

    Acti4 / Skotte 2014 (guidelines §4): ``still_sd_g`` 0.1 g (2 s acceleration SD below it
    is still), ``run_sd_g`` 0.72 g (above it running), ``thigh_sit_deg`` 45°,
    ``trunk_lying_deg`` 45°, ``waist_lying_deg`` 65° (Acti4's hip threshold), minimum bouts
    sit 5 s, stand/walk/run 2 s, lie 5 s. Sitting (ADA / Dunstan 2012): bout limit
    ``sitting_limit_s`` 1800 s, a break is ``sitting_break_s`` 60 s upright.

    The rest are this project's own (tuned on synthetic signals, checked against the SisFall
    waist recordings by ``python -m bench.validate``): rests and transitions for trunk- or
    waist-only wearing, the upright reference, and the streaming mechanics.
    """

    still_sd_g: float = 0.1
    run_sd_g: float = 0.72
    thigh_sit_deg: float = 45.0
    trunk_lying_deg: float = 45.0
    waist_lying_deg: float = 65.0
    sitting_limit_s: float = 1800.0
    sitting_break_s: float = 60.0
    min_sit_s: float = 5.0
    min_stand_s: float = 2.0
    min_walk_s: float = 2.0
    min_run_s: float = 2.0
    min_lie_s: float = 5.0
    #: Seconds without enough data shorter than this are absorbed like any short bout.
    min_unknown_s: float = 2.0
    #: A 2 s window needs samples in at least this share of its quarter-seconds.
    min_window_fill: float = 0.5
    #: A quarter-second is at rest when the SD of the acceleration magnitude is below this (g)
    rest_sd_g: float = 0.03
    #: ... and the gravity direction turned less than this since the previous quarter (deg).
    rest_tilt_deg: float = 1.5
    #: A rest lasts at least this long (s); movements between rests are transitions.
    rest_min_s: float = 0.5
    #: Longer movements are not integrated for height (s).
    max_transition_s: float = 8.0
    #: Tail of a long movement integrated back from the rest after it (s).
    tail_s: float = 2.0
    #: Height gained by standing up (m); lost by sitting down (m); changes larger than
    #: ``max_rise_m`` either way are distrusted (m).
    rise_m: float = 0.2
    drop_m: float = 0.2
    max_rise_m: float = 1.5
    #: Sitting down lowers the body less than this; more is stairs or a fall (m).
    max_drop_m: float = 0.75
    #: Getting up from lying raises the body at least this much when standing up; less is
    #: sitting up (m).
    lying_rise_m: float = 0.5
    #: A first vertical velocity below minus this marks a movement that went down first (m/s).
    descent_mps: float = 0.25
    #: Backward pelvis tilt from the rest before that marks sitting down (waist, deg).
    sit_tilt_deg: float = 5.0
    #: With the posture unknown, a still pelvis tilted back (waist) or a trunk reclined
    #: (trunk) this far from upright counts as seated (deg).
    seated_tilt_deg: float = 15.0
    #: A rest leaning forward more than this from upright is bent, not seated (deg).
    bent_deg: float = 20.0
    #: While seated, movement must last this long to count as walking (s).
    sustained_move_s: float = 4.0
    #: Walking seconds in a minute needed to re-learn the upright reference.
    reference_walk_s: float = 20.0
    #: How far past a window the evaluation looks before deciding it (whole seconds).
    decision_lookahead_s: int = 4
    #: A sensor whose samples lag the others' by more than this is treated as stalled (s).
    stall_s: float = 5.0

    def min_bout_windows(self) -> dict[int, int]:
        """Minimum bout lengths in one-second windows, by activity code."""
        seconds = {
            SITTING: self.min_sit_s,
            STANDING: self.min_stand_s,
            WALKING: self.min_walk_s,
            RUNNING: self.min_run_s,
            LYING: self.min_lie_s,
            UNKNOWN: self.min_unknown_s,
        }
        return {code: max(1, math.ceil(s)) for code, s in seconds.items()}


@dataclass(frozen=True, slots=True, eq=False)
class SensorSetup:
    """One sensor of a wearer: its id, where it is worn, and its mount if declared.

    Equal (and hashing alike) when id, placement and mount rotation are equal.
    """

    sensor_id: str
    placement: Placement
    mount: Mount | None = None

    def __eq__(self, other: object) -> bool:
        """Same id, placement and mount."""
        if not isinstance(other, SensorSetup):
            return NotImplemented
        if (self.sensor_id, self.placement) != (other.sensor_id, other.placement):
            return False
        if self.mount is None or other.mount is None:
            return self.mount is other.mount
        return bool(np.array_equal(self.mount.sensor_from_body, other.mount.sensor_from_body))

    def __hash__(self) -> int:
        """Hash of id and placement."""
        return hash((self.sensor_id, self.placement))


@dataclass(frozen=True, slots=True)
class WearerStatus:
    """The wearer right now, as far as decided.

    ``sample_time_s``: newest sample seen (None before any); ``activity``: the latest
    decided activity; ``trunk_flexion_deg``: forward flexion of the trunk sensor in its
    latest window (None without a trunk sensor or data); ``sitting_bout_s``: the ongoing
    sitting bout (0 if none); ``sitting_total_s``: all sitting seconds so far.
    """

    sample_time_s: float | None
    activity: Activity
    trunk_flexion_deg: float | None
    sitting_bout_s: float
    sitting_total_s: float


#: Default sample time between evaluation passes for a live wearer (s).
LIVE_EVALUATE_EVERY_S = 2.0
_RING_RATE_HZ = 400.0  # ring room per second; faster sensors get their blocks split
_RING_S = 20.0  # seconds of ring at that rate; half full, its samples are summed


@dataclass(slots=True)
class _WindowStore:
    """Window features of one sensor not yet labelled, indexed by window (center second)."""

    first: int = 0
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    mean_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    cov_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3, 3)))

    @property
    def end(self) -> int:
        """One past the last window held."""
        return self.first + int(self.known.shape[0])

    def add(self, wf: WindowFeatures, min_filled: int) -> None:
        """Append windows that follow on directly (or start the store)."""
        known = wf.filled >= min_filled
        if self.known.shape[0] == 0:
            self.first = wf.first
            self.known, self.mean_s, self.cov_s = known, wf.mean_s, wf.cov_s
            return
        self.known = np.concatenate((self.known, known))
        self.mean_s = np.concatenate((self.mean_s, wf.mean_s))
        self.cov_s = np.concatenate((self.cov_s, wf.cov_s))

    def take(self, start: int, stop: int) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Windows [start, stop) (unknown where not held), and forget those before ``stop``."""
        count = stop - start
        known = np.zeros(count, dtype=bool)
        mean = np.zeros((count, 3))
        cov = np.zeros((count, 3, 3))
        a = max(start, self.first)
        b = min(stop, self.end)
        if b > a:
            known[a - start : b - start] = self.known[a - self.first : b - self.first]
            mean[a - start : b - start] = self.mean_s[a - self.first : b - self.first]
            cov[a - start : b - start] = self.cov_s[a - self.first : b - self.first]
        drop = min(max(0, stop - self.first), int(self.known.shape[0]))
        self.first += drop
        self.known = self.known[drop:]
        self.mean_s = self.mean_s[drop:]
        self.cov_s = self.cov_s[drop:]
        return known, mean, cov


class _Channel:
    """One sensor's ring, quarter and window progress, and (body sensor) transitions."""

    def __init__(self, setup: SensorSetup, thresholds: EvaluationThresholds) -> None:
        self.setup = setup
        self.th = thresholds
        self.capacity = int(_RING_RATE_HZ * _RING_S)
        self.ring: SampleRing | None = None
        self.orientation: SensorOrientation | None = (
            SensorOrientation(setup.mount, MountSource.DECLARED)
            if setup.mount is not None
            else None
        )
        self.learned_at_s = -math.inf
        self.next_q: int | None = None  # first quarter not summed yet
        self.consumed = 0  # samples summed into quarters
        self.newest_s = -math.inf
        self.first_s = math.inf
        self.last_dt_s = 0.0
        self.dropped_samples = 0
        self.window_buffer: QuarterSums | None = None
        self.windows = _WindowStore()
        self.detector = TransitionDetector(thresholds)
        self.transitions: list[Transition] = []
        self.min_filled = max(1, math.ceil(thresholds.min_window_fill * 8))
        self.latest_mean_s: FloatArray | None = None

    @property
    def complete_q(self) -> int | None:
        """Quarters before this index are complete (a later sample exists)."""
        if self.next_q is None:
            return None
        return int(quarter_index(self.newest_s))

    def append(self, block: SampleBlock) -> None:
        t = block.t_s
        acc = block.acc_g
        gyro = block.gyro_dps
        # Samples not after the newest one, or inside quarters already summed, are dropped.
        floor_s = self.newest_s
        if self.next_q is not None:
            floor_s = max(floor_s, self.next_q * QUARTER_S - 1e-9)
        if t.shape[0] and t[0] <= floor_s:
            keep = t > floor_s
            self.dropped_samples += int(t.shape[0] - np.count_nonzero(keep))
            t, acc = t[keep], acc[keep]
            gyro = gyro[keep] if gyro is not None else None
        if t.shape[0] == 0:
            return
        if self.ring is None:
            self.ring = SampleRing(self.capacity, has_gyro=gyro is not None)
            self.first_s = float(t[0])
            # Start one whole second early so the first window covers the first samples.
            self.next_q = (math.floor(self.first_s) - 1) * QUARTERS_PER_S
        if self.ring.has_gyro and gyro is None:
            gyro = np.full((t.shape[0], 3), np.nan)
        before = float(t[-2]) if t.shape[0] > 1 else self.newest_s
        if math.isfinite(before):
            self.last_dt_s = float(t[-1]) - before
        self.ring.append_arrays(t, acc, gyro if self.ring.has_gyro else None)
        self.newest_s = float(t[-1])

    @property
    def unsummed(self) -> int:
        return 0 if self.ring is None else self.ring.total_appended - self.consumed

    def sum_quarters(self, stop_q: int) -> None:
        """Sum quarters up to ``stop_q`` (exclusive), feed transitions and windows."""
        if self.ring is None or self.next_q is None or stop_q <= self.next_q:
            return
        start_q = self.next_q
        samples = self.ring.window(start_q * QUARTER_S, stop_q * QUARTER_S)
        self.consumed += len(samples)
        if len(samples) == 0 and stop_q - start_q > 4 * 60:
            q = empty_quarter_sums(start_q, stop_q - start_q, self.ring.has_gyro)
        else:
            q = quarter_sums(samples.t_s, samples.acc_g, samples.gyro_dps, start_q, stop_q)
        self.next_q = stop_q
        self.transitions.extend(self.detector.update(q))
        if self.orientation is None:
            self._learn_mount()
        self._add_window_quarters(q)

    def _learn_mount(self) -> None:
        """Without a declared mount: take up from the first rest (forward unknown)."""
        for tr in self.transitions:
            try:
                mount = calibrate_upright(tr.post_s[None, :], None)
            except OrientationError:
                continue
            self.orientation = SensorOrientation(mount, MountSource.LEARNED)
            self.learned_at_s = tr.known_s
            return

    def _add_window_quarters(self, q: QuarterSums) -> None:
        buf = q if self.window_buffer is None else self.window_buffer.concat(q)
        whole = len(buf) // QUARTERS_PER_S
        if whole >= 2:
            wf = window_features(buf.slice(0, whole * QUARTERS_PER_S))
            self.windows.add(wf, self.min_filled)
            self.latest_mean_s = wf.mean_s[-1] if bool(wf.filled[-1] >= self.min_filled) else None
            buf = buf.slice((whole - 1) * QUARTERS_PER_S, len(buf))
        self.window_buffer = buf


_BODY_PREFERENCE = (Placement.TRUNK, Placement.WAIST)


class WearerEvaluator:
    """Evaluates one wearer's sensors: feed blocks, get observations.

    Sensors: at most one per placement. The trunk sensor (else the waist sensor) is the
    body sensor; a thigh sensor adds Acti4's thigh rules. A window is evaluated once every
    sensor has passed it, or without a sensor that has stalled (its samples lag the newest
    by more than ``stall_s``).
    """

    def __init__(
        self,
        wearer: str,
        sensors: Sequence[SensorSetup],
        thresholds: EvaluationThresholds | None = None,
        *,
        evaluate_every_s: float = LIVE_EVALUATE_EVERY_S,
    ) -> None:
        """Set up rings and state for each sensor.

        ``evaluate_every_s``: sample time between evaluation passes; blocks in between are
        only stored. Results do not depend on it; latency and cost per day do (a pass costs
        a few hundred microseconds, so offline analysis uses long passes).
        """
        if not evaluate_every_s > 0:
            raise EvaluationError(f"evaluate_every_s must be positive, got {evaluate_every_s}")
        self._evaluate_every_s = evaluate_every_s
        th = thresholds if thresholds is not None else EvaluationThresholds()
        if not sensors:
            raise EvaluationError(f"wearer {wearer!r} has no sensors")
        placements = [s.placement for s in sensors]
        if len(set(placements)) != len(placements):
            raise EvaluationError(f"wearer {wearer!r} has two sensors at the same placement")
        ids = [s.sensor_id for s in sensors]
        if len(set(ids)) != len(ids):
            raise EvaluationError(f"wearer {wearer!r} has two sensors with the same id")
        self.wearer = wearer
        self.thresholds = th
        self._channels = {s.sensor_id: _Channel(s, th) for s in sensors}
        by_placement = {s.placement: self._channels[s.sensor_id] for s in sensors}
        self._body = next((by_placement[p] for p in _BODY_PREFERENCE if p in by_placement), None)
        self._thigh = by_placement.get(Placement.THIGH)
        self._trunk = by_placement.get(Placement.TRUNK)
        self._lookahead = int(th.decision_lookahead_s)
        self._labeler: PostureLabeler | None = None
        self._labeler_from = 0
        self._bouts = BoutFilter(th.min_bout_windows())
        self._tracker = SittingTracker(wearer, th.sitting_limit_s, th.sitting_break_s)
        self._next_window: int | None = None
        self._decided_next: int | None = None  # first window not decided by the bout filter
        self._runs: list[tuple[int, int]] = []  # decided runs from window _runs_first
        self._runs_first: int | None = None
        self._last_code = UNKNOWN
        self._last_eval_s = -math.inf
        self._finished = False

    # -- feeding -----------------------------------------------------------------------

    def feed(self, block: SampleBlock) -> list[Observation]:
        """Store a block; evaluate whatever became decidable; return new observations."""
        channel = self._channels.get(block.sensor_id)
        if channel is None:
            raise EvaluationError(f"wearer {self.wearer!r} has no sensor {block.sensor_id!r}")
        out: list[Observation] = []
        n = len(block)
        step = channel.capacity // 4
        if n <= step:  # the usual case: one copy into the ring
            channel.append(block)
            if channel.unsummed > channel.capacity // 2:
                self._sum(channel, final=False)
            if channel.newest_s - self._last_eval_s >= self._evaluate_every_s:
                out.extend(self._evaluate(final=False))
            return out
        for start in range(0, n, step):
            stop = min(n, start + step)
            part = (
                block
                if start == 0 and stop == n
                else SampleBlock(
                    block.sensor_id,
                    block.t_s[start:stop],
                    block.acc_g[start:stop],
                    None if block.gyro_dps is None else block.gyro_dps[start:stop],
                )
            )
            channel.append(part)
            if channel.unsummed > channel.capacity // 2:
                self._sum(channel, final=False)
            if channel.newest_s - self._last_eval_s >= self._evaluate_every_s:
                out.extend(self._evaluate(final=False))
        return out

    def finish(self) -> list[Observation]:
        """End of input: decide every remaining window and close the sitting bout."""
        if self._finished:
            return []
        out = self._evaluate(final=True)
        self._tracker.finish()
        self._finished = True
        return out

    # -- results -----------------------------------------------------------------------

    @property
    def segments(self) -> list[Segment]:
        """Decided activity segments so far, clipped to the span of the data."""
        if self._runs_first is None:
            return []
        start = min(c.first_s for c in self._channels.values())
        end = max(c.newest_s + c.last_dt_s for c in self._channels.values())
        segs = segments_from_runs(self._runs_first, self._runs)
        out = []
        for seg in segs:
            a = max(seg.start_s, start)
            b = min(seg.end_s, end)
            if b > a:
                out.append(Segment(seg.activity, a, b))
        return out

    @property
    def sitting_bouts(self) -> list[SittingBout]:
        """Closed sitting bouts, then the ongoing one if any."""
        current = self._tracker.current
        return [*self._tracker.bouts, *([current] if current is not None else [])]

    @property
    def dropped_samples(self) -> dict[str, int]:
        """Samples ignored per sensor because they were not newer than ones already seen."""
        return {sid: ch.dropped_samples for sid, ch in self._channels.items()}

    @property
    def orientations(self) -> dict[str, SensorOrientation | None]:
        """The mount each sensor is evaluated with (None until learned)."""
        return {sid: ch.orientation for sid, ch in self._channels.items()}

    def status(self) -> WearerStatus:
        """The wearer right now, as far as decided."""
        newest = max(c.newest_s for c in self._channels.values())
        flexion = None
        trunk = self._trunk
        if trunk is not None and trunk.orientation is not None and trunk.latest_mean_s is not None:
            body = trunk.orientation.mount.to_body(trunk.latest_mean_s[None, :])
            flexion = float(trunk_angles(body)[0][0])
        return WearerStatus(
            sample_time_s=newest if math.isfinite(newest) else None,
            activity=ACTIVITIES[self._last_code],
            trunk_flexion_deg=flexion,
            sitting_bout_s=self._tracker.ongoing_bout_s,
            sitting_total_s=self._tracker.sitting_total_s,
        )

    def calibrate_upright(self, sensor_id: str, duration_s: float = 3.0) -> SensorOrientation:
        """Re-learn a sensor's mount from its last ``duration_s`` of samples (wearer upright).

        The declared mount's forward direction (if any) is kept as the hint. Applies to
        windows labelled from now on.
        """
        channel = self._channels.get(sensor_id)
        if channel is None or channel.ring is None or len(channel.ring) == 0:
            raise EvaluationError(f"no samples from sensor {sensor_id!r} to calibrate with")
        samples = channel.ring.window(channel.newest_s - duration_s, math.inf)
        hint = channel.orientation.mount if channel.orientation is not None else None
        mount = calibrate_upright(samples.acc_g, hint)
        channel.orientation = SensorOrientation(mount, MountSource.CALIBRATED)
        if channel is self._body and self._labeler is not None:
            self._labeler.set_mount(mount.sensor_from_body, forward_known=True)
        return channel.orientation

    # -- evaluation --------------------------------------------------------------------

    def _sum(self, channel: _Channel, final: bool) -> None:
        stop = channel.complete_q
        if stop is None:
            return
        if final:
            stop = int(quarter_index(channel.newest_s)) + 1
            channel.sum_quarters(stop)
            channel.transitions.extend(channel.detector.finish())
            stop += (-stop) % QUARTERS_PER_S  # whole seconds, so the last windows close
            stop += QUARTERS_PER_S
        channel.sum_quarters(stop)

    def _evaluate(self, final: bool) -> list[Observation]:
        channels = list(self._channels.values())
        for ch in channels:
            self._sum(ch, final)
        self._last_eval_s = max(c.newest_s for c in channels)
        if not math.isfinite(self._last_eval_s):
            return []
        if final:
            end = max(c.windows.end for c in channels if c.ring is not None)
        else:
            newest = self._last_eval_s
            active = [
                c
                for c in channels
                if c.next_q is not None and newest - c.newest_s <= self.thresholds.stall_s
            ]
            if not active:
                return []
            end = min(_horizon(c) - self._lookahead for c in active)
        if self._next_window is None:
            starts = [c.windows.first for c in channels if c.windows.known.shape[0]]
            if not starts:
                return []
            self._next_window = min(starts)
        start = self._next_window
        out: list[Observation] = []
        if end > start:
            codes = self._label(start, end)
            self._next_window = end
            out.extend(self._decide(start, self._bouts.push(codes)))
        if final:
            out.extend(self._decide(None, self._bouts.flush()))
        return out

    def _decide(self, start: int | None, runs: list[tuple[int, int]]) -> list[Observation]:
        if not runs:
            return []
        if self._runs_first is None:
            assert start is not None
            self._runs_first = start
            self._decided_next = start
        assert self._decided_next is not None
        first = self._decided_next
        for code, length in runs:
            if self._runs and self._runs[-1][0] == code:
                self._runs[-1] = (code, self._runs[-1][1] + length)
            else:
                self._runs.append((code, length))
            self._decided_next += length
        self._last_code = runs[-1][0]
        return self._tracker.consume(first - 0.5, runs)

    def _label(self, start: int, stop: int) -> np.ndarray:
        """Activity codes of windows [start, stop) from every sensor's features."""
        count = stop - start
        body = self._body
        thigh_windows = None
        if self._thigh is not None:
            thigh_windows = self._thigh_windows(self._thigh, start, stop)
        if body is None:
            codes = np.full(count, UNKNOWN, dtype=np.int8)
            if thigh_windows is not None:
                labeler = self._labeler_for(None)
                if labeler is not None:
                    return labeler.label(start, _no_body(count), thigh_windows)
            return codes
        known, mean_s, cov_s = body.windows.take(start, stop)
        if body.orientation is None:
            return np.full(count, UNKNOWN, dtype=np.int8)
        mount = body.orientation.mount
        labeler = self._labeler_for(body)
        assert labeler is not None
        if body.orientation.source is MountSource.LEARNED:
            # Windows before the mount was learned stay unknown.
            first_ok = math.ceil(body.learned_at_s - 1.0 - self._lookahead)
            known = known & (np.arange(start, stop) >= first_ok)
        mean_b = mount.to_body(mean_s)
        r = mount.sensor_from_body
        var = np.einsum("wab,aj,bj->wj", cov_s, r, r)
        sd = np.sqrt(np.maximum(var, 0.0))
        labeler.add_transitions(body.transitions)
        body.transitions.clear()
        body_windows = BodyWindows(
            known=known, mean_b=mean_b, sd_max_g=sd.max(axis=1), sd_vertical_g=sd[:, 2]
        )
        return labeler.label(start, body_windows, thigh_windows)

    def _labeler_for(self, body: _Channel | None) -> PostureLabeler | None:
        if self._labeler is None:
            if body is not None and body.orientation is not None:
                self._labeler = PostureLabeler(
                    body.setup.placement,
                    body.orientation.mount.sensor_from_body,
                    forward_known=body.orientation.forward_known,
                    thresholds=self.thresholds,
                    lookahead_s=self._lookahead,
                )
            elif body is None:
                self._labeler = PostureLabeler(
                    Placement.TRUNK,
                    np.eye(3),
                    forward_known=False,
                    thresholds=self.thresholds,
                    lookahead_s=self._lookahead,
                )
        return self._labeler

    def _thigh_windows(self, thigh: _Channel, start: int, stop: int) -> ThighWindows:
        known, mean_s, cov_s = thigh.windows.take(start, stop)
        count = stop - start
        if thigh.orientation is None:
            return ThighWindows(
                np.zeros(count, dtype=bool), np.zeros(count), np.zeros(count), np.zeros(count)
            )
        mount = thigh.orientation.mount
        up = mount.sensor_from_body[:, 2]
        incl = inclination_deg(mean_s, up)
        r = mount.sensor_from_body
        var = np.einsum("wab,aj,bj->wj", cov_s, r, r)
        sd = np.sqrt(np.maximum(var, 0.0))
        return ThighWindows(known, incl, sd.max(axis=1), sd[:, 2])


def _no_body(count: int) -> BodyWindows:
    return BodyWindows(
        known=np.zeros(count, dtype=bool),
        mean_b=np.zeros((count, 3)),
        sd_max_g=np.zeros(count),
        sd_vertical_g=np.zeros(count),
    )


def _horizon(channel: _Channel) -> int:
    """Windows before this index have all their quarters summed in ``channel``."""
    assert channel.next_q is not None
    return channel.next_q // QUARTERS_PER_S
