"""Offline analysis of recordings: the daemon's evaluator run over whole files.

:func:`analyze_sensors` feeds a :class:`~monitor.evaluation.WearerEvaluator` with the
recordings cut into blocks in time order, exactly as the daemon feeds it live, so a file
gives the same segments and observations as the same samples streamed (the evaluator's
result does not depend on how samples are cut into blocks; the tests check it).

Times are the recordings' own seconds. Without a declared mount the evaluator takes the
sensor's up direction from the first rest in the data (the wearer still, any posture that
is within reach of upright; usually the wearer standing while putting the sensor on) and
leaves the forward direction unknown, which weakens sitting detection from the trunk or
waist alone; declare ``--mount`` where it is known.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from alerts.events import EventType, Observation
from devices.recording import Recording, RecordingChunk
from devices.samples import FloatArray, SampleBlock
from monitor.activity import Activity, Segment
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.posture import PostureExposure, PostureHold
from monitor.sitting import SittingBout
from monitor.sleep import POSITIONS, LyingSpell

#: Seconds of every recording fed per step (any step gives the same result; long ones cost
#: less: each step is a few Python calls per sensor). With several sensors every recording
#: is fed up to the step's end before the evaluator is let evaluate, so none lags another
#: and none is taken for stalled however long the step.
BLOCK_S = 180.0
#: Sample time between evaluation passes (any value gives the same result; long ones cost
#: less: each pass has a fixed cost of some numpy calls).
EVALUATE_EVERY_S = 1800.0
#: Seconds of samples each sensor's ring holds (any value gives the same result; long ones
#: are summed in fewer, larger steps).
RING_S = 360.0
_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What the evaluation found in one wearer's recordings.

    Besides segments, sitting bouts and observations: the slouches and side bends that went
    past their limits (``posture_holds``), the lying spells long enough for a summary
    (``lying_spells``), the steps counted in seconds decided walking or running and those
    seconds (``steps``, ``moving_s``), and the trunk posture seconds (``exposure``).
    """

    duration_s: float
    segments: tuple[Segment, ...]
    sitting_bouts: tuple[SittingBout, ...]
    observations: tuple[Observation, ...]
    limit_s: float
    posture_holds: tuple[PostureHold, ...] = ()
    lying_spells: tuple[LyingSpell, ...] = ()
    steps: int = 0
    moving_s: float = 0.0
    exposure: PostureExposure = field(default_factory=PostureExposure)

    @property
    def prolonged_bouts(self) -> tuple[SittingBout, ...]:
        """Sitting bouts that reached the limit."""
        return tuple(b for b in self.sitting_bouts if b.duration_s >= self.limit_s)

    def to_json_dict(self, file: str) -> dict[str, object]:
        """The ``backwatch analyze`` output object for ``file`` (one JSON Lines record).

        ``{"file", "duration_s", "segments": [{"activity", "start_s", "end_s"}], "events":
        [...], "summary": {...}}``. Events, in order of their start, each
        ``{"type", "start_s", "end_s", ...numbers}``:

        - ``sitting_bout``: a bout of at least the limit, with ``duration_s``, ``limit_s``,
          ``nudge_s`` (when the first nudge would have fired) and ``nudges`` (how many);
        - ``slouch``: sitting bent forward past the holding-time limit: the whole hold, its
          mean ``flexion_deg``, the ``limit_s`` it was judged against and ``nudge_s``;
        - ``side_bend``: the same for a sideways bend (``lateral_deg``, positive: right);
        - ``sleep_position``: a long spell lying down, with ``lying_s``, seconds in each
          position (``supine_s``, ``prone_s``, ``left_s``, ``right_s``, ``unknown_s``)
          and ``position_changes``;
        - ``lift``: one bend-and-return movement, with ``technique`` (``squat``, ``stoop`` or
          ``mixed``), ``peak_flexion_deg`` and the other numbers of the lift (angles in
          degrees, velocities in degrees/s, drops in m, ``duration_s``; with a declared load
          ``lifting_index`` and ``rwl_kg``) and ``risks`` (a list: ``stoop``,
          ``deep_flexion``, ``lateral_bend``, ``twist``, ``fast_extension``);
        - ``fall``: from the impact (``start_s``) to when it was decided (``end_s``), with
          ``peak_acc_g``, ``orientation_change_deg``, ``post_inclination_deg``, ``hard`` and
          ``stayed_down`` (booleans), ``down_s`` and ``peak_rate_dps`` (with a gyroscope).

        ``summary``: ``steps``, ``walking_s``, ``running_s``, ``cadence_spm`` (steps per
        minute walking or running, null without), ``sitting_s``, ``lying_s``, and the trunk
        posture: ``trunk_measured_s``, ``flexion_neutral_s`` (up to 20 deg),
        ``flexion_moderate_s`` (20-60 deg), ``flexion_awkward_s`` (beyond 60 deg),
        ``flexion_over_60_share``, ``rotation_measured_s``, ``rotation_over_30_s`` and
        ``rotation_over_30_share`` (null where not measured).
        """
        events: list[dict[str, object]] = []
        for bout in self.prolonged_bouts:
            fired = [
                o.end_s
                for o in self.observations
                if o.type is EventType.SITTING_BOUT and o.start_s == bout.start_s
            ]
            nudge_s = min(fired) if fired else bout.start_s + self.limit_s
            events.append(
                {
                    "type": str(EventType.SITTING_BOUT),
                    "start_s": _r(bout.start_s),
                    "end_s": _r(bout.end_s),
                    "duration_s": _r(bout.duration_s),
                    "limit_s": _r(self.limit_s),
                    "nudge_s": _r(nudge_s),
                    "nudges": bout.nudges,
                }
            )
        for hold in self.posture_holds:
            angle = "flexion_deg" if hold.type is EventType.SLOUCH else "lateral_deg"
            events.append(
                {
                    "type": str(hold.type),
                    "start_s": _r(hold.start_s),
                    "end_s": _r(hold.end_s),
                    "duration_s": _r(hold.duration_s),
                    angle: round(hold.angle_deg, 1),
                    "limit_s": _r(hold.limit_s),
                    "nudge_s": _r(hold.nudge_s),
                }
            )
        for spell in self.lying_spells:
            event: dict[str, object] = {
                "type": str(EventType.SLEEP_POSITION),
                "start_s": _r(spell.start_s),
                "end_s": _r(spell.end_s),
                "lying_s": _r(spell.lying_s),
            }
            event.update({f"{p.value}_s": _r(spell.seconds(p)) for p in POSITIONS})
            event["position_changes"] = spell.position_changes
            events.append(event)
        for obs in self.observations:
            if obs.type is EventType.LIFT:
                events.append(_lift_event(obs))
            elif obs.type is EventType.FALL:
                events.append(_fall_event(obs))
        events.sort(key=_start_of)
        return {
            "file": file,
            "duration_s": _r(self.duration_s),
            "segments": [
                {"activity": str(s.activity), "start_s": _r(s.start_s), "end_s": _r(s.end_s)}
                for s in self.segments
            ],
            "events": events,
            "summary": self.summary(),
        }

    def activity_s(self, activity: Activity) -> float:
        """Seconds of the segments of one activity."""
        return sum(s.duration_s for s in self.segments if s.activity is activity)

    def summary(self) -> dict[str, object]:
        """The record's ``summary`` object (see :meth:`to_json_dict`)."""
        e = self.exposure
        cadence = 60.0 * self.steps / self.moving_s if self.moving_s > 0 else None
        sitting_s = self.activity_s(Activity.SITTING)
        # A break is the end of a sitting bout (at least sitting_break_s upright), counted
        # per hour of sitting, as sedentary-break studies do.
        data_end_s = self.segments[-1].end_s if self.segments else 0.0
        breaks = sum(1 for b in self.sitting_bouts if b.end_s < data_end_s - 1.0)
        return {
            "steps": self.steps,
            "walking_s": _r(self.activity_s(Activity.WALKING)),
            "running_s": _r(self.activity_s(Activity.RUNNING)),
            "cadence_spm": None if cadence is None else round(cadence, 1),
            "sitting_s": _r(sitting_s),
            "sitting_bouts": len(self.sitting_bouts),
            "sitting_breaks_per_hour": (
                round(breaks / (sitting_s / 3600.0), 2) if sitting_s > 0 else None
            ),
            "lying_s": _r(self.activity_s(Activity.LYING)),
            "trunk_measured_s": _r(e.measured_s),
            "flexion_neutral_s": _r(e.neutral_s),
            "flexion_moderate_s": _r(e.moderate_s),
            "flexion_awkward_s": _r(e.awkward_s),
            "flexion_over_60_share": _share(e.awkward_share),
            "rotation_measured_s": _r(e.rotation_measured_s),
            "rotation_over_30_s": _r(e.rotation_over_s),
            "rotation_over_30_share": _share(e.rotation_share),
        }


