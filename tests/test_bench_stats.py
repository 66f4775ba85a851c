"""The benchmark's bookkeeping: summaries, targets, tables, ground-truth agreement (no timing)."""

from __future__ import annotations

import math

import numpy as np

from bench.day import (
    ACTIVITY_NAMES,
    EXCLUDE_S,
    agreement,
    day_scenario,
    labels_from_segments,
    truth_per_second,
)
from bench.proc import parse_gnu_time
from bench.stats import Comparison, Report, Row, Summary, Target, replace_between
from devices.scenario import Activity, Scenario, ScenarioStep


def test_summary_takes_min_median_max_of_the_finite_values() -> None:
    summary = Summary.of([3.0, 1.0, float("nan"), 2.0, 10.0])
    assert (summary.min, summary.median, summary.max, summary.runs) == (1.0, 2.5, 10.0, 4)
    assert summary.text(1) == "1.0 / 2.5 / 10.0"
    assert Summary.of([]).runs == 0
    assert Summary.of([]).text(2) == "—"


def test_targets_are_judged_on_the_median() -> None:
    at_most = Target(Comparison.AT_MOST, 2.0)
    assert at_most.holds(Summary.of([1.0, 2.0, 9.0]))
    assert not at_most.holds(Summary.of([1.0, 2.5, 2.6]))
    at_least = Target(Comparison.AT_LEAST, 3.0)
    assert at_least.holds(Summary.of([2.0, 3.0, 4.0]))
    assert not at_least.holds(Summary.of([2.9]))
    assert not at_least.holds(Summary.of([]))  # nothing measured never passes


def test_report_fails_on_a_missed_target_or_a_benchmark_that_did_not_run() -> None:
    report = Report()
    report.add("t", Row("fast", Summary.of([1.0]), "s", target=Target(Comparison.AT_MOST, 2.0)))
    report.add("t", Row("info", Summary.of([5.0]), "s"))
    assert report.ok
    report.add("t", Row("slow", Summary.of([3.0]), "s", target=Target(Comparison.AT_MOST, 2.0)))
    assert not report.ok
    assert report.missed() == ["t: slow"]
    text = report.markdown()
    assert "| slow | 3.00 s | ≤ 2.00 s | MISSED |  |" in text
    assert "| fast | 1.00 s | ≤ 2.00 s | holds |  |" in text
    clean = Report()
    clean.fail("acti-motus failed: no module named actimotus")
    assert not clean.ok
    assert "acti-motus failed" in clean.markdown()


def test_tables_replace_what_lies_between_the_markers() -> None:
    text = "# Doc\n\nintro\n<!-- b -->\nold\n<!-- e -->\ntail\n"
    assert replace_between(text, "<!-- b -->", "<!-- e -->", "new") == (
        "# Doc\n\nintro\n<!-- b -->\nnew\n<!-- e -->\ntail\n"
    )
    assert replace_between("# Doc\n", "<!-- b -->", "<!-- e -->", "x").endswith(
        "<!-- b -->\nx\n<!-- e -->\n"
    )


def test_gnu_time_report_is_parsed() -> None:
    report = (
        "\tUser time (seconds): 1.50\n\tSystem time (seconds): 0.25\n"
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n"
        "\tMaximum resident set size (kbytes): 2048\n"
    )
    wall_s, cpu_s, peak_mb = parse_gnu_time(report)
    assert math.isclose(wall_s, 62.5)
    assert math.isclose(cpu_s, 1.75)
    assert math.isclose(peak_mb, 2048 * 1024 / 1e6)


def test_agreement_per_activity_leaves_out_the_seconds_near_a_change() -> None:
    scenario = Scenario(
        "t",
        (
            ScenarioStep(Activity.SITTING, 60.0),
            ScenarioStep(Activity.STANDING, 40.0),
            ScenarioStep(Activity.SITTING, 20.0),
        ),
    )
    truth = truth_per_second(scenario)
    assert truth.shape == (120,)
    near = int(EXCLUDE_S) + 1
    assert (truth[60 - near + 1 : 60 + near - 1] == -1).all()
    assert truth[50] == ACTIVITY_NAMES.index("sitting")
    assert truth[80] == ACTIVITY_NAMES.index("standing")
    # A labeller that is 2 s late at each change is right on every judged second...
    late = labels_from_segments(
        [("sitting", 0.0, 62.0), ("standing", 62.0, 102.0), ("sitting", 102.0, 120.0)], 120
    )
    shares = agreement(truth, late)
    assert shares["sitting"] == 1.0
    assert shares["standing"] == 1.0
    assert shares["lying"] is None
    # ...and one that calls 10 s of standing sitting is wrong on exactly those.
    wrong = labels_from_segments([("sitting", 0.0, 70.0), ("standing", 70.0, 120.0)], 120)
    shares = agreement(truth, wrong)
    judged_standing = int((truth == ACTIVITY_NAMES.index("standing")).sum())
    wrong_standing = int(
        ((truth == ACTIVITY_NAMES.index("standing")) & (np.arange(120) < 70)).sum()
    )
    assert shares["standing"] == (judged_standing - wrong_standing) / judged_standing
    assert shares["sitting"] is not None
    assert shares["sitting"] < 1.0  # the last sitting stretch was called standing


def test_the_benchmark_day_lasts_its_hours_and_lies_on_the_back_by_day() -> None:
    day = day_scenario(24.0)
    assert math.isclose(day.duration_s, 24 * 3600.0)
    activities = {step.activity for step in day.steps}
    assert activities == set(Activity)
    bounds = day.step_bounds_s()
    daytime_lying = [
        step
        for step, (start, _end) in zip(day.steps, bounds, strict=True)
        if step.activity is Activity.LYING and 9 * 3600 < start < 18 * 3600
    ]
    assert daytime_lying
    assert all(step.lying_position.value == "supine" for step in daytime_lying)
    first_hour = day_scenario(1.0)
    assert math.isclose(first_hour.duration_s, 3600.0)
    assert first_hour.steps[0] == day.steps[0]
