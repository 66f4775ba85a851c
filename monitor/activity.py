"""Activity per one-second slot: lying, sitting, standing, walking, running, or unknown.

Three wearings are handled; the sensor on the trunk (or, without one, the waist) is the
*body* sensor, a thigh sensor is optional.

**With a thigh sensor** (Acti4, Skotte 2014): thigh inclination above ``thigh_sit_deg``
(45°) is sitting; otherwise the thigh's acceleration SD decides: below ``still_sd_g``
(0.1 g) standing, up to ``run_sd_g`` (0.72 g) walking, above running. Lying comes from the
body sensor's inclination (trunk > 45°, waist > 65°) where the thigh is not upright (as in
Acti4, which looks for lying within sitting periods): a trunk bent beyond 45° over an
upright thigh is a stoop, standing or walking. With the trunk or waist alone a stoop held
for longer than the minimum lying bout (5 s) cannot be told from lying on the front, and
reads as lying.

**Trunk or waist only.** Posture cannot be read off one still sample, so a posture state
(upright / seated / unknown) is carried from evidence:

- *Transitions.* The body sensor's quarter-seconds are split into *rests* (at least
  ``rest_min_s`` of quarters with magnitude SD below ``rest_sd_g`` and almost no change of
  tilt) and the movements between them. A rest reads gravity alone, so its magnitude stays
  put: still quarters at its end whose magnitude moved away by more than ``rest_mag_match_g``
  (a movement that starts with a steady acceleration, as a smooth descent can, looks still)
  belong to the movement. When a new rest begins, the movement before it is
  judged (:func:`judge_transition`) from (a) the height gained or lost, integrated twice
  from the acceleration magnitude with zero velocity at both rests
  (:func:`monitor.windows.vertical_motion`), (b) the change of the sagittal tilt between the
  rests, and (c) which way the body first moved. Standing up lifts the body by 0.3-0.6 m
  and is the most reliable cue. Sitting down lowers it as much, but slow sitting is hard to
  integrate, so on the waist the pelvis tilting back when seated carries it (clearly, and
  ending behind upright, so that coming back from a forward bend is not taken for it; or a
  little, while the body first went down); on the trunk, height or a change of posture
  while going down. Height changes beyond ``max_rise_m`` (jumps, flights of stairs) tell
  nothing; drops beyond ``max_drop_m`` are not sitting down. A movement that did not start
  from rest (walking straight into a chair) is judged by the height lost over its last
  ``tail_s`` seconds together with a change of posture (stairs lower the body too but leave
  the wearer upright). A movement while seated that is not a stand-up (fidgeting, leaning)
  leaves the wearer seated. The movements themselves count as the posture they lead to or
  from: sitting down and standing up as sitting (the bout runs from the start of sitting
  down to the end of standing up), lying down and getting up as lying.
- *Walking and running* (the body SD above ``still_sd_g``) mean upright. While seated a
  movement must last ``sustained_move_s`` before it counts as walking, so fidgeting in a
  chair stays sitting; a missed stand-up costs those seconds.
- *Lying*: inclination from the upright reference above the placement's lying angle.
- The upright reference is the declared mount's up at first, replaced by the first rest
  that looks upright (within 45° of it, and not just sat down into; this also corrects a
  mount declared a little off) and, each minute with enough walking, by the mean gravity
  direction while walking.

Still seconds with an unknown posture (the start of a recording, after lying) are
``unknown`` unless the tilt says seated (waist pelvis tilted back, or trunk reclined, by
more than ``seated_tilt_deg`` from the upright reference). Seconds without enough samples
are ``unknown`` too.

Last, minimum bout lengths (Acti4: sit 5 s, stand/walk/run 2 s, lie 5 s) are applied on
line by :class:`BoutFilter`: a new activity replaces the current one only once it has
lasted its minimum; shorter runs are absorbed into the activity before them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from devices.samples import FloatArray, Placement
from monitor.windows import (
    QUARTER_S,
    QuarterSums,
    VerticalMotion,
    tail_rise_m,
    vertical_motion,
)

if TYPE_CHECKING:
    from monitor.evaluation import EvaluationThresholds

CodeArray = npt.NDArray[np.int8]
_SHORT = 16  # below this many labels a plain loop beats numpy's call overhead


class Activity(StrEnum):
    """What the wearer is doing in a one-second slot (the contract's names)."""

    LYING = "lying"
    SITTING = "sitting"
    STANDING = "standing"
    WALKING = "walking"
    RUNNING = "running"
    UNKNOWN = "unknown"


#: Activities by integer code, as stored in label arrays.
ACTIVITIES: tuple[Activity, ...] = tuple(Activity)
LYING, SITTING, STANDING, WALKING, RUNNING, UNKNOWN = range(len(ACTIVITIES))


class Posture(StrEnum):
    """The posture the trunk-or-waist evaluation carries between transitions."""

    UPRIGHT = "upright"
    SEATED = "seated"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one activity, on sample time."""

    activity: Activity
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the segment in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Transition:
    """A movement of the body sensor between two rests, found when the second rest begins.

    ``pre_s``/``post_s``: mean acceleration (g, sensor frame) of the rest before and the
    rest after; ``pre_s`` is None at the start of the data and after a long gap, and for a
    movement longer than ``max_transition_s`` it is the mean over the movement's last
    seconds but two (walking, usually). ``motion`` is None when the movement cannot be
    integrated (too long, a gap, no rest before); ``tail_rise_m`` is then the height change
    over the movement's last ``tail_s`` seconds, integrated back from the rest after (None
    when not available). ``known_s``: the sample time at which the rest after was confirmed.
    """

    start_s: float
    end_s: float
    known_s: float
    pre_s: FloatArray | None
    post_s: FloatArray
    motion: VerticalMotion | None
    tail_rise_m: float | None = None


@dataclass(slots=True)
class _History:
    """The latest quarters the transition detector may still need."""

    q: QuarterSums

    @property
    def first(self) -> int:
        """Index of the oldest quarter held."""
        return self.q.first

    @property
    def end(self) -> int:
        """One past the newest quarter held."""
        return self.q.first + len(self.q)

    def extend(self, q: QuarterSums, keep: int) -> None:
        """Append quarters and forget all but the last ``keep`` + len(q)."""
        drop = max(0, len(self.q) - keep)
        self.q = self.q.slice(drop, len(self.q)).concat(q)

    def mean(self, start: int, stop: int) -> tuple[FloatArray, float] | None:
        """Mean acceleration vector and magnitude over quarters [start, stop), if any."""
        a = max(start - self.q.first, 0)
        b = max(stop - self.q.first, 0)
        n = int(self.q.n[a:b].sum())
        if n == 0:
            return None
        part = self.q.slice(a, b)
        return part.acc_sum.sum(axis=0) / n, float(part.mag_sum.sum()) / n


class TransitionDetector:
    """Splits one sensor's quarter-seconds into rests and movements; yields transitions.

    Incremental and exact: feeding quarters in any grouping gives the same transitions.
    """

    __slots__ = (
        "_excursion_mps",
        "_hist",
        "_in_rest",
        "_keep",
        "_mag_match_g",
        "_max_q",
        "_pre",
        "_prev_dir",
        "_rest_end",
        "_rest_q",
        "_sd_g",
        "_settled_q",
        "_still_start",
        "_tail_q",
        "_tilt_cos",
    )

    def __init__(self, thresholds: EvaluationThresholds) -> None:
        """Start with no rest seen."""
        self._sd_g = thresholds.rest_sd_g
        self._tilt_cos = math.cos(math.radians(thresholds.rest_tilt_deg))
        self._rest_q = max(1, round(thresholds.rest_min_s / QUARTER_S))
        self._settled_q = max(self._rest_q, round(thresholds.rest_settled_s / QUARTER_S))
        self._mag_match_g = thresholds.rest_mag_match_g
        self._max_q = round(thresholds.max_transition_s / QUARTER_S)
        self._excursion_mps = thresholds.descent_mps
        self._tail_q = round(thresholds.tail_s / QUARTER_S)
        self._keep = self._max_q + 40
        self._hist: _History | None = None
        self._prev_dir = np.full(3, np.nan)
        self._still_start: int | None = None
        self._in_rest = False
        self._rest_end: int | None = None
        self._pre: tuple[FloatArray, float] | None = None

    def update(self, q: QuarterSums) -> list[Transition]:
        """Take the next consecutive quarters; return transitions confirmed within them."""
        if len(q) == 0:
            return []
        if self._hist is None:
            self._hist = _History(q)
        else:
            self._hist.extend(q, self._keep)
        n = q.n
        acc = q.acc_sum
        dirs = np.empty((len(q), 3))
        with np.errstate(invalid="ignore", divide="ignore"):
            # Column by column (numpy runs rows of three three elements at a time).
            x, y, z = acc[:, 0] / n, acc[:, 1] / n, acc[:, 2] / n  # NaN for empty quarters
            mag_mean = q.mag_sum / n
            mag_var = q.mag_sq_sum / n - mag_mean * mag_mean
            norm = np.sqrt(x * x + y * y + z * z)
            for axis, component in enumerate((x, y, z)):
                np.divide(component, norm, out=dirs[:, axis])
        prev = np.concatenate((self._prev_dir[None, :], dirs[:-1]))
        cos = dirs[:, 0] * prev[:, 0] + dirs[:, 1] * prev[:, 1] + dirs[:, 2] * prev[:, 2]
        # After an empty quarter there is nothing to compare the tilt with: NaN passes.
        # Empty quarters have a NaN variance, which fails the first test.
        still = (mag_var < self._sd_g * self._sd_g) & ~(cos <= self._tilt_cos)
        self._prev_dir = dirs[-1]
        change = (np.flatnonzero(still[1:] != still[:-1]) + 1).tolist()
        starts = [0, *change]
        stops = [*change, len(q)]
        flags = still[starts].tolist()
        out: list[Transition] = []
        for a, b, is_still in zip(starts, stops, flags, strict=True):
            qa = q.first + a
            qb = q.first + b
            if is_still:
                if self._still_start is None:
                    self._still_start = qa
                if not self._in_rest and qb - self._still_start >= self._rest_q:
                    out.append(self._confirm(self._still_start))
                    self._in_rest = True
            else:
                if self._in_rest and self._still_start is not None:
                    end = self._settled_end(qa)
                    self._rest_end = end
                    self._pre = self._hist.mean(end - self._rest_q, end)
                self._in_rest = False
                self._still_start = None
        return out

    def finish(self, min_rest_s: float = 0.5) -> list[Transition]:
        """End of data: a still run of at least ``min_rest_s`` at the very end is a rest."""
        if self._in_rest or self._still_start is None or self._hist is None:
            return []
        end = self._hist.end
        if (end - self._still_start) * QUARTER_S < min_rest_s:
            return []
        self._in_rest = True
        return [self._confirm(self._still_start, min(end, self._still_start + self._rest_q))]

    def _settled_end(self, stop: int) -> int:
        """Where the rest ending at quarter ``stop`` really ended.

        A movement that begins with a steady acceleration (the smooth start of a descent)
        looks still: of the rest's last ``rest_settled_s``, the trailing quarters whose
        magnitude moved away from the rest's before them belong to the movement, unless none
        still reads it (the magnitude has drifted). The rest keeps at least ``rest_min_s``.
        """
        hist, still_start = self._hist, self._still_start
        assert hist is not None
        assert still_start is not None
        first_q = max(stop - self._settled_q, still_start + self._rest_q)
        if first_q >= stop or first_q - self._rest_q < hist.first:
            return stop
        before = hist.mean(first_q - self._rest_q, first_q)
        if before is None:
            return stop
        q = hist.q.slice(first_q - hist.first, stop - hist.first)
        with np.errstate(invalid="ignore", divide="ignore"):
            reads = np.abs(q.mag_sum / q.n - before[1]) <= self._mag_match_g
        kept = np.flatnonzero(reads)
        if kept.shape[0] == 0 and stop - first_q >= self._settled_q:
            return stop
        return first_q + (int(kept[-1]) + 1 if kept.shape[0] else 0)

    def _confirm(self, still_start: int, post_end: int | None = None) -> Transition:
        """The transition ending where a rest starts at quarter ``still_start``."""
        hist = self._hist
        assert hist is not None
        known = still_start + self._rest_q
        post = hist.mean(still_start, known if post_end is None else post_end)
        assert post is not None  # a rest's quarters all hold samples
        pre: FloatArray | None = None
        motion = None
        start = still_start if self._rest_end is None else self._rest_end
        length = still_start - start
        if self._rest_end is not None and self._pre is not None and length <= self._max_q:
            pre = self._pre[0]
            a = start - hist.first
            b = still_start - hist.first
            if a >= 0 and bool(np.all(hist.q.n[a:b] > 0)):
                motion = vertical_motion(
                    hist.q.mag_int[a:b],
                    hist.q.mag_mom[a:b],
                    self._pre[1],
                    post[1],
                    self._excursion_mps,
                )
        if pre is None and motion is None:
            # A long movement (or one since the data began): its mean 6 s to 2 s before the
            # rest, usually walking, stands in for the rest before.
            late = hist.mean(still_start - 24, still_start - 8)
            pre = None if late is None else late[0]
        tail = None
        a = still_start - self._tail_q - hist.first
        b = still_start - hist.first
        if (
            motion is None
            and a >= 0
            and (self._rest_end is None or length >= self._tail_q)
            and bool(np.all(hist.q.n[a:b] > 0))
        ):
            tail = tail_rise_m(hist.q.mag_int[a:b], hist.q.mag_mom[a:b], post[1])
        return Transition(
            start_s=start * QUARTER_S,
            end_s=still_start * QUARTER_S,
            known_s=known * QUARTER_S,
            pre_s=pre,
            post_s=post[0],
            motion=motion,
            tail_rise_m=tail,
        )


def _pitch_deg(v: Sequence[float]) -> float:
    """Sagittal tilt of a body-frame gravity vector, positive forward."""
    return math.degrees(math.atan2(-v[0], v[2]))


def _angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    """Angle between two vectors in degrees."""
    dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    na = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
    nb = math.sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2])
    if na == 0.0 or nb == 0.0:
        return float("nan")
    return math.degrees(math.acos(max(-1.0, min(1.0, dot / (na * nb)))))


def judge_transition(
    placement: Placement,
    *,
    forward_known: bool,
    posture: Posture,
    pre_b: Sequence[float] | None,
    post_b: Sequence[float],
    motion: VerticalMotion | None,
    upright_b: Sequence[float],
    thresholds: EvaluationThresholds,
    tail_rise: float | None = None,
) -> Posture | None:
    """The posture after a movement between rests, or None when it tells nothing new.

    ``pre_b``/``post_b``: body-frame gravity at the rests before and after; ``upright_b``:
    the current upright reference; ``posture``: the posture before the movement;
    ``tail_rise``: height change over the end of a movement that could not be integrated
    whole (see :class:`Transition`).
    """
    th = thresholds
    lying_deg = th.waist_lying_deg if placement is Placement.WAIST else th.trunk_lying_deg
    if _angle_deg(post_b, upright_b) > lying_deg or pre_b is None:
        return None  # lying is decided per window; without a rest before nothing to compare
    rise = motion.rise_m if motion is not None else None
    if rise is not None and abs(rise) > th.max_rise_m:
        return None  # a jump, a flight of stairs, integration gone wrong: tells nothing
    if _angle_deg(pre_b, upright_b) > lying_deg:  # getting up from lying
        stood = rise is not None and rise >= th.lying_rise_m
        return Posture.UPRIGHT if stood else Posture.SEATED
    stood_up = rise is not None and rise >= th.rise_m
    went_down_first = (
        rise is not None and motion is not None and motion.first_mps <= -th.descent_mps
    )
    # Tilt is measured from the rest before, unless the wearer was bent forward there
    # (coming back up from a bend is not sitting down): then from the upright reference.
    # Positive: forward. Without a known forward, any tilt counts as backward.
    pre_bent = forward_known and _pitch_deg(pre_b) - _pitch_deg(upright_b) > th.bent_deg
    base_b = upright_b if pre_bent else pre_b
    if forward_known:
        tilt = _pitch_deg(post_b) - _pitch_deg(base_b)
        post_rel = _pitch_deg(post_b) - _pitch_deg(upright_b)
    else:
        tilt = -_angle_deg(post_b, base_b)
        post_rel = -_angle_deg(post_b, upright_b)
    behind = post_rel <= -th.sit_tilt_deg / 2.0
    if (
        motion is None
        and tail_rise is not None
        and -th.max_drop_m <= tail_rise <= -th.drop_m
        and posture is not Posture.SEATED
    ):
        # Came down into the rest and changed posture: walked straight into a chair.
        # Stepping down stairs lowers the body too, but the wearer ends up upright (fast
        # walking leans forward, so the change from it alone is not enough).
        if placement is Placement.WAIST and forward_known:
            changed = tilt <= -th.sit_tilt_deg and behind
        else:
            changed = abs(tilt) >= th.sit_tilt_deg and abs(post_rel) >= th.sit_tilt_deg
        if changed:
            return Posture.SEATED
    if placement is Placement.WAIST:
        tilt_deg = th.sit_tilt_deg if motion is not None else 2.0 * th.sit_tilt_deg
        if stood_up and (tilt > -tilt_deg or not forward_known):
            return Posture.UPRIGHT if posture is not Posture.UPRIGHT else None
        if posture is Posture.SEATED:
            return None
        if not forward_known:
            # Without the sign of the tilt a bend looks like sitting: ask for height evidence.
            sat = rise is not None and (
                rise <= -th.drop_m
                or (went_down_first and rise < th.rise_m / 2.0 and tilt <= -2.0 * tilt_deg)
            )
            return Posture.SEATED if sat else None
        # The pelvis tilts back when seated: clearly (and then it must end up behind
        # upright: coming back from a bend also tilts it back), or a little while the
        # body first went down.
        sat = (
            (tilt <= -2.0 * tilt_deg and behind)
            or (tilt <= -tilt_deg and went_down_first and not stood_up)
            or (rise is not None and -th.max_drop_m <= rise <= -th.drop_m and tilt <= 0.0)
            or (
                went_down_first
                and rise is not None
                and rise < th.rise_m / 2.0
                and tilt <= -th.sit_tilt_deg / 2.0
            )
        )
        return Posture.SEATED if sat else None
    # Trunk: the seated trunk may lean either way; height carries most of the evidence.
    if stood_up:
        return Posture.UPRIGHT if posture is not Posture.UPRIGHT else None
    if posture is Posture.SEATED:
        return None
    reclined = _pitch_deg(post_b) - _pitch_deg(upright_b) <= -th.seated_tilt_deg
    sat = (
        (rise is not None and -th.max_drop_m <= rise <= -th.drop_m)
        or (
            went_down_first
            and rise is not None
            and rise < th.rise_m / 2.0
            and abs(tilt) >= th.sit_tilt_deg
        )
        or (reclined and forward_known)
    )
    return Posture.SEATED if sat else None


@dataclass(frozen=True, slots=True)
class BodyWindows:
    """Per-window inputs from the body sensor, body frame (arrays of equal length)."""

    known: npt.NDArray[np.bool_]
    mean_b: FloatArray  # (w, 3) g
    sd_max_g: FloatArray
    sd_vertical_g: FloatArray


@dataclass(frozen=True, slots=True)
class ThighWindows:
    """Per-window inputs from a thigh sensor, thigh body frame."""

    known: npt.NDArray[np.bool_]
    inclination_deg: FloatArray
    sd_max_g: FloatArray
    sd_vertical_g: FloatArray


def _thigh_codes(thigh: ThighWindows, thresholds: EvaluationThresholds) -> CodeArray:
    """Acti4's thigh verdict of every window (UNKNOWN where the thigh has no data)."""
    th = thresholds
    moving = np.where(thigh.sd_vertical_g > th.run_sd_g, RUNNING, WALKING)
    code = np.where(
        thigh.inclination_deg > th.thigh_sit_deg,
        SITTING,
        np.where(thigh.sd_max_g < th.still_sd_g, STANDING, moving),
    )
    return np.where(thigh.known, code, UNKNOWN).astype(np.int8)