def _lift_event(obs: Observation) -> dict[str, object]:
    """A ``lift`` event of the analyze output from a lift observation."""
    event: dict[str, object] = {
        "type": str(EventType.LIFT),
        "start_s": _r(obs.start_s),
        "end_s": _r(obs.end_s),
        "technique": obs.labels.get("technique", "mixed"),
    }
    for key, value in obs.evidence.items():
        if not key.startswith("risk_") and math.isfinite(value):
            event[key] = round(float(value), _DECIMALS)
    event["risks"] = [r for r in obs.labels.get("risks", "").split(",") if r]
    return event


def _fall_event(obs: Observation) -> dict[str, object]:
    """A ``fall`` event of the analyze output from a fall observation."""
    event: dict[str, object] = {
        "type": str(EventType.FALL),
        "start_s": _r(obs.start_s),
        "end_s": _r(obs.end_s),
    }
    for key, value in obs.evidence.items():
        if key in ("hard", "stayed_down"):
            event[key] = value > 0.0
        elif math.isfinite(value):
            event[key] = round(float(value), _DECIMALS)
    return event


def _start_of(event: dict[str, object]) -> float:
    start = event["start_s"]
    assert isinstance(start, float)
    return start


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _r(value: float) -> float:
    return round(value, _DECIMALS)


