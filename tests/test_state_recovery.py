"""A corrupt database in the state directory: moved aside, one error each, the daemon starts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config.settings import Settings
from monitor.clock import ScaledClock
from monitor.daemon import Daemon


def test_the_daemon_starts_afresh_beside_corrupt_stores_with_one_error_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = b"\x00not a database\xff" * 512
    for name in ("alerts.sqlite3", "calibration.sqlite3"):
        (tmp_path / name).write_bytes(garbage)
    settings = Settings.model_validate(
        {
            "state_dir": str(tmp_path),
            "wearers": [
                {
                    "name": "sam",
                    "sensors": [
                        {
                            "id": "chest",
                            "kind": "simulated",
                            "placement": "trunk",
                            "scenario": "short",
                        }
                    ],
                }
            ],
        }
    )
    with caplog.at_level(logging.INFO):
        daemon = Daemon.build(settings, ScaledClock.real())
    daemon.store.close()
    daemon.calibrations.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    aside = sorted(tmp_path.glob("*.corrupt-*"))
    assert [p.name.split(".corrupt-")[0] for p in aside] == [
        "alerts.sqlite3",
        "calibration.sqlite3",
    ]
    assert all(p.read_bytes() == garbage for p in aside)  # kept as they were
    assert len(errors) == 2
    for path, error in zip(aside, sorted(errors), strict=True):
        assert str(path) in error
        assert str(tmp_path / path.name.split(".corrupt-")[0]) in error
