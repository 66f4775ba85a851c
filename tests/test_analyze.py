"""Offline analysis: the contract's JSON, and the same result as streaming the samples."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from devices.mount import Mount
from devices.recording import Recording, read_recording, write_recording
from devices.samples import Placement, SampleBlock
from devices.scenario import load_scenario
from devices.simulated import SimulatedSensor
from monitor.activity import Activity
from monitor.analyze import AnalysisResult, analyze_sensors
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from tests.test_activity import Synthetic, activity_at, synthetic

MOUNT = Mount.parse("-y,+z")
PHASES = (("stand", 20.0), ("walk", 20.0), ("sit", 2150.0), ("walk", 20.0), ("stand", 10.0))
CONTRACT_ACTIVITIES = {"lying", "sitting", "standing", "walking", "running", "unknown"}


def _recording(data: Synthetic) -> Recording:
    return Recording(t_s=data.t_s, acc_g=data.acc_g, gyro_dps=data.gyro_dps)


@pytest.fixture(scope="module")
def long_sit() -> Synthetic:
    """A 37 min waist recording with one 36 min sitting bout, at 25 Hz."""
    return synthetic(PHASES, Placement.WAIST, mount=MOUNT, rate_hz=25.0, seed=12)


@pytest.fixture(scope="module")
def long_sit_result(long_sit: Synthetic) -> AnalysisResult:
    return analyze_sensors({SensorSetup("belt", Placement.WAIST, MOUNT): _recording(long_sit)})


def test_json_follows_the_contract(long_sit_result: AnalysisResult) -> None:
    out = long_sit_result.to_json_dict(file="belt.csv")
    assert list(out) == ["file", "duration_s", "segments", "events", "summary"]
    assert out["file"] == "belt.csv"
    assert out["duration_s"] == pytest.approx(sum(s for _, s in PHASES), abs=0.05)
    segments = out["segments"]
    assert isinstance(segments, list)
    assert all(set(s) == {"activity", "start_s", "end_s"} for s in segments)
    assert {s["activity"] for s in segments} <= CONTRACT_ACTIVITIES
    assert segments[0]["start_s"] == 0.0
    assert segments[-1]["end_s"] == pytest.approx(out["duration_s"], abs=0.05)
    for before, after in itertools.pairwise(segments):
        assert before["end_s"] == after["start_s"]
    json.dumps(out)  # plain JSON types only
    events = out["events"]
    assert isinstance(events, list)
    for event in events:
        assert list(event)[:3] == ["type", "start_s", "end_s"]
        assert all(isinstance(v, int | float) for k, v in event.items() if k != "type")
    summary = out["summary"]
    assert isinstance(summary, dict)
    assert summary["sitting_s"] == pytest.approx(2150.0, abs=6.0)
    assert summary["walking_s"] == pytest.approx(40.0, abs=6.0)
    # The synthetic walk steps twice a second (less its first 1.8 s, a change of posture).
    assert summary["cadence_spm"] == pytest.approx(120.0, abs=12.0)
    assert summary["trunk_measured_s"] == 0.0  # a waist sensor: no trunk posture
    assert summary["flexion_over_60_share"] is None


def test_the_prolonged_bout_is_one_event_with_its_nudge_time(
    long_sit_result: AnalysisResult,
) -> None:
    events = long_sit_result.to_json_dict(file="belt.csv")["events"]
    assert isinstance(events, list)
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "sitting_bout"
    start = event["start_s"]
    assert isinstance(start, float)
    assert abs(start - 40.0) <= 2.0  # the sit phase starts at 40 s (file seconds)
    assert event["nudge_s"] == pytest.approx(start + 1800.0)
    assert event["limit_s"] == 1800.0
    assert event["nudges"] == 1
    assert abs(event["duration_s"] - 2150.0) <= 4.0
    assert event["end_s"] == pytest.approx(start + event["duration_s"])


def test_analysis_equals_feeding_the_evaluator_in_any_blocks(
    long_sit: Synthetic, long_sit_result: AnalysisResult
) -> None:
    setup = SensorSetup("belt", Placement.WAIST, MOUNT)
    rng = np.random.default_rng(2)
    ev = WearerEvaluator("wearer", [setup], EvaluationThresholds())
    observations = []
    a = 0
    while a < long_sit.t_s.shape[0]:
        b = a + int(rng.integers(1, 2000))
        observations += ev.feed(
            SampleBlock("belt", long_sit.t_s[a:b], long_sit.acc_g[a:b], long_sit.gyro_dps[a:b])
        )
        a = b
    observations += ev.finish()
    assert tuple(ev.segments) == long_sit_result.segments
    assert tuple(observations) == long_sit_result.observations
    assert tuple(ev.sitting_bouts) == long_sit_result.sitting_bouts


def test_block_size_of_the_analysis_does_not_matter(long_sit: Synthetic) -> None:
    setup = SensorSetup("belt", Placement.WAIST, MOUNT)
    rec = _recording(long_sit)
    small = analyze_sensors({setup: rec}, block_s=0.3)
    large = analyze_sensors({setup: rec}, block_s=3.0)
    assert small.segments == large.segments
    assert small.observations == large.observations


def test_two_sensors_of_one_wearer() -> None:
    phases = (("stand", 10.0), ("walk", 15.0), ("sit", 60.0), ("walk", 15.0))
    trunk_mount = Mount.parse("+x,-z")
    trunk = synthetic(phases, Placement.TRUNK, mount=trunk_mount, seed=5)
    thigh = synthetic(phases, Placement.THIGH, mount=MOUNT, seed=6)
    result = analyze_sensors(
        {
            SensorSetup("chest", Placement.TRUNK, trunk_mount): _recording(trunk),
            SensorSetup("leg", Placement.THIGH, MOUNT): _recording(thigh),
        },
        EvaluationThresholds(sitting_limit_s=30.0),
    )
    assert activity_at(result.segments, 5.0) is Activity.STANDING  # the thigh knows at once
    assert activity_at(result.segments, 55.0) is Activity.SITTING
    assert activity_at(result.segments, 95.0) is Activity.WALKING
    (bout,) = result.prolonged_bouts
    assert abs(bout.start_s - 25.0) <= 2.0


def test_a_csv_recording_analyses_like_the_samples_it_holds(tmp_path: Path) -> None:
    phases = (("walk", 15.0), ("sit", 30.0), ("stand", 10.0))
    data = synthetic(phases, Placement.WAIST, mount=MOUNT, seed=9)
    path = tmp_path / "belt.csv"
    write_recording(path, _recording(data))
    rec = read_recording(path)
    result = analyze_sensors({SensorSetup("belt", Placement.WAIST, MOUNT): rec})
    got = [activity_at(result.segments, t) for t in (7.0, 30.0, 52.0)]
    assert got == [Activity.WALKING, Activity.SITTING, Activity.STANDING]


def test_without_a_mount_the_analysis_still_runs_and_finds_walking() -> None:
    phases = (("stand", 10.0), ("walk", 30.0), ("stand", 10.0))
    data = synthetic(phases, Placement.WAIST, mount=MOUNT, seed=10)
    result = analyze_sensors({SensorSetup("belt", Placement.WAIST): _recording(data)})
    assert activity_at(result.segments, 25.0) is Activity.WALKING


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="no recordings"):
        analyze_sensors({})
    data = synthetic((("stand", 5.0),), Placement.WAIST)
    with pytest.raises(ValueError, match="block_s"):
        analyze_sensors({SensorSetup("b", Placement.WAIST): _recording(data)}, block_s=0.0)


def test_summary_counts_sitting_bouts_and_breaks_per_hour() -> None:
    mount = Mount.parse("-y,+z")
    day = load_scenario("sit-break-sit")  # stand 2, sit 20, walk 3, sit 20, walk 2 (min)
    sensors = {
        SensorSetup("chest", Placement.TRUNK, mount): SimulatedSensor(
            scenario=day, placement=Placement.TRUNK, sensor_id="chest", mount=mount, seed=2
        ).recording(),
        SensorSetup("thigh", Placement.THIGH, mount): SimulatedSensor(
            scenario=day, placement=Placement.THIGH, sensor_id="thigh", mount=mount, seed=2
        ).recording(),
    }
    summary = analyze_sensors(sensors).summary()
    assert summary["sitting_bouts"] == 2
    sitting_h = float(summary["sitting_s"]) / 3600.0  # type: ignore[arg-type]
    assert abs(sitting_h - 40 / 60) < 0.02
    assert summary["sitting_breaks_per_hour"] == round(2 / sitting_h, 2)