def analyze_sensors(
    sensors: Mapping[SensorSetup, Recording],
    thresholds: EvaluationThresholds | None = None,
    *,
    wearer: str = "wearer",
    block_s: float | None = None,
) -> AnalysisResult:
    """Evaluate one wearer's recordings (one per sensor, on a shared time base).

    ``block_s``: seconds fed per step (default ``BLOCK_S``).
    """
    streams = {
        setup: [RecordingChunk(2, rec.t_s, rec.acc_g, rec.gyro_dps)]
        for setup, rec in sensors.items()
    }
    return analyze_streams(streams, thresholds, wearer=wearer, block_s=block_s)


def analyze_streams(
    sensors: Mapping[SensorSetup, Iterable[RecordingChunk]],
    thresholds: EvaluationThresholds | None = None,
    *,
    wearer: str = "wearer",
    block_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> AnalysisResult:
    """Evaluate one wearer's recordings read chunk by chunk (``devices.recording.iter_recording``).

    Holds only the chunks being fed, so a day-long file costs little memory; the result is
    the one :func:`analyze_sensors` gives for the whole recordings. ``progress`` is called
    with the sample seconds analysed so far, once per hour of them.
    """
    th = thresholds if thresholds is not None else EvaluationThresholds()
    if not sensors:
        raise ValueError("no recordings to analyze")
    if block_s is None:
        block_s = BLOCK_S
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    feeds = [_Feed(setup, iter(chunks)) for setup, chunks in sensors.items()]
    evaluator = WearerEvaluator(
        wearer, list(sensors), th, evaluate_every_s=EVALUATE_EVERY_S, ring_s=RING_S
    )
    start_s = min(feed.first_s for feed in feeds)
    observations: list[Observation] = []
    step = 0
    reported_h = 0
    while not all(feed.done for feed in feeds):
        step += 1
        until = start_s + step * block_s
        for feed in feeds:
            block = feed.take_until(until)
            if block is not None:
                observations.extend(evaluator.feed(block, evaluate=False))
        observations.extend(evaluator.evaluate_due())
        if progress is not None and (until - start_s) // 3600 > reported_h:
            reported_h = int((until - start_s) // 3600)
            progress(until - start_s)
    observations.extend(evaluator.finish())
    end_s = max(feed.end_s for feed in feeds)
    return AnalysisResult(
        duration_s=end_s - start_s,
        segments=tuple(evaluator.segments),
        sitting_bouts=tuple(evaluator.sitting_bouts),
        observations=tuple(observations),
        limit_s=th.sitting_limit_s,
        posture_holds=tuple(evaluator.posture_holds),
        lying_spells=tuple(evaluator.lying_spells),
        steps=evaluator.steps,
        moving_s=float(evaluator.moving_s),
        exposure=evaluator.exposure,
    )


class _Feed:
    """One sensor's chunks, handed out as blocks up to a time; tracks first, last and count."""

    __slots__ = ("_chunk", "_chunks", "_cursor", "count", "done", "first_s", "last_s", "setup")

    def __init__(self, setup: SensorSetup, chunks: Iterator[RecordingChunk]) -> None:
        self.setup = setup
        self._chunks = chunks
        self._chunk: RecordingChunk | None = None
        self._cursor = 0
        self.count = 0
        self.done = False
        self.first_s = math.nan
        self.last_s = math.nan
        self._pull()
        if self._chunk is None:
            raise ValueError(f"no samples for sensor {setup.sensor_id!r}")
        self.first_s = float(self._chunk.t_s[0])

    def _pull(self) -> None:
        self._chunk = None
        self._cursor = 0
        for chunk in self._chunks:
            if len(chunk):
                self._chunk = chunk
                self.count += len(chunk)
                self.last_s = float(chunk.t_s[-1])
                return
        self.done = True

    @property
    def end_s(self) -> float:
        """One sample interval after the last sample (the mean rate's interval)."""
        if self.count < 2:
            return self.last_s
        return self.last_s + (self.last_s - self.first_s) / (self.count - 1)

    def take_until(self, until_s: float) -> SampleBlock | None:
        """The samples before ``until_s`` not handed out yet, as one block (None if none)."""
        times: list[FloatArray] = []
        accs: list[FloatArray] = []
        gyros: list[FloatArray] = []
        while self._chunk is not None:
            chunk = self._chunk
            a = self._cursor
            b = int(chunk.t_s.searchsorted(until_s, side="left"))
            if b > a:
                times.append(chunk.t_s[a:b])
                accs.append(chunk.acc_g[a:b])
                if chunk.gyro_dps is not None:
                    gyros.append(chunk.gyro_dps[a:b])
            if b < len(chunk):
                self._cursor = b
                break
            self._pull()
        if not times:
            return None
        gyro = None
        if gyros:
            gyro = gyros[0] if len(gyros) == 1 else np.concatenate(gyros)
        return SampleBlock(
            self.setup.sensor_id,
            times[0] if len(times) == 1 else np.concatenate(times),
            accs[0] if len(accs) == 1 else np.concatenate(accs),
            gyro,
        )
