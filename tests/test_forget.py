"""`backwatch forget --wearer NAME`: one wearer's rows leave every store; others stay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alerts.store import AlertStore, NudgeOrigin
from devices.mount import Mount
from monitor.calibration_store import CalibrationStore
from monitor.cli import EXIT_OK, EXIT_USAGE, main
from monitor.orientation import MountSource, SensorOrientation

T0 = 1_780_000_000.0
WALKING = SensorOrientation(Mount(np.eye(3)), MountSource.WALKING)


def _state_with_two_wearers(state_dir: Path) -> Path:
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        for wearer in ("alex", "bob"):
            store.record_nudge(
                nudge_id=f"n-{wearer}",
                wearer=wearer,
                kind="sitting",
                severity="advice",
                origin=NudgeOrigin.OBSERVATION,
                time_s=T0,
                day="2026-11-25",
                payload="{}",
            )
            store.set_snooze(wearer, "*", T0 + 3600)
            store.record_report(wearer, T0, "cramp", {"where": "lower back"})
            store.set_walking(wearer, "2026-11-25", 1200.0)
            store.outbox.add(f"backwatch/{wearer}/nudge", b"{}", retain=False)
    with CalibrationStore(state_dir / "calibration.sqlite3") as calibrations:
        for wearer in ("alex", "bob"):
            calibrations.save(wearer, "chest", WALKING, T0)
    config = state_dir.parent / "backwatch.toml"
    config.write_text(f'state_dir = "{state_dir}"\n', encoding="utf-8")
    return config


def test_forget_erases_one_wearer_from_every_store_and_says_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    config = _state_with_two_wearers(state_dir)
    (state_dir / "alerts.sqlite3.corrupt-20261101T000000Z").write_bytes(b"old")
    assert main(["forget", "--config", str(config), "--wearer", "alex", "--yes"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"{state_dir}/alerts.sqlite3: removed 5 row(s) of alex"
        " (nudges 1, snoozes 1, walking 1, reports 1, outbox 1)"
    )
    assert out[1] == (
        f"{state_dir}/calibration.sqlite3: removed 1 row(s) of alex (sensor_calibration 1)"
    )
    assert "corrupt-20261101T000000Z: a database moved aside as corrupt" in out[2]
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        assert store.nudges_of("alex") == []
        assert store.reports("alex") == []
        assert store.snoozes("alex", T0) == {}
        assert store.walking_s("alex", ["2026-11-25"]) == 0.0
        assert [item.topic for item in store.outbox.pending()] == ["backwatch/bob/nudge"]
        assert [n.id for n in store.nudges_of("bob")] == ["n-bob"]
        assert store.walking_s("bob", ["2026-11-25"]) == 1200.0
    with CalibrationStore(state_dir / "calibration.sqlite3") as calibrations:
        assert calibrations.load_wearer("alex") == {}
        assert set(calibrations.load_wearer("bob")) == {"chest"}


def test_forget_without_yes_off_a_terminal_or_with_a_bad_name_erases_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    config = _state_with_two_wearers(state_dir)
    assert main(["forget", "--config", str(config), "--wearer", "alex"]) == EXIT_USAGE
    assert "add --yes" in capsys.readouterr().err
    assert main(["forget", "--config", str(config), "--wearer", "al/ex", "--yes"]) == EXIT_USAGE
    assert "invalid MQTT topic segment 'al/ex'" in capsys.readouterr().err
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        assert [n.id for n in store.nudges_of("alex")] == ["n-alex"]
