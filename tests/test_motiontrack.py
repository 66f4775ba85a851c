"""MotionTracker: blocks of body and thigh samples give the offline lifts and falls."""

from __future__ import annotations

import numpy as np

from devices.samples import Placement
from devices.scenario import load_scenario
from devices.simulated import SimulatedSensor
from monitor.falls import detect_falls
from monitor.lifts import detect_lifts
from monitor.motionbins import MotionBinner, MotionBins, bin_index, bin_samples
from monitor.motiontrack import MotionTracker, MotionUpdate


def test_tracker_fed_in_blocks_matches_the_offline_detectors() -> None:
    scenario = load_scenario("lifts-and-falls")
    body = SimulatedSensor(scenario, Placement.WAIST, "belt", seed=5).recording()
    thigh = SimulatedSensor(scenario, Placement.THIGH, "leg", seed=5).recording()
    assert body.gyro_dps is not None
    assert thigh.gyro_dps is not None

    def bins(t: np.ndarray, a: np.ndarray, g: np.ndarray) -> MotionBins:
        return bin_samples(t, a, g, int(bin_index(t[0])), int(bin_index(t[-1])) + 1)

    body_bins = bins(body.t_s, body.acc_g, body.gyro_dps)
    thigh_bins = bins(thigh.t_s, thigh.acc_g, thigh.gyro_dps)
    offline_lifts, offline_windows = detect_lifts(body_bins, Placement.WAIST, thigh_bins)
    offline_falls = detect_falls(body_bins, Placement.WAIST)

    tracker = MotionTracker(Placement.WAIST, has_thigh=True)
    body_binner = MotionBinner(has_gyro=True)
    thigh_binner = MotionBinner(has_gyro=True)
    updates: list[MotionUpdate] = []
    step = 37  # samples per block, thigh blocks offset by half a block
    n = body.t_s.shape[0]
    for i in range(0, n, step):
        j = min(n, i + step)
        got = body_binner.add(body.t_s[i:j], body.acc_g[i:j], body.gyro_dps[i:j])
        updates.append(tracker.add_body(got))
        k = min(n, i + step // 2)
        for a, b in ((i, k), (k, j)):
            got = thigh_binner.add(thigh.t_s[a:b], thigh.acc_g[a:b], thigh.gyro_dps[a:b])
            updates.append(tracker.add_thigh(got))
    updates.append(tracker.add_thigh(thigh_binner.finish()))
    updates.append(tracker.add_body(body_binner.finish()))
    updates.append(tracker.finish())
    lifts = [x for u in updates for x in u.lifts]
    windows = [x for u in updates for x in u.frequencies]
    falls = [x for u in updates for x in u.falls]
    assert lifts == offline_lifts
    assert windows == offline_windows
    assert falls == offline_falls
    assert len(lifts) == 3
    assert all(lift.thigh_peak_deg is not None for lift in lifts)
    assert len(falls) == 2
    assert any(updates[:-1])
