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

Decided seconds feed, besides the sitting tracker, the trunk posture tracker
(:mod:`monitor.posture`: slouch and side-bend observations, flexion bands, twist), the
lying tracker (:mod:`monitor.sleep`: position and the summary of a long spell lying down)
and the step count (:mod:`monitor.steps`: peaks in seconds decided walking or running).
Their inputs per window are taken when the window is labelled, with the mount in use then.

Orientation: a sensor without a declared mount takes its up direction from its first rest
and then learns up and forward from walking (:class:`monitor.orientation.GaitLearner`).
Evidence is judged at every whole minute of sample time, and a new mount applies from that
minute on; the labelling is cut at whole minutes while a sensor may still learn, so the
result stays independent of blocks and pace. Observations of one pass come out in the
order they became known.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from alerts.events import EventType, Observation
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
from monitor.falls import fall_evidence
from monitor.lifts import BendFrequency, Lift, frequency_evidence, lift_evidence
from monitor.motionbins import BINS_PER_S, MotionBins, append_bins, bin_index
from monitor.motiontrack import MotionTracker, MotionUpdate
from monitor.niosh import LiftTask, assess_lift
from monitor.orientation import (
    GaitLearner,
    MountSource,
    OrientationError,
    SensorOrientation,
    calibrate_upright,
    inclination_deg,
    trunk_angles,
)
from monitor.posture import (
    PostureExposure,
    PostureHold,
    PostureTracker,
    PostureWindows,
    TwistEstimator,
)
from monitor.ringbuffer import SampleRing
from monitor.sitting import SittingBout, SittingTracker
from monitor.sleep import POSITION_UNKNOWN, LyingSpell, SleepTracker, sleep_positions
from monitor.steps import StepDetector
from monitor.windows import (
    QUARTER_S,
    QUARTERS_PER_S,
    QuarterSums,
    WindowFeatures,
    body_sd_g,
    empty_quarter_sums,
    magnitude_g,
    quarter_and_motion_sums,
    quarter_index,
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
    #: Still quarters at the end of a rest (up to ``rest_settled_s``) whose magnitude moved
    #: further than this from the rest's (g) were the start of the movement after it.
    rest_mag_match_g: float = 0.025
    rest_settled_s: float = 2.0
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
    #: A lift that begins in sitting which lasted longer than this before it (standing
    #: up), or ends in sitting which goes on longer than this after it (sitting down), is
    #: a sit transition, not a lift (s). A squat's bottom labelled sitting spills past the
    #: lift by about half a 2 s window only.
    sit_transition_s: float = 3.0
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
    #: Trunk flexion bands and holding times (ISO 11226 / EN 1005-4, guidelines §1): up to
    #: ``neutral_flexion_deg`` neutral, above ``awkward_flexion_deg`` awkward; a hold may
    #: last ``hold_at_neutral_s`` at the first, falling linearly to ``hold_at_awkward_s`` at
    #: the second. A hold: at least ``hold_min_s`` within ``hold_tolerance_deg`` either way.
    neutral_flexion_deg: float = 20.0
    awkward_flexion_deg: float = 60.0
    hold_at_neutral_s: float = 240.0
    hold_at_awkward_s: float = 60.0
    hold_min_s: float = 4.0
    hold_tolerance_deg: float = 5.0
    #: A sideways bend beyond this (deg) held ``side_bend_hold_s`` is observed.
    side_bend_deg: float = 10.0
    side_bend_hold_s: float = 60.0
    #: Twist counted in the daily exposure (Hoogendoorn 2000: 30 deg), measured from the
    #: mean heading of the preceding ``twist_baseline_s``.
    rotation_deg: float = 30.0
    twist_baseline_s: float = 30.0
    #: Lying spells: a summary after ``sleep_min_lying_s`` lying, the spell ending after
    #: ``sleep_break_s`` of anything else; a position counts as a change after
    #: ``sleep_position_min_s``.
    sleep_min_lying_s: float = 3600.0
    sleep_break_s: float = 900.0
    sleep_position_min_s: float = 60.0
    #: Step peaks: at least this far apart (s) and this high above their surroundings (g).
    step_min_interval_s: float = 0.25
    step_prominence_g: float = 0.1
    #: Orientation from walking: walking seconds per estimate, agreement of the per-window
    #: forward directions needed (0..1), and the change that means the sensor was moved.
    orientation_walk_s: float = 60.0
    orientation_consistency: float = 0.75
    reorientation_deg: float = 30.0

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
    decided activity; ``trunk_flexion_deg`` / ``trunk_lateral_deg``: forward flexion and
    sideways bend (positive: to the right) of the trunk sensor in its latest window (None
    without a trunk sensor, data, or a known forward direction); ``sitting_bout_s``: the
    ongoing sitting bout (0 if none); ``sitting_total_s``: all sitting seconds so far.

    Totals since the evaluation started: ``steps`` (in seconds decided walking or running),
    ``cadence_spm`` (steps per minute over the latest minute of walking or running; None
    unless the latest decided second is one), ``exposure`` (trunk posture seconds by band
    and of twist) with the shares ``flexion_over_60_share`` (trunk at or above the awkward
    flexion) and ``rotation_over_30_share`` (twisted by the rotation threshold or more; None
    without a gyroscope), and ``lying_position`` (``supine``, ``prone``, ``left``,
    ``right`` or ``unknown`` while lying, else None), ``lifts`` (lifts reported, those
    overlapping sitting left out) and ``risky_lifts`` (those with at least one risk).
    """

    sample_time_s: float | None
    activity: Activity
    trunk_flexion_deg: float | None
    sitting_bout_s: float
    sitting_total_s: float
    trunk_lateral_deg: float | None = None
    steps: int = 0
    cadence_spm: float | None = None
    exposure: PostureExposure = field(default_factory=PostureExposure)
    lying_position: str | None = None
    lifts: int = 0
    risky_lifts: int = 0

    @property
    def flexion_over_60_share(self) -> float | None:
        """Share of the measured trunk time at the awkward flexion or more."""
        return self.exposure.awkward_share

    @property
    def rotation_over_30_share(self) -> float | None:
        """Share of the measured trunk time (with a gyroscope) twisted beyond the threshold."""
        return self.exposure.rotation_share


#: Default sample time between evaluation passes for a live wearer (s).
LIVE_EVALUATE_EVERY_S = 2.0
LIVE_HISTORY_S = 86_400.0
"""How much decided history (runs, bouts, holds, spells) the daemon's evaluators keep."""
_FORGET_EVERY_S = 600
"""How often (decided seconds) a live evaluator drops history older than it keeps."""
NIOSH_RATE_WINDOW_S = 15 * 60.0
"""The NIOSH lifting frequency is averaged over a 15-minute sampling period."""
_RING_RATE_HZ = 400.0  # ring room per second; faster sensors get their blocks split
#: Default seconds of ring at that rate; half full, its samples are summed (a live pass sums
#: every ``evaluate_every_s`` anyway; offline analysis uses a longer ring: fewer, larger sums).
RING_S = 20.0


@dataclass(frozen=True, slots=True)
class _Taken:
    """Windows taken out of a store: known flags and features (zeros where unknown)."""

    known: npt.NDArray[np.bool_]
    mean_s: FloatArray  # (w, 3) g
    cov_s: FloatArray  # (w, 3, 3) g^2
    dmag_acc_cov_s: FloatArray  # (w, 3) g^2
    gyro_mean_dps: FloatArray  # (w, 3), NaN without a gyroscope


@dataclass(slots=True)
class _WindowStore:
    """Window features of one sensor not yet labelled, indexed by window (center second)."""

    first: int = 0
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    mean_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    cov_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3, 3)))
    dmag_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    gyro_s: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def end(self) -> int:
        """One past the last window held."""
        return self.first + int(self.known.shape[0])

    def add(self, wf: WindowFeatures, min_filled: int) -> None:
        """Append windows that follow on directly (or start the store)."""
        known = wf.filled >= min_filled
        gyro = wf.gyro_mean_dps if wf.gyro_mean_dps is not None else np.full((len(wf), 3), np.nan)
        if self.known.shape[0] == 0:
            self.first = wf.first
            self.known, self.mean_s, self.cov_s = known, wf.mean_s, wf.cov_s
            self.dmag_s, self.gyro_s = wf.dmag_acc_cov_s, gyro
            return
        self.known = np.concatenate((self.known, known))
        self.mean_s = np.concatenate((self.mean_s, wf.mean_s))
        self.cov_s = np.concatenate((self.cov_s, wf.cov_s))
        self.dmag_s = np.concatenate((self.dmag_s, wf.dmag_acc_cov_s))
        self.gyro_s = np.concatenate((self.gyro_s, gyro))

    def take(self, start: int, stop: int) -> _Taken:
        """Windows [start, stop) (unknown where not held), and forget those before ``stop``."""
        count = stop - start
        known = np.zeros(count, dtype=bool)
        mean = np.zeros((count, 3))
        cov = np.zeros((count, 3, 3))
        dmag = np.zeros((count, 3))
        gyro = np.full((count, 3), np.nan)
        a = max(start, self.first)
        b = min(stop, self.end)
        if b > a:
            here = slice(a - start, b - start)
            there = slice(a - self.first, b - self.first)
            known[here] = self.known[there]
            mean[here] = self.mean_s[there]
            cov[here] = self.cov_s[there]
            dmag[here] = self.dmag_s[there]
            gyro[here] = self.gyro_s[there]
        drop = min(max(0, stop - self.first), int(self.known.shape[0]))
        self.first += drop
        self.known = self.known[drop:]
        self.mean_s = self.mean_s[drop:]
        self.cov_s = self.cov_s[drop:]
        self.dmag_s = self.dmag_s[drop:]
        self.gyro_s = self.gyro_s[drop:]
        return _Taken(known, mean, cov, dmag, gyro)


