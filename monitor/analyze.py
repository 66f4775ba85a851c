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
from collections.abc import Mapping
from dataclasses import dataclass

from alerts.events import EventType, Observation
from devices.recording import Recording
from devices.samples import SampleBlock
from monitor.activity import Segment
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.sitting import SittingBout

#: Seconds of every recording fed per step. With several sensors the steps stay well under
#: the evaluator's stall time so that none is ever taken for stalled; one sensor can be fed
#: in long steps (any step gives the same result; long ones cost less).
SEVERAL_SENSORS_BLOCK_S = 1.0
ONE_SENSOR_BLOCK_S = 60.0
#: Sample time between evaluation passes (any value gives the same result; long ones cost
#: less: each pass has a fixed cost of some numpy calls).
EVALUATE_EVERY_S = 600.0
_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What the evaluation found in one wearer's recordings."""

    duration_s: float
    segments: tuple[Segment, ...]
    sitting_bouts: tuple[SittingBout, ...]
    observations: tuple[Observation, ...]
    limit_s: float

    @property
    def prolonged_bouts(self) -> tuple[SittingBout, ...]:
        """Sitting bouts that reached the limit."""
        return tuple(b for b in self.sitting_bouts if b.duration_s >= self.limit_s)

    def to_json_dict(self, file: str) -> dict[str, object]:
        """The ``backwatch analyze`` output object for ``file`` (one JSON Lines record).

        ``{"file", "duration_s", "segments": [{"activity", "start_s", "end_s"}], "events":
        [{"type": "sitting_bout", "start_s", "end_s", "duration_s", "limit_s", "nudge_s",
        "nudges"}]}``: one event per sitting bout of at least the limit, ``nudge_s`` being
        when the first nudge would have fired and ``nudges`` how many would have.
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
        return {
            "file": file,
            "duration_s": _r(self.duration_s),
            "segments": [
                {"activity": str(s.activity), "start_s": _r(s.start_s), "end_s": _r(s.end_s)}
                for s in self.segments
            ],
            "events": events,
        }


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

    ``block_s``: seconds fed per step (default: see ``ONE_SENSOR_BLOCK_S`` and
    ``SEVERAL_SENSORS_BLOCK_S``).
    """
    th = thresholds if thresholds is not None else EvaluationThresholds()
    if not sensors:
        raise ValueError("no recordings to analyze")
    if block_s is None:
        block_s = ONE_SENSOR_BLOCK_S if len(sensors) == 1 else SEVERAL_SENSORS_BLOCK_S
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    evaluator = WearerEvaluator(wearer, list(sensors), th, evaluate_every_s=EVALUATE_EVERY_S)
    start_s = min(float(r.t_s[0]) for r in sensors.values())
    end_s = max(float(r.t_s[-1]) + 1.0 / r.rate_hz for r in sensors.values())
    observations: list[Observation] = []
    cursors = dict.fromkeys(sensors, 0)
    steps = math.ceil((end_s - start_s) / block_s) + 1
    for step in range(1, steps + 1):
        until = start_s + step * block_s
        for setup, rec in sensors.items():
            a = cursors[setup]
            b = int(rec.t_s.searchsorted(until, side="left"))
            if b > a:
                block = SampleBlock(
                    setup.sensor_id,
                    rec.t_s[a:b],
                    rec.acc_g[a:b],
                    None if rec.gyro_dps is None else rec.gyro_dps[a:b],
                )
                observations.extend(evaluator.feed(block))
                cursors[setup] = b
    observations.extend(evaluator.finish())
    return AnalysisResult(
        duration_s=end_s - start_s,
        segments=tuple(evaluator.segments),
        sitting_bouts=tuple(evaluator.sitting_bouts),
        observations=tuple(observations),
        limit_s=th.sitting_limit_s,
    )
