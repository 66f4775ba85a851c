"""Sensor orientations kept across restarts: one SQLite file (WAL) in the state directory.

One row per sensor of a wearer: the rotation ``sensor_from_body`` (nine REAL columns, exact
float64), where it came from (``calibrated``, ``calibrated_up`` or ``walking``) and the wall
time it was saved (Unix seconds, given by the caller). Declared mounts live in the
configuration and orientations guessed from a first rest are relearned within seconds, so
neither is stored.

How the daemon uses it: at start, :meth:`CalibrationStore.load_wearer` for each wearer and
``WearerEvaluator.restore_orientation`` for each sensor found (a stored ``calibrated``
orientation is the wearer's own calibration and beats a declared mount; a stored
``walking`` one is used only for sensors without a declared mount); after feeding, when
``WearerEvaluator.orientation_version`` has changed, :meth:`CalibrationStore.save_changed`
with ``WearerEvaluator.orientations``.

A file SQLite cannot read, or one failing ``PRAGMA quick_check``, is moved aside
(``<name>.corrupt-<UTC time>``, its journal with it), logged as one error naming both paths,
and a fresh one started: calibrations are relearned from walking or redone on request.
Problems with the file system become :class:`CalibrationStoreError`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from devices.mount import Mount
from monitor.orientation import MountSource, SensorOrientation

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.sqlite3"
SCHEMA_VERSION = 1
#: Orientations worth keeping: the ones that took the wearer's time to get.
STORED_SOURCES = frozenset({MountSource.CALIBRATED, MountSource.CALIBRATED_UP, MountSource.WALKING})
_ORTHONORMAL_TOLERANCE = 1e-6
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sensor_calibration (
    wearer TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    r00 REAL NOT NULL, r01 REAL NOT NULL, r02 REAL NOT NULL,
    r10 REAL NOT NULL, r11 REAL NOT NULL, r12 REAL NOT NULL,
    r20 REAL NOT NULL, r21 REAL NOT NULL, r22 REAL NOT NULL,
    source TEXT NOT NULL,
    saved_at_s REAL NOT NULL,
    PRIMARY KEY (wearer, sensor_id)
) STRICT;
"""
_SELECT_WEARER = """
SELECT sensor_id, r00, r01, r02, r10, r11, r12, r20, r21, r22, source, saved_at_s
FROM sensor_calibration WHERE wearer = ? ORDER BY sensor_id
"""
_UPSERT = """
INSERT INTO sensor_calibration
    (wearer, sensor_id, r00, r01, r02, r10, r11, r12, r20, r21, r22, source, saved_at_s)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (wearer, sensor_id) DO UPDATE SET
    r00 = excluded.r00, r01 = excluded.r01, r02 = excluded.r02,
    r10 = excluded.r10, r11 = excluded.r11, r12 = excluded.r12,
    r20 = excluded.r20, r21 = excluded.r21, r22 = excluded.r22,
    source = excluded.source, saved_at_s = excluded.saved_at_s
"""
_DELETE = "DELETE FROM sensor_calibration WHERE wearer = ? AND sensor_id = ?"
_DELETE_WEARER = "DELETE FROM sensor_calibration WHERE wearer = ?"


class CalibrationStoreError(Exception):
    """The calibration file cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """One sensor's stored orientation and when it was saved (wall time, Unix seconds)."""

    wearer: str
    sensor_id: str
    orientation: SensorOrientation
    saved_at_s: float