@dataclass(frozen=True, slots=True)
class _LabelArrays:
    """A labelling call's window inputs as arrays (for the array path)."""

    known: npt.NDArray[np.bool_]
    mean_b: FloatArray
    t_known: npt.NDArray[np.bool_]
    t_codes: CodeArray  # the thigh's verdict, UNKNOWN where it has no data
    stooping: npt.NDArray[np.bool_]  # thigh upright: a trunk beyond the lying angle stoops

    @classmethod
    def of(
        cls, body: BodyWindows, thigh: ThighWindows | None, thresholds: EvaluationThresholds
    ) -> _LabelArrays:
        """The arrays of a call's body (and thigh) windows."""
        if thigh is None:
            none = np.zeros(body.known.shape[0], dtype=bool)
            codes = np.full(body.known.shape[0], UNKNOWN, dtype=np.int8)
            return cls(body.known, body.mean_b, none, codes, none)
        stooping = thigh.known & (thigh.inclination_deg < thresholds.thigh_sit_deg)
        return cls(body.known, body.mean_b, thigh.known, _thigh_codes(thigh, thresholds), stooping)


@dataclass(frozen=True, slots=True)
class _LabelInputs:
    """A labelling call's window inputs as Python lists (for the second-by-second path)."""

    known: list[bool]
    mean: list[list[float]]
    sd_max: list[float]
    sd_vert: list[float]
    t_known: list[bool]
    t_codes: list[int]
    stooping: list[bool]

    @classmethod
    def of(cls, body: BodyWindows, arrays: _LabelArrays) -> _LabelInputs:
        """The lists of a call's body windows and the thigh's verdicts."""
        return cls(
            known=body.known.tolist(),
            mean=body.mean_b.tolist(),
            sd_max=body.sd_max_g.tolist(),
            sd_vert=body.sd_vertical_g.tolist(),
            t_known=arrays.t_known.tolist(),
            t_codes=arrays.t_codes.tolist(),
            stooping=arrays.stooping.tolist(),
        )


