"""The per-wearer evaluator: block sizes never change the result, several sensors, status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest

from alerts.events import Observation
from alerts.state import WearerState
from devices.mount import Mount
from devices.samples import Placement, SampleBlock
from devices.scenario import Activity as Step
from devices.scenario import LyingPosition, Scenario, ScenarioStep, load_scenario
from devices.simulated import SimulatedSensor
from monitor.activity import LYING, RUNNING, SITTING, STANDING, WALKING, Activity, Segment
from monitor.evaluation import (
    EvaluationError,
    EvaluationThresholds,
    SensorSetup,
    WearerEvaluator,
)
from monitor.orientation import MountSource
from tests.test_activity import Synthetic, activity_at, synthetic
from tests.test_orientation_learning import random_mount

UNIX_S = 1_700_000_000.0
THRESHOLDS = EvaluationThresholds(sitting_limit_s=60.0, sitting_break_s=20.0)
PHASES = (
    ("stand", 15.0),
    ("walk", 20.0),
    ("sit", 150.0),
    ("walk", 15.0),
    ("stand", 10.0),
    ("sit", 70.0),
    ("stand", 30.0),
)

Result = tuple[list[Segment], list[tuple[float, float, dict[str, float]]]]


def _observations(obs: Sequence[Observation]) -> list[tuple[float, float, dict[str, float]]]:
    return [(o.start_s, o.end_s, dict(o.evidence)) for o in obs]


def _stream(
    sensors: dict[SensorSetup, Synthetic],
    sizes: np.random.Generator | None,
    *,
    evaluate_every_s: float = 2.0,
    thresholds: EvaluationThresholds = THRESHOLDS,
) -> Result:
    """Feed every sensor in blocks, time-interleaved: random sizes, or else one whole block
    per sensor when there is one sensor and 1 s blocks when there are several.

    Several sensors are interleaved closely enough (a block is at most 100 samples) that none
    ever lags the others by the stall time: then the result cannot depend on the blocks.
    """
    ev = WearerEvaluator("ann", list(sensors), thresholds, evaluate_every_s=evaluate_every_s)
    out: list[Observation] = []
    cursors = dict.fromkeys(sensors, 0)
    while any(cursors[s] < len(d.t_s) for s, d in sensors.items()):
        # Next: the sensor that is furthest behind in time.
        setup = min(
            (s for s, d in sensors.items() if cursors[s] < len(d.t_s)),
            key=lambda s: sensors[s].t_s[cursors[s]],
        )
        data = sensors[setup]
        a = cursors[setup]
        if sizes is not None:
            n = int(sizes.integers(1, 400 if len(sensors) == 1 else 100))
        elif len(sensors) == 1:
            n = len(data.t_s)
        else:
            n = int(np.searchsorted(data.t_s, data.t_s[a] + 1.0)) - a
        b = min(len(data.t_s), a + n)
        out += ev.feed(
            SampleBlock(setup.sensor_id, data.t_s[a:b], data.acc_g[a:b], data.gyro_dps[a:b])
        )
        cursors[setup] = b
    out += ev.finish()
    return ev.segments, _observations(out)


def _waist() -> dict[SensorSetup, Synthetic]:
    mount = Mount.parse("-y,+z")
    data = synthetic(PHASES, Placement.WAIST, mount=mount, start_s=UNIX_S, rate_hz=50.0)
    return {SensorSetup("belt", Placement.WAIST, mount): data}


def _trunk_and_thigh() -> dict[SensorSetup, Synthetic]:
    trunk_mount = Mount.parse("+z,-x")
    thigh_mount = Mount.parse("-y,+z")
    trunk = synthetic(PHASES, Placement.TRUNK, mount=trunk_mount, start_s=UNIX_S, seed=3)
    # The thigh sensor runs at another rate and starts a little later.
    thigh = synthetic(
        PHASES, Placement.THIGH, mount=thigh_mount, start_s=UNIX_S + 0.013, rate_hz=26.0, seed=4
    )
    return {
        SensorSetup("chest", Placement.TRUNK, trunk_mount): trunk,
        SensorSetup("leg", Placement.THIGH, thigh_mount): thigh,
    }


def test_any_block_sizes_give_exactly_the_result_of_one_block() -> None:
    sensors = _waist()
    expected = _stream(sensors, None)
    segments, observations = expected
    assert observations, "the synthetic day must reach the 60 s limit"
    assert {s.activity for s in segments} >= {
        Activity.SITTING,
        Activity.WALKING,
        Activity.STANDING,
    }
    rng = np.random.default_rng(21)
    for _ in range(4):
        assert _stream(sensors, rng) == expected


def test_the_evaluation_pace_does_not_change_the_result() -> None:
    sensors = _waist()
    expected = _stream(sensors, None)
    rng = np.random.default_rng(5)
    for every in (0.25, 7.0, 60.0):
        assert _stream(sensors, rng, evaluate_every_s=every) == expected


def test_trunk_and_thigh_streamed_equal_offline_and_find_the_sitting_bouts() -> None:
    sensors = _trunk_and_thigh()
    expected = _stream(sensors, None)
    rng = np.random.default_rng(8)
    for _ in range(3):
        assert _stream(sensors, rng) == expected
    segments, observations = expected
    first_sit = UNIX_S + 35.0
    assert activity_at(segments, first_sit + 75.0) is Activity.SITTING
    # The first bout reached 60 s and 120 s; the second 60 s (besides a rated bend pace).
    observations = [o for o in observations if "bout_s" in o[2]]
    assert len(observations) == 3
    start, end, evidence = observations[0]
    assert abs(start - first_sit) <= 2.0
    assert end == start + 60.0
    assert evidence == {"bout_s": 60.0, "limit_s": 60.0}


def test_decisions_follow_the_data_within_a_few_seconds() -> None:
    sensors = _waist()
    ((setup, data),) = sensors.items()
    ev = WearerEvaluator("ann", [setup], THRESHOLDS)
    lags = []
    for a in range(0, len(data.t_s), 25):  # 0.5 s blocks
        ev.feed(
            SampleBlock(
                setup.sensor_id,
                data.t_s[a : a + 25],
                data.acc_g[a : a + 25],
                data.gyro_dps[a : a + 25],
            )
        )
        if ev.segments:
            lags.append(float(data.t_s[min(a + 24, len(data.t_s) - 1)]) - ev.segments[-1].end_s)
    assert max(lags[20:]) <= 13.0  # evaluation pace 2 s + look-ahead 4 s + bout wait 4 s + window


def test_a_stalled_thigh_sensor_does_not_hold_the_trunk_back() -> None:
    sensors = _trunk_and_thigh()
    ev = WearerEvaluator("ann", list(sensors), THRESHOLDS)
    (trunk_setup, trunk), (thigh_setup, thigh) = sensors.items()
    stop = UNIX_S + 60.0  # the thigh goes silent here
    sel = thigh.t_s < stop
    ev.feed(
        SampleBlock(thigh_setup.sensor_id, thigh.t_s[sel], thigh.acc_g[sel], thigh.gyro_dps[sel])
    )
    ev.feed(SampleBlock(trunk_setup.sensor_id, trunk.t_s, trunk.acc_g, trunk.gyro_dps))
    end = float(trunk.t_s[-1])
    assert ev.segments[-1].end_s >= end - 15.0
    ev.finish()
    # After the thigh stopped, the trunk alone still finds the second sitting bout.
    assert activity_at(ev.segments, UNIX_S + 250.0) is Activity.SITTING


def test_status_reports_activity_bout_flexion_and_totals() -> None:
    sensors = _trunk_and_thigh()
    ev = WearerEvaluator("ann", list(sensors), THRESHOLDS)
    (trunk_setup, trunk), (thigh_setup, thigh) = sensors.items()
    until = UNIX_S + 120.0  # in the first sitting bout
    for setup, data in ((trunk_setup, trunk), (thigh_setup, thigh)):
        sel = data.t_s < until
        ev.feed(SampleBlock(setup.sensor_id, data.t_s[sel], data.acc_g[sel], data.gyro_dps[sel]))
    status = ev.status()
    assert status.activity is Activity.SITTING
    assert status.sample_time_s == pytest.approx(until, abs=0.05)
    assert 60.0 <= status.sitting_bout_s <= 85.0
    assert status.sitting_total_s == status.sitting_bout_s
    assert status.trunk_flexion_deg == pytest.approx(-8.0, abs=1.5)  # reclined while seated
    state = WearerState.from_status(status, datetime(2026, 1, 1, tzinfo=UTC))
    assert state.activity == "sitting"
    ev.finish()
    assert [b.nudges for b in ev.sitting_bouts] == [1]


def test_waist_only_status_has_no_trunk_flexion() -> None:
    ev = WearerEvaluator("ann", list(_waist()), THRESHOLDS)
    status = ev.status()
    assert status.trunk_flexion_deg is None
    assert status.sample_time_s is None
    assert status.activity is Activity.UNKNOWN
    assert status.sitting_bout_s == 0.0


def test_without_a_mount_up_is_learned_from_the_first_rest() -> None:
    ((_, data),) = _waist().items()
    learned = SensorSetup("belt", Placement.WAIST, None)
    segments, _ = _stream({learned: data}, None)
    ev_orientation = WearerEvaluator("ann", [learned], THRESHOLDS)
    ev_orientation.feed(
        SampleBlock("belt", data.t_s[:1000], data.acc_g[:1000], data.gyro_dps[:1000])
    )
    orientation = ev_orientation.orientations["belt"]
    assert orientation is not None
    assert orientation.source is MountSource.LEARNED
    np.testing.assert_allclose(
        orientation.mount.sensor_from_body[:, 2], [0.0, -1.0, 0.0], atol=0.02
    )
    for kind, a, b in data.phases[1:]:
        mid = (a + b) / 2.0
        expected = {"walk": Activity.WALKING, "sit": Activity.SITTING, "stand": Activity.STANDING}
        assert activity_at(segments, mid) is expected[kind], kind


def test_calibrating_upright_corrects_a_mount_declared_a_little_off() -> None:
    # The sensor sits 20 degrees tilted from what was declared (+x up, -z forward).
    a = np.radians(20.0)
    true_mount = Mount.from_axes(
        up_s=np.array([np.cos(a), 0.0, -np.sin(a)]),
        forward_s=np.array([np.sin(a), 0.0, -np.cos(a)]),
    )
    data = synthetic((("stand", 10.0),), Placement.TRUNK, mount=true_mount, start_s=UNIX_S)
    ev = WearerEvaluator("ann", [SensorSetup("chest", Placement.TRUNK, Mount.parse("+x,-z"))])
    ev.feed(SampleBlock("chest", data.t_s, data.acc_g, data.gyro_dps))
    before = ev.status().trunk_flexion_deg
    assert before is not None
    assert abs(before) == pytest.approx(20.0, abs=1.0)  # upright reads as 20 degrees
    orientation = ev.calibrate_upright("chest", duration_s=3.0)
    assert orientation.source is MountSource.CALIBRATED
    np.testing.assert_allclose(
        orientation.mount.sensor_from_body, true_mount.sensor_from_body, atol=0.02
    )
    assert ev.orientations["chest"] == orientation
    # Leaning 30 degrees forward afterwards reads as 30 degrees of trunk flexion.
    lean = synthetic((("stand", 10.0),), Placement.TRUNK, mount=true_mount, start_s=UNIX_S + 10)
    b = np.radians(30.0)
    body = np.tile([-np.sin(b), 0.0, np.cos(b)], (lean.t_s.shape[0], 1))
    ev.feed(SampleBlock("chest", lean.t_s, true_mount.to_sensor(body), lean.gyro_dps))
    flexion = ev.status().trunk_flexion_deg
    assert flexion is not None
    assert flexion == pytest.approx(30.0, abs=1.0)
    with pytest.raises(EvaluationError):
        ev.calibrate_upright("nobody")


def test_samples_older_than_what_was_seen_are_dropped() -> None:
    ((setup, data),) = _waist().items()
    ev = WearerEvaluator("ann", [setup], THRESHOLDS)
    ev.feed(SampleBlock("belt", data.t_s[:500], data.acc_g[:500], data.gyro_dps[:500]))
    ev.feed(SampleBlock("belt", data.t_s[400:600], data.acc_g[400:600], data.gyro_dps[400:600]))
    reference = WearerEvaluator("ann", [setup], THRESHOLDS)
    reference.feed(SampleBlock("belt", data.t_s[:600], data.acc_g[:600], data.gyro_dps[:600]))
    ev.finish()
    reference.finish()
    assert ev.segments == reference.segments
    assert ev.dropped_samples == {"belt": 100}
    assert reference.dropped_samples == {"belt": 0}


def test_set_up_errors_name_the_problem() -> None:
    mount = Mount.identity()
    with pytest.raises(EvaluationError, match="no sensors"):
        WearerEvaluator("ann", [])
    with pytest.raises(EvaluationError, match="same placement"):
        WearerEvaluator(
            "ann", [SensorSetup("a", Placement.TRUNK), SensorSetup("b", Placement.TRUNK)]
        )
    with pytest.raises(EvaluationError, match="same id"):
        WearerEvaluator(
            "ann", [SensorSetup("a", Placement.TRUNK), SensorSetup("a", Placement.THIGH)]
        )
    ev = WearerEvaluator("ann", [SensorSetup("a", Placement.TRUNK, mount)])
    with pytest.raises(EvaluationError, match="no sensor 'b'"):
        ev.feed(SampleBlock("b", np.zeros(1), np.zeros((1, 3))))
    with pytest.raises(EvaluationError, match="evaluate_every_s"):
        WearerEvaluator("ann", [SensorSetup("a", Placement.TRUNK)], evaluate_every_s=0.0)


def test_sensor_setups_compare_by_value_and_hash_alike() -> None:
    a = SensorSetup("s", Placement.WAIST, Mount.parse("-y,+z"))
    b = SensorSetup("s", Placement.WAIST, Mount.parse("-y,+z"))
    c = SensorSetup("s", Placement.WAIST, Mount.parse("+y,+z"))
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert SensorSetup("s", Placement.WAIST) != a
    assert {a: 1}[b] == 1


def test_minimum_bouts_in_windows() -> None:
    windows = EvaluationThresholds().min_bout_windows()
    assert windows[SITTING] == 5
    assert windows[LYING] == 5
    assert windows[STANDING] == windows[WALKING] == windows[RUNNING] == 2


def test_posture_lying_and_steps_do_not_depend_on_blocks_or_pace() -> None:
    """Two sensors on tilted mounts: every result, not only segments, is block-independent."""
    day = Scenario(
        "desk",
        (
            ScenarioStep(Step.STANDING, 20.0),
            ScenarioStep(Step.WALKING, 60.0),
            ScenarioStep(Step.SITTING, 240.0, trunk_flexion_deg=40.0, lateral_bend_deg=12.0),
            ScenarioStep(Step.STANDING, 20.0),
            ScenarioStep(Step.LYING, 120.0, lying_position=LyingPosition.LEFT),
            ScenarioStep(Step.RUNNING, 30.0),
        ),
    )
    thresholds = EvaluationThresholds(
        sitting_limit_s=120.0, sleep_min_lying_s=60.0, sleep_break_s=10.0, side_bend_hold_s=30.0
    )
    trunk_mount, thigh_mount = random_mount(21), random_mount(22)
    trunk = SimulatedSensor(day, Placement.TRUNK, "chest", mount=trunk_mount, seed=4)
    thigh = SimulatedSensor(day, Placement.THIGH, "leg", mount=thigh_mount, seed=4, rate_hz=26.0)
    sensors = {
        SensorSetup("chest", Placement.TRUNK, trunk_mount): trunk.recording(),
        SensorSetup("leg", Placement.THIGH, thigh_mount): thigh.recording(),
    }

    def run(
        rng: np.random.Generator | None, every_s: float, ring_s: float = 20.0
    ) -> tuple[object, ...]:
        ev = WearerEvaluator(
            "ann", list(sensors), thresholds, evaluate_every_s=every_s, ring_s=ring_s
        )
        out: list[Observation] = []
        cursors = dict.fromkeys(sensors, 0)
        while any(cursors[s] < len(r) for s, r in sensors.items()):
            setup = min(
                (s for s, r in sensors.items() if cursors[s] < len(r)),
                key=lambda s: sensors[s].t_s[cursors[s]],
            )
            rec = sensors[setup]
            a = cursors[setup]
            b = min(len(rec), a + (int(rng.integers(1, 100)) if rng is not None else 50))
            gyro = rec.gyro_dps
            assert gyro is not None
            out += ev.feed(SampleBlock(setup.sensor_id, rec.t_s[a:b], rec.acc_g[a:b], gyro[a:b]))
            cursors[setup] = b
        out += ev.finish()
        return (
            ev.segments,
            _observations(out),
            ev.posture_holds,
            ev.lying_spells,
            ev.steps,
            ev.moving_s,
            ev.exposure,
        )

    expected = run(None, 2.0)
    observations, steps = expected[1], expected[4]
    assert isinstance(observations, list)
    assert {"flexion_deg", "lateral_deg", "lying_s", "bout_s"} <= {
        name for _, _, evidence in observations for name in evidence
    }
    assert isinstance(steps, int)
    assert steps > 0
    rng = np.random.default_rng(17)
    for every_s, ring_s in ((0.5, 20.0), (9.0, 4.0), (60.0, 120.0)):
        assert run(rng, every_s, ring_s) == expected


def test_a_live_evaluator_keeps_a_bounded_history_and_the_same_observations() -> None:
    """The daemon's evaluators drop decided history older than they keep; nothing else."""
    day = load_scenario("sit-break-sit")  # sit 20 min, walk, sit 20 min
    mount = Mount.parse("-y,+z")
    setups = [SensorSetup("chest", Placement.TRUNK, mount)]
    sensor = SimulatedSensor(day, Placement.TRUNK, "chest", mount=mount, seed=4, rate_hz=25.0)
    blocks = list(sensor.blocks())

    def run(keep_history_s: float | None) -> tuple[WearerEvaluator, list[Observation]]:
        evaluator = WearerEvaluator("ann", setups, keep_history_s=keep_history_s)
        out = [obs for block in blocks for obs in evaluator.feed(block)]
        return evaluator, out + evaluator.finish()

    full, everything = run(None)
    bounded, kept = run(300.0)
    assert kept == everything
    assert [o.type.value for o in everything].count("sitting_bout") == 0  # 20 min bouts
    assert len(full.sitting_bouts) == 2
    assert len(bounded.sitting_bouts) == 1  # the first bout ended long before the cut-off
    assert full.segments[0].start_s < 60.0
    assert bounded.segments[0].start_s > 20 * 60.0
    assert bounded.segments[-1] == full.segments[-1]
