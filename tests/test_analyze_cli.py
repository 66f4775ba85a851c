"""``backwatch analyze`` as a command: JSON Lines equal to the library's, streamed input, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devices.mount import Mount
from devices.recording import iter_recording, read_recording, write_recording
from devices.samples import Placement
from devices.scenario import Activity, LyingPosition, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.analyze import analyze_sensors, analyze_streams
from monitor.evaluation import SensorSetup

REPO = Path(__file__).resolve().parent.parent
MOUNT = "-y,+z"
DAY = Scenario(
    "cli",
    (
        ScenarioStep(Activity.LYING, 90.0, lying_position=LyingPosition.LEFT),
        ScenarioStep(Activity.STANDING, 30.0),
        ScenarioStep(Activity.WALKING, 120.0),
        ScenarioStep(Activity.SITTING, 60.0, trunk_flexion_deg=12.0),
        ScenarioStep(Activity.SITTING, 340.0, trunk_flexion_deg=38.0),
        ScenarioStep(Activity.STANDING, 20.0),
        ScenarioStep(Activity.WALKING, 60.0),
    ),
)


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "analyze", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def day_files(tmp_path_factory: pytest.TempPathFactory) -> dict[Placement, Path]:
    """A trunk and a thigh recording of the same wearer, 200 Hz (more than one chunk)."""
    folder = tmp_path_factory.mktemp("recordings")
    files = {}
    for placement in (Placement.TRUNK, Placement.THIGH):
        sensor = SimulatedSensor(
            DAY, placement, placement.value, rate_hz=200.0, mount=Mount.parse(MOUNT), seed=3
        )
        files[placement] = folder / f"{placement.value}.csv"
        write_recording(files[placement], sensor.recording())
    return files


def test_one_file_gives_the_library_result_as_one_json_line(
    day_files: dict[Placement, Path],
) -> None:
    path = day_files[Placement.TRUNK]
    assert len(list(iter_recording(path))) > 2  # really read in chunks
    done = _analyze("--placement", "trunk", f"--mount={MOUNT}", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    setup = SensorSetup("trunk", Placement.TRUNK, Mount.parse(MOUNT))
    expected = analyze_sensors({setup: read_recording(path)}).to_json_dict(str(path))
    assert record == json.loads(json.dumps(expected))
    kinds = [e["type"] for e in record["events"]]
    assert "slouch" in kinds
    assert record["summary"]["steps"] > 300


def test_two_sensors_of_one_wearer_streamed_equal_the_whole_recordings(
    day_files: dict[Placement, Path],
) -> None:
    setups = {SensorSetup(p.value, p, Mount.parse(MOUNT)): path for p, path in day_files.items()}
    whole = analyze_sensors({s: read_recording(path) for s, path in setups.items()})
    streamed = analyze_streams({s: iter_recording(path) for s, path in setups.items()})
    assert streamed == whole
    done = _analyze(
        "--sensor",
        f"trunk={day_files[Placement.TRUNK]}",
        "--sensor",
        f"thigh={day_files[Placement.THIGH]}",
        "--sensor-mount",
        f"trunk={MOUNT}",
        "--sensor-mount",
        f"thigh={MOUNT}",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["segments"] == json.loads(json.dumps(whole.to_json_dict("x")["segments"]))
    assert set(record["sensors"]) == {"trunk", "thigh"}


def test_a_malformed_line_is_named_with_its_file_and_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = ["t_s,ax_g,ay_g,az_g"] + [f"{i / 50:.6f},0.0,0.0,1.0" for i in range(300)]
    rows[151] = "3.000000,0.0,zero,1.0"
    path.write_text("\n".join(rows) + "\n")
    done = _analyze(str(path))
    assert done.returncode != 0
    assert done.stdout == ""
    assert f"{path}:152:" in done.stderr
