"""The calibration store on a real SQLite file: round trips, WAL, changes only, recovery."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from devices.mount import Mount
from devices.samples import Placement, SampleBlock
from devices.scenario import Activity, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.calibration_store import (
    CALIBRATION_FILE,
    CalibrationStore,
    CalibrationStoreError,
)
from monitor.evaluation import SensorSetup, WearerEvaluator
from monitor.orientation import MountSource, SensorOrientation
from tests.test_orientation_learning import random_mount

T0 = 1_714_554_000.0


def _orientation(seed: int, source: MountSource = MountSource.WALKING) -> SensorOrientation:
    return SensorOrientation(random_mount(seed), source)


def test_a_saved_orientation_comes_back_exactly_after_reopening(tmp_path: Path) -> None:
    state = tmp_path / "state" / "backwatch"  # created on demand
    chest = _orientation(1, MountSource.CALIBRATED)
    with CalibrationStore.in_state_dir(state) as store:
        assert store.path == state / CALIBRATION_FILE
        assert store.journal_mode == "wal"
        assert store.load("ann", "chest") is None
        store.save("ann", "chest", chest, T0)
        store.save("ann", "thigh", _orientation(2), T0 + 1)
        store.save("bob", "chest", _orientation(3, MountSource.CALIBRATED_UP), T0 + 2)
    with CalibrationStore.in_state_dir(state) as store:
        loaded = store.load("ann", "chest")
        assert loaded is not None
        assert loaded.orientation.source is MountSource.CALIBRATED
        np.testing.assert_array_equal(
            loaded.orientation.mount.sensor_from_body, chest.mount.sensor_from_body
        )
        assert loaded.saved_at_s == T0
        assert sorted(store.load_wearer("ann")) == ["chest", "thigh"]
        bob = store.load_wearer("bob")["chest"]
        assert bob.orientation.source is MountSource.CALIBRATED_UP
        assert store.load_wearer("nobody") == {}


def test_saving_again_replaces_and_forget_removes(tmp_path: Path) -> None:
    with CalibrationStore(tmp_path / "c.sqlite3") as store:
        store.save("ann", "chest", _orientation(1), T0)
        store.save("ann", "chest", _orientation(4, MountSource.CALIBRATED), T0 + 60)
        loaded = store.load("ann", "chest")
        assert loaded is not None
        assert loaded.orientation.source is MountSource.CALIBRATED
        assert loaded.saved_at_s == T0 + 60
        assert store.forget("ann", "chest")
        assert not store.forget("ann", "chest")
        assert store.load("ann", "chest") is None


def test_only_orientations_worth_keeping_are_saved_and_only_when_changed(tmp_path: Path) -> None:
    walking = _orientation(5)
    orientations = {
        "chest": walking,
        "belt": SensorOrientation(Mount.parse("-y,+z"), MountSource.DECLARED),
        "thigh": SensorOrientation(Mount.identity(), MountSource.LEARNED),
        "wrist": None,
    }
    with CalibrationStore(tmp_path / "c.sqlite3") as store:
        assert store.save_changed("ann", orientations, T0) == ["chest"]
        assert store.save_changed("ann", orientations, T0 + 5) == []  # nothing new
        loaded = store.load("ann", "chest")
        assert loaded is not None
        assert loaded.saved_at_s == T0
        orientations["chest"] = _orientation(6)
        assert store.save_changed("ann", orientations, T0 + 9) == ["chest"]
        with pytest.raises(ValueError, match="declared"):
            store.save("ann", "belt", orientations["belt"], T0)  # type: ignore[arg-type]


def test_a_row_that_is_not_a_rotation_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with CalibrationStore(path) as store:
        store.save("ann", "chest", _orientation(1), T0)
        store.save("ann", "thigh", _orientation(2), T0)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE sensor_calibration SET r00 = 5.0 WHERE sensor_id = 'thigh'")
        raw.execute("UPDATE sensor_calibration SET source = 'psychic' WHERE sensor_id = 'chest'")
    raw.close()
    with CalibrationStore(path) as store:
        assert store.load_wearer("ann") == {}


def test_an_unreadable_file_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / CALIBRATION_FILE
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with CalibrationStore(path) as store:
        assert store.recovered_from is not None
        assert store.recovered_from.read_bytes().startswith(b"this is not a database")
        assert store.load_wearer("ann") == {}
        store.save("ann", "chest", _orientation(1), T0)
        assert store.load("ann", "chest") is not None


def test_a_path_that_cannot_be_a_file_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises(CalibrationStoreError, match="state"):
        CalibrationStore.in_state_dir(blocker)


def test_an_evaluator_calibration_survives_a_restart(tmp_path: Path) -> None:
    """What the daemon does: save on change, restore at start."""
    true = random_mount(30)
    scenario = Scenario(
        "up",
        (ScenarioStep(Activity.STANDING, 10.0), ScenarioStep(Activity.WALKING, 150.0)),
    )
    sensor = SimulatedSensor(scenario, Placement.TRUNK, "chest", mount=true)
    setup = SensorSetup("chest", Placement.TRUNK)
    first = WearerEvaluator("ann", [setup])
    rec = sensor.recording()
    standing = rec.t_s < 8.0
    gyro = rec.gyro_dps
    assert gyro is not None
    first.feed(SampleBlock("chest", rec.t_s[standing], rec.acc_g[standing], gyro[standing]))
    first.calibrate_upright("chest")
    assert first.orientation_version == 1
    with CalibrationStore(tmp_path / CALIBRATION_FILE) as store:
        assert store.save_changed("ann", first.orientations, T0) == ["chest"]
        rest = ~standing
        first.feed(SampleBlock("chest", rec.t_s[rest], rec.acc_g[rest], gyro[rest]))
        first.finish()
        assert first.orientation_version == 2  # forward learned from the walk
        assert store.save_changed("ann", first.orientations, T0 + 90) == ["chest"]
    with CalibrationStore(tmp_path / CALIBRATION_FILE) as store:
        second = WearerEvaluator("ann", [setup])
        for sensor_id, stored in store.load_wearer("ann").items():
            second.restore_orientation(sensor_id, stored.orientation)
    restored = second.orientations["chest"]
    learned = first.orientations["chest"]
    assert restored is not None
    assert learned is not None
    np.testing.assert_array_equal(restored.mount.sensor_from_body, learned.mount.sensor_from_body)
    assert restored.source is learned.source is MountSource.CALIBRATED
    assert second.orientation_version == 0


def test_a_damaged_page_fails_the_check_and_is_moved_aside_with_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CALIBRATION_FILE
    with CalibrationStore(path) as store:
        for index in range(200):
            store.save(f"wearer{index}", "chest", _orientation(1), T0)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = int(raw.execute("PRAGMA page_size").fetchone()[0])
    raw.close()
    data = bytearray(path.read_bytes())
    data[page_size * 2 : page_size * 2 + 64] = b"\xff" * 64  # a b-tree page's header
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR), CalibrationStore(path) as store:
        assert store.recovered_from is not None
        assert store.recovered_from.read_bytes() == bytes(data)  # kept, not dropped
        assert store.load_wearer("wearer5") == {}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert str(path) in errors[0]
    assert str(store.recovered_from) in errors[0]


def test_forget_wearer_removes_only_that_wearer(tmp_path: Path) -> None:
    with CalibrationStore(tmp_path / CALIBRATION_FILE) as store:
        store.save("ann", "chest", _orientation(1), T0)
        store.save("ann", "thigh", _orientation(1), T0)
        store.save("bo", "chest", _orientation(1), T0)
        assert store.forget_wearer("ann") == 2
        assert store.forget_wearer("ann") == 0
        assert store.load_wearer("ann") == {}
        assert set(store.load_wearer("bo")) == {"chest"}
