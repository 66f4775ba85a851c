"""Lying position and lying spells: positions from known rotations, spells, summaries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from alerts.events import EventType, Observation
from devices.mount import Mount
from devices.samples import Placement
from devices.scenario import Activity, LyingPosition, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.activity import LYING, SITTING, STANDING, UNKNOWN
from monitor.analyze import analyze_sensors
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.sleep import (
    LEFT,
    POSITION_UNKNOWN,
    PRONE,
    RIGHT,
    SUPINE,
    SleepPosition,
    SleepTracker,
    sleep_positions,
)

MOUNT = Mount.parse("+x,-z")


def test_positions_from_gravity_in_the_body_frame() -> None:
    # Lying on the back the chest faces up: gravity (specific force) reads along +x.
    rows = np.array(
        [
            [1.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],  # the left side faces up: lying on the right side
            [0.0, -1.0, 0.0],
            [0.9, 0.3, 0.3],  # on the back, turned a little toward the right
            [0.5, -0.7, 0.2],  # mostly on the left side
            [0.0, 0.0, 1.0],  # upright: no position
            [np.nan, 0.0, 0.0],
        ]
    )
    expected = [SUPINE, PRONE, RIGHT, LEFT, SUPINE, LEFT, POSITION_UNKNOWN, POSITION_UNKNOWN]
    assert sleep_positions(rows).tolist() == expected


@pytest.mark.parametrize("placement", [Placement.TRUNK, Placement.WAIST])
def test_every_simulated_position_is_recognised(placement: Placement) -> None:
    steps = [
        ScenarioStep(Activity.STANDING, 20.0),
        *(ScenarioStep(Activity.LYING, 60.0, lying_position=p) for p in LyingPosition),
        ScenarioStep(Activity.STANDING, 20.0),
    ]
    rec = SimulatedSensor(Scenario("night", tuple(steps)), placement, "s", mount=MOUNT).recording()
    th = EvaluationThresholds(
        sleep_min_lying_s=120.0, sleep_break_s=10.0, sleep_position_min_s=30.0
    )
    result = analyze_sensors({SensorSetup("s", placement, MOUNT): rec}, th)
    (spell,) = result.lying_spells
    for side in (SleepPosition.SUPINE, SleepPosition.PRONE, SleepPosition.LEFT):
        assert spell.seconds(side) == pytest.approx(60.0, abs=4.0), side
    assert spell.seconds(SleepPosition.RIGHT) == pytest.approx(60.0, abs=6.0)
    assert spell.lying_s == pytest.approx(240.0, abs=8.0)
    assert spell.start_s == pytest.approx(20.0, abs=3.0)
    assert spell.end_s == pytest.approx(260.0, abs=4.0)
    assert spell.position_changes == 3
    (obs,) = [o for o in result.observations if o.type is EventType.SLEEP_POSITION]
    assert obs.start_s == spell.start_s
    assert obs.end_s == spell.end_s
    assert obs.evidence["supine_s"] == spell.seconds(SleepPosition.SUPINE)
    assert obs.evidence["position_changes"] == 3.0


def _push(
    tracker: SleepTracker,
    codes: np.ndarray,
    positions: np.ndarray,
    cuts: list[int] | None = None,
    first: int = 500,
) -> list[tuple[float, Observation]]:
    out: list[tuple[float, Observation]] = []
    edges = [0, *(cuts or []), codes.shape[0]]
    for a, b in itertools.pairwise(edges):
        out += tracker.push(first + a, codes[a:b], positions[a:b])
    return out


def _night() -> tuple[np.ndarray, np.ndarray]:
    """400 s up, 3600 s lying (back, 2 min up in the middle, left side), 900 s up."""
    codes = np.array(
        [STANDING] * 400 + [LYING] * 1800 + [SITTING] * 120 + [LYING] * 1800 + [STANDING] * 900,
        dtype=np.int8,
    )
    positions = np.full(codes.shape[0], POSITION_UNKNOWN, dtype=np.int8)
    positions[400:2200] = SUPINE
    positions[2320:4120] = LEFT
    return codes, positions


def test_a_night_with_a_short_break_is_one_spell_summarised_after_the_break() -> None:
    codes, positions = _night()
    tracker = SleepTracker("ann", min_lying_s=3600.0, break_s=600.0)
    out = _push(tracker, codes, positions)
    ((known_s, obs),) = out
    assert obs.type is EventType.SLEEP_POSITION
    assert obs.start_s == 500 + 400 - 0.5
    assert obs.end_s == 500 + 4120 - 0.5
    assert known_s == obs.end_s + 600.0  # ten minutes up
    assert obs.evidence["lying_s"] == 3600.0
    assert obs.evidence["supine_s"] == 1800.0
    assert obs.evidence["left_s"] == 1800.0
    assert obs.evidence["position_changes"] == 1.0
    assert tracker.current is None
    assert [s.main_position for s in tracker.spells] == [SleepPosition.SUPINE]


def test_spells_too_short_or_unfinished() -> None:
    codes, positions = _night()
    short = SleepTracker("ann", min_lying_s=4000.0, break_s=600.0)
    assert _push(short, codes, positions) == []
    assert short.spells == []
    # Still lying at the end of the data: the summary comes with finish().
    tracker = SleepTracker("ann", min_lying_s=3600.0, break_s=600.0)
    assert _push(tracker, codes[:4120], positions[:4120]) == []
    assert tracker.latest_position is SleepPosition.LEFT
    ((known_s, obs),) = tracker.finish(500 + 4120 - 0.5)
    assert obs.evidence["lying_s"] == 3600.0
    assert known_s == obs.end_s


def test_a_long_break_splits_the_night() -> None:
    codes, positions = _night()
    tracker = SleepTracker("ann", min_lying_s=1000.0, break_s=100.0)
    out = _push(tracker, codes, positions)
    assert len(out) == 2
    assert [o.evidence["lying_s"] for _, o in out] == [1800.0, 1800.0]
    assert out[0][0] == out[0][1].end_s + 100.0


def test_cutting_the_windows_anywhere_gives_the_same_spells() -> None:
    codes, positions = _night()
    codes = codes.copy()
    codes[1000:1003] = UNKNOWN  # a short gap in the data
    rng = np.random.default_rng(5)
    whole = _push(SleepTracker("ann", 3000.0, 600.0, 30.0), codes, positions)
    assert len(whole) == 1
    for _ in range(4):
        cuts = sorted(int(c) for c in rng.choice(np.arange(1, codes.shape[0]), 30, replace=False))
        assert _push(SleepTracker("ann", 3000.0, 600.0, 30.0), codes, positions, cuts) == whole


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        SleepTracker("ann", min_lying_s=0.0)


def test_the_status_names_the_position_while_lying() -> None:
    scenario = Scenario(
        "nap",
        (
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(Activity.LYING, 60.0, lying_position=LyingPosition.RIGHT),
        ),
    )
    sensor = SimulatedSensor(scenario, Placement.TRUNK, "s", mount=MOUNT)
    ev = WearerEvaluator("ann", [SensorSetup("s", Placement.TRUNK, MOUNT)])
    for block in sensor.blocks():
        ev.feed(block)
    status = ev.status()
    assert status.activity == "lying"
    assert status.lying_position == "right"
    assert status.trunk_flexion_deg is not None
