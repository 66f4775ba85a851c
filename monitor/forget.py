"""Erasing one wearer's data from every SQLite store in the state directory (`backwatch forget`).

Each store is changed in one transaction of its own. A store file that does not exist is
left alone (never created). Files moved aside as corrupt (``*.corrupt-*``) may still hold the
wearer's data: they are listed for the user to delete, never opened.

It is safe while the daemon runs (SQLite in WAL mode, a busy timeout), but a daemon that
still has the wearer in its configuration goes on writing new rows; remove the wearer from
the configuration (or stop the service) first.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from alerts.store import AlertStore, StoreError
from alerts.topics import Topics
from monitor.calibration_store import CALIBRATION_FILE, CalibrationStore, CalibrationStoreError

ALERT_STORE_FILE = "alerts.sqlite3"


class ForgetError(Exception):
    """A store could not be opened or changed; nothing more was erased from it."""


@dataclass(frozen=True, slots=True)
class StoreErasure:
    """What was removed from one store file: rows per table."""

    path: Path
    rows: dict[str, int]

    @property
    def total(self) -> int:
        """Rows removed in all."""
        return sum(self.rows.values())


@dataclass(frozen=True, slots=True)
class Erasure:
    """What ``forget_wearer`` did, store by store, and files it left for the user."""

    wearer: str
    stores: list[StoreErasure] = field(default_factory=list)
    corrupt_files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A human summary, one line per store and per file left behind."""
        out = []
        for store in self.stores:
            detail = ", ".join(f"{table} {count}" for table, count in store.rows.items() if count)
            out.append(
                f"{store.path}: removed {store.total} row(s) of {self.wearer}"
                + (f" ({detail})" if detail else "")
            )
        if not self.stores:
            out.append(f"no backwatch data stores found; nothing of {self.wearer} to remove")
        out.extend(
            f"{path}: a database moved aside as corrupt, not opened; it may hold data of "
            f"{self.wearer}: delete it if you no longer need it"
            for path in self.corrupt_files
        )
        return out


def forget_wearer(state_dir: Path, wearer: str, topics: Topics) -> Erasure:
    """Erase ``wearer`` from the alert store and the calibration store in ``state_dir``.

    The alert store loses every row about the wearer and outbox messages under the wearer's
    topics (``<base>/<wearer>/``). Raises TopicError for a name that cannot be a wearer.
    """
    prefix = topics.state(wearer).rsplit("/", 1)[0]  # validates the name as a topic segment
    erasure = Erasure(wearer)
    alerts_path = state_dir / ALERT_STORE_FILE
    if alerts_path.is_file():
        try:
            with AlertStore.open(alerts_path) as store:
                rows = store.erase_wearer(wearer, topic_prefix=prefix)
        except (StoreError, sqlite3.Error) as exc:
            raise ForgetError(f"{alerts_path}: {exc}") from exc
        erasure.stores.append(StoreErasure(alerts_path, rows))
    calibration_path = state_dir / CALIBRATION_FILE
    if calibration_path.is_file():
        try:
            with CalibrationStore(calibration_path) as calibrations:
                removed = calibrations.forget_wearer(wearer)
        except CalibrationStoreError as exc:
            raise ForgetError(str(exc)) from exc
        erasure.stores.append(StoreErasure(calibration_path, {"sensor_calibration": removed}))
    erasure.corrupt_files.extend(sorted(state_dir.glob("*.corrupt-*")))
    return erasure
