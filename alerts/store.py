"""Alert state on disk: SQLite (WAL) for policy state, nudge history, outbox and discovery record.

One file in the state directory holds everything alerts must not forget across a restart:
the nudges sent (cool-downs, daily caps, acknowledgements, escalations), snoozes, quiet-hours
overrides, de-duplication keys, relief-plan timers, prevention-tip timers, walking minutes per
day, today's counts of the retained state (sitting, steps, lifts), symptom reports, each day's
history and summary for reports, the MQTT outbox and the Home Assistant discovery topics
announced.

Times are Unix seconds (REAL); local days are ISO dates (``2024-05-01``) chosen by the caller.
Each public method is one transaction unless called inside ``transaction()``. An unreadable or
corrupt file is moved aside (``<name>.corrupt-<UTC time>``), logged as an error, and a fresh
database is started; ``recovered_from`` names the file moved aside.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ALL_KINDS = "*"
"""The snooze key meaning every kind."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nudges (
    id TEXT PRIMARY KEY,
    wearer TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    origin TEXT NOT NULL,
    time_s REAL NOT NULL,
    day TEXT NOT NULL,
    root_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    acknowledged_s REAL,
    escalate_until_s REAL,
    next_escalation_s REAL,
    repeats INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nudges_by_kind ON nudges (wearer, kind, time_s);
CREATE INDEX IF NOT EXISTS nudges_by_day ON nudges (wearer, day);
CREATE INDEX IF NOT EXISTS nudges_by_root ON nudges (root_id);
CREATE INDEX IF NOT EXISTS nudges_escalating ON nudges (next_escalation_s)
    WHERE next_escalation_s IS NOT NULL;
