"""The mount learned from walking: simulated wearers with the sensor clipped on at random."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.events import EventType
from devices.mount import Mount
from devices.recording import Recording
from devices.samples import FloatArray, Placement, SampleBlock
from devices.scenario import Activity, LyingPosition, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.analyze import AnalysisResult, analyze_sensors
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.orientation import (
    GaitLearner,
    MountSource,
    SensorOrientation,
    angle_between_deg,
)
from monitor.windows import quarter_sums, window_features

WALK = Scenario(
    "walk",
    (
        ScenarioStep(Activity.STANDING, 10.0),
        ScenarioStep(Activity.WALKING, 90.0),
        ScenarioStep(Activity.STANDING, 10.0),
    ),
)


def random_mount(seed: int) -> Mount:
    """A sensor turned any which way (a random rotation)."""
    q = np.random.default_rng(seed).normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    rotation = np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
        ]
    )
    return Mount(rotation)


def _walking_windows(
    placement: Placement, mount: Mount, seed: int = 0
) -> tuple[FloatArray, FloatArray]:
    """Mean acceleration and magnitude-change covariance of the walking windows."""
    rec = SimulatedSensor(WALK, placement, "s", mount=mount, seed=seed).recording()
    stop = int(np.floor(rec.t_s[-1] * 4)) + 4
    stop += (-stop) % 4
    wf = window_features(quarter_sums(rec.t_s, rec.acc_g, rec.gyro_dps, 0, stop))
    inside = (wf.centers_s > 15.0) & (wf.centers_s < 95.0)
    return wf.mean_s[inside], wf.dmag_acc_cov_s[inside]


def _axis_error(learned: Mount, true: Mount, axis: int) -> float:
    return angle_between_deg(learned.sensor_from_body[:, axis], true.sensor_from_body[:, axis])


@pytest.mark.parametrize("placement", [Placement.TRUNK, Placement.WAIST])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_up_and_forward_from_walking_in_any_orientation(placement: Placement, seed: int) -> None:
    true = random_mount(seed)
    learner = GaitLearner()
    learner.add(*_walking_windows(placement, true, seed))
    assert learner.walking_s >= 60
    proposal = learner.propose(None)
    assert proposal is not None
    assert proposal.source is MountSource.WALKING
    assert proposal.forward_known
    # The simulated trunk leans 3 degrees forward when walking, the pelvis about 1.
    assert _axis_error(proposal.mount, true, 2) < 4.0
    assert _axis_error(proposal.mount, true, 0) < 4.0
    assert learner.walking_s == 0  # a new epoch begins


def test_too_little_or_inconsistent_walking_proposes_nothing() -> None:
    mean, cov = _walking_windows(Placement.TRUNK, Mount.identity())
    learner = GaitLearner(min_walk_s=60.0)
    learner.add(mean[:30], cov[:30])
    assert learner.propose(None) is None  # 30 s is not enough yet
    learner.add(mean[30:60], cov[30:60])
    assert learner.propose(None) is not None
    noisy = GaitLearner()
    rng = np.random.default_rng(1)
    noisy.add(mean, rng.normal(0.0, 1.0, cov.shape))  # forward evidence pointing anywhere
    assert noisy.propose(None) is None


def test_a_declared_mount_is_never_replaced_and_a_calibration_only_when_moved() -> None:
    true = random_mount(5)
    mean, cov = _walking_windows(Placement.TRUNK, true)
    for source in (MountSource.DECLARED, MountSource.CALIBRATED):
        learner = GaitLearner()
        learner.add(mean, cov)
        assert learner.propose(SensorOrientation(true, source)) is None
    moved = GaitLearner()
    moved.add(mean, cov)
    proposal = moved.propose(SensorOrientation(random_mount(6), MountSource.CALIBRATED))
    assert proposal is not None
    assert proposal.source is MountSource.WALKING
    assert _axis_error(proposal.mount, true, 2) < 4.0


def test_a_calibrated_up_takes_its_forward_from_walking() -> None:
    true = random_mount(7)
    tilted_up = Mount.from_axes(  # calibrated while standing: up differs a little
        up_s=true.sensor_from_body[:, 2] + 0.05 * true.sensor_from_body[:, 1],
        forward_s=true.sensor_from_body[:, 1],  # a wrong guess of forward
    )
    learner = GaitLearner()
    learner.add(*_walking_windows(Placement.TRUNK, true))
    proposal = learner.propose(SensorOrientation(tilted_up, MountSource.CALIBRATED_UP))
    assert proposal is not None
    assert proposal.source is MountSource.CALIBRATED
    np.testing.assert_allclose(
        proposal.mount.sensor_from_body[:, 2], tilted_up.sensor_from_body[:, 2], atol=1e-9
    )
    assert _axis_error(proposal.mount, true, 0) < 6.0


def test_later_walking_refines_or_replaces_a_learned_mount() -> None:
    true = random_mount(8)
    learner = GaitLearner()
    mean, cov = _walking_windows(Placement.WAIST, true)
    learner.add(mean, cov)
    first = learner.propose(None)
    assert first is not None
    learner.add(mean, cov)
    assert learner.propose(first) is None  # agrees: nothing worth changing
    # The sensor was clipped on anew: the next minute of walking replaces the mount.
    other = random_mount(9)
    learner.add(*_walking_windows(Placement.WAIST, other))
    replaced = learner.propose(first)
    assert replaced is not None
    assert _axis_error(replaced.mount, other, 2) < 4.0
    assert _axis_error(replaced.mount, other, 0) < 4.0


def test_a_thigh_learns_only_up() -> None:
    true = random_mount(10)
    learner = GaitLearner(need_forward=False)
    learner.add(*_walking_windows(Placement.THIGH, true))
    proposal = learner.propose(None)
    assert proposal is not None
    # The thigh swings about a mean 5 degrees forward of vertical while walking.
    assert _axis_error(proposal.mount, true, 2) < 7.0


# --------------------------------------------------------------------------- evaluator

DAY = Scenario(
    "clipped-anyhow",
    (
        ScenarioStep(Activity.STANDING, 30.0),
        ScenarioStep(Activity.WALKING, 150.0),
        ScenarioStep(Activity.STANDING, 20.0),
        ScenarioStep(Activity.SITTING, 300.0, trunk_flexion_deg=35.0),
        ScenarioStep(Activity.STANDING, 20.0),
        ScenarioStep(Activity.LYING, 150.0, lying_position=LyingPosition.RIGHT),
        ScenarioStep(Activity.STANDING, 30.0),
    ),
)
THRESHOLDS = EvaluationThresholds(sleep_min_lying_s=100.0, sleep_break_s=15.0)


def _day(seed: int) -> tuple[Mount, Recording]:
    true = random_mount(100 + seed)
    rec = SimulatedSensor(DAY, Placement.TRUNK, "chest", mount=true, seed=seed).recording()
    return true, rec


@pytest.mark.parametrize("seed", [0, 1])
def test_without_a_mount_the_evaluation_learns_it_and_sees_slouch_and_side(seed: int) -> None:
    true, rec = _day(seed)
    setup = SensorSetup("chest", Placement.TRUNK)
    ev = WearerEvaluator("ann", [setup], THRESHOLDS, evaluate_every_s=30.0)
    observations = ev.feed(SampleBlock("chest", rec.t_s, rec.acc_g, rec.gyro_dps))
    observations += ev.finish()
    orientation = ev.orientations["chest"]
    assert orientation is not None
    assert orientation.source is MountSource.WALKING
    assert _axis_error(orientation.mount, true, 2) < 5.0
    assert _axis_error(orientation.mount, true, 0) < 5.0
    assert ev.orientation_version >= 1
    kinds = [o.type for o in observations]
    assert kinds.count(EventType.SLOUCH) == 1
    (slouch,) = [o for o in observations if o.type is EventType.SLOUCH]
    # Seated from 200 s (a fidget may restart the hold). Up learned from walking is the
    # walking posture, which the simulated trunk leans 3 deg forward: 35 deg reads as 32.
    assert 197.0 <= slouch.start_s <= 240.0
    assert slouch.evidence["flexion_deg"] == pytest.approx(32.0, abs=2.0)
    assert slouch.end_s - slouch.start_s == pytest.approx(slouch.evidence["limit_s"], abs=1.0)
    (spell,) = ev.lying_spells
    assert spell.main_position == "right"
    assert ev.steps == pytest.approx(1.8 * 146, rel=0.08)


def _stream(rec: Recording, rng: np.random.Generator, every_s: float) -> AnalysisResult:
    setup = SensorSetup("chest", Placement.TRUNK)
    ev = WearerEvaluator("wearer", [setup], THRESHOLDS, evaluate_every_s=every_s)
    observations = []
    a = 0
    gyro = rec.gyro_dps
    assert gyro is not None
    while a < len(rec):
        b = a + int(rng.integers(1, 700))
        observations += ev.feed(SampleBlock("chest", rec.t_s[a:b], rec.acc_g[a:b], gyro[a:b]))
        a = b
    observations += ev.finish()
    return AnalysisResult(
        duration_s=0.0,
        segments=tuple(ev.segments),
        sitting_bouts=tuple(ev.sitting_bouts),
        observations=tuple(observations),
        limit_s=THRESHOLDS.sitting_limit_s,
        posture_holds=tuple(ev.posture_holds),
        lying_spells=tuple(ev.lying_spells),
        steps=ev.steps,
        moving_s=float(ev.moving_s),
        exposure=ev.exposure,
    )


def test_learning_while_streaming_gives_exactly_the_offline_result() -> None:
    _, rec = _day(3)
    offline = analyze_sensors({SensorSetup("chest", Placement.TRUNK): rec}, THRESHOLDS)
    assert {o.type for o in offline.observations} >= {EventType.SLOUCH, EventType.SLEEP_POSITION}
    rng = np.random.default_rng(11)
    for every_s in (2.0, 13.0):
        streamed = _stream(rec, rng, every_s)
        assert streamed.segments == offline.segments
        assert streamed.observations == offline.observations
        assert streamed.posture_holds == offline.posture_holds
        assert streamed.lying_spells == offline.lying_spells
        assert (streamed.steps, streamed.moving_s) == (offline.steps, offline.moving_s)
        assert streamed.exposure == offline.exposure


def test_calibrating_without_a_known_forward_keeps_forward_to_walking() -> None:
    true, rec = _day(4)
    ev = WearerEvaluator("ann", [SensorSetup("chest", Placement.TRUNK)], THRESHOLDS)
    standing = rec.t_s < 25.0
    gyro = rec.gyro_dps
    assert gyro is not None
    ev.feed(SampleBlock("chest", rec.t_s[standing], rec.acc_g[standing], gyro[standing]))
    calibrated = ev.calibrate_upright("chest")
    assert calibrated.source is MountSource.CALIBRATED_UP
    assert not calibrated.forward_known
    assert _axis_error(calibrated.mount, true, 2) < 2.0
    assert ev.status().trunk_flexion_deg is None  # no forward yet, no flexion
    rest = ~standing
    ev.feed(SampleBlock("chest", rec.t_s[rest], rec.acc_g[rest], gyro[rest]))
    learned = ev.orientations["chest"]
    assert learned is not None
    assert learned.source is MountSource.CALIBRATED
    assert _axis_error(learned.mount, true, 2) < 2.0  # the calibrated up is kept
    assert _axis_error(learned.mount, true, 0) < 5.0
    assert math.isfinite(ev.status().trunk_flexion_deg or math.nan)
