"""Lifts, falls and bend pace through the evaluator: streamed equals offline, status, load."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.catalogue import default_catalogue
from alerts.events import EventType, Observation
from devices.mount import Mount
from devices.recording import Recording
from devices.samples import Placement, SampleBlock
from devices.scenario import load_scenario
from devices.simulated import SimulatedSensor, motion_truth
from monitor.analyze import analyze_sensors
from monitor.evaluation import SensorSetup, WearerEvaluator
from monitor.niosh import Coupling, LiftTask, frequency_multiplier

SETUP = SensorSetup("chest", Placement.TRUNK, Mount.identity())


def _recording() -> Recording:
    return SimulatedSensor(
        load_scenario("lifts-and-falls"), Placement.TRUNK, "chest", seed=11
    ).recording()


def _run(
    rec: Recording, block: int, every_s: float, task: LiftTask | None = None
) -> tuple[WearerEvaluator, list[Observation]]:
    ev = WearerEvaluator("ann", [SETUP], evaluate_every_s=every_s)
    ev.set_declared_load(task)
    out: list[Observation] = []
    for a in range(0, len(rec.t_s), block):
        gyro = None if rec.gyro_dps is None else rec.gyro_dps[a : a + block]
        out += ev.feed(SampleBlock("chest", rec.t_s[a : a + block], rec.acc_g[a : a + block], gyro))
    out += ev.finish()
    return ev, out


def _motion(
    obs: list[Observation],
) -> list[tuple[str, float, float, dict[str, float], dict[str, str]]]:
    kinds = (EventType.LIFT, EventType.FALL, EventType.BEND_FREQUENCY)
    return sorted(
        (str(o.type), o.start_s, o.end_s, dict(o.evidence), dict(o.labels))
        for o in obs
        if o.type in kinds
    )


def test_lifts_and_falls_streamed_equal_offline_and_match_the_script() -> None:
    rec = _recording()
    offline_ev, offline = _run(rec, len(rec.t_s), 600.0)
    _, streamed = _run(rec, 37, 2.0)
    assert _motion(streamed) == _motion(offline)
    lifts_truth, falls_truth = motion_truth(load_scenario("lifts-and-falls"))
    lifts = [o for o in offline if o.type is EventType.LIFT]
    assert [o.labels["technique"] for o in lifts] == [str(x.technique) for x in lifts_truth]
    assert "stoop" in lifts[1].labels["risks"]
    assert "twist" in lifts[1].labels["risks"]
    assert lifts[0].labels["risks"] == ""
    falls = [o for o in offline if o.type is EventType.FALL]
    assert [round(o.start_s) for o in falls] == [round(x.impact_s) for x in falls_truth]
    status = offline_ev.status()
    assert (status.lifts, status.risky_lifts) == (3, 2)


def test_only_risky_lifts_and_a_fast_pace_are_nudged() -> None:
    _, out = _run(_recording(), 500, 2.0)
    catalogue = default_catalogue()
    lifts = [o for o in out if o.type is EventType.LIFT]
    assert [catalogue.wants_nudge(o) for o in lifts] == [False, True, True]
    message = catalogue.render(lifts[1]).message
    assert "legs nearly straight" in message
    assert "turn with your feet" in message
    pace = [o for o in out if o.type is EventType.BEND_FREQUENCY]
    assert pace
    assert all(o.labels["band"] == "acceptable" for o in pace)
    assert not any(catalogue.wants_nudge(o) for o in pace)
    fast = Observation(
        "ann", EventType.BEND_FREQUENCY, 0.0, 300.0, {"per_min": 12.0}, {"band": "not_acceptable"}
    )
    assert catalogue.wants_nudge(fast)
    assert "12 times a minute" in catalogue.render(fast).message


def test_a_declared_load_gives_each_lift_its_lifting_index() -> None:
    _, out = _run(_recording(), 500, 2.0, LiftTask(load_kg=15.0))
    lift = next(o for o in out if o.type is EventType.LIFT)
    # Defaults H 40, V 30, D 45, fair grip, 8 h; A from the twist; the first lift of the
    # day is 1 lift in 15 minutes, floored to 0.2/min: HM 0.625, VM 0.865, DM 0.92,
    # FM 0.85, CM 0.95 (NIOSH 94-110 tables).
    expected_rwl = 23.0 * 0.625 * (1 - 0.003 * abs(30 - 75)) * (0.82 + 4.5 / 45) * 0.85 * 0.95
    twist = lift.evidence.get("twist_deg", 0.0)
    expected_rwl *= 1 - 0.0032 * abs(twist)
    assert np.isclose(lift.evidence["rwl_kg"], expected_rwl, rtol=1e-6)
    assert np.isclose(lift.evidence["lifting_index"], 15.0 / expected_rwl, rtol=1e-6)
    assert "horizontal_cm" in lift.labels["niosh_assumed"]
    assert "frequency_per_min" in lift.labels["niosh_measured"]


def test_a_declared_task_brings_its_distances_and_grip() -> None:
    task = LiftTask(
        load_kg=10.0, horizontal_cm=25.0, vertical_cm=75.0, travel_cm=25.0, coupling=Coupling.GOOD
    )
    _, out = _run(_recording(), 500, 2.0, task)
    lifts = [o for o in out if o.type is EventType.LIFT]
    assert len(lifts) == 3
    for count, lift in enumerate(lifts, start=1):
        # HM = VM = DM = CM = 1 at the declared values; AM from the twist; FM from the
        # measured rate: the n-th lift of the recording is n lifts in 15 minutes (8 h column).
        twist = lift.evidence.get("twist_deg", 0.0)
        fm = frequency_multiplier(count / 15.0, 8.0, 75.0)
        assert fm == pytest.approx(0.85)  # 1-3 lifts in 15 min: the 0.2/min row
        expected_rwl = 23.0 * (1 - 0.0032 * abs(twist)) * fm
        assert lift.evidence["rwl_kg"] == pytest.approx(expected_rwl, rel=1e-9)
        assert lift.labels["niosh_assumed"] == "duration_h"
        assert lift.evidence["load_kg"] == 10.0


def test_analyze_output_has_lift_and_fall_events() -> None:
    result = analyze_sensors({SETUP: _recording()})
    events = result.to_json_dict("x.csv")["events"]
    assert isinstance(events, list)
    lifts = [e for e in events if e["type"] == "lift"]
    assert [e["technique"] for e in lifts] == ["squat", "stoop", "stoop"]
    assert all(isinstance(e["peak_flexion_deg"], float) for e in lifts)
    assert "stoop" in lifts[1]["risks"]
    falls = [e for e in events if e["type"] == "fall"]
    assert len(falls) == 2
    assert all(isinstance(e["hard"], bool) for e in falls)


CHEST_DAY = (SensorSetup("chest", Placement.TRUNK, Mount.parse("-y,+z")), 3)
THIGH_DAY = (SensorSetup("thigh", Placement.THIGH, Mount.parse("+x,-z")), 4)


def _simulated_day(
    scenario: str, sensors: tuple[tuple[SensorSetup, int], ...]
) -> tuple[WearerEvaluator, list[Observation]]:
    """A scenario rendered for each sensor (declared mount, own seed), blocks interleaved."""
    ev = WearerEvaluator("sam", [setup for setup, _ in sensors], evaluate_every_s=2.0)
    feeds = [
        SimulatedSensor(
            load_scenario(scenario),
            setup.placement,
            setup.sensor_id,
            mount=setup.mount,
            seed=seed,
            block_s=1.0,
        ).blocks()
        for setup, seed in sensors
    ]
    out: list[Observation] = []
    for blocks in zip(*feeds, strict=True):
        for block in blocks:
            out += ev.feed(block)
    out += ev.finish()
    return ev, out


@pytest.mark.parametrize(
    "sensors", [(CHEST_DAY, THIGH_DAY), (CHEST_DAY,)], ids=["chest+thigh", "chest"]
)
def test_standing_up_after_31_minutes_sitting_is_no_lift(
    sensors: tuple[tuple[SensorSetup, int], ...],
) -> None:
    # Stand 2 min, sit 31, stand 1, walk 2: the stand-up begins inside half an hour of
    # sitting and ends as it ends, so it is a sit transition, not a lift.
    ev, out = _simulated_day("sit-31min", sensors)
    assert [o for o in out if o.type is EventType.LIFT] == []
    status = ev.status()
    assert (status.lifts, status.risky_lifts) == (0, 0)
    assert [o.type for o in out if default_catalogue().wants_nudge(o)] == [EventType.SITTING_BOUT]


def test_the_demo_day_keeps_its_stoop_lift_and_drops_standing_up_from_the_desk() -> None:
    _, out = _simulated_day("demo-day", (CHEST_DAY, THIGH_DAY))
    lifts = [o for o in out if o.type is EventType.LIFT]
    assert [o.labels["technique"] for o in lifts] == ["stoop"]
    assert "stoop" in lifts[0].labels["risks"]
    assert default_catalogue().wants_nudge(lifts[0])