def _cover_start(tr: Transition, thresholds: EvaluationThresholds) -> float:
    """Where a transition's effect starts: the movement's start, or its tail's if long."""
    if tr.motion is not None:
        return tr.start_s
    return max(tr.start_s, tr.end_s - thresholds.tail_s)


class PostureLabeler:
    """Labels windows in order from body-sensor (and optional thigh) features.

    Carries the posture, the upright reference and pending transitions between calls, so
    windows can be labelled in chunks of any size with the same result. Transitions are
    handed in with :meth:`add_transitions` before the windows they may affect: a
    transition applies to windows from ``max(start, known_s - 1 - lookahead_s)`` on, where
    ``start`` is the movement's start (for a long movement, the start of its tail).
    """

    __slots__ = (
        "_bent_drop_m",
        "_cover_code",
        "_cover_end",
        "_cover_start",
        "_forward_known",
        "_lookahead_s",
        "_lying_deg",
        "_minute",
        "_move_run",
        "_pending",
        "_placement",
        "_posture",
        "_ref_learned",
        "_sustained",
        "_th",
        "_to_body",
        "_upright",
        "_walk_count",
        "_walk_sum",
    )

    def __init__(
        self,
        placement: Placement,
        to_body: FloatArray,
        *,
        forward_known: bool,
        thresholds: EvaluationThresholds,
        lookahead_s: int,
    ) -> None:
        """``to_body``: the body sensor's ``sensor_from_body`` matrix (its mount)."""
        self._placement = placement
        self._to_body = to_body
        self._forward_known = forward_known
        self._th = thresholds
        self._lookahead_s = lookahead_s
        self._lying_deg = (
            thresholds.waist_lying_deg
            if placement is Placement.WAIST
            else thresholds.trunk_lying_deg
        )
        self._sustained = max(1, round(thresholds.sustained_move_s))
        self._posture = Posture.UNKNOWN
        self._upright = (0.0, 0.0, 1.0)
        self._ref_learned = False
        self._cover_start = -math.inf
        self._cover_end = -math.inf
        self._cover_code = SITTING
        self._move_run = 0
        self._bent_drop_m: float | None = None  # how far an upright wearer bent down, m
        self._pending: list[tuple[int, Transition]] = []
        self._minute: int | None = None
        self._walk_sum = [0.0, 0.0, 0.0]
        self._walk_count = 0

    @property
    def posture(self) -> Posture:
        """The posture after the last labelled window."""
        return self._posture

    def set_mount(self, to_body: FloatArray, *, forward_known: bool) -> None:
        """Use a new mount for windows labelled from now on (after a calibration).

        The upright reference and the walking sums, held in the old body frame, are turned
        into the new one.
        """
        turn = np.asarray(to_body).T @ np.asarray(self._to_body)  # old body -> new body
        upright = turn @ np.array(self._upright)
        self._upright = (float(upright[0]), float(upright[1]), float(upright[2]))
        self._walk_sum = [float(v) for v in turn @ np.array(self._walk_sum)]
        self._to_body = to_body
        self._forward_known = forward_known

    def add_transitions(self, transitions: Iterable[Transition]) -> None:
        """Queue transitions (in the order they were confirmed)."""
        for tr in transitions:
            effective = max(
                math.ceil(_cover_start(tr, self._th)),
                math.ceil(tr.known_s - 1.0 - self._lookahead_s),
            )
            self._pending.append((effective, tr))

    def _body(self, v: FloatArray | None) -> tuple[float, float, float] | None:
        if v is None:
            return None
        b = v @ self._to_body
        return (float(b[0]), float(b[1]), float(b[2]))

    def _apply(self, tr: Transition) -> None:
        post = self._body(tr.post_s)
        pre = self._body(tr.pre_s)
        assert post is not None
        new = judge_transition(
            self._placement,
            forward_known=self._forward_known,
            posture=self._posture,
            pre_b=pre,
            post_b=post,
            motion=tr.motion,
            upright_b=self._upright,
            thresholds=self._th,
            tail_rise=tr.tail_rise_m,
        )
        if (
            not self._ref_learned
            and new is not Posture.SEATED
            and _angle_deg(post, (0.0, 0.0, 1.0)) < 45.0
        ):
            # The first rest that looks upright (and does not follow sitting down) becomes
            # the upright reference.
            self._upright = post
            self._ref_learned = True
        post_lying = _angle_deg(post, self._upright) > self._lying_deg
        pre_lying = pre is not None and _angle_deg(pre, self._upright) > self._lying_deg
        rise = None if tr.motion is None else tr.motion.rise_m
        if (
            pre_lying
            and new is Posture.SEATED
            and self._bent_drop_m is not None
            and rise is not None
            and abs(rise - self._bent_drop_m) <= self._th.drop_m
        ):
            # Coming back up from a deep forward bend (a stoop lift held at the bottom),
            # not getting up from lying: back to the height the wearer bent down from.
            new = Posture.UPRIGHT
        self._bent_drop_m = (
            -rise
            if post_lying
            and self._posture is Posture.UPRIGHT
            and self._forward_known
            and rise is not None
            and -self._th.max_drop_m <= rise <= -self._th.drop_m
            and _pitch_deg(post) - _pitch_deg(self._upright) > self._lying_deg
            else None
        )
        # A movement judged whole is covered from its start; one judged by its tail only
        # (walking straight into a chair) from the start of the tail.
        self._cover_start = _cover_start(tr, self._th)
        if post_lying or pre_lying:
            # Lying down and getting up count as lying until the movement ends.
            self._cover_end = tr.end_s
            self._cover_code = LYING
        if post_lying:
            self._posture = Posture.UNKNOWN
        if new is None:
            return
        if not (post_lying or pre_lying) and (
            new is Posture.SEATED or self._posture is Posture.SEATED
        ):
            # Sitting down and standing up both count as sitting until the movement ends.
            self._cover_end = tr.end_s
            self._cover_code = SITTING
        self._posture = new
        self._move_run = 0

    def label(self, first: int, body: BodyWindows, thigh: ThighWindows | None = None) -> CodeArray:
        """Activity codes of windows ``first .. first + len - 1``.

        The windows go in spans that end where the state can change from outside: at each
        minute (the upright reference may follow walking) and where the next pending
        transition applies. With a thigh sensor and at least ``_SHORT`` windows, a span whose
        every body window is either lying or has the thigh's verdict is labelled with array
        operations; any other span (the body sensor alone decides a window) goes second by
        second. Both give the same labels and state.
        """
        count = body.known.shape[0]
        arrays = _LabelArrays.of(body, thigh, self._th)
        # Without the body sensor a window takes the thigh's code (or none), changing no state.
        codes = np.where(body.known, np.int8(UNKNOWN), arrays.t_codes).astype(np.int8)
        # Array operations pay off with the thigh's verdicts over more than a few windows.
        by_arrays = thigh is not None and count >= _SHORT
        lists: _LabelInputs | None = None
        i = 0
        while i < count:
            c = first + i
            while self._pending and self._pending[0][0] <= c:
                self._apply(self._pending.pop(0)[1])
            minute = c // 60
            if minute != self._minute:
                self._new_minute(minute)
            end = min(count, (minute + 1) * 60 - first)
            if self._pending:
                end = min(end, self._pending[0][0] - first)
            span = slice(i, end)
            if not (by_arrays and self._label_span(first, span, arrays, codes)):
                if lists is None:
                    lists = _LabelInputs.of(body, arrays)
                self._label_seconds(first, span, lists, codes)
            i = end
        return codes

    def _label_span(self, first: int, span: slice, x: _LabelArrays, codes: CodeArray) -> bool:
        """Label a span with array operations; False (nothing done) if one needs the loop."""
        known = x.known[span]
        if not bool(known.any()):
            return True
        v = x.mean_b[span]
        u = self._upright
        with np.errstate(invalid="ignore", divide="ignore"):
            # The same operations, in the same order, as _angle_deg.
            dot = v[:, 0] * u[0] + v[:, 1] * u[1] + v[:, 2] * u[2]
            na = np.sqrt(v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + v[:, 2] * v[:, 2])
            nb = math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
            incl = np.degrees(np.arccos(np.clip(dot / (na * nb), -1.0, 1.0)))
        # Acti4 looks for lying only where the thigh is not upright (see _label_seconds).
        lying = known & (incl > self._lying_deg) & (na != 0.0) & (nb != 0.0) & ~x.stooping[span]
        thighs = known & ~lying & x.t_known[span]
        if bool(np.any(known & ~lying & ~thighs)):
            return False
        part = codes[span]
        part[lying] = LYING
        part[thighs] = x.t_codes[span][thighs]
        seconds = np.arange(first + span.start, first + span.stop)
        # The posture follows the last window that sets it.
        sets = thighs | (lying & (seconds > self._cover_end))
        setters = np.flatnonzero(sets)
        if setters.shape[0]:
            last = int(setters[-1])
            if lying[last]:
                self._posture = Posture.UNKNOWN
            else:
                self._posture = Posture.SEATED if part[last] == SITTING else Posture.UPRIGHT
        if bool(lying.any()):
            self._move_run = 0
        walked = v[thighs & (part == WALKING)]
        if walked.shape[0]:
            for axis in range(3):  # cumulative sums add left to right, as _walked does
                column = np.concatenate(([self._walk_sum[axis]], walked[:, axis]))
                self._walk_sum[axis] = float(np.cumsum(column)[-1])
            self._walk_count += int(walked.shape[0])
        return True

    def _label_seconds(self, first: int, span: slice, x: _LabelInputs, codes: CodeArray) -> None:
        """Label a span second by second (the body sensor decides some of its windows)."""
        th = self._th
        still_sd = th.still_sd_g
        run_sd = th.run_sd_g
        for i in range(span.start, span.stop):
            c = first + i
            if not x.known[i]:
                continue  # labelled from the thigh already
            v = x.mean[i]
            incl = _angle_deg(v, self._upright)
            # Acti4 looks for lying only where the thigh is not upright: with the thigh
            # upright, a trunk beyond the lying angle is a stoop.
            if incl > self._lying_deg and not x.stooping[i]:
                codes[i] = LYING
                if c > self._cover_end:  # not the end of a transition out of lying
                    self._posture = Posture.UNKNOWN
                self._move_run = 0
                continue
            if x.t_known[i]:
                code = x.t_codes[i]
                codes[i] = code
                self._posture = Posture.SEATED if code == SITTING else Posture.UPRIGHT
                if code == WALKING:
                    self._walked(v)
                continue
            if self._cover_start <= c <= self._cover_end:
                codes[i] = self._cover_code
                continue
            if x.sd_max[i] >= still_sd:
                self._move_run += 1
                if self._posture is Posture.SEATED and self._move_run < self._sustained:
                    codes[i] = SITTING
                    continue
                self._posture = Posture.UPRIGHT
                if x.sd_vert[i] > run_sd:
                    codes[i] = RUNNING
                else:
                    codes[i] = WALKING
                    self._walked(v)
                continue
            self._move_run = 0
            if self._posture is Posture.SEATED:
                codes[i] = SITTING
            elif self._posture is Posture.UPRIGHT:
                codes[i] = STANDING
            elif self._seated_tilt(v):
                codes[i] = SITTING
                self._posture = Posture.SEATED

    def _seated_tilt(self, v: Sequence[float]) -> bool:
        """Whether a still posture is tilted back enough to be seated (posture unknown)."""
        if not self._forward_known:
            return False
        return _pitch_deg(v) - _pitch_deg(self._upright) <= -self._th.seated_tilt_deg

    def _walked(self, v: Sequence[float]) -> None:
        self._walk_sum[0] += v[0]
        self._walk_sum[1] += v[1]
        self._walk_sum[2] += v[2]
        self._walk_count += 1

    def _new_minute(self, minute: int) -> None:
        """At each minute: enough walking in the last one updates the upright reference."""
        if self._minute is not None and self._walk_count >= self._th.reference_walk_s:
            s = self._walk_sum
            norm = math.sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2])
            if norm > 0.0:
                self._upright = (s[0] / norm, s[1] / norm, s[2] / norm)
                self._ref_learned = True
        self._minute = minute
        self._walk_sum = [0.0, 0.0, 0.0]
        self._walk_count = 0