CREATE TABLE IF NOT EXISTS snoozes (
    wearer TEXT NOT NULL, kind TEXT NOT NULL, until_s REAL NOT NULL,
    PRIMARY KEY (wearer, kind)
);
CREATE TABLE IF NOT EXISTS quiet_hours (
    wearer TEXT PRIMARY KEY, enabled INTEGER NOT NULL,
    start_min INTEGER NOT NULL, end_min INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup (
    wearer TEXT NOT NULL, key TEXT NOT NULL, time_s REAL NOT NULL, nudge_id TEXT NOT NULL,
    PRIMARY KEY (wearer, key)
);
CREATE TABLE IF NOT EXISTS relief_plans (
    plan_id TEXT PRIMARY KEY, wearer TEXT NOT NULL, start_s REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS relief_steps (
    plan_id TEXT NOT NULL, step INTEGER NOT NULL, wearer TEXT NOT NULL,
    guidance TEXT NOT NULL, grp TEXT NOT NULL, due_s REAL NOT NULL, state TEXT NOT NULL,
    nudge_id TEXT,
    PRIMARY KEY (plan_id, step)
);
CREATE INDEX IF NOT EXISTS relief_steps_due ON relief_steps (state, due_s);
CREATE TABLE IF NOT EXISTS tips (
    wearer TEXT NOT NULL, key TEXT NOT NULL, last_s REAL NOT NULL,
    PRIMARY KEY (wearer, key)
);
CREATE TABLE IF NOT EXISTS walking (
    wearer TEXT NOT NULL, day TEXT NOT NULL, walking_s REAL NOT NULL,
    PRIMARY KEY (wearer, day)
);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, wearer TEXT NOT NULL, time_s REAL NOT NULL,
    kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY AUTOINCREMENT, wearer TEXT NOT NULL, kind TEXT NOT NULL,
    time_s REAL NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS daily_totals (
    wearer TEXT NOT NULL, day TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (wearer, day, name)
);
CREATE TABLE IF NOT EXISTS day_history (
    wearer TEXT NOT NULL, day TEXT NOT NULL, start_s REAL NOT NULL, document TEXT NOT NULL,
    summary TEXT,
    PRIMARY KEY (wearer, day)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
    retain INTEGER NOT NULL, created_s REAL NOT NULL, sent_s REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE sent_s IS NULL;
CREATE TABLE IF NOT EXISTS announced (
    topic TEXT PRIMARY KEY, wearer TEXT NOT NULL, sensor TEXT, announced_s REAL NOT NULL
);
"""


class StoreError(RuntimeError):
    """The alert database cannot be used (not even after starting a fresh one)."""


class NudgeOrigin(StrEnum):
    """Why a nudge was sent; cool-downs and daily caps count only observations and tips."""

    OBSERVATION = "observation"
    TIP = "tip"
    RELIEF = "relief"
    REQUEST = "request"
    ESCALATION = "escalation"


COUNTED_ORIGINS: frozenset[NudgeOrigin] = frozenset({NudgeOrigin.OBSERVATION, NudgeOrigin.TIP})
"""Origins that cool-downs and daily caps apply to."""


class ReliefStepState(StrEnum):
    """Where one step of a relief plan stands."""

    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ReliefPlanState(StrEnum):
    """Where a relief plan stands."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class NudgeRecord:
    """One sent nudge as remembered: its id, chain root and acknowledgement."""

    id: str
    wearer: str
    kind: str
    severity: str
    origin: NudgeOrigin
    time_s: float
    root_id: str
    payload: str
    acknowledged_s: float | None


@dataclass(frozen=True, slots=True)
class Escalation:
    """An urgent nudge still waiting for acknowledgement, and when to repeat it."""

    root_id: str
    wearer: str
    kind: str
    payload: str
    next_s: float
    until_s: float | None
    """When repeats stop (None: only an acknowledgement stops them, as after a fall)."""
    repeats: int


@dataclass(frozen=True, slots=True)
class ReliefStepRecord:
    """One stored step of a relief plan."""

    plan_id: str
    step: int
    wearer: str
    guidance: str
    group: str
    due_s: float
    state: ReliefStepState
    plan_start_s: float

    @property
    def offset_s(self) -> float:
        """How long after the report this step is due."""
        return self.due_s - self.plan_start_s


@dataclass(frozen=True, slots=True)
class ReliefPlanRecord:
    """An active relief plan: when it started, its next pending step and its last step."""

    plan_id: str
    wearer: str
    start_s: float
    next_due_s: float | None
    last_due_s: float


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message written before publishing, waiting for the broker's acknowledgement."""

    seq: int
    topic: str
    payload: bytes
    retain: bool


class Outbox(Protocol):
    """Where the MQTT publisher writes messages before sending them (see ``AlertStore``)."""

    def add(self, topic: str, payload: bytes, *, retain: bool) -> int:
        """Store a message; returns its sequence number (increasing)."""
        ...

    def mark_sent(self, seq: int) -> None:
        """The broker acknowledged it."""
        ...

    def discard(self, seq: int) -> None:
        """It will never be sent (replaced by a newer retained message, or dropped)."""
        ...

    def pending(self) -> list[OutboxItem]:
        """Messages not yet acknowledged, oldest first."""
        ...


def _check_readable(conn: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless the file passes a quick check and runs in WAL."""
    check = conn.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        raise sqlite3.DatabaseError(f"integrity check failed: {check}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode is None or str(mode[0]).lower() != "wal":
        raise sqlite3.DatabaseError(f"cannot switch to WAL (journal mode {mode})")


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class AlertStore:
    """The alert database; use one per process, from one thread (the event loop)."""

    __slots__ = ("_conn", "_depth", "_path", "outbox", "recovered_from")

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        """Wrap an open connection (use ``open`` or ``in_memory``)."""
        self._conn = conn
        self._path = path
        self._depth = 0
        self.recovered_from: Path | None = None
        self.outbox = SqliteOutbox(self)

    @classmethod
    def open(cls, path: Path) -> AlertStore:
        """Open (or create) the database at ``path`` in WAL mode; recover from corruption."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls._open_checked(path)
        except sqlite3.DatabaseError as exc:
            problem = exc
        aside = path.with_name(f"{path.name}.corrupt-{_utc_stamp()}")
        logger.error(
            "alert database %s is unreadable (%s); moved it to %s and started a fresh one",
            path,
            problem,
            aside,
        )
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        try:
            store = cls._open_checked(path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"alert database {path}: cannot start a fresh one: {exc}") from exc
        store.recovered_from = aside
        return store

    @classmethod
    def _open_checked(cls, path: Path) -> AlertStore:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            _check_readable(conn)
            store = cls._initialised(conn, path)
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def open_read_only(cls, path: Path) -> AlertStore:
        """Open an existing database only to read it (reports beside the running daemon).

        Never creates, changes or moves the file aside; raises StoreError when it cannot be
        read (missing, not a database).
        """
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"alert database {path}: cannot be opened: {exc}") from exc
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"alert database {path}: cannot be read: {exc}") from exc
        return cls(conn, path)

    @classmethod
    def in_memory(cls) -> AlertStore:
        """A private database in memory (tests, or running without a state directory)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        return cls._initialised(conn, None)

    @classmethod
    def _initialised(cls, conn: sqlite3.Connection, path: Path | None) -> AlertStore:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {row[0]} is newer than this backwatch understands"
                f" ({SCHEMA_VERSION})"
            )
        return cls(conn, path)

    @property
    def path(self) -> Path | None:
        """The database file (None in memory)."""
        return self._path

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> Self:
        """Use as a context manager that closes the database."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the database."""
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one transaction (nested uses join the outer one)."""
        if self._depth == 0:
            self._conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        with self.transaction():
            return self._conn.execute(sql, params).rowcount

    # -- nudges ---------------------------------------------------------------------------

    def record_nudge(
        self,
        *,
        nudge_id: str,
        wearer: str,
        kind: str,
        severity: str,
        origin: NudgeOrigin,
        time_s: float,
        day: str,
        payload: str,
        root_id: str | None = None,
        escalate_until_s: float | None = None,
        next_escalation_s: float | None = None,
    ) -> None:
        """Remember a nudge as sent (its root is itself unless it repeats another)."""
        self._write(
            "INSERT INTO nudges (id, wearer, kind, severity, origin, time_s, day, root_id,"
            " payload, escalate_until_s, next_escalation_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                nudge_id,
                wearer,
                kind,
                severity,
                origin.value,
                time_s,
                day,
                root_id if root_id is not None else nudge_id,
                payload,
                escalate_until_s,
                next_escalation_s,
            ),
        )

    def last_counted_nudge_s(self, wearer: str, kind: str) -> float | None:
        """When the latest observation or tip nudge of this kind went to this wearer."""
        rows = self._query(
            "SELECT MAX(time_s) FROM nudges WHERE wearer = ? AND kind = ? AND origin IN (?, ?)",
            (wearer, kind, *sorted(COUNTED_ORIGINS)),
        )
        value = rows[0][0]
        return None if value is None else float(value)

    def counted_nudges_on(self, wearer: str, day: str, kind: str | None = None) -> int:
        """How many observation or tip nudges went to this wearer on ``day`` (of one kind)."""
        sql = "SELECT COUNT(*) FROM nudges WHERE wearer = ? AND day = ? AND origin IN (?, ?)"
        params: list[object] = [wearer, day, *sorted(COUNTED_ORIGINS)]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        return int(self._query(sql, params)[0][0])

    def find_nudge(self, wearer: str, nudge_id: str) -> NudgeRecord | None:
        """The nudge with this id sent to this wearer, or None."""
        rows = self._query(
            "SELECT id, wearer, kind, severity, origin, time_s, root_id, payload, acknowledged_s"
            " FROM nudges WHERE id = ? AND wearer = ?",
            (nudge_id, wearer),
        )
        return _nudge_record(rows[0]) if rows else None

    def nudges_of(self, wearer: str, since_s: float = 0.0) -> list[NudgeRecord]:
        """Every nudge sent to this wearer since ``since_s``, oldest first."""
        rows = self._query(
            "SELECT id, wearer, kind, severity, origin, time_s, root_id, payload, acknowledged_s"
            " FROM nudges WHERE wearer = ? AND time_s >= ? ORDER BY time_s, rowid",
            (wearer, since_s),
        )
        return [_nudge_record(row) for row in rows]

    def acknowledge_chain(self, root_id: str, time_s: float) -> int:
        """Acknowledge every nudge of a chain and stop its escalation; returns rows changed."""
        return self._write(
            "UPDATE nudges SET acknowledged_s = COALESCE(acknowledged_s, ?),"
            " next_escalation_s = NULL WHERE root_id = ?",
            (time_s, root_id),
        )

    def escalations(self, wearer: str | None = None) -> list[Escalation]:
        """Urgent nudges still escalating (not acknowledged, window not over)."""
        sql = (
            "SELECT id, wearer, kind, payload, next_escalation_s, escalate_until_s, repeats"
            " FROM nudges WHERE next_escalation_s IS NOT NULL"
        )
        params: list[object] = []
        if wearer is not None:
            sql += " AND wearer = ?"
            params.append(wearer)
        rows = self._query(sql + " ORDER BY next_escalation_s, rowid", params)
        return [
            Escalation(
                root_id=str(row[0]),
                wearer=str(row[1]),
                kind=str(row[2]),
                payload=str(row[3]),
                next_s=float(row[4]),
                until_s=None if row[5] is None else float(row[5]),
                repeats=int(row[6]),
            )
            for row in rows
        ]

    def reschedule_escalation(self, root_id: str, next_s: float | None, repeats: int) -> None:
        """Set the next repeat of an escalating chain (None ends the escalation)."""
        self._write(
            "UPDATE nudges SET next_escalation_s = ?, repeats = ? WHERE id = ?",
            (next_s, repeats, root_id),
        )

    # -- snoozes and quiet hours --------------------------------------------------------------

    def set_snooze(self, wearer: str, kind: str, until_s: float) -> None:
        """Hold back ``kind`` (or ``ALL_KINDS``) for this wearer until ``until_s``."""
        self._write(
            "INSERT INTO snoozes (wearer, kind, until_s) VALUES (?, ?, ?)"
            " ON CONFLICT (wearer, kind) DO UPDATE SET until_s = excluded.until_s",
            (wearer, kind, until_s),
        )

    def clear_snoozes(self, wearer: str, kind: str | None = None) -> None:
        """End snoozes of this wearer: one key, or all of them."""
        if kind is None:
            self._write("DELETE FROM snoozes WHERE wearer = ?", (wearer,))
        else:
            self._write("DELETE FROM snoozes WHERE wearer = ? AND kind = ?", (wearer, kind))

    def snoozed_until_s(self, wearer: str, kind: str, now_s: float) -> float | None:
        """The latest end of a snooze covering ``kind`` for this wearer after ``now_s``."""
        rows = self._query(
            "SELECT MAX(until_s) FROM snoozes WHERE wearer = ? AND kind IN (?, ?) AND until_s > ?",
            (wearer, kind, ALL_KINDS, now_s),
        )
        value = rows[0][0]
        return None if value is None else float(value)

    def snoozes(self, wearer: str, now_s: float) -> dict[str, float]:
        """Active snoozes of this wearer: key (kind or ``*``) -> end time."""
        rows = self._query(
            "SELECT kind, until_s FROM snoozes WHERE wearer = ? AND until_s > ?", (wearer, now_s)
        )
        return {str(row[0]): float(row[1]) for row in rows}

    def set_quiet_hours(self, wearer: str, *, enabled: bool, start_min: int, end_min: int) -> None:
        """This wearer's own quiet hours (minutes after local midnight), or off."""
        self._write(
            "INSERT INTO quiet_hours (wearer, enabled, start_min, end_min) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (wearer) DO UPDATE SET enabled = excluded.enabled,"
            " start_min = excluded.start_min, end_min = excluded.end_min",
            (wearer, int(enabled), start_min, end_min),
        )

    def quiet_hours(self, wearer: str) -> tuple[bool, int, int] | None:
        """``(enabled, start_min, end_min)`` set for this wearer, None for the default."""
        rows = self._query(
            "SELECT enabled, start_min, end_min FROM quiet_hours WHERE wearer = ?", (wearer,)
        )
        if not rows:
            return None
        enabled, start_min, end_min = rows[0]
        return bool(enabled), int(start_min), int(end_min)

    # -- de-duplication -----------------------------------------------------------------------

    def seen(self, wearer: str, key: str, since_s: float) -> str | None:
        """The nudge id remembered for ``key`` at or after ``since_s``, else None."""
        rows = self._query(
            "SELECT nudge_id FROM dedup WHERE wearer = ? AND key = ? AND time_s >= ?",
            (wearer, key, since_s),
        )
        return str(rows[0][0]) if rows else None

    def remember(self, wearer: str, key: str, time_s: float, nudge_id: str) -> None:
        """Remember that ``key`` produced ``nudge_id`` at ``time_s``."""
        self._write(
            "INSERT INTO dedup (wearer, key, time_s, nudge_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (wearer, key) DO UPDATE SET time_s = excluded.time_s,"
            " nudge_id = excluded.nudge_id",
            (wearer, key, time_s, nudge_id),
        )

    # -- relief plans ---------------------------------------------------------------------------

    def start_relief_plan(
        self,
        plan_id: str,
        wearer: str,
        start_s: float,
        steps: Iterable[tuple[str, str, float]],
    ) -> None:
        """Store a plan and its ``(guidance, group, due_s)`` steps, all pending."""
        with self.transaction():
            self._conn.execute(
                "INSERT INTO relief_plans (plan_id, wearer, start_s, state) VALUES (?, ?, ?, ?)",
                (plan_id, wearer, start_s, ReliefPlanState.ACTIVE.value),
            )
            self._conn.executemany(
                "INSERT INTO relief_steps (plan_id, step, wearer, guidance, grp, due_s, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (plan_id, index, wearer, guidance, group, due_s, ReliefStepState.PENDING.value)
                    for index, (guidance, group, due_s) in enumerate(steps)
                ],
            )

    def cancel_relief_plans(self, wearer: str) -> int:
        """Cancel this wearer's active plans and their pending steps; returns plans cancelled."""
        with self.transaction():
            self._conn.execute(
                "UPDATE relief_steps SET state = ? WHERE wearer = ? AND state = ?",
                (ReliefStepState.CANCELLED.value, wearer, ReliefStepState.PENDING.value),
            )
            return self._conn.execute(
                "UPDATE relief_plans SET state = ? WHERE wearer = ? AND state = ?",
                (ReliefPlanState.CANCELLED.value, wearer, ReliefPlanState.ACTIVE.value),
            ).rowcount

    def relief_steps(self, plan_id: str) -> list[ReliefStepRecord]:
        """Every step of a plan, in order."""
        rows = self._query(
            "SELECT s.plan_id, s.step, s.wearer, s.guidance, s.grp, s.due_s, s.state, p.start_s"
            " FROM relief_steps s JOIN relief_plans p ON p.plan_id = s.plan_id"
            " WHERE s.plan_id = ? ORDER BY s.step",
            (plan_id,),
        )
        return [_step_record(row) for row in rows]

    def due_relief_steps(self, now_s: float) -> list[ReliefStepRecord]:
        """Pending steps due at or before ``now_s``, by plan then step."""
        rows = self._query(
            "SELECT s.plan_id, s.step, s.wearer, s.guidance, s.grp, s.due_s, s.state, p.start_s"
            " FROM relief_steps s JOIN relief_plans p ON p.plan_id = s.plan_id"
            " WHERE s.state = ? AND s.due_s <= ? ORDER BY s.plan_id, s.step",
            (ReliefStepState.PENDING.value, now_s),
        )
        return [_step_record(row) for row in rows]

    def last_relief_sent_s(self, plan_id: str, group: str) -> float | None:
        """When a step of this plan's group was last sent."""
        rows = self._query(
            "SELECT MAX(n.time_s) FROM relief_steps s JOIN nudges n ON n.id = s.nudge_id"
            " WHERE s.plan_id = ? AND s.grp = ? AND s.state = ?",
            (plan_id, group, ReliefStepState.SENT.value),
        )
        value = rows[0][0]
        return None if value is None else float(value)

    def next_relief_due_s(self) -> float | None:
        """The earliest pending step's due time."""
        rows = self._query(
            "SELECT MIN(due_s) FROM relief_steps WHERE state = ?", (ReliefStepState.PENDING.value,)
        )
        value = rows[0][0]
        return None if value is None else float(value)

    def mark_relief_step(
        self, plan_id: str, step: int, state: ReliefStepState, nudge_id: str | None = None
    ) -> None:
        """Record what became of a step; a plan with nothing pending is finished."""
        with self.transaction():
            self._conn.execute(
                "UPDATE relief_steps SET state = ?, nudge_id = ? WHERE plan_id = ? AND step = ?",
                (state.value, nudge_id, plan_id, step),
            )
            self._conn.execute(
                "UPDATE relief_plans SET state = ? WHERE plan_id = ? AND state = ? AND NOT EXISTS"
                " (SELECT 1 FROM relief_steps WHERE plan_id = ? AND state = ?)",
                (
                    ReliefPlanState.FINISHED.value,
                    plan_id,
                    ReliefPlanState.ACTIVE.value,
                    plan_id,
                    ReliefStepState.PENDING.value,
                ),
            )

    def active_relief_plan(self, wearer: str) -> ReliefPlanRecord | None:
        """This wearer's active plan (the latest), or None."""
        rows = self._query(
            "SELECT p.plan_id, p.start_s,"
            " (SELECT MIN(due_s) FROM relief_steps s WHERE s.plan_id = p.plan_id AND s.state = ?),"
            " (SELECT MAX(due_s) FROM relief_steps s WHERE s.plan_id = p.plan_id)"
            " FROM relief_plans p WHERE p.wearer = ? AND p.state = ?"
            " ORDER BY p.start_s DESC LIMIT 1",
            (ReliefStepState.PENDING.value, wearer, ReliefPlanState.ACTIVE.value),
        )
        if not rows:
            return None
        plan_id, start_s, next_due_s, last_due_s = rows[0]
        return ReliefPlanRecord(
            plan_id=str(plan_id),
            wearer=wearer,
            start_s=float(start_s),
            next_due_s=None if next_due_s is None else float(next_due_s),
            last_due_s=float(last_due_s),
        )

    # -- tips, walking, reports -----------------------------------------------------------------

    def tip_last_s(self, wearer: str, key: str) -> float | None:
        """When the tip schedule ``key`` last fired for this wearer."""
        rows = self._query("SELECT last_s FROM tips WHERE wearer = ? AND key = ?", (wearer, key))
        return float(rows[0][0]) if rows else None

    def set_tip_last(self, wearer: str, key: str, last_s: float) -> None:
        """Record that the tip schedule ``key`` fired (or was passed over) at ``last_s``."""
        self._write(
            "INSERT INTO tips (wearer, key, last_s) VALUES (?, ?, ?)"
            " ON CONFLICT (wearer, key) DO UPDATE SET last_s = excluded.last_s",
            (wearer, key, last_s),
        )

    def set_walking(self, wearer: str, day: str, walking_s: float) -> None:
        """This wearer's walking time on one local day (replaces the day's value)."""
        self._write(
            "INSERT INTO walking (wearer, day, walking_s) VALUES (?, ?, ?)"
            " ON CONFLICT (wearer, day) DO UPDATE SET walking_s = excluded.walking_s",
            (wearer, day, walking_s),
        )

    def walking_s(self, wearer: str, days: Iterable[str]) -> float:
        """Total walking time of this wearer on the given local days."""
        chosen = sorted(set(days))
        if not chosen:
            return 0.0
        marks = ",".join("?" * len(chosen))
        sql = (
            f"SELECT COALESCE(SUM(walking_s), 0) FROM walking WHERE wearer = ? AND day IN ({marks})"  # noqa: S608 (placeholders only)
        )
        rows = self._query(sql, (wearer, *chosen))
        return float(rows[0][0])

    def record_report(self, wearer: str, time_s: float, kind: str, detail: object) -> None:
        """Keep a wearer's report (cramp, symptoms) with its details as JSON."""
        self._write(
            "INSERT INTO reports (wearer, time_s, kind, detail) VALUES (?, ?, ?, ?)",
            (wearer, time_s, kind, json.dumps(detail, separators=(",", ":"), sort_keys=True)),
        )

    def reports(self, wearer: str) -> list[tuple[float, str, object]]:
        """This wearer's reports, oldest first: ``(time_s, kind, detail)``."""
        rows = self._query(
            "SELECT time_s, kind, detail FROM reports WHERE wearer = ? ORDER BY id", (wearer,)
        )
        return [(float(r[0]), str(r[1]), json.loads(str(r[2]))) for r in rows]

    # -- observations held back for a later bundle ------------------------------------------

    def hold(self, wearer: str, kind: str, time_s: float, detail: Sequence[str]) -> None:
        """Keep an observation the cool-down held back, for the next bundled nudge."""
        self._write(
            "INSERT INTO held (wearer, kind, time_s, detail) VALUES (?, ?, ?, ?)",
            (wearer, kind, time_s, json.dumps(list(detail), separators=(",", ":"))),
        )

    def held(self, kind: str) -> dict[str, list[tuple[float, list[str]]]]:
        """Held observations of ``kind`` by wearer, oldest first: ``(time_s, detail)``."""
        rows = self._query(
            "SELECT wearer, time_s, detail FROM held WHERE kind = ? ORDER BY id", (kind,)
        )
        by_wearer: dict[str, list[tuple[float, list[str]]]] = {}
        for wearer, time_s, detail in rows:
            by_wearer.setdefault(str(wearer), []).append(
                (float(time_s), [str(part) for part in json.loads(str(detail))])
            )
        return by_wearer

    def clear_held(self, wearer: str, kind: str) -> int:
        """Forget the held observations of a wearer and kind (bundled or gone stale)."""
        return self._write("DELETE FROM held WHERE wearer = ? AND kind = ?", (wearer, kind))

    # -- today's running totals (the retained state's counts) --------------------------------

    def set_daily_totals(self, wearer: str, day: str, totals: Mapping[str, float]) -> None:
        """This wearer's counts so far on local ``day`` (sitting_s, steps...), replacing them."""
        with self.transaction():
            self._conn.executemany(
                "INSERT INTO daily_totals (wearer, day, name, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (wearer, day, name) DO UPDATE SET value = excluded.value",
                [(wearer, day, name, float(value)) for name, value in totals.items()],
            )

    def daily_totals(self, wearer: str, day: str) -> dict[str, float]:
        """The counts kept for this wearer on local ``day`` (empty when none)."""
        rows = self._query(
            "SELECT name, value FROM daily_totals WHERE wearer = ? AND day = ?", (wearer, day)
        )
        return {str(row[0]): float(row[1]) for row in rows}

    # -- day history (reports) ----------------------------------------------------------------

    def set_day_history(self, wearer: str, day: str, document: str, start_s: float) -> None:
        """Keep a wearer's day history document (JSON, see ``monitor.report_model``)."""
        self._write(
            "INSERT INTO day_history (wearer, day, start_s, document) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (wearer, day) DO UPDATE SET start_s = excluded.start_s,"
            " document = excluded.document",
            (wearer, day, start_s, document),
        )

    def day_history(self, wearer: str, day: str) -> str | None:
        """The stored history document of a wearer's day, or None."""
        rows = self._query(
            "SELECT document FROM day_history WHERE wearer = ? AND day = ?", (wearer, day)
        )
        return str(rows[0][0]) if rows else None

    def set_daily_summary(self, wearer: str, day: str, summary: str) -> None:
        """Keep the summary (JSON) of a finished day that has a history."""
        self._write(
            "UPDATE day_history SET summary = ? WHERE wearer = ? AND day = ?",
            (summary, wearer, day),
        )

    def daily_summary(self, wearer: str, day: str) -> str | None:
        """The stored summary of a wearer's finished day, or None."""
        rows = self._query(
            "SELECT summary FROM day_history WHERE wearer = ? AND day = ?", (wearer, day)
        )
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def history_wearers(self) -> list[str]:
        """Wearers with any day history, sorted."""
        return [
            str(r[0])
            for r in self._query("SELECT DISTINCT wearer FROM day_history ORDER BY wearer")
        ]

    # -- Home Assistant discovery record ------------------------------------------------------

    def announced(self) -> dict[str, tuple[str, str | None]]:
        """Discovery topics announced so far: topic -> (wearer, sensor or None)."""
        rows = self._query("SELECT topic, wearer, sensor FROM announced")
        return {str(row[0]): (str(row[1]), None if row[2] is None else str(row[2])) for row in rows}

    def record_announced(
        self, topic: str, wearer: str, sensor: str | None, announced_s: float
    ) -> None:
        """Remember that a discovery config was published on ``topic``."""
        self._write(
            "INSERT INTO announced (topic, wearer, sensor, announced_s) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (topic) DO UPDATE SET wearer = excluded.wearer,"
            " sensor = excluded.sensor, announced_s = excluded.announced_s",
            (topic, wearer, sensor, announced_s),
        )

    def forget_announced(self, topic: str) -> None:
        """The config on ``topic`` was removed."""
        self._write("DELETE FROM announced WHERE topic = ?", (topic,))

    # -- housekeeping -------------------------------------------------------------------------

    def prune(self, before_s: float) -> int:
        """Drop history older than ``before_s`` (never what is pending); returns rows removed."""
        removed = 0
        with self.transaction():
            for sql in (
                "DELETE FROM nudges WHERE time_s < ? AND next_escalation_s IS NULL",
                "DELETE FROM dedup WHERE time_s < ?",
                "DELETE FROM day_history WHERE start_s < ?",
                "DELETE FROM held WHERE time_s < ?",
                "DELETE FROM reports WHERE time_s < ?",
                "DELETE FROM outbox WHERE sent_s IS NOT NULL AND sent_s < ?",
                "DELETE FROM snoozes WHERE until_s < ?",
                "DELETE FROM relief_steps WHERE state != 'pending' AND due_s < ?",
            ):
                removed += self._conn.execute(sql, (before_s,)).rowcount
            removed += self._conn.execute(
                "DELETE FROM relief_plans WHERE state != 'active' AND start_s < ?", (before_s,)
            ).rowcount
            removed += self._conn.execute(
                "DELETE FROM daily_totals WHERE day < ?",
                (datetime.fromtimestamp(before_s, UTC).date().isoformat(),),
            ).rowcount
        return removed

    def forget_wearer(self, wearer: str) -> int:
        """Erase everything kept about a wearer (see ``erase_wearer``); rows removed."""
        return sum(self.erase_wearer(wearer).values())

    def erase_wearer(self, wearer: str, topic_prefix: str | None = None) -> dict[str, int]:
        """Erase a wearer from every table with a ``wearer`` column, in one transaction.

        Tables are found in the schema, so a table added later is covered too; only
        ``announced`` stays (topic names only), so that the daemon can still retract the
        wearer's Home Assistant entities. With ``topic_prefix`` (``<base>/<wearer>``),
        outbox messages on topics under it go as well. Returns rows removed per table.
        """
        removed: dict[str, int] = {}
        with self.transaction():
            tables = [
                str(row[0])
                for row in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
                )
            ]
            for table in tables:
                columns = {str(c[1]) for c in self._conn.execute(f"PRAGMA table_info({table})")}
                if "wearer" in columns and table != "announced":
                    removed[table] = self._conn.execute(
                        f"DELETE FROM {table} WHERE wearer = ?",  # noqa: S608 (names from the schema)
                        (wearer,),
                    ).rowcount
            if topic_prefix is not None:
                removed["outbox"] = self.forget_outbox_topics(topic_prefix)
        return removed

    def forget_outbox_topics(self, topic_prefix: str) -> int:
        """Drop outbox messages (sent or not) on topics under ``topic_prefix/``."""
        return self._write(
            "DELETE FROM outbox WHERE substr(topic, 1, ?) = ?",
            (len(topic_prefix) + 1, f"{topic_prefix}/"),
        )


