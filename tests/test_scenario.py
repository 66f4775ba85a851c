"""Scenario files: built-ins, the TOML format, ground truth, and one-line errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from devices.scenario import (
    ACTIVITIES,
    DEFAULT_TRUNK_FLEXION_DEG,
    Activity,
    LyingPosition,
    Scenario,
    ScenarioError,
    ScenarioStep,
    list_builtin_scenarios,
    load_scenario,
)

S, SIT, W, L = Activity.STANDING, Activity.SITTING, Activity.WALKING, Activity.LYING


def test_builtins_are_listed_and_load() -> None:
    names = list_builtin_scenarios()
    assert {"demo-day", "sit-31min", "sit-break-sit", "short"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description
        assert all(step.label for step in scenario.steps)


def test_sit_31min_ground_truth() -> None:
    scenario = load_scenario("sit-31min")
    assert scenario.truth_segments() == [
        (S, 0.0, 120.0),
        (SIT, 120.0, 1980.0),
        (S, 1980.0, 2040.0),
        (W, 2040.0, 2160.0),
    ]
    assert scenario.duration_s == 2160.0


def test_sit_break_sit_never_sits_30_minutes() -> None:
    segments = load_scenario("sit-break-sit").truth_segments()
    sitting = [end - start for activity, start, end in segments if activity is SIT]
    assert sitting == [1200.0, 1200.0]
    walks = [(start, end) for activity, start, end in segments if activity is W]
    assert walks[0] == (1320.0, 1500.0)  # the 3-minute break between the bouts


def test_short_has_every_posture_class() -> None:
    scenario = load_scenario("short")
    assert scenario.duration_s == 360.0
    assert [a for a, _, _ in scenario.truth_segments()] == [S, W, SIT, L, S]


def test_demo_day_shape() -> None:
    scenario = load_scenario("demo-day")
    assert 60 * 60 <= scenario.duration_s <= 85 * 60
    sitting = [end - start for activity, start, end in scenario.truth_segments() if activity is SIT]
    assert max(sitting) >= 36 * 60  # one bout long enough for the 30-minute nudge
    assert any(bout < 30 * 60 for bout in sitting)  # and one that stays below it
    assert any(step.trunk_flexion_deg > 60 for step in scenario.steps)  # a rounded-back lift
    assert any(step.fall is not None for step in scenario.steps)  # and a fall


def test_step_bounds_and_activity_at() -> None:
    scenario = Scenario(
        "t",
        (
            ScenarioStep(S, 10.0),
            ScenarioStep(SIT, 20.0),
            ScenarioStep(SIT, 5.0),
            ScenarioStep(W, 5.0),
        ),
    )
    assert scenario.step_bounds_s() == ((0.0, 10.0), (10.0, 30.0), (30.0, 35.0), (35.0, 40.0))
    assert scenario.truth_segments() == [(S, 0.0, 10.0), (SIT, 10.0, 35.0), (W, 35.0, 40.0)]
    t = np.array([-1.0, 0.0, 9.999, 10.0, 29.0, 30.0, 39.9, 40.0, 100.0])
    got = [ACTIVITIES[i] for i in scenario.activity_at(t)]
    assert got == [S, S, S, SIT, SIT, SIT, W, W, W]
    assert scenario.activity_at(t).dtype.kind == "i"
    assert list(Activity).index(Activity.WALKING) == 3


def test_step_defaults_and_validation() -> None:
    step = ScenarioStep(SIT, 60.0)
    assert step.trunk_flexion_deg == DEFAULT_TRUNK_FLEXION_DEG[SIT]
    assert ScenarioStep(Activity.RUNNING, 1.0).trunk_flexion_deg == 8.0
    assert ScenarioStep(S, 1.0, trunk_flexion_deg=0.0).trunk_flexion_deg == 0.0
    assert ScenarioStep("walking", 1.0).activity is W  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="duration_s"):
        ScenarioStep(S, 0.0)
    with pytest.raises(ScenarioError, match="duration_s"):
        ScenarioStep(S, math.inf)
    with pytest.raises(ScenarioError, match="trunk_flexion_deg"):
        ScenarioStep(S, 1.0, trunk_flexion_deg=150.0)
    with pytest.raises(ScenarioError, match="lateral_bend_deg"):
        ScenarioStep(S, 1.0, lateral_bend_deg=-70.0)
    with pytest.raises(ScenarioError, match="activity"):
        ScenarioStep("jogging", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="no steps"):
        Scenario("empty", ())


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\ndescription = "a test"\n'
        '[[step]]\nactivity = "standing"\nduration_s = 30\n'
        '[[step]]\nactivity = "lying"\nduration_min = 1.5\nlying_position = "left"\n'
        'label = "nap"\n'
        '[[step]]\nactivity = "sitting"\nduration_s = 12.5\ntrunk_flexion_deg = -10\n'
        "lateral_bend_deg = 12\n",
        encoding="utf-8",
    )
    scenario = load_scenario(str(path))
    assert scenario.name == "mine"
    assert scenario.description == "a test"
    lying = scenario.steps[1]
    assert (lying.activity, lying.duration_s, lying.lying_position, lying.label) == (
        L,
        90.0,
        LyingPosition.LEFT,
        "nap",
    )
    assert scenario.steps[2].trunk_flexion_deg == -10.0
    assert scenario.steps[2].lateral_bend_deg == 12.0
    assert scenario.duration_s == 132.5


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "quick-one.toml"
    path.write_text('[[step]]\nactivity = "standing"\nduration_s = 3\n', encoding="utf-8")
    assert load_scenario(str(path)).name == "quick-one"


STEP_OK = 'activity = "standing"\nduration_s = 10\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('nmae = "x"\n[[step]]\n' + STEP_OK, "unknown key 'nmae'"),
        ('name = "x"\n', "no steps"),
        ("step = 3\n", "key 'step': must be [[step]] tables"),
        ('name = ""\n[[step]]\n' + STEP_OK, "key 'name': must be a non-empty string"),
        ("[[step]]\n" + STEP_OK + "[[step]]\n" + STEP_OK + "speed = 2\n", "step 2: key 'speed'"),
        ("[[step]]\nduration_s = 10\n", "step 1: key 'activity': missing"),
        (
            '[[step]]\nactivity = "jogging"\nduration_s = 10\n',
            "step 1: key 'activity': must be one of lying, sitting, standing, walking, running",
        ),
        ('[[step]]\nactivity = "sitting"\n', "step 1: key 'duration_s': missing"),
        (
            '[[step]]\nactivity = "sitting"\nduration_s = 10\nduration_min = 1\n',
            "step 1: key 'duration_min': give either",
        ),
        ('[[step]]\nactivity = "sitting"\nduration_min = -1\n', "step 1: key 'duration_min'"),
        ('[[step]]\nactivity = "sitting"\nduration_s = 0\n', "step 1: key 'duration_s'"),
        (
            '[[step]]\nactivity = "sitting"\nduration_s = "10"\n',
            "key 'duration_s': must be a number",
        ),
        (
            '[[step]]\nactivity = "sitting"\nduration_s = true\n',
            "key 'duration_s': must be a number",
        ),
        (
            '[[step]]\nactivity = "sitting"\nduration_s = nan\n',
            "key 'duration_s': must be a finite",
        ),
        (
            "[[step]]\n" + STEP_OK + "trunk_flexion_deg = 200\n",
            "step 1: key 'trunk_flexion_deg': must be from -45 to 120",
        ),
        ("[[step]]\n" + STEP_OK + "lateral_bend_deg = 90\n", "step 1: key 'lateral_bend_deg'"),
        (
            "[[step]]\n" + STEP_OK + 'lying_position = "left"\n',
            "step 1: key 'lying_position': only applies to activity 'lying'",
        ),
        (
            '[[step]]\nactivity = "lying"\nduration_s = 5\nlying_position = "side"\n',
            "step 1: key 'lying_position': must be one of supine, prone, left, right",
        ),
        ("[[step]]\n" + STEP_OK + "label = 5\n", "step 1: key 'label': must be a string"),
        ("[[step]]\nactivity = standing\n", "invalid TOML"),
    ],
)
def test_errors_are_one_line_naming_file_step_and_key(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n\n[[step]]\nactivity = = "sitting"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"line 4"):
        load_scenario(str(path))


def test_missing_file_lists_the_builtins(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(missing))
    assert str(caught.value).startswith(f"{missing}: no such scenario file")
    assert "sit-31min" in str(caught.value)
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario("demo-days")