class BoutFilter:
    """Minimum bout lengths, on line, with a bounded look-ahead.

    A run of a new activity replaces the current activity only if it lasts at least that
    activity's minimum (in windows); a shorter run is absorbed into the current activity.
    The first activity of the stream is taken as it comes. Decisions wait at most
    ``max(minimum) - 1`` windows. Feeding labels in any grouping gives the same output.
    """

    __slots__ = ("_current", "_minimum", "_pending")

    def __init__(self, minimum_windows: Mapping[int, int]) -> None:
        """``minimum_windows``: activity code -> minimum run length in windows."""
        self._minimum = dict(minimum_windows)
        self._current: int | None = None
        self._pending: list[list[int]] = []  # runs [code, length] not decided yet

    @property
    def lookahead(self) -> int:
        """Largest number of windows a decision may wait for."""
        return max([1, *self._minimum.values()]) - 1

    @property
    def pending_windows(self) -> int:
        """Windows pushed but not decided yet."""
        return sum(r[1] for r in self._pending)

    def push(self, codes: CodeArray) -> list[tuple[int, int]]:
        """Add labels; return decided runs ``(code, length)`` in order."""
        for code, length in run_lengths(codes):
            if self._pending and self._pending[-1][0] == code:
                self._pending[-1][1] += length
            else:
                self._pending.append([code, length])
        return self._decide(final=False)

    def flush(self) -> list[tuple[int, int]]:
        """Decide everything left (end of input)."""
        return self._decide(final=True)

    def _decide(self, final: bool) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pending = self._pending
        while pending:
            code, length = pending[0]
            if self._current is None or code == self._current:
                self._current = code
                _emit(out, code, length)
                pending.pop(0)
                continue
            if length >= self._minimum.get(code, 1):
                self._current = code
                _emit(out, code, length)
                pending.pop(0)
                continue
            if len(pending) > 1 or final:
                _emit(out, self._current, length)  # too short: absorbed
                pending.pop(0)
                continue
            break
        return out


