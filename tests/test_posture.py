"""Trunk posture: bands, holding-time limits, slouch and side-bend holds, twist, exposure.

Unit tests feed the posture tracker known per-window angles; the evaluator tests run the
simulated wearer (devices.simulated) through scenarios whose trunk flexion and side bend
are known.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from alerts.events import EventType, Observation
from devices.mount import Mount
from devices.recording import Recording
from devices.samples import FloatArray, Placement
from devices.scenario import Activity, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.activity import SITTING, STANDING, WALKING
from monitor.analyze import analyze_sensors
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.posture import (
    BAND_AWKWARD,
    BAND_MODERATE,
    BAND_NEUTRAL,
    BAND_UNKNOWN,
    PostureTracker,
    PostureWindows,
    TwistEstimator,
    flexion_bands,
    max_hold_s,
)

TH = EvaluationThresholds()
MOUNT = Mount.parse("-y,+z")


def test_flexion_bands() -> None:
    flexion = np.array([-15.0, 0.0, 20.0, 20.1, 45.0, 60.0, 60.1, 95.0, np.nan])
    expected = [BAND_NEUTRAL] * 3 + [BAND_MODERATE] * 3 + [BAND_AWKWARD] * 2 + [BAND_UNKNOWN]
    assert flexion_bands(flexion).tolist() == expected


def test_holding_time_falls_from_240_s_at_20_deg_to_60_s_at_60_deg() -> None:
    limits = max_hold_s(np.array([10.0, 20.0, 20.0001, 30.0, 40.0, 60.0, 60.5, np.nan]))
    assert math.isinf(limits[0])
    assert math.isinf(limits[1])  # 20 degrees itself is neutral
    assert limits[2] == pytest.approx(240.0, abs=0.01)
    assert limits[3] == pytest.approx(195.0)
    assert limits[4] == pytest.approx(150.0)
    assert limits[5] == pytest.approx(60.0)
    assert limits[6] == 0.0  # beyond 60 degrees no hold is acceptable
    assert math.isnan(limits[7])


def _windows(
    flexion: FloatArray, lateral: FloatArray | None = None, twist: FloatArray | None = None
) -> PostureWindows:
    n = flexion.shape[0]
    return PostureWindows(
        known=np.ones(n, dtype=bool),
        flexion_deg=flexion,
        lateral_deg=np.zeros(n) if lateral is None else lateral,
        twist_deg=np.full(n, np.nan) if twist is None else twist,
    )


def _run(
    codes: np.ndarray,
    windows: PostureWindows,
    cuts: list[int] | None = None,
    first: int = 1000,
) -> tuple[list[Observation], PostureTracker]:
    tracker = PostureTracker("ann", TH)
    out: list[Observation] = []
    edges = [0, *(cuts or []), codes.shape[0]]
    for a, b in itertools.pairwise(edges):
        part = PostureWindows(
            windows.known[a:b],
            windows.flexion_deg[a:b],
            windows.lateral_deg[a:b],
            windows.twist_deg[a:b],
        )
        out += [o for _, o in tracker.push(first + a, codes[a:b], part)]
    tracker.finish()
    return out, tracker


def _noisy(value: float, n: int, seed: int = 0, sd: float = 1.0) -> FloatArray:
    return value + np.random.default_rng(seed).normal(0.0, sd, n)


def test_a_slouch_held_past_its_limit_is_observed_once_at_the_limit() -> None:
    flexion = np.concatenate((_noisy(5.0, 60), _noisy(32.0, 300, 1), _noisy(5.0, 60, 2)))
    codes = np.full(flexion.shape[0], SITTING, dtype=np.int8)
    out, tracker = _run(codes, _windows(flexion))
    (obs,) = out
    assert obs.type is EventType.SLOUCH
    limit = float(max_hold_s(32.0))  # 186 s
    assert obs.start_s == pytest.approx(1000 + 60 - 0.5, abs=1.0)
    assert obs.end_s - obs.start_s == pytest.approx(limit, abs=3.0)
    assert obs.evidence["flexion_deg"] == pytest.approx(32.0, abs=0.5)
    assert obs.evidence["limit_s"] == pytest.approx(limit, abs=3.0)
    assert obs.evidence["hold_s"] == obs.end_s - obs.start_s
    (hold,) = tracker.holds
    assert hold.type is EventType.SLOUCH
    assert hold.duration_s == pytest.approx(300.0, abs=1.0)  # the whole hold
    assert hold.nudge_s == obs.end_s


def test_shorter_holds_lower_angles_and_standing_are_not_slouching() -> None:
    short = np.concatenate((_noisy(32.0, 150), _noisy(5.0, 20)))  # below the 186 s limit
    sitting = np.full(short.shape[0], SITTING, dtype=np.int8)
    assert _run(sitting, _windows(short))[0] == []
    neutral = _noisy(15.0, 600)
    assert _run(np.full(600, SITTING, dtype=np.int8), _windows(neutral))[0] == []
    bent = _noisy(32.0, 400)
    assert _run(np.full(400, STANDING, dtype=np.int8), _windows(bent))[0] == []
    unknown = PostureWindows(np.zeros(400, dtype=bool), bent, np.zeros(400), np.full(400, np.nan))
    assert _run(np.full(400, SITTING, dtype=np.int8), unknown)[0] == []


def test_moving_out_of_the_hold_starts_a_new_one() -> None:
    # 150 s at 32 degrees, a 2 s reach to 50 degrees, 150 s at 32 again: two holds that
    # are each within the limit, so no slouch.
    flexion = np.concatenate((_noisy(32.0, 150), np.full(2, 50.0), _noisy(32.0, 150, 1)))
    assert _run(np.full(flexion.shape[0], SITTING, dtype=np.int8), _windows(flexion))[0] == []
    # The same spell without the reach is one hold past its limit.
    steady = _noisy(32.0, 302)
    assert len(_run(np.full(302, SITTING, dtype=np.int8), _windows(steady))[0]) == 1


def test_beyond_60_degrees_any_hold_is_too_long() -> None:
    flexion = np.concatenate((_noisy(5.0, 10), _noisy(70.0, 8), _noisy(5.0, 10)))
    out, _ = _run(np.full(flexion.shape[0], SITTING, dtype=np.int8), _windows(flexion))
    (obs,) = out
    assert obs.evidence["limit_s"] == 0.0
    assert obs.evidence["hold_s"] == TH.hold_min_s  # a hold is 4 s at least


def test_side_bend_held_a_minute_beyond_10_degrees() -> None:
    n = 200
    lateral = np.concatenate((_noisy(0.0, 20), _noisy(-14.0, 100), _noisy(0.0, 80)))
    codes = np.full(n, STANDING, dtype=np.int8)
    out, tracker = _run(codes, _windows(np.zeros(n), lateral))
    (obs,) = out
    assert obs.type is EventType.SIDE_BEND
    assert obs.end_s - obs.start_s == pytest.approx(TH.side_bend_hold_s, abs=2.0)
    assert obs.evidence["lateral_deg"] == pytest.approx(-14.0, abs=0.5)
    assert tracker.holds[0].duration_s == pytest.approx(100.0, abs=1.0)
    slight = np.concatenate((_noisy(0.0, 20), _noisy(7.0, 150), _noisy(0.0, 30)))
    assert _run(codes, _windows(np.zeros(n), slight))[0] == []
    walking = np.full(n, WALKING, dtype=np.int8)
    assert _run(walking, _windows(np.zeros(n), lateral))[0] == []


def test_cutting_the_windows_anywhere_gives_the_same_result() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    flexion = np.repeat(rng.uniform(-10.0, 70.0, 30), 100) + rng.normal(0.0, 1.5, n)
    lateral = np.repeat(rng.uniform(-20.0, 20.0, 20), 150) + rng.normal(0.0, 1.5, n)
    twist = np.repeat(rng.uniform(-50.0, 50.0, 60), 50)
    codes = np.repeat(rng.choice([SITTING, STANDING, WALKING], 40), 75).astype(np.int8)
    windows = _windows(flexion, lateral, twist)
    whole, tracker = _run(codes, windows)
    assert {o.type for o in whole} == {EventType.SLOUCH, EventType.SIDE_BEND}
    for _ in range(4):
        cuts = sorted(rng.choice(np.arange(1, n), 25, replace=False).tolist())
        again, other = _run(codes, windows, [int(c) for c in cuts])
        assert again == whole
        assert other.holds == tracker.holds
        assert other.exposure == tracker.exposure


def test_exposure_counts_bands_and_twist() -> None:
    flexion = np.array([5.0] * 50 + [40.0] * 30 + [75.0] * 20)
    twist = np.array([0.0] * 60 + [35.0] * 25 + [-40.0] * 10 + [np.nan] * 5)
    codes = np.array([SITTING] * 90 + [WALKING] * 10, dtype=np.int8)
    _, tracker = _run(codes, _windows(flexion, twist=twist))
    e = tracker.exposure
    assert (e.measured_s, e.neutral_s, e.moderate_s, e.awkward_s) == (100, 50, 30, 20)
    assert e.awkward_share == pytest.approx(0.2)
    # Twist counts while sitting or standing only: 25 + 5 windows of the 95 measured.
    assert e.rotation_measured_s == 95
    assert e.rotation_over_s == 30
    assert e.rotation_share == pytest.approx(30 / 95)


def _twist_inputs(rate_dps: FloatArray, bias: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gyro and gravity means of a sensor lying on its side (gravity along +x)."""
    n = rate_dps.shape[0]
    gravity = np.tile([1.0, 0.0, 0.0], (n, 1))
    gyro = np.zeros((n, 3)) + bias
    gyro[:, 0] += rate_dps
    return gyro, gravity