@dataclass(slots=True)
class _Labelled:
    """Per-window inputs of the posture and lying trackers, labelled but not yet decided."""

    first: int = 0
    trunk_known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    flexion_deg: FloatArray = field(default_factory=lambda: np.zeros(0))
    lateral_deg: FloatArray = field(default_factory=lambda: np.zeros(0))
    twist_deg: FloatArray = field(default_factory=lambda: np.zeros(0))
    position: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))

    @property
    def end(self) -> int:
        """One past the last window held."""
        return self.first + int(self.trunk_known.shape[0])

    def add(self, first: int, windows: PostureWindows, position: np.ndarray) -> None:
        """Append windows ``first ..`` (which must follow on directly)."""
        if self.trunk_known.shape[0] == 0:
            self.first = first
        self.trunk_known = np.concatenate((self.trunk_known, windows.known))
        self.flexion_deg = np.concatenate((self.flexion_deg, windows.flexion_deg))
        self.lateral_deg = np.concatenate((self.lateral_deg, windows.lateral_deg))
        self.twist_deg = np.concatenate((self.twist_deg, windows.twist_deg))
        self.position = np.concatenate((self.position, position))

    def take(self, start: int, stop: int) -> tuple[PostureWindows, np.ndarray]:
        """Windows [start, stop), which must be held, and forget those before ``stop``."""
        a = start - self.first
        b = stop - self.first
        assert 0 <= a <= b <= self.trunk_known.shape[0], "decided windows were labelled"
        windows = PostureWindows(
            known=self.trunk_known[a:b],
            flexion_deg=self.flexion_deg[a:b],
            lateral_deg=self.lateral_deg[a:b],
            twist_deg=self.twist_deg[a:b],
        )
        position = self.position[a:b]
        self.first = stop
        self.trunk_known = self.trunk_known[b:]
        self.flexion_deg = self.flexion_deg[b:]
        self.lateral_deg = self.lateral_deg[b:]
        self.twist_deg = self.twist_deg[b:]
        self.position = self.position[b:]
        return windows, position