class SqliteOutbox:
    """The outbox table of an ``AlertStore`` (implements ``Outbox``)."""

    __slots__ = ("_store",)

    def __init__(self, store: AlertStore) -> None:
        """Write through ``store``."""
        self._store = store

    def add(self, topic: str, payload: bytes, *, retain: bool) -> int:
        """Store a message before it is published; returns its sequence number."""
        try:
            with self._store.transaction():
                cursor = self._store._conn.execute(
                    "INSERT INTO outbox (topic, payload, retain, created_s) VALUES (?, ?, ?, ?)",
                    (topic, payload, int(retain), datetime.now(UTC).timestamp()),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"outbox: cannot store a message for {topic}: {exc}") from exc
        seq = cursor.lastrowid
        assert seq is not None
        return seq

    def mark_sent(self, seq: int) -> None:
        """The broker acknowledged message ``seq``."""
        try:
            self._store._write(
                "UPDATE outbox SET sent_s = ? WHERE seq = ?", (datetime.now(UTC).timestamp(), seq)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"outbox: cannot mark message {seq} sent: {exc}") from exc

    def discard(self, seq: int) -> None:
        """Message ``seq`` will not be sent."""
        try:
            self._store._write("DELETE FROM outbox WHERE seq = ? AND sent_s IS NULL", (seq,))
        except sqlite3.Error as exc:
            raise StoreError(f"outbox: cannot discard message {seq}: {exc}") from exc

    def pending(self) -> list[OutboxItem]:
        """Messages not yet acknowledged, oldest first."""
        try:
            rows = self._store._query(
                "SELECT seq, topic, payload, retain FROM outbox WHERE sent_s IS NULL ORDER BY seq"
            )
        except sqlite3.Error as exc:
            raise StoreError(f"outbox: cannot be read: {exc}") from exc
        return [
            OutboxItem(
                seq=int(row[0]),
                topic=str(row[1]),
                payload=bytes(row[2]),
                retain=bool(row[3]),
            )
            for row in rows
        ]

    def sent_count(self) -> int:
        """Messages acknowledged and still kept (until pruned)."""
        rows = self._store._query("SELECT COUNT(*) FROM outbox WHERE sent_s IS NOT NULL")
        return int(rows[0][0])


def _nudge_record(row: tuple[Any, ...]) -> NudgeRecord:
    return NudgeRecord(
        id=str(row[0]),
        wearer=str(row[1]),
        kind=str(row[2]),
        severity=str(row[3]),
        origin=NudgeOrigin(str(row[4])),
        time_s=float(row[5]),
        root_id=str(row[6]),
        payload=str(row[7]),
        acknowledged_s=None if row[8] is None else float(row[8]),
    )


def _step_record(row: tuple[Any, ...]) -> ReliefStepRecord:
    return ReliefStepRecord(
        plan_id=str(row[0]),
        step=int(row[1]),
        wearer=str(row[2]),
        guidance=str(row[3]),
        group=str(row[4]),
        due_s=float(row[5]),
        state=ReliefStepState(str(row[6])),
        plan_start_s=float(row[7]),
    )