def test_twist_follows_a_turn_about_the_vertical_and_ignores_gyro_bias() -> None:
    bias = np.array([1.5, -0.8, 0.6])
    rate = np.zeros(200)
    rate[100:103] = 12.0  # a 36 degree turn over 3 s
    gyro, gravity = _twist_inputs(rate, bias)
    still = np.ones(200, dtype=bool)
    still[100:103] = False
    twist = TwistEstimator(30.0).update(gyro, gravity, still)
    assert np.all(np.isnan(twist[:30]))  # no heading to measure from yet
    assert np.abs(twist[40:100]).max() < 1.0  # the bias is learned from still windows
    # Measured from the mean heading of the 30 s before, which holds the turn's first
    # seconds: 36 - (12 + 24 + 36 + 36) / 30 = 32.4 degrees.
    assert twist[104] == pytest.approx(32.4, abs=0.5)
    assert abs(twist[150]) < 1.0  # 30 s later the new heading is the baseline


def test_twist_does_not_depend_on_how_windows_are_grouped() -> None:
    rng = np.random.default_rng(8)
    n = 500
    gyro, gravity = _twist_inputs(rng.normal(0.0, 5.0, n), np.array([0.5, 0.2, -0.1]))
    gyro[rng.random(n) < 0.05] = np.nan
    still = rng.random(n) < 0.5
    whole = TwistEstimator().update(gyro, gravity, still)
    pieces = TwistEstimator()
    edges = [0, 3, 4, 50, 51, 200, 333, n]
    parts = [
        pieces.update(gyro[a:b], gravity[a:b], still[a:b]) for a, b in itertools.pairwise(edges)
    ]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