def _emit(out: list[tuple[int, int]], code: int, length: int) -> None:
    if out and out[-1][0] == code:
        out[-1] = (code, out[-1][1] + length)
    else:
        out.append((code, length))


def run_lengths(codes: npt.NDArray[np.integer]) -> list[tuple[int, int]]:
    """Run-length encoding of a label array: ``[(code, length), ...]`` (vectorised)."""
    if codes.shape[0] < _SHORT:
        runs: list[tuple[int, int]] = []
        for code in codes.tolist():
            if runs and runs[-1][0] == code:
                runs[-1] = (code, runs[-1][1] + 1)
            else:
                runs.append((code, 1))
        return runs
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [codes.shape[0]])))
    return list(zip(codes[starts].tolist(), lengths.tolist(), strict=True))


def segments_from_runs(
    first: int, runs: Sequence[tuple[int, int]], start_s: float | None = None
) -> list[Segment]:
    """Segments from decided runs of one-second slots starting at window ``first``.

    Window ``c`` stands for the slot ``[c - 0.5, c + 0.5)``.
    """
    segments: list[Segment] = []
    c = first
    for code, length in runs:
        seg = Segment(ACTIVITIES[code], c - 0.5, c + length - 0.5)
        if segments and segments[-1].activity is seg.activity:
            segments[-1] = Segment(seg.activity, segments[-1].start_s, seg.end_s)
        else:
            segments.append(seg)
        c += length
    if start_s is not None and segments:
        segments[0] = Segment(
            segments[0].activity, max(start_s, segments[0].start_s), segments[0].end_s
        )
    return segments
