"""Fall detection: simulated falls; analytic falls against hard sits, jumps, stumbles, lying."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from devices.samples import Placement
from devices.scenario import Activity, FallDirection, LyingPosition, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor, motion_truth
from monitor.falls import Fall, FallDetector, detect_falls, fall_evidence
from monitor.motionbins import MotionBinner, MotionBins, bin_index, bin_samples

RATE_HZ = 100.0
START_S = 2000.0


def _bins(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None) -> MotionBins:
    return bin_samples(t, acc, gyro, int(bin_index(t[0])), int(bin_index(t[-1])) + 1)


# --------------------------------------------------------------------------- simulated falls


@pytest.mark.parametrize("direction", list(FallDirection))
@pytest.mark.parametrize("before", [Activity.STANDING, Activity.WALKING, Activity.SITTING])
@pytest.mark.parametrize("placement", [Placement.TRUNK, Placement.WAIST])
def test_simulated_falls_are_found_at_their_impact(
    direction: FallDirection, before: Activity, placement: Placement
) -> None:
    scenario = Scenario(
        "fall",
        (
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(before, 20.0),
            ScenarioStep(Activity.LYING, 30.0, fall=direction),
        ),
    )
    _, truth = motion_truth(scenario)
    rec = SimulatedSensor(scenario, placement, "s", start_s=START_S, seed=7).recording()
    falls = detect_falls(_bins(rec.t_s, rec.acc_g, rec.gyro_dps), placement)
    assert len(falls) == 1
    fall = falls[0]
    assert fall.impact_s == pytest.approx(START_S + truth[0].impact_s, abs=0.2)
    assert fall.orientation_change_deg > 60.0
    assert fall.post_inclination_deg > 70.0
    assert fall.peak_acc_g > 3.0
    assert fall.hard
    assert fall.stayed_down
    assert fall.down_s == pytest.approx(10.0, abs=0.1)
    assert fall.peak_rate_dps is not None
    assert fall.peak_rate_dps > 100.0
    assert fall.decided_s == pytest.approx(fall.impact_s + 10.0, abs=0.1)


def test_lying_down_and_sitting_down_on_purpose_are_not_falls() -> None:
    scenario = Scenario(
        "day",
        (
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(Activity.SITTING, 30.0),
            ScenarioStep(Activity.LYING, 60.0),
            ScenarioStep(Activity.SITTING, 20.0),
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(Activity.LYING, 60.0, lying_position=LyingPosition.PRONE),
            ScenarioStep(Activity.STANDING, 20.0),
        ),
    )
    for placement in (Placement.TRUNK, Placement.WAIST):
        rec = SimulatedSensor(scenario, placement, "s", start_s=START_S).recording()
        assert detect_falls(_bins(rec.t_s, rec.acc_g, rec.gyro_dps), placement) == []


# --------------------------------------------------------------------------- analytic movements


@dataclass(frozen=True)
class _Move:
    """A body-frame IMU signal built from pitch/roll angles and world linear acceleration."""

    t: np.ndarray
    pitch_deg: np.ndarray  # forward positive
    roll_deg: np.ndarray  # to the right positive
    lin_g: np.ndarray  # (n, 3) world-frame linear acceleration, g

    def imu(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = np.radians(self.pitch_deg)
        r = np.radians(self.roll_deg)
        cp, sp, cr, sr = np.cos(p), np.sin(p), np.cos(r), np.sin(r)
        # R = Ry(p) @ Rx(r): body to world. Specific force in the body frame: R^T (a + g).
        world = self.lin_g + np.array([0.0, 0.0, 1.0])
        rot = np.zeros((self.t.shape[0], 3, 3))
        rot[:, 0, 0] = cp
        rot[:, 0, 1] = sp * sr
        rot[:, 0, 2] = sp * cr
        rot[:, 1, 1] = cr
        rot[:, 1, 2] = -sr
        rot[:, 2, 0] = -sp
        rot[:, 2, 1] = cp * sr
        rot[:, 2, 2] = cp * cr
        acc = np.einsum("nji,nj->ni", rot, world)
        dt = 1.0 / RATE_HZ
        gyro = np.stack(
            (
                np.gradient(self.roll_deg, dt),
                np.gradient(self.pitch_deg, dt),
                np.zeros_like(self.t),
            ),
            axis=1,
        )
        rng = np.random.default_rng(0)
        acc = acc + 0.01 * rng.standard_normal(acc.shape)
        return START_S + self.t, acc, gyro


def _smooth_step(t: np.ndarray, t0: float, duration: float) -> np.ndarray:
    tau = np.clip((t - t0) / duration, 0.0, 1.0)
    return tau**3 * (10.0 + tau * (-15.0 + 6.0 * tau))


def _bump(t: np.ndarray, t0: float, width_s: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - t0) / width_s) ** 2)


def _time(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE_HZ)) / RATE_HZ


def _fall(
    *,
    start_pitch: float,
    end_pitch: float,
    end_roll: float = 0.0,
    fall_s: float,
    impact_g: float,
    get_up_after_s: float | None = None,
    total_s: float = 40.0,
) -> _Move:
    """Tip over from ``start_pitch`` to a lying posture, landing at 10 s with an impact."""
    t = _time(total_s)
    land = 10.0
    s = _smooth_step(t, land - fall_s, fall_s)
    pitch = start_pitch + (end_pitch - start_pitch) * s
    roll = end_roll * s
    lin = np.zeros((t.shape[0], 3))
    lin[:, 2] += (impact_g - 1.0) * _bump(t, land, 0.02)
    if get_up_after_s is not None:
        up = _smooth_step(t, land + get_up_after_s, 2.0)
        pitch = pitch + (start_pitch - end_pitch) * up
        roll = roll - end_roll * up
    return _Move(t, pitch, roll, lin)


def _falls(move: _Move, placement: Placement = Placement.WAIST, gyro: bool = True) -> list[Fall]:
    t, acc, rate = move.imu()
    return detect_falls(_bins(t, acc, rate if gyro else None), placement)


def test_hard_fall_that_gets_up_is_still_a_fall_but_not_staying_down() -> None:
    falls = _falls(
        _fall(start_pitch=0.0, end_pitch=90.0, fall_s=0.9, impact_g=4.0, get_up_after_s=4.0)
    )
    assert len(falls) == 1
    assert falls[0].hard
    assert not falls[0].stayed_down
    assert 3.0 < falls[0].down_s < 5.5


def test_soft_fall_counts_only_if_the_wearer_stays_down() -> None:
    soft = {"start_pitch": -20.0, "end_pitch": -90.0, "fall_s": 0.7, "impact_g": 2.2}
    stayed = _falls(_fall(**soft))
    assert len(stayed) == 1
    assert not stayed[0].hard
    assert stayed[0].stayed_down
    assert stayed[0].peak_acc_g == pytest.approx(2.2, abs=0.15)
    assert _falls(_fall(**soft, get_up_after_s=4.0)) == []


def test_lying_down_slowly_or_softly_is_not_a_fall() -> None:
    # Seated, lying back onto a bed over 2.5 s: slow, and only a slight jolt.
    slow = _fall(start_pitch=-20.0, end_pitch=-90.0, fall_s=2.5, impact_g=1.7)
    assert _falls(slow) == []
    # Quick but gentle (no impact worth the name).
    gentle = _fall(start_pitch=-20.0, end_pitch=-90.0, fall_s=0.7, impact_g=1.3)
    assert _falls(gentle) == []


def test_sitting_down_hard_is_not_a_fall() -> None:
    t = _time(30.0)
    pitch = -20.0 * _smooth_step(t, 9.4, 0.6)  # the pelvis tips back into the seat
    lin = np.zeros((t.shape[0], 3))
    lin[:, 2] = -0.5 * _bump(t, 9.7, 0.12) + 2.5 * _bump(t, 10.0, 0.02)
    assert _falls(_Move(t, pitch, np.zeros_like(t), lin)) == []


def test_jumping_is_not_a_fall() -> None:
    t = _time(30.0)
    lin = np.zeros((t.shape[0], 3))
    flight = (t > 9.6) & (t < 9.95)
    lin[flight, 2] = -1.0  # free fall: the accelerometer reads nothing
    lin[:, 2] += 3.0 * _bump(t, 10.0, 0.02) + 0.6 * _bump(t, 9.4, 0.1)
    pitch = 10.0 * _bump(t, 9.3, 0.2) + 8.0 * _bump(t, 10.1, 0.15)
    assert _falls(_Move(t, pitch, np.zeros_like(t), lin)) == []


def test_stumbling_while_walking_is_not_a_fall() -> None:
    t = _time(40.0)
    lin = np.zeros((t.shape[0], 3))
    lin[:, 2] = 0.3 * np.sin(2.0 * math.pi * 1.8 * t)
    lin[:, 0] = 0.2 * np.sin(2.0 * math.pi * 0.9 * t)
    lin[:, 2] += 3.0 * _bump(t, 10.0, 0.02)
    pitch = 5.0 + 25.0 * _bump(t, 10.1, 0.3)  # lurches forward and recovers
    roll = 3.0 * np.sin(2.0 * math.pi * 0.9 * t)
    assert _falls(_Move(t, pitch, roll, lin)) == []


def test_rolling_over_while_lying_is_not_a_fall() -> None:
    t = _time(40.0)
    pitch = np.full(t.shape[0], -90.0)  # on the back
    roll = 90.0 * _smooth_step(t, 9.3, 0.7)  # onto the side, with a thump
    lin = np.zeros((t.shape[0], 3))
    lin[:, 2] = 1.5 * _bump(t, 10.0, 0.02)
    assert _falls(_Move(t, pitch, roll, lin)) == []


def test_without_a_gyroscope_the_rate_is_not_asked_for() -> None:
    falls = _falls(_fall(start_pitch=-20.0, end_pitch=-90.0, fall_s=0.7, impact_g=2.2), gyro=False)
    assert len(falls) == 1
    assert falls[0].peak_rate_dps is None
    assert "peak_rate_dps" not in fall_evidence(falls[0])


def test_trunk_sensor_fall_sideways() -> None:
    falls = _falls(
        _fall(start_pitch=5.0, end_pitch=5.0, end_roll=-90.0, fall_s=0.9, impact_g=5.0),
        Placement.TRUNK,
    )
    assert len(falls) == 1
    assert falls[0].orientation_change_deg == pytest.approx(90.0, abs=5.0)


def test_streaming_in_any_blocks_equals_the_whole_recording() -> None:
    scenario = Scenario(
        "falls",
        (
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(Activity.LYING, 5.0, fall=FallDirection.FORWARD),
            ScenarioStep(Activity.STANDING, 20.0),
            ScenarioStep(Activity.WALKING, 30.0),
            ScenarioStep(Activity.LYING, 30.0, fall=FallDirection.LEFT),
        ),
    )
    rec = SimulatedSensor(scenario, Placement.WAIST, "s", start_s=START_S).recording()
    assert rec.gyro_dps is not None
    offline = detect_falls(_bins(rec.t_s, rec.acc_g, rec.gyro_dps), Placement.WAIST)
    assert [f.stayed_down for f in offline] == [False, True]
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        binner = MotionBinner(has_gyro=True)
        detector = FallDetector(Placement.WAIST)
        found: list[Fall] = []
        i = 0
        n = rec.t_s.shape[0]
        while i < n:
            j = min(n, i + int(rng.integers(1, 400)))
            found += detector.update(binner.add(rec.t_s[i:j], rec.acc_g[i:j], rec.gyro_dps[i:j]))
            i = j
        found += detector.update(binner.finish())
        found += detector.finish()
        assert found == offline
