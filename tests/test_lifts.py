"""Lift detection on simulated squats and stoops with known timing, technique and twist."""

from __future__ import annotations

import numpy as np
import pytest

from devices.recording import Recording
from devices.samples import Placement
from devices.scenario import Activity, LiftTechnique, Scenario, ScenarioStep, load_scenario
from devices.simulated import SimulatedSensor, motion_truth
from monitor.lifts import (
    BendFrequency,
    FrequencyBand,
    Lift,
    LiftDetector,
    LiftRisk,
    LiftThresholds,
    Technique,
    detect_lifts,
    frequency_band,
    frequency_evidence,
    lift_evidence,
)
from monitor.motionbins import MotionBinner, MotionBins, bin_index, bin_samples

STAND = Activity.STANDING


def _recording(
    scenario: Scenario, placement: Placement, *, gyro: bool = True, seed: int = 0
) -> Recording:
    sensor = SimulatedSensor(
        scenario, placement, f"s-{placement.value}", seed=seed, has_gyro=gyro, start_s=500.0
    )
    return sensor.recording()


def _bins(rec: Recording) -> MotionBins:
    first = int(bin_index(rec.t_s[0]))
    return bin_samples(rec.t_s, rec.acc_g, rec.gyro_dps, first, int(bin_index(rec.t_s[-1])) + 1)


def _lifting_scenario() -> Scenario:
    return Scenario(
        "lifting",
        (
            ScenarioStep(STAND, 20.0),
            ScenarioStep(STAND, 12.0, lift=LiftTechnique.SQUAT),
            ScenarioStep(STAND, 12.0, lift=LiftTechnique.STOOP, twist_deg=40.0),
            ScenarioStep(Activity.WALKING, 20.0),
            ScenarioStep(STAND, 12.0, lift=LiftTechnique.STOOP),
            ScenarioStep(STAND, 10.0),
        ),
    )


def _expected() -> list[Technique]:
    return [Technique.SQUAT, Technique.STOOP, Technique.STOOP]


@pytest.mark.parametrize("placement", [Placement.TRUNK, Placement.WAIST])
@pytest.mark.parametrize("gyro", [True, False])
@pytest.mark.parametrize("thigh", [False, True])
def test_each_simulated_lift_is_found_once_with_its_technique(
    placement: Placement, gyro: bool, thigh: bool
) -> None:
    scenario = _lifting_scenario()
    truth, _ = motion_truth(scenario)
    body = _bins(_recording(scenario, placement, gyro=gyro))
    thigh_bins = _bins(_recording(scenario, Placement.THIGH, gyro=gyro)) if thigh else None
    lifts, _ = detect_lifts(body, placement, thigh_bins)
    assert [lift.technique for lift in lifts] == _expected()
    for lift, true in zip(lifts, truth, strict=True):
        assert lift.start_s == pytest.approx(500.0 + true.start_s, abs=0.6)
        assert lift.end_s == pytest.approx(500.0 + true.end_s, abs=0.6)
        assert 500.0 + true.start_s < lift.peak_s < 500.0 + true.end_s
        assert (lift.thigh_peak_deg is not None) is thigh
        assert (lift.knee_flexion_deg is not None) is not thigh
        assert (lift.twist_deg is not None) is gyro
        assert lift.bend
    squat, stoop, _ = lifts
    if thigh:
        assert squat.thigh_peak_deg is not None
        assert squat.thigh_peak_deg > 80.0
        assert stoop.thigh_peak_deg is not None
        assert stoop.thigh_peak_deg < 15.0
    else:
        assert squat.knee_flexion_deg is not None
        assert squat.knee_flexion_deg > 90.0
        assert stoop.knee_flexion_deg is not None
        assert stoop.knee_flexion_deg < 40.0
    # The simulated trunk bends to 35 and 85 degrees, the pelvis to 15 and 50.
    squat_deg, stoop_deg = (35.0, 85.0) if placement is Placement.TRUNK else (15.0, 50.0)
    assert squat.peak_flexion_deg == pytest.approx(squat_deg, abs=4.0)
    assert stoop.peak_flexion_deg == pytest.approx(stoop_deg, abs=4.0)
    # The squat lowers the hips by 0.42 m.
    assert squat.drop_m == pytest.approx(0.42, abs=0.15)
    assert squat.hip_drop_m == pytest.approx(0.42, abs=0.1)