def _unknown_windows(count: int) -> PostureWindows:
    nan = np.full(count, np.nan)
    return PostureWindows(np.zeros(count, dtype=bool), nan, nan, nan)


class _Channel:
    """One sensor's ring, quarter and window progress, and (body sensor) transitions."""

    def __init__(
        self, setup: SensorSetup, thresholds: EvaluationThresholds, ring_s: float = RING_S
    ) -> None:
        self.setup = setup
        self.th = thresholds
        self.capacity = int(_RING_RATE_HZ * ring_s)
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
        self.previous_mag_g = math.nan  # magnitude of the last sample summed
        self.steps: StepDetector | None = None  # set on the sensor that counts steps
        self.step_times: list[FloatArray] = []
        self.learner: GaitLearner | None = None  # set where the mount may be learned
        # 1/16 s bins of the summed samples not yet handed to lift and fall tracking
        # (sensor frame: rotated when handed over, with the mount their windows had).
        self.motion_pending: MotionBins | None = None
        self.feeds_motion = False
        # Whether its bins carry angular rate (the thigh's are read for their tilt only).
        self.motion_rate = True

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
            # With the bins the samples span (a gap since the last ones reads as empty bins).
            q, bins = quarter_and_motion_sums(
                samples.t_s,
                samples.acc_g,
                samples.gyro_dps,
                start_q,
                stop_q,
                previous_mag_g=self.previous_mag_g,
                bins_with_gyro=(
                    self.ring.has_gyro and self.motion_rate if self.feeds_motion else None
                ),
            )
            if bins is not None:
                self.motion_pending = append_bins(self.motion_pending, bins)
        if len(samples):
            self.previous_mag_g = float(magnitude_g(samples.acc_g[-1:])[0])
            if self.steps is not None:
                self.step_times.append(self.steps.update(samples.t_s, samples.acc_g))
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
    by more than ``stall_s``). Trunk posture needs a trunk sensor; lying positions and steps
    come from the body sensor (steps from the thigh sensor when there is no body sensor).
    """

    def __init__(
        self,
        wearer: str,
        sensors: Sequence[SensorSetup],
        thresholds: EvaluationThresholds | None = None,
        *,
        evaluate_every_s: float = LIVE_EVALUATE_EVERY_S,
        ring_s: float = RING_S,
        keep_history_s: float | None = None,
    ) -> None:
        """Set up rings and state for each sensor.

        ``evaluate_every_s``: sample time between evaluation passes; blocks in between are
        only stored. ``ring_s``: seconds of samples (at up to 400 Hz) each sensor's ring
        holds; half of it is summed at once. Results depend on neither; latency, memory and
        cost per day do (a pass costs a few hundred microseconds, so offline analysis uses
        long passes and long rings).
        """
        if not evaluate_every_s > 0:
            raise EvaluationError(f"evaluate_every_s must be positive, got {evaluate_every_s}")
        if not ring_s >= 4.0:
            raise EvaluationError(f"ring_s must be at least 4 s, got {ring_s}")
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
        self._channels = {s.sensor_id: _Channel(s, th, ring_s) for s in sensors}
        by_placement = {s.placement: self._channels[s.sensor_id] for s in sensors}
        self._body = next((by_placement[p] for p in _BODY_PREFERENCE if p in by_placement), None)
        self._thigh = by_placement.get(Placement.THIGH)
        self._trunk = by_placement.get(Placement.TRUNK)
        self._lookahead = int(th.decision_lookahead_s)
        self._labeler: PostureLabeler | None = None
        self._labeler_from = 0
        self._bouts = BoutFilter(th.min_bout_windows())
        self._tracker = SittingTracker(wearer, th.sitting_limit_s, th.sitting_break_s)
        self._posture = PostureTracker(wearer, th)
        self._sleep = SleepTracker(
            wearer, th.sleep_min_lying_s, th.sleep_break_s, th.sleep_position_min_s
        )
        self._labelled = _Labelled()
        self._twist = TwistEstimator(th.twist_baseline_s) if self._trunk is self._body else None
        stepper = self._body if self._body is not None else self._thigh
        if stepper is not None:
            stepper.steps = StepDetector(th.step_min_interval_s, th.step_prominence_g)
        self._stepper = stepper
        self._steps_total = 0
        self._moving_s = 0
        self._recent_moving = np.zeros(0, dtype=np.int64)  # steps per recent moving window
        self._last_moving = False
        for channel in (self._body, self._thigh):
            if channel is not None and channel.setup.mount is None:
                channel.learner = GaitLearner(
                    th.orientation_walk_s,
                    th.orientation_consistency,
                    th.reorientation_deg,
                    need_forward=channel is not self._thigh,
                )
        self._motion: MotionTracker | None = None
        if self._body is not None:
            self._motion = MotionTracker(
                self._body.setup.placement, has_thigh=self._thigh is not None
            )
            self._body.feeds_motion = True
            if self._thigh is not None:
                self._thigh.feeds_motion = True
                self._thigh.motion_rate = False  # lifts read the thigh's tilt, not its rate
        self._held_lifts: list[Lift] = []
        self._motion_out: list[Observation] = []
        self._lift_count = 0
        self._risky_lift_count = 0
        self._recent_lift_ends_s: deque[float] = deque()  # the NIOSH rate window's lifts
        self._frequencies: list[BendFrequency] = []
        self._declared_load: LiftTask | None = None
        self.orientation_version = 0
        self._next_window: int | None = None
        self._decided_next: int | None = None  # first window not decided by the bout filter
        self._runs: list[tuple[int, int]] = []  # decided runs from window _runs_first
        self._runs_first: int | None = None
        self._keep_history_s = keep_history_s
        self._forgot_at = -math.inf
        self._last_code = UNKNOWN
        self._last_eval_s = -math.inf
        self._finished = False

    # -- feeding -----------------------------------------------------------------------

    def feed(self, block: SampleBlock, *, evaluate: bool = True) -> list[Observation]:
        """Store a block; evaluate whatever became decidable; return new observations.

        ``evaluate`` False: only store it (offline analysis feeds every sensor of a step
        first, then calls :meth:`evaluate_due`, so no sensor is ever behind the others).
        """
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
            if evaluate and channel.newest_s - self._last_eval_s >= self._evaluate_every_s:
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
            if evaluate and channel.newest_s - self._last_eval_s >= self._evaluate_every_s:
                out.extend(self._evaluate(final=False))
        return out

    def evaluate_due(self) -> list[Observation]:
        """Evaluate if a pass is due (after blocks stored with ``evaluate=False``)."""
        newest_s = max(c.newest_s for c in self._channels.values())
        if newest_s - self._last_eval_s >= self._evaluate_every_s:
            return self._evaluate(final=False)
        return []

    def finish(self) -> list[Observation]:
        """End of input: decide every remaining window and close what is still going on."""
        if self._finished:
            return []
        out = self._evaluate(final=True)
        out.extend(self._motion_finish())
        self._tracker.finish()
        self._posture.finish()
        if self._decided_next is not None:
            out.extend(obs for _, obs in self._sleep.finish(self._decided_next - 0.5))
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
    def posture_holds(self) -> list[PostureHold]:
        """Slouches and side bends that went past their limits, in the order they did."""
        return self._posture.holds

    @property
    def lying_spells(self) -> list[LyingSpell]:
        """Lying spells long enough for a summary, closed ones first, then the ongoing one."""
        current = self._sleep.current
        ongoing = (
            [current]
            if current is not None and current.lying_s >= self.thresholds.sleep_min_lying_s
            else []
        )
        return [*self._sleep.spells, *ongoing]

    @property
    def exposure(self) -> PostureExposure:
        """Trunk posture seconds by flexion band and of twist so far."""
        return self._posture.exposure

    @property
    def steps(self) -> int:
        """Steps in seconds decided walking or running so far."""
        return self._steps_total

    @property
    def moving_s(self) -> int:
        """Seconds decided walking or running so far (the time the steps were counted in)."""
        return self._moving_s

    @property
    def dropped_samples(self) -> dict[str, int]:
        """Samples ignored per sensor because they were not newer than ones already seen."""
        return {sid: ch.dropped_samples for sid, ch in self._channels.items()}

    @property
    def orientations(self) -> dict[str, SensorOrientation | None]:
        """The mount each sensor is evaluated with (None until learned)."""
        return {sid: ch.orientation for sid, ch in self._channels.items()}

    @property
    def sample_time_s(self) -> float | None:
        """The newest sample time fed (None before any), as in :meth:`status`."""
        newest = max(c.newest_s for c in self._channels.values())
        return newest if math.isfinite(newest) else None

    @property
    def activity(self) -> Activity:
        """The latest decided activity, as in :meth:`status`."""
        return ACTIVITIES[self._last_code]

    def status(self) -> WearerStatus:
        """The wearer right now, as far as decided."""
        flexion = lateral = None
        trunk = self._trunk
        if (
            trunk is not None
            and trunk.orientation is not None
            and trunk.orientation.forward_known
            and trunk.latest_mean_s is not None
        ):
            body = _rows_to_body(trunk.latest_mean_s[None, :], trunk.orientation.mount)
            angles = trunk_angles(body)
            flexion = float(angles[0][0])
            lateral = float(angles[1][0])
        cadence = None
        if self._last_moving and self._recent_moving.shape[0]:
            cadence = 60.0 * float(self._recent_moving.sum()) / self._recent_moving.shape[0]
        position = self._sleep.latest_position
        return WearerStatus(
            sample_time_s=self.sample_time_s,
            activity=ACTIVITIES[self._last_code],
            trunk_flexion_deg=flexion,
            sitting_bout_s=self._tracker.ongoing_bout_s,
            sitting_total_s=self._tracker.sitting_total_s,
            trunk_lateral_deg=lateral,
            steps=self._steps_total,
            cadence_spm=cadence,
            exposure=self._posture.exposure,
            lying_position=None if position is None else str(position),
            lifts=self._lift_count,
            risky_lifts=self._risky_lift_count,
        )

    def calibrate_upright(self, sensor_id: str, duration_s: float = 3.0) -> SensorOrientation:
        """Re-learn a sensor's mount from its last ``duration_s`` of samples (wearer upright).

        The forward direction of the mount in use is kept when it is known (declared,
        calibrated or learned from walking): the result is ``calibrated``. Otherwise only
        up is calibrated (``calibrated_up``) and forward is learned from walking later.
        Applies to windows labelled from now on.
        """
        channel = self._channels.get(sensor_id)
        if channel is None or channel.ring is None or len(channel.ring) == 0:
            raise EvaluationError(f"no samples from sensor {sensor_id!r} to calibrate with")
        samples = channel.ring.window(channel.newest_s - duration_s, math.inf)
        current = channel.orientation
        hint = current.mount if current is not None and current.forward_known else None
        mount = calibrate_upright(samples.acc_g, hint)
        source = MountSource.CALIBRATED if hint is not None else MountSource.CALIBRATED_UP
        self._set_orientation(channel, SensorOrientation(mount, source))
        assert channel.orientation is not None
        return channel.orientation

    def restore_orientation(self, sensor_id: str, orientation: SensorOrientation) -> None:
        """Use a stored orientation for a sensor (e.g. from the calibration store at start).

        Does not count as a change in ``orientation_version``.
        """
        channel = self._channels.get(sensor_id)
        if channel is None:
            raise EvaluationError(f"wearer {self.wearer!r} has no sensor {sensor_id!r}")
        self._set_orientation(channel, orientation, count=False)

    def _set_orientation(
        self, channel: _Channel, orientation: SensorOrientation, *, count: bool = True
    ) -> None:
        channel.orientation = orientation
        if channel is self._body and self._labeler is not None:
            self._labeler.set_mount(
                orientation.mount.sensor_from_body, forward_known=orientation.forward_known
            )
        if count:
            self.orientation_version += 1

    # -- lifts and falls ---------------------------------------------------------------

    def set_declared_load(self, task: LiftTask | None) -> None:
        """Declare the lifting task (None: none): later lifts carry its NIOSH lifting index."""
        self._declared_load = task

    @property
    def bend_frequencies(self) -> list[BendFrequency]:
        """Rated bend-frequency windows so far."""
        return list(self._frequencies)

    def _feed_motion(self, until_s: float) -> None:
        """Hand summed samples before ``until_s`` to lift and fall tracking, in body frame.

        Called once the windows up to there are labelled, so each bin is rotated with the
        mount its window was labelled with (whatever the blocks and pace were). ``until_s``
        lies on the bin grid (a half second) or is infinite (everything).
        """
        tracker = self._motion
        if tracker is None:
            return
        for channel in (self._thigh, self._body):
            pending = None if channel is None else channel.motion_pending
            if channel is None or pending is None:
                continue
            cut = pending.end if math.isinf(until_s) else int(bin_index(until_s))
            bins = pending.slice(pending.first, cut)
            rest = pending.slice(cut, pending.end)
            channel.motion_pending = rest if len(rest) else None
            orientation = channel.orientation
            if len(bins) == 0 or orientation is None:
                continue
            if orientation.source is MountSource.LEARNED and channel is self._body:
                bins = bins.slice(math.ceil(channel.learned_at_s * BINS_PER_S), bins.end)
                if len(bins) == 0:
                    continue
            mount = orientation.mount
            gyro_sum = bins.gyro_sum
            gyro_b = None
            if bins.has_gyro and not np.isnan(gyro_sum).any():
                gyro_b = _rows_to_body(gyro_sum, mount)
            body_bins = bins.with_vectors(_rows_to_body(bins.acc_sum, mount), gyro_b)
            if channel is self._body:
                self._take_motion(tracker.add_body(body_bins))
            else:
                tracker.add_thigh(body_bins)

    def _take_motion(self, update: MotionUpdate) -> None:
        """Keep lifts until their seconds are decided; report falls and paces now."""
        self._held_lifts.extend(update.lifts)
        for fall in update.falls:
            self._motion_out.append(
                Observation(
                    self.wearer,
                    EventType.FALL,
                    fall.impact_s,
                    fall.decided_s,
                    fall_evidence(fall),
                    {"hard": "yes" if fall.hard else "no"},
                )
            )
        for window in update.frequencies:
            self._frequencies.append(window)
            self._motion_out.append(
                Observation(
                    self.wearer,
                    EventType.BEND_FREQUENCY,
                    window.start_s,
                    window.end_s,
                    frequency_evidence(window),
                    {"band": str(window.band)},
                )
            )

    def _motion_finish(self) -> list[Observation]:
        tracker = self._motion
        if tracker is None:
            return []
        if any(c is not None and c.motion_pending is not None for c in (self._thigh, self._body)):
            self._feed_motion(math.inf)
        self._take_motion(tracker.finish())
        out = [*self._release_lifts(final=True), *self._release_motion(final=True)]
        out.sort(key=lambda o: o.end_s)
        return out

    def _release_motion(self, *, final: bool) -> list[Observation]:
        """Falls and paces whose end is decided, so they come out in a fixed order."""
        decided_s = -math.inf if self._decided_next is None else self._decided_next - 0.5
        ready = [o for o in self._motion_out if final or o.end_s < decided_s]
        self._motion_out = [o for o in self._motion_out if not (final or o.end_s < decided_s)]
        return ready

    def _release_lifts(self, *, final: bool) -> list[Observation]:
        """Lifts whose seconds are all decided, without those that overlap sitting."""
        if not self._held_lifts:
            return []
        decided_s = -math.inf if self._decided_next is None else self._decided_next - 0.5
        # Held until the sitting that may follow a lift's end is decided far enough.
        horizon_s = decided_s - self.thresholds.sit_transition_s
        ready = [x for x in self._held_lifts if final or x.end_s < horizon_s]
        if not ready:
            return []
        self._held_lifts = [x for x in self._held_lifts if x not in ready]
        out = []
        for lift in ready:
            if self._overlaps_sitting(lift):
                continue
            out.append(self._lift_observation(lift))
        return out

    def _overlaps_sitting(self, lift: Lift) -> bool:
        """Whether a lift is really sitting down or standing up.

        A stand-up begins inside a sitting bout that went on for more than
        ``sit_transition_s`` before the lift's start; a sit-down ends inside one that goes
        on for more than that after the lift's end. Dropped: lifts that are one of the two
        and not the other. Kept: lifts whose sitting label lies within their own span (the
        bottom of a deep squat, or a held stoop the trunk-only labeller takes for sitting:
        the label spills past the lift by at most about half a 2 s window), and lifts with
        long sitting on both sides (reaching down from a chair).
        """
        if self._runs_first is None:
            return False
        margin_s = self.thresholds.sit_transition_s
        at = self._runs_first
        before_s = after_s = 0.0
        for code, length in self._runs:
            # Window k labels the second centred on k: the run covers [at - 0.5, stop - 0.5).
            begin_s, stop_s = at - 0.5, at + length - 0.5
            at += length
            if begin_s > lift.end_s:
                break
            if code != SITTING or stop_s <= lift.start_s:
                continue
            if begin_s <= lift.start_s:
                before_s = lift.start_s - begin_s
            if stop_s > lift.end_s:
                after_s = stop_s - lift.end_s
        return (before_s > margin_s) != (after_s > margin_s)

    def _lifts_per_min(self, end_s: float) -> float:
        """Lifts per minute over the NIOSH 15-minute sampling period ending at ``end_s``.

        Counts the lift being judged too; the equation floors the rate at 0.2 per minute.
        """
        recent = self._recent_lift_ends_s
        while recent and recent[0] <= end_s - NIOSH_RATE_WINDOW_S:
            recent.popleft()
        return (len(recent) + 1) / (NIOSH_RATE_WINDOW_S / 60.0)

    def _lift_observation(self, lift: Lift) -> Observation:
        evidence = lift_evidence(lift)
        labels = {
            "technique": str(lift.technique),
            "risks": ",".join(sorted(str(r) for r in lift.risks)),
        }
        if self._declared_load is not None:
            result = assess_lift(
                self._declared_load,
                twist_deg=lift.twist_deg,
                lifts_per_min=self._lifts_per_min(lift.end_s),
            )
            evidence["load_kg"] = self._declared_load.load_kg
            evidence["lifting_index"] = result.lifting_index
            evidence["rwl_kg"] = result.rwl_kg
            labels["niosh_risk"] = str(result.risk)
            labels["niosh_assumed"] = ",".join(sorted(result.assumed))
            labels["niosh_measured"] = ",".join(sorted(result.measured))
        self._recent_lift_ends_s.append(lift.end_s)
        self._lift_count += 1
        if lift.risks:
            self._risky_lift_count += 1
        return Observation(self.wearer, EventType.LIFT, lift.start_s, lift.end_s, evidence, labels)

    # -- evaluation --------------------------------------------------------------------

    def _sum(self, channel: _Channel, final: bool) -> None:
        stop = channel.complete_q
        if stop is None:
            return
        if final:
            stop = int(quarter_index(channel.newest_s)) + 1
            channel.sum_quarters(stop)
            channel.transitions.extend(channel.detector.finish())
            if channel.steps is not None:
                channel.step_times.append(channel.steps.finish())
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
        out: list[Observation] = []
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
        if end > start:
            codes = self._label(start, end)
            self._next_window = end
            out.extend(self._decide(start, self._bouts.push(codes)))
        if final:
            out.extend(self._decide(None, self._bouts.flush()))
        return out

    def _forget_before(self, cutoff_s: float) -> None:
        """Drop what a live daemon no longer needs: runs, bouts, holds, spells, paces.

        Results properties (``segments``, ``sitting_bouts``...) then cover only the kept
        span; the offline analysis keeps everything (``keep_history_s=None``).
        """
        assert self._runs_first is not None
        drop = 0
        first = self._runs_first
        for _code, length in itertools.islice(self._runs, len(self._runs) - 1):  # not the last
            if first + length > cutoff_s:
                break
            first += length
            drop += 1
        if drop:
            del self._runs[:drop]
            self._runs_first = first
        self._frequencies = [f for f in self._frequencies if f.end_s > cutoff_s]
        self._tracker.bouts = [b for b in self._tracker.bouts if b.end_s > cutoff_s]
        self._sleep.spells = [spell for spell in self._sleep.spells if spell.end_s > cutoff_s]
        self._posture.forget_before(cutoff_s)

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
        if (
            self._keep_history_s is not None
            and self._decided_next - self._forgot_at >= _FORGET_EVERY_S
        ):
            self._forgot_at = self._decided_next
            self._forget_before(self._decided_next - self._keep_history_s)
        codes = np.repeat(
            np.array([c for c, _ in runs], dtype=np.int8), np.array([n for _, n in runs])
        )
        known: list[tuple[float, int, Observation]] = [
            (o.end_s, 0, o) for o in self._tracker.consume(first - 0.5, runs)
        ]
        windows, position = self._labelled.take(first, first + codes.shape[0])
        known.extend((t, 1, o) for t, o in self._posture.push(first, codes, windows))
        known.extend((t, 2, o) for t, o in self._sleep.push(first, codes, position))
        self._count_steps(first, codes)
        known.extend((o.end_s, 3, o) for o in self._release_lifts(final=False))
        known.extend((o.end_s, 4, o) for o in self._release_motion(final=False))
        known.sort(key=lambda item: (item[0], item[1]))
        return [o for _, _, o in known]

    def _count_steps(self, first: int, codes: np.ndarray) -> None:
        """Count the step peaks in decided walking or running windows ``first ..``."""
        count = codes.shape[0]
        moving = (codes == WALKING) | (codes == RUNNING)
        per_window = np.zeros(count, dtype=np.int64)
        stepper = self._stepper
        if stepper is not None and stepper.step_times:
            times = np.concatenate(stepper.step_times)
            slots = np.floor(times + 0.5).astype(np.int64) - first
            inside = (slots >= 0) & (slots < count)
            per_window = np.bincount(slots[inside], minlength=count)[:count]
            later = times[slots >= count]
            stepper.step_times = [later] if later.shape[0] else []
        per_window = np.where(moving, per_window, 0)
        self._steps_total += int(per_window.sum())
        self._moving_s += int(np.count_nonzero(moving))
        recent = np.concatenate((self._recent_moving, per_window[moving]))
        self._recent_moving = recent[-60:]
        self._last_moving = bool(moving[-1])

    def _label(self, start: int, stop: int) -> np.ndarray:
        """Activity codes of windows [start, stop); cut at whole minutes while learning."""
        if not any(c.learner is not None for c in self._channels.values()):
            codes = self._label_part(start, stop)
            self._feed_motion(stop - 0.5)
            return codes
        parts = []
        a = start
        while a < stop:
            b = min(stop, (a // 60 + 1) * 60)
            parts.append(self._label_part(a, b))
            self._feed_motion(b - 0.5)
            if b % 60 == 0:
                self._learn_orientations()
            a = b
        return np.concatenate(parts)

    def _learn_orientations(self) -> None:
        for channel in self._channels.values():
            if channel.learner is None:
                continue
            proposal = channel.learner.propose(channel.orientation)
            if proposal is not None:
                self._set_orientation(channel, proposal)

    def _label_part(self, start: int, stop: int) -> np.ndarray:
        """Activity codes of windows [start, stop) from every sensor's features."""
        count = stop - start
        body = self._body
        thigh_windows = thigh_taken = None
        if self._thigh is not None:
            thigh_windows, thigh_taken = self._thigh_windows(self._thigh, start, stop)
        if body is None:
            codes = np.full(count, UNKNOWN, dtype=np.int8)
            if thigh_windows is not None:
                labeler = self._labeler_for(None)
                if labeler is not None:
                    codes = labeler.label(start, _no_body(count), thigh_windows)
            self._after_labels(start, codes, None, None, thigh_taken)
            return codes
        taken = body.windows.take(start, stop)
        if body.orientation is None:
            codes = np.full(count, UNKNOWN, dtype=np.int8)
            self._after_labels(start, codes, taken, None, thigh_taken)
            return codes
        mount = body.orientation.mount
        labeler = self._labeler_for(body)
        assert labeler is not None
        known = taken.known
        if body.orientation.source is MountSource.LEARNED:
            # Windows before the mount was learned stay unknown.
            first_ok = math.ceil(body.learned_at_s - 1.0 - self._lookahead)
            known = known & (np.arange(start, stop) >= first_ok)
        mean_b = _rows_to_body(taken.mean_s, mount)
        sd = body_sd_g(taken.cov_s, mount)
        labeler.add_transitions(body.transitions)
        body.transitions.clear()
        body_windows = BodyWindows(
            known=known, mean_b=mean_b, sd_max_g=sd.max(axis=1), sd_vertical_g=sd[:, 2]
        )
        codes = labeler.label(start, body_windows, thigh_windows)
        self._after_labels(start, codes, taken, body_windows, thigh_taken)
        return codes

    def _after_labels(
        self,
        start: int,
        codes: np.ndarray,
        taken: _Taken | None,
        body_windows: BodyWindows | None,
        thigh_taken: _Taken | None,
    ) -> None:
        """Keep the posture and lying inputs of labelled windows; gather walking evidence."""
        count = codes.shape[0]
        body = self._body
        posture = _unknown_windows(count)
        position = np.full(count, POSITION_UNKNOWN, dtype=np.int8)
        if body is not None and taken is not None and body_windows is not None:
            assert body.orientation is not None
            forward_known = body.orientation.forward_known
            known = body_windows.known
            if forward_known:
                position = np.where(
                    known, sleep_positions(body_windows.mean_b), POSITION_UNKNOWN
                ).astype(np.int8)
            if body is self._trunk:
                flexion, lateral, _ = trunk_angles(body_windows.mean_b)
                still = known & (body_windows.sd_max_g < self.thresholds.rest_sd_g)
                twist = np.full(count, np.nan)
                if self._twist is not None and body.ring is not None and body.ring.has_gyro:
                    gyro = np.where(known[:, None], taken.gyro_mean_dps, np.nan)
                    twist = self._twist.update(gyro, taken.mean_s, still)
                trunk_known = known & forward_known
                posture = PostureWindows(
                    known=trunk_known,
                    flexion_deg=np.where(trunk_known, flexion, np.nan),
                    lateral_deg=np.where(trunk_known, lateral, np.nan),
                    twist_deg=np.where(trunk_known, twist, np.nan),
                )
        elif body is self._trunk and body is not None and self._twist is not None:
            # Windows without an orientation still move the twist's timeline on.
            blank = np.full((count, 3), np.nan)
            self._twist.update(blank, blank, np.zeros(count, dtype=bool))
        self._labelled.add(start, posture, position)
        walking = codes == WALKING
        if not np.any(walking):
            return
        if body is not None and body.learner is not None and taken is not None:
            use = walking & taken.known
            body.learner.add(taken.mean_s[use], taken.dmag_acc_cov_s[use])
        thigh = self._thigh
        if thigh is not None and thigh.learner is not None and thigh_taken is not None:
            use = walking & thigh_taken.known
            thigh.learner.add(thigh_taken.mean_s[use], thigh_taken.dmag_acc_cov_s[use])

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

    def _thigh_windows(self, thigh: _Channel, start: int, stop: int) -> tuple[ThighWindows, _Taken]:
        taken = thigh.windows.take(start, stop)
        count = stop - start
        if thigh.orientation is None:
            unknown = ThighWindows(
                np.zeros(count, dtype=bool), np.zeros(count), np.zeros(count), np.zeros(count)
            )
            return unknown, taken
        mount = thigh.orientation.mount
        up = mount.sensor_from_body[:, 2]
        incl = inclination_deg(taken.mean_s, up)
        sd = body_sd_g(taken.cov_s, mount)
        return ThighWindows(taken.known, incl, sd.max(axis=1), sd[:, 2]), taken


def _rows_to_body(rows_s: FloatArray, mount: Mount) -> FloatArray:
    """``mount.to_body`` computed row by row in a fixed order.

    A matrix product may round a row differently depending on how many rows it is given
    (BLAS kernels); spelled out, each row's result is the same however windows are grouped.
    Each body axis is ``(x * r[0, j] + y * r[1, j]) + z * r[2, j]`` over whole columns:
    broadcasting rows of three against their matrix row ran numpy's inner loop three
    elements at a time, several times slower.
    """
    r = mount.sensor_from_body
    x, y, z = rows_s[:, 0], rows_s[:, 1], rows_s[:, 2]
    out = np.empty((rows_s.shape[0], 3))
    term = np.empty(rows_s.shape[0])
    for j in range(3):
        axis = out[:, j]
        np.multiply(x, r[0, j], out=axis)
        axis += np.multiply(y, r[1, j], out=term)
        axis += np.multiply(z, r[2, j], out=term)
    return out


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
