"""Scenario keys for simulated lifts and falls: parsing, checks, and the built-in example."""

from __future__ import annotations

import pytest

from devices.samples import Placement
from devices.scenario import (
    Activity,
    FallDirection,
    LiftTechnique,
    LyingPosition,
    ScenarioError,
    ScenarioStep,
    load_scenario,
    parse_scenario,
)
from devices.simulated import SimulatedSensor, motion_truth
from monitor.falls import detect_falls
from monitor.lifts import Technique, detect_lifts
from monitor.motionbins import bin_index, bin_samples


def _one_step(body: str) -> ScenarioStep:
    return parse_scenario(f"[[step]]\n{body}\n", "test.toml", "test").steps[0]


def test_lift_and_fall_keys_are_read() -> None:
    lift = _one_step('activity = "standing"\nduration_s = 10\nlift = "stoop"\ntwist_deg = -30')
    assert lift.lift is LiftTechnique.STOOP
    assert lift.twist_deg == -30.0
    fall = _one_step('activity = "lying"\nduration_s = 10\nfall = "backward"')
    assert fall.fall is FallDirection.BACKWARD
    assert fall.lying_position is LyingPosition.SUPINE
    direct = ScenarioStep(Activity.LYING, 5.0, fall=FallDirection.RIGHT)
    assert direct.lying_position is LyingPosition.RIGHT


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('activity = "walking"\nduration_s = 10\nlift = "squat"', "step 1: key 'lift'"),
        ('activity = "standing"\nduration_s = 10\nlift = "bend"', "key 'lift': must be one of"),
        ('activity = "standing"\nduration_s = 10\ntwist_deg = 20', "key 'twist_deg'"),
        (
            'activity = "standing"\nduration_s = 10\nlift = "squat"\ntwist_deg = 120',
            "key 'twist_deg': must be from",
        ),
        ('activity = "sitting"\nduration_s = 10\nfall = "left"', "key 'fall': only applies"),
        (
            'activity = "lying"\nduration_s = 10\nfall = "left"\nlying_position = "supine"',
            "key 'lying_position': a fall 'left' lands 'left'",
        ),
    ],
)
def test_bad_lift_and_fall_keys_name_the_key(body: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(f"[[step]]\n{body}\n", "test.toml", "test")


def test_builtin_lifting_scenario_is_detected_as_scripted() -> None:
    scenario = load_scenario("lifts-and-falls")
    lifts_truth, falls_truth = motion_truth(scenario)
    assert [x.technique for x in lifts_truth] == [
        LiftTechnique.SQUAT,
        LiftTechnique.STOOP,
        LiftTechnique.STOOP,
    ]
    assert [x.direction for x in falls_truth] == [FallDirection.FORWARD, FallDirection.LEFT]
    rec = SimulatedSensor(scenario, Placement.TRUNK, "chest", seed=11).recording()
    bins = bin_samples(
        rec.t_s,
        rec.acc_g,
        rec.gyro_dps,
        int(bin_index(rec.t_s[0])),
        int(bin_index(rec.t_s[-1])) + 1,
    )
    lifts, _ = detect_lifts(bins, Placement.TRUNK)
    assert [x.technique for x in lifts] == [Technique.SQUAT, Technique.STOOP, Technique.STOOP]
    falls = detect_falls(bins, Placement.TRUNK)
    assert [round(f.impact_s) for f in falls] == [round(x.impact_s) for x in falls_truth]
    assert [f.stayed_down for f in falls] == [False, True]