class CalibrationStore:
    """Stored orientations of every wearer's sensors; one connection, used by one thread."""

    __slots__ = ("_connection", "path", "recovered_from")

    def __init__(self, path: Path) -> None:
        """Open (or create) the file at ``path``; its directory is created if missing."""
        self.path = path
        self.recovered_from: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CalibrationStoreError(f"{path.parent}: {exc}") from exc
        try:
            self._connection = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not path.is_file():
                raise CalibrationStoreError(f"{path}: {exc}") from exc
            self.recovered_from = self._move_aside(exc)
            try:
                self._connection = self._open()
            except sqlite3.Error as again:
                raise CalibrationStoreError(f"{path}: {again}") from again

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> CalibrationStore:
        """The store at ``state_dir / calibration.sqlite3``."""
        return cls(state_dir / CALIBRATION_FILE)

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            check = connection.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema version {version} is newer than this code")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def _move_aside(self, problem: sqlite3.Error) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):  # kept with it: the journal may hold data too
                journal = Path(f"{self.path}{suffix}")
                if journal.exists():
                    journal.replace(Path(f"{aside}{suffix}"))
        except OSError as exc:
            raise CalibrationStoreError(f"{self.path}: {problem}; moving it aside: {exc}") from exc
        logger.error(
            "calibration file %s is unreadable (%s); moved it to %s and started a fresh one",
            self.path,
            problem,
            aside,
        )
        return aside

    # -- reading ---------------------------------------------------------------------

    def load(self, wearer: str, sensor_id: str) -> StoredCalibration | None:
        """One sensor's stored orientation, or None."""
        return self.load_wearer(wearer).get(sensor_id)

    def load_wearer(self, wearer: str) -> dict[str, StoredCalibration]:
        """Every stored orientation of a wearer's sensors, by sensor id.

        A row that does not hold a rotation (or names an unknown source) is skipped with a
        warning.
        """
        try:
            rows = self._connection.execute(_SELECT_WEARER, (wearer,)).fetchall()
        except sqlite3.Error as exc:
            raise CalibrationStoreError(f"{self.path}: {exc}") from exc
        out: dict[str, StoredCalibration] = {}
        for row in rows:
            sensor_id = str(row[0])
            rotation = np.array(row[1:10], dtype=np.float64).reshape(3, 3)
            try:
                source = MountSource(row[10])
            except ValueError:
                logger.warning(
                    "calibration of %s/%s: unknown source %r", wearer, sensor_id, row[10]
                )
                continue
            if not _is_rotation(rotation):
                logger.warning("calibration of %s/%s is not a rotation; ignored", wearer, sensor_id)
                continue
            orientation = SensorOrientation(Mount(rotation), source)
            out[sensor_id] = StoredCalibration(wearer, sensor_id, orientation, float(row[11]))
        return out

    # -- writing ---------------------------------------------------------------------

    def save(
        self, wearer: str, sensor_id: str, orientation: SensorOrientation, saved_at_s: float
    ) -> None:
        """Store (or replace) one sensor's orientation."""
        if orientation.source not in STORED_SOURCES:
            raise ValueError(f"{orientation.source} orientations are not stored")
        rotation = np.asarray(orientation.mount.sensor_from_body, dtype=np.float64)
        values = (wearer, sensor_id, *(float(v) for v in rotation.reshape(9)))
        try:
            with self._connection:
                self._connection.execute("BEGIN")
                self._connection.execute(
                    _UPSERT, (*values, str(orientation.source), float(saved_at_s))
                )
        except sqlite3.Error as exc:
            raise CalibrationStoreError(f"{self.path}: {exc}") from exc

    def save_changed(
        self,
        wearer: str,
        orientations: Mapping[str, SensorOrientation | None],
        saved_at_s: float,
    ) -> list[str]:
        """Store the orientations worth keeping that differ from what is stored.

        ``orientations`` as ``WearerEvaluator.orientations`` gives them. Returns the ids of
        the sensors saved.
        """
        stored = self.load_wearer(wearer)
        saved = []
        for sensor_id, orientation in orientations.items():
            if orientation is None or orientation.source not in STORED_SOURCES:
                continue
            old = stored.get(sensor_id)
            if old is not None and _same(old.orientation, orientation):
                continue
            self.save(wearer, sensor_id, orientation, saved_at_s)
            saved.append(sensor_id)
        return saved

    def forget(self, wearer: str, sensor_id: str) -> bool:
        """Remove one sensor's orientation; whether there was one."""
        try:
            with self._connection:
                self._connection.execute("BEGIN")
                cursor = self._connection.execute(_DELETE, (wearer, sensor_id))
        except sqlite3.Error as exc:
            raise CalibrationStoreError(f"{self.path}: {exc}") from exc
        return cursor.rowcount > 0

    def forget_wearer(self, wearer: str) -> int:
        """Remove every orientation of a wearer's sensors (one transaction); rows removed."""
        try:
            with self._connection:
                self._connection.execute("BEGIN")
                cursor = self._connection.execute(_DELETE_WEARER, (wearer,))
        except sqlite3.Error as exc:
            raise CalibrationStoreError(f"{self.path}: {exc}") from exc
        return cursor.rowcount

    # -- lifetime --------------------------------------------------------------------

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for the file (``wal``)."""
        return str(self._connection.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        self._connection.close()

    def __enter__(self) -> Self:
        """Use as a context manager that closes the file."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the file."""
        self.close()


def _is_rotation(matrix: np.ndarray) -> bool:
    if not np.all(np.isfinite(matrix)):
        return False
    identity = matrix.T @ matrix
    return bool(
        np.allclose(identity, np.eye(3), atol=_ORTHONORMAL_TOLERANCE)
        and abs(float(np.linalg.det(matrix)) - 1.0) < _ORTHONORMAL_TOLERANCE
    )


def _same(a: SensorOrientation, b: SensorOrientation) -> bool:
    return a.source is b.source and bool(
        np.array_equal(a.mount.sensor_from_body, b.mount.sensor_from_body)
    )