# --------------------------------------------------------------------------- evaluator


def _scenario(*steps: ScenarioStep) -> Scenario:
    return Scenario("posture", steps)


def _trunk(scenario: Scenario, seed: int = 1) -> dict[SensorSetup, Recording]:
    rec = SimulatedSensor(scenario, Placement.TRUNK, "chest", mount=MOUNT, seed=seed).recording()
    return {SensorSetup("chest", Placement.TRUNK, MOUNT): rec}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_simulated_slouch_at_the_desk_is_observed_after_its_limit(seed: int) -> None:
    scenario = _scenario(
        ScenarioStep(Activity.STANDING, 60.0),
        ScenarioStep(Activity.WALKING, 60.0),
        ScenarioStep(Activity.SITTING, 300.0, trunk_flexion_deg=10.0),
        ScenarioStep(Activity.SITTING, 360.0, trunk_flexion_deg=35.0),
        ScenarioStep(Activity.SITTING, 120.0, trunk_flexion_deg=10.0),
        ScenarioStep(Activity.STANDING, 30.0),
    )
    result = analyze_sensors(_trunk(scenario, seed))
    slouches = [o for o in result.observations if o.type is EventType.SLOUCH]
    assert len(slouches) == 1
    (obs,) = slouches
    limit = float(max_hold_s(35.0))  # 172.5 s
    assert obs.start_s == pytest.approx(420.0, abs=4.0)  # the slouched step starts at 420 s
    assert obs.end_s - obs.start_s == pytest.approx(limit, abs=4.0)
    assert obs.evidence["flexion_deg"] == pytest.approx(35.0, abs=2.0)
    (hold,) = result.posture_holds
    assert hold.end_s == pytest.approx(780.0, abs=4.0)
    e = result.exposure
    assert e.moderate_s == pytest.approx(360.0, abs=12.0)
    assert e.awkward_s == 0
    assert e.rotation_share is not None
    assert e.rotation_share < 0.05