def test_risks_name_the_stoop_the_deep_bend_and_the_twist() -> None:
    scenario = _lifting_scenario()
    lifts, _ = detect_lifts(_bins(_recording(scenario, Placement.TRUNK)), Placement.TRUNK)
    squat, twisted, plain = lifts
    assert squat.risks == frozenset()
    assert {LiftRisk.STOOP, LiftRisk.DEEP_FLEXION, LiftRisk.TWIST} <= twisted.risks
    assert twisted.twist_deg is not None
    assert twisted.twist_deg == pytest.approx(40.0, abs=12.0)
    assert plain.risks == {LiftRisk.STOOP, LiftRisk.DEEP_FLEXION}
    assert plain.twist_deg is not None
    assert plain.twist_deg < 5.0
    # Angular velocities: 85 degrees down in 1.3 s (minimum jerk peaks at 1.875x the mean).
    assert plain.flexion_velocity_dps == pytest.approx(1.875 * 85.0 / 1.3, rel=0.2)
    assert plain.extension_velocity_dps == pytest.approx(1.875 * 85.0 / 1.3, rel=0.2)
    assert plain.extension_velocity_dps < LiftThresholds().fast_extension_dps


@pytest.mark.parametrize("name", ["short", "sit-break-sit"])
def test_no_lifts_in_days_without_them(name: str) -> None:
    scenario = load_scenario(name)
    for placement in (Placement.TRUNK, Placement.WAIST):
        lifts, _ = detect_lifts(_bins(_recording(scenario, placement, seed=3)), placement)
        assert lifts == []


def _stream(
    rec: Recording, placement: Placement, thigh: Recording | None, seed: int
) -> tuple[list[Lift], list[BendFrequency]]:
    """Feed samples in random blocks through binners into a LiftDetector."""
    rng = np.random.default_rng(seed)
    detector = LiftDetector(placement, has_thigh=thigh is not None)
    body_binner = MotionBinner(has_gyro=rec.gyro_dps is not None)
    thigh_binner = MotionBinner(has_gyro=True)
    lifts: list[Lift] = []
    windows: list[BendFrequency] = []
    i = 0
    n = rec.t_s.shape[0]
    while i < n:
        j = min(n, i + int(rng.integers(1, 300)))
        body = body_binner.add(
            rec.t_s[i:j], rec.acc_g[i:j], rec.gyro_dps[i:j] if rec.gyro_dps is not None else None
        )
        thigh_bins = None
        if thigh is not None:
            # The thigh's blocks come cut differently and a little late.
            k = max(0, i - int(rng.integers(0, 50)))
            thigh_bins = thigh_binner.add(thigh.t_s[:j][k:], thigh.acc_g[:j][k:], None)
        new_lifts, new_windows = detector.update(body, thigh_bins)
        lifts += new_lifts
        windows += new_windows
        i = j
    last_thigh = thigh_binner.finish() if thigh is not None else None
    new_lifts, new_windows = detector.update(body_binner.finish(), last_thigh)
    lifts += new_lifts
    windows += new_windows
    new_lifts, new_windows = detector.finish()
    return lifts + new_lifts, windows + new_windows


