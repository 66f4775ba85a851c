"""Step peaks: known step counts, any block cutting, nothing at rest."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from devices.samples import FloatArray, Placement
from devices.scenario import Activity, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.steps import StepDetector
from tests.test_activity import synthetic


def _peaks(t: FloatArray, acc: FloatArray, cuts: list[int] | None = None) -> FloatArray:
    detector = StepDetector()
    edges = [0, *(cuts or []), t.shape[0]]
    parts = [detector.update(t[a:b], acc[a:b]) for a, b in itertools.pairwise(edges)]
    parts.append(detector.finish())
    return np.concatenate(parts)


@pytest.mark.parametrize("rate_hz", [25.0, 50.0, 100.0, 200.0])
def test_two_steps_a_second_are_counted_at_every_rate(rate_hz: float) -> None:
    data = synthetic(
        (("stand", 10.0), ("walk", 60.0), ("stand", 10.0)), Placement.WAIST, rate_hz=rate_hz
    )
    peaks = _peaks(data.t_s, data.acc_g)
    # The first 1.8 s of the walk are the change of posture from standing (no steps).
    walking = peaks[(peaks >= 12.0) & (peaks < 70.0)]
    assert walking.shape[0] == pytest.approx(116, abs=1)
    assert np.all(np.diff(walking) == pytest.approx(0.5, abs=0.05))
    assert np.count_nonzero(peaks < 10.0) + np.count_nonzero(peaks >= 70.5) == 0


def test_running_cadence() -> None:
    data = synthetic((("stand", 5.0), ("run", 30.0), ("stand", 5.0)), Placement.TRUNK)
    peaks = _peaks(data.t_s, data.acc_g)
    running = peaks[(peaks >= 7.0) & (peaks < 35.0)]
    assert running.shape[0] / 28.0 == pytest.approx(2.8, abs=0.1)  # the synthetic run: 2.8 Hz


def test_any_block_cutting_gives_the_same_peaks() -> None:
    data = synthetic((("walk", 20.0), ("run", 10.0)), Placement.WAIST, rate_hz=100.0, seed=4)
    whole = _peaks(data.t_s, data.acc_g)
    rng = np.random.default_rng(3)
    for _ in range(5):
        cuts = sorted(rng.choice(np.arange(1, data.t_s.shape[0]), 40, replace=False).tolist())
        np.testing.assert_array_equal(_peaks(data.t_s, data.acc_g, [int(c) for c in cuts]), whole)
    single = _peaks(data.t_s, data.acc_g, list(range(1, data.t_s.shape[0])))
    np.testing.assert_array_equal(single, whole)


def test_simulated_walking_matches_the_simulated_cadence() -> None:
    scenario = Scenario(
        "walk",
        (
            ScenarioStep(Activity.STANDING, 10.0),
            ScenarioStep(Activity.WALKING, 120.0),
            ScenarioStep(Activity.STANDING, 10.0),
        ),
    )
    for placement in Placement:
        rec = SimulatedSensor(scenario, placement, "s", seed=2).recording()
        peaks = _peaks(rec.t_s, rec.acc_g)
        walking = peaks[(peaks >= 12.0) & (peaks < 128.0)]
        # The simulated wearer walks at 1.8 steps/s, give or take 4 %.
        assert 1.8 * 0.95 <= walking.shape[0] / 116.0 <= 1.8 * 1.05, placement
        assert np.count_nonzero(peaks < 9.0) == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        StepDetector(min_interval_s=0.0)
    assert StepDetector().finish().shape == (0,)