def test_a_simulated_side_bend_is_observed_and_its_side_named() -> None:
    scenario = _scenario(
        ScenarioStep(Activity.STANDING, 30.0),
        ScenarioStep(Activity.STANDING, 90.0, lateral_bend_deg=15.0),
        ScenarioStep(Activity.STANDING, 30.0),
    )
    result = analyze_sensors(_trunk(scenario))
    (obs,) = [o for o in result.observations if o.type is EventType.SIDE_BEND]
    assert obs.evidence["lateral_deg"] == pytest.approx(15.0, abs=2.0)  # to the right
    assert obs.start_s == pytest.approx(30.0, abs=3.0)
    assert obs.end_s - obs.start_s == pytest.approx(60.0, abs=1.0)


def test_a_long_stoop_over_upright_thighs_counts_as_awkward_standing() -> None:
    scenario = _scenario(
        ScenarioStep(Activity.STANDING, 60.0),
        ScenarioStep(Activity.STANDING, 30.0, trunk_flexion_deg=70.0),
        ScenarioStep(Activity.STANDING, 30.0),
    )
    chest = SimulatedSensor(scenario, Placement.TRUNK, "chest", mount=MOUNT, seed=1)
    thigh = SimulatedSensor(scenario, Placement.THIGH, "thigh", mount=MOUNT, seed=1)
    result = analyze_sensors(
        {
            SensorSetup("chest", Placement.TRUNK, MOUNT): chest.recording(),
            SensorSetup("thigh", Placement.THIGH, MOUNT): thigh.recording(),
        }
    )
    assert [str(s.activity) for s in result.segments] == ["standing"]
    assert result.exposure.awkward_s == pytest.approx(30.0, abs=4.0)
    assert result.exposure.measured_s == pytest.approx(120.0, abs=3.0)
    assert result.exposure.awkward_share == pytest.approx(0.25, abs=0.04)
    # The trunk alone cannot tell a stoop this long from lying on the front (Acti4's rule).
    alone = analyze_sensors({SensorSetup("chest", Placement.TRUNK, MOUNT): chest.recording()})
    assert "lying" in {str(s.activity) for s in alone.segments}


def test_status_reports_angles_steps_cadence_and_exposure() -> None:
    scenario = _scenario(
        ScenarioStep(Activity.STANDING, 20.0),
        ScenarioStep(Activity.WALKING, 90.0),
        ScenarioStep(Activity.STANDING, 30.0, trunk_flexion_deg=30.0, lateral_bend_deg=-12.0),
    )
    chest = SimulatedSensor(scenario, Placement.TRUNK, "chest", mount=MOUNT, seed=5)
    thigh = SimulatedSensor(scenario, Placement.THIGH, "thigh", mount=MOUNT, seed=5)
    setups = [
        SensorSetup("chest", Placement.TRUNK, MOUNT),
        SensorSetup("thigh", Placement.THIGH, MOUNT),
    ]
    ev = WearerEvaluator("ann", setups, TH)
    walking_status = None
    for chest_block, thigh_block in zip(chest.blocks(), thigh.blocks(), strict=True):
        ev.feed(chest_block)
        ev.feed(thigh_block)
        if walking_status is None and float(chest_block.t_s[-1]) >= 100.0:
            walking_status = ev.status()
    assert walking_status is not None
    assert walking_status.activity == "walking"
    assert walking_status.cadence_spm == pytest.approx(108.0, rel=0.06)  # 1.8 steps/s
    assert walking_status.steps == pytest.approx(1.8 * 78, rel=0.1)
    status = ev.status()
    assert status.activity == "standing"
    assert status.cadence_spm is None
    assert status.trunk_flexion_deg == pytest.approx(30.0, abs=2.0)
    assert status.trunk_lateral_deg == pytest.approx(-12.0, abs=2.0)
    assert status.lying_position is None
    assert status.exposure.moderate_s >= 15
    assert status.flexion_over_60_share == 0.0
    assert status.rotation_over_30_share is not None