@pytest.mark.parametrize("placement", [Placement.TRUNK, Placement.WAIST])
@pytest.mark.parametrize("with_thigh", [False, True])
def test_streaming_in_any_blocks_equals_the_whole_recording(
    placement: Placement, with_thigh: bool
) -> None:
    scenario = _lifting_scenario()
    rec = _recording(scenario, placement)
    thigh = _recording(scenario, Placement.THIGH, gyro=False) if with_thigh else None
    thigh_bins = None
    if thigh is not None:
        thigh_bins = bin_samples(
            thigh.t_s,
            thigh.acc_g,
            None,
            int(bin_index(thigh.t_s[0])),
            int(bin_index(thigh.t_s[-1])) + 1,
        )
    offline = detect_lifts(_bins(rec), placement, thigh_bins)
    for seed in (1, 2):
        assert _stream(rec, placement, thigh, seed) == offline
    assert len(offline[0]) == 3


def test_bend_frequency_windows_rate_the_pace() -> None:
    steps = [ScenarioStep(STAND, 10.0)]
    steps += [ScenarioStep(STAND, 9.0, lift=LiftTechnique.STOOP) for _ in range(30)]
    steps += [ScenarioStep(STAND, 140.0)]
    scenario = Scenario("paced", tuple(steps))  # 30 lifts in 4.5 minutes, then 2.3 still
    th = LiftThresholds(frequency_window_s=120.0)
    rec = _recording(scenario, Placement.TRUNK)
    lifts, windows = detect_lifts(_bins(rec), Placement.TRUNK, thresholds=th)
    assert len(lifts) == 30
    # Windows of 120 s on the absolute grid; the data starts at 500 s (window 4 from 480 s).
    by_start = {w.start_s: w for w in windows}
    full = by_start[600.0]  # 600-720 s: inside the lifting, one lift per 9 s
    assert full.bends == pytest.approx(120.0 / 9.0, abs=1.0)
    assert full.per_min == pytest.approx(60.0 / 9.0, abs=0.5)
    assert full.band is FrequencyBand.CONDITIONAL
    quiet = by_start[840.0]  # 840-960 s: standing still
    assert quiet.bends == 0
    assert quiet.band is FrequencyBand.ACCEPTABLE
    assert sum(w.bends for w in windows) == 30


def test_frequency_bands_follow_en_1005_4() -> None:
    th = LiftThresholds()
    assert frequency_band(1.99, th) is FrequencyBand.ACCEPTABLE
    assert frequency_band(2.0, th) is FrequencyBand.CONDITIONAL
    assert frequency_band(9.99, th) is FrequencyBand.CONDITIONAL
    assert frequency_band(10.0, th) is FrequencyBand.NOT_ACCEPTABLE


def test_a_thigh_cannot_be_the_body_sensor() -> None:
    with pytest.raises(ValueError, match="trunk or waist"):
        LiftDetector(Placement.THIGH)


def test_evidence_names_every_number_with_its_unit() -> None:
    th = LiftThresholds(frequency_window_s=60.0)
    lifts, windows = detect_lifts(
        _bins(_recording(_lifting_scenario(), Placement.TRUNK)), Placement.TRUNK, thresholds=th
    )
    evidence = lift_evidence(lifts[1])
    assert evidence["peak_flexion_deg"] == lifts[1].peak_flexion_deg
    assert evidence["risk_stoop"] == 1.0
    assert evidence["risk_fast_extension"] == 0.0
    assert "twist_deg" in evidence
    assert "thigh_peak_deg" not in evidence
    assert windows
    assert frequency_evidence(windows[0])["bends"] == float(windows[0].bends)


def test_slow_sensors_and_gaps_in_the_data() -> None:
    scenario = _lifting_scenario()
    sensor = SimulatedSensor(scenario, Placement.TRUNK, "slow", rate_hz=25.0, start_s=500.0)
    rec = sensor.recording()
    lifts, _ = detect_lifts(_bins(rec), Placement.TRUNK)
    assert [lift.technique for lift in lifts] == _expected()
    # 6 s without samples during the walk: the lifts around it are still found.
    keep = (rec.t_s < 550.0) | (rec.t_s > 556.0)
    gappy = Recording(t_s=rec.t_s[keep], acc_g=rec.acc_g[keep], gyro_dps=None)
    lifts, _ = detect_lifts(_bins(gappy), Placement.TRUNK)
    assert [lift.technique for lift in lifts] == _expected()
