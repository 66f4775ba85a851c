"""The alert store: WAL file, state kept across reopening, outbox order, corruption recovery."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from alerts.store import (
    ALL_KINDS,
    AlertStore,
    NudgeOrigin,
    ReliefStepState,
    StoreError,
)


def record(store: AlertStore, nudge_id: str, time_s: float, **changes: object) -> None:
    fields: dict[str, object] = {
        "nudge_id": nudge_id,
        "wearer": "alex",
        "kind": "sitting",
        "severity": "advice",
        "origin": NudgeOrigin.OBSERVATION,
        "time_s": time_s,
        "day": "2024-05-01",
        "payload": "{}",
    }
    fields.update(changes)
    store.record_nudge(**fields)  # type: ignore[arg-type]


def test_file_is_in_wal_mode_and_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "alerts.sqlite3"
    with AlertStore.open(path) as store:
        assert store.recovered_from is None
        record(store, "n1", 100.0)
        record(store, "r1", 200.0, kind="red_flag", severity="urgent", origin=NudgeOrigin.REQUEST,
               escalate_until_s=3800.0, next_escalation_s=500.0)  # fmt: skip
        store.set_snooze("alex", ALL_KINDS, 900.0)
        store.set_quiet_hours("alex", enabled=True, start_min=22 * 60, end_min=7 * 60)
        store.remember("alex", "obs:x", 100.0, "n1")
        store.start_relief_plan("p1", "alex", 0.0, [("relief_plan", "overview", 0.0)])
        store.set_walking("alex", "2024-05-01", 1200.0)
        store.set_tip_last("alex", "hydration@10:00", 36000.0)
        store.record_report("alex", 10.0, "symptoms", ["leg_numbness"])
        seq = store.outbox.add("bw/alex/nudge", b'{"id":"n1"}', retain=False)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with AlertStore.open(path) as store:
        assert store.last_counted_nudge_s("alex", "sitting") == 100.0
        assert store.counted_nudges_on("alex", "2024-05-01") == 1  # the request is not counted
        assert store.snoozed_until_s("alex", "hydration", 500.0) == 900.0
        assert store.snoozed_until_s("alex", "hydration", 900.0) is None
        assert store.quiet_hours("alex") == (True, 1320, 420)
        assert store.seen("alex", "obs:x", 50.0) == "n1"
        assert store.seen("alex", "obs:x", 150.0) is None
        assert [e.root_id for e in store.escalations()] == ["r1"]
        plan = store.active_relief_plan("alex")
        assert plan is not None
        assert (plan.plan_id, plan.next_due_s) == ("p1", 0.0)
        assert store.walking_s("alex", ["2024-05-01", "2024-04-30"]) == 1200.0
        assert store.tip_last_s("alex", "hydration@10:00") == 36000.0
        assert store.reports("alex") == [(10.0, "symptoms", ["leg_numbness"])]
        assert [(i.seq, i.topic, i.payload) for i in store.outbox.pending()] == [
            (seq, "bw/alex/nudge", b'{"id":"n1"}')
        ]


def test_outbox_keeps_order_and_forgets_what_was_sent(tmp_path: Path) -> None:
    with AlertStore.open(tmp_path / "a.sqlite3") as store:
        outbox = store.outbox
        seqs = [outbox.add(f"t/{i}", f"{i}".encode(), retain=i == 2) for i in range(4)]
        assert seqs == sorted(seqs)
        outbox.mark_sent(seqs[1])
        outbox.discard(seqs[2])
        pending = outbox.pending()
        assert [(i.topic, i.payload, i.retain) for i in pending] == [
            ("t/0", b"0", False),
            ("t/3", b"3", False),
        ]
        assert outbox.sent_count() == 1
        outbox.discard(seqs[1])  # sent messages are history, not discarded
        assert outbox.sent_count() == 1


def test_acknowledging_a_chain_stops_its_escalation(tmp_path: Path) -> None:
    with AlertStore.open(tmp_path / "a.sqlite3") as store:
        record(store, "root", 0.0, escalate_until_s=3600.0, next_escalation_s=300.0)
        record(store, "rep1", 300.0, root_id="root", origin=NudgeOrigin.ESCALATION)
        assert store.acknowledge_chain("root", 310.0) == 2
        assert store.escalations() == []
        found = store.find_nudge("alex", "rep1")
        assert found is not None
        assert found.acknowledged_s == 310.0
        assert store.find_nudge("sam", "rep1") is None  # not another wearer's


def test_relief_steps_finish_the_plan(tmp_path: Path) -> None:
    with AlertStore.open(tmp_path / "a.sqlite3") as store:
        store.start_relief_plan("p1", "alex", 0.0, [("a", "g1", 0.0), ("b", "g1", 60.0)])
        assert [s.step for s in store.due_relief_steps(30.0)] == [0]
        store.mark_relief_step("p1", 0, ReliefStepState.SENT, "n1")
        assert store.next_relief_due_s() == 60.0
        store.mark_relief_step("p1", 1, ReliefStepState.SKIPPED)
        assert store.active_relief_plan("alex") is None
        store.start_relief_plan("p2", "alex", 100.0, [("a", "g1", 100.0)])
        assert store.cancel_relief_plans("alex") == 1
        assert store.due_relief_steps(1e9) == []


def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alerts.sqlite3"
    path.write_bytes(b"this is not an SQLite database, just bytes " * 100)
    with caplog.at_level(logging.ERROR, logger="alerts.store"), AlertStore.open(path) as store:
        aside = store.recovered_from
        assert aside is not None
        record(store, "n1", 1.0)
        assert store.last_counted_nudge_s("alex", "sitting") == 1.0
    assert aside.read_bytes().startswith(b"this is not an SQLite database")
    assert aside.name.startswith("alerts.sqlite3.corrupt-")
    assert any(
        "unreadable" in r.getMessage() and str(aside) in r.getMessage() for r in caplog.records
    )


def test_a_database_from_a_newer_backwatch_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    with AlertStore.open(path):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with AlertStore.open(path) as store:
        assert store.recovered_from is not None  # moved aside, kept, not silently dropped
        assert store.recovered_from.exists()


def test_an_unusable_location_is_our_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((StoreError, OSError)):
        AlertStore.open(blocker / "alerts.sqlite3")


def test_prune_and_forget(tmp_path: Path) -> None:
    with AlertStore.open(tmp_path / "a.sqlite3") as store:
        record(store, "old", 10.0)
        record(store, "urgent", 10.0, next_escalation_s=20.0, escalate_until_s=99.0)
        record(store, "new", 1000.0)
        store.remember("alex", "k", 10.0, "old")
        seq = store.outbox.add("t", b"x", retain=False)
        store.outbox.mark_sent(seq)
        store.record_report("sam", 10.0, "cramp", {})
        removed = store.prune(before_s=500.0)
        assert removed >= 3
        assert [n.id for n in store.nudges_of("alex")] == ["urgent", "new"]  # escalating kept
        assert store.outbox.sent_count() == 1  # sent just now (wall time), after the cut
        assert store.forget_wearer("alex") >= 2
        assert store.nudges_of("alex") == []
        assert store.reports("sam") == []  # pruned: older than the cut
