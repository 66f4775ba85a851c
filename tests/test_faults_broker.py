"""Broker outage and daemon crash: every nudge in the outbox reaches a subscriber with its first id.

The daemon runs as a subprocess against its own Mosquitto (with persistence, as a Pi's
broker runs), a simulated wearer sits long enough for a sitting nudge every 5 minutes of
sample time, and a phone-like subscriber keeps a persistent session. The broker is stopped
for 30 s of wall time while nudges fall due; the daemon is killed with SIGKILL while nudges
wait. Ground truth is the daemon's own SQLite: the nudges the policy recorded and the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.broker import PrivateMosquitto
from tests.harness import REPO, SensorSpec, write_config

SPEED = 60.0  # one wall second is one minute of the simulated day
OUTAGE_S = 30.0
CHEST = SensorSpec("chest", "trunk", "-y,+z", seed=3)
THIGH = SensorSpec("thigh", "thigh", "+x,-z", seed=4)
# A sitting nudge every 5 minutes of sitting, nothing held back by cool-downs, caps or tips.
POLICY = """\
[policy]
default_cooldown_min = 0
default_daily_cap = 1000
total_daily_cap = 1000
tips = false
[thresholds]
sitting_limit_min = 5
[daemon]
state_interval_s = 1
"""


def write_scenario(path: Path, *, sit_min: int) -> Path:
    """Stand 2 min, sit ``sit_min`` minutes bent forward 32° (a slouch), walk 1 min."""
    path.write_text(
        scenario_toml(
            ("standing", 2, None),
            ("sitting", sit_min, 32),
            ("walking", 1, None),
        ),
        encoding="utf-8",
    )
    return path


def scenario_toml(*steps: tuple[str, int, int | None]) -> str:
    """A scenario TOML from ``(activity, minutes, trunk flexion or None)`` steps."""
    text = 'name = "fault"\ndescription = "fault test"\n'
    for activity, minutes, flexion_deg in steps:
        text += f'\n[[step]]\nactivity = "{activity}"\nduration_min = {minutes}\n'
        if flexion_deg is not None:
            text += f"trunk_flexion_deg = {flexion_deg}\n"
    return text


def outbox_nudges(state_dir: Path) -> list[tuple[str, bool]]:
    """``(nudge id, acknowledged by the broker)`` of every nudge in the outbox, in order."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        rows = conn.execute(
            "SELECT payload, sent_s FROM outbox WHERE topic LIKE '%/nudge' ORDER BY seq"
        ).fetchall()
    return [(str(json.loads(bytes(payload))["id"]), sent_s is not None) for payload, sent_s in rows]


def event_key(event: dict[str, Any]) -> tuple[str, str, float, float]:
    """What identifies an event (events carry no id): wearer, type, start and end."""
    return (event["wearer"], event["type"], event["start_s"], event["end_s"])


def outbox_events(state_dir: Path) -> list[tuple[str, str, float, float]]:
    """The key of every event in the outbox, in order."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        rows = conn.execute(
            "SELECT payload FROM outbox WHERE topic LIKE '%/event' ORDER BY seq"
        ).fetchall()
    return [event_key(json.loads(bytes(row[0]))) for row in rows]


def recorded_nudge_ids(state_dir: Path) -> list[str]:
    """The ids the delivery policy gave its nudges, in the order it decided them."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        rows = conn.execute("SELECT id FROM nudges ORDER BY time_s, rowid").fetchall()
    return [str(row[0]) for row in rows]


def snoozes_in_store(state_dir: Path, wearer: str) -> dict[str, float]:
    """Snoozes the store holds for ``wearer``: kind -> until (Unix s of the daemon's clock)."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        rows = conn.execute("SELECT kind, until_s FROM snoozes WHERE wearer = ?", (wearer,))
        return {str(kind): float(until_s) for kind, until_s in rows.fetchall()}


def first_occurrences(ids: list[str]) -> list[str]:
    """``ids`` without repeats (at-least-once delivery), in first-arrival order."""
    return list(dict.fromkeys(ids))


@dataclass
class Phone:
    """A subscriber with a persistent session (QoS 1) that reconnects after broker outages."""

    broker: PrivateMosquitto
    client_id: str
    topics: list[str]
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    client: aiomqtt.Client | None = None

    async def run(self) -> None:
        """Stay subscribed, reconnecting every 0.2 s while the broker is away."""
        while True:
            try:
                client = aiomqtt.Client(
                    self.broker.host,
                    self.broker.port,
                    identifier=self.client_id,
                    clean_session=False,
                )
                async with client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=1)
                    self.client = client
                    self.ready.set()
                    async for message in client.messages:
                        raw = message.payload
                        assert isinstance(raw, bytes | bytearray)
                        self.messages.append((message.topic.value, json.loads(raw)))
            except aiomqtt.MqttError:
                self.client = None
                self.ready.clear()
                await asyncio.sleep(0.2)

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        """Payloads of topics ending in ``suffix``, in arrival order."""
        return [p for t, p in self.messages if t.endswith(suffix)]

    def nudge_ids(self) -> list[str]:
        """Ids of every nudge received, repeats included, in arrival order."""
        return [str(p["id"]) for p in self.payloads("/nudge")]


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; fail naming ``what`` after ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def start_daemon(config: Path, *extra_args: str) -> asyncio.subprocess.Process:
    """``backwatch run`` as a subprocess, its output appended to ``daemon.log``."""
    with (config.parent / "daemon.log").open("ab") as log_file:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--config",
            str(config),
            *extra_args,
            cwd=REPO,
            stdout=log_file,
            stderr=log_file,
        )


def daemon_log(config: Path) -> str:
    """The end of the daemon's log, for assertion messages."""
    return (config.parent / "daemon.log").read_text(encoding="utf-8")[-4000:]


def fault_config(tmp_path: Path, broker: PrivateMosquitto, base: str, scenario: Path) -> Path:
    """The wearer ``sam`` with a chest and a thigh sensor living ``scenario`` at SPEED."""
    return write_config(
        tmp_path / "backwatch.toml",
        host=broker.host,
        port=broker.port,
        base_topic=base,
        scenario=str(scenario),
        sensors=(CHEST, THIGH),
        speed=SPEED,
        extra=POLICY,
    )


def test_nudges_due_while_the_broker_is_down_arrive_afterwards_with_their_ids(
    tmp_path: Path,
) -> None:
    base = "fault-outage"
    state_dir = tmp_path / "state"

    async def scenario() -> tuple[Phone, int, list[tuple[str, bool]], Path]:
        async with PrivateMosquitto(persistence=True) as broker:
            config = fault_config(
                tmp_path, broker, base, write_scenario(tmp_path / "day.toml", sit_min=45)
            )
            phone = Phone(broker, "phone-outage", [f"{base}/+/nudge", f"{base}/+/event"])
            listening = asyncio.create_task(phone.run())
            await asyncio.wait_for(phone.ready.wait(), 10)
            daemon = await start_daemon(config, "--until-sources-end")
            try:
                await until(
                    lambda: any(p["kind"] == "sitting" for p in phone.payloads("/nudge")),
                    90,
                    "the first sitting nudge",
                )
                await asyncio.to_thread(broker.stop)
                await asyncio.sleep(OUTAGE_S)
                during_outage = outbox_nudges(state_dir)
                await asyncio.to_thread(broker.start)
                returncode = await asyncio.wait_for(daemon.wait(), 120)
            finally:
                if daemon.returncode is None:
                    daemon.kill()
                    await daemon.wait()
            outbox = outbox_nudges(state_dir)
            events = set(outbox_events(state_dir))

            def all_arrived() -> bool:
                received_events = {event_key(e) for e in phone.payloads("/event")}
                return {i for i, _ in outbox} <= set(phone.nudge_ids()) and events <= (
                    received_events
                )

            with contextlib.suppress(AssertionError):
                await until(all_arrived, 20, "all nudges and events")
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        return phone, returncode, during_outage, config

    phone, returncode, during_outage, config = asyncio.run(scenario())
    assert returncode == 0, daemon_log(config)
    pending_in_outage = [nudge_id for nudge_id, sent in during_outage if not sent]
    # 30 s of wall time are 30 minutes of sitting: about six sitting nudges fell due.
    assert len(pending_in_outage) >= 4, (during_outage, daemon_log(config))
    outbox = outbox_nudges(state_dir)
    assert all(sent for _, sent in outbox), outbox
    outbox_ids = [nudge_id for nudge_id, _ in outbox]
    received = first_occurrences(phone.nudge_ids())
    # Every nudge arrived, in the order it was written, each with the id it was first given.
    assert received == outbox_ids
    assert received == recorded_nudge_ids(state_dir)
    assert set(pending_in_outage) <= set(received)
    kinds = [p["kind"] for p in phone.payloads("/nudge")]
    # 45 minutes of sitting at a 5-minute limit: nudges at 5, 10, ... 45 min; one slouch.
    assert kinds.count("sitting") >= 8, kinds
    assert "slouch" in kinds
    # Events go through the same outbox: each arrived, in order.
    events = outbox_events(state_dir)
    assert len(events) >= 8
    assert list(dict.fromkeys(event_key(e) for e in phone.payloads("/event"))) == events


def test_sigkill_with_nudges_pending_loses_nothing_and_keeps_counters_and_snoozes(
    tmp_path: Path,
) -> None:
    base = "fault-kill"
    state_dir = tmp_path / "state"

    async def scenario() -> dict[str, Any]:
        async with PrivateMosquitto(persistence=True) as broker:
            config = fault_config(
                tmp_path, broker, base, write_scenario(tmp_path / "day.toml", sit_min=60)
            )
            phone = Phone(
                broker,
                "phone-kill",
                [f"{base}/+/nudge", f"{base}/+/state", f"{base}/+/reply/#"],
            )
            listening = asyncio.create_task(phone.run())
            await asyncio.wait_for(phone.ready.wait(), 10)
            first = await start_daemon(config)
            try:
                await until(
                    lambda: any(p["kind"] == "slouch" for p in phone.payloads("/nudge")),
                    90,
                    "the slouch nudge",
                )
                assert phone.client is not None
                await phone.client.publish(
                    f"{base}/sam/cmd/snooze", '{"minutes": 600, "kind": "slouch"}', qos=1
                )
                await until(lambda: bool(phone.payloads("/reply/snooze")), 30, "snooze reply")
                await until(
                    lambda: any(p["kind"] == "sitting" for p in phone.payloads("/nudge")),
                    60,
                    "a sitting nudge",
                )
                sitting_seen_s = max(p["sitting_today_s"] for p in phone.payloads("/state"))
                await asyncio.to_thread(broker.stop)
                await until(
                    lambda: sum(not sent for _, sent in outbox_nudges(state_dir)) >= 2,
                    60,
                    "two nudges waiting in the outbox",
                )
                first.send_signal(signal.SIGKILL)
                await first.wait()
            finally:
                if first.returncode is None:
                    first.kill()
                    await first.wait()
            at_kill = outbox_nudges(state_dir)
            await asyncio.to_thread(broker.start)
            # A command sent while the daemon is down waits in its persistent session.
            await asyncio.wait_for(phone.ready.wait(), 10)
            assert phone.client is not None
            await phone.client.publish(
                f"{base}/sam/cmd/snooze", '{"minutes": 60, "kind": "hydration"}', qos=1
            )
            # The same wearer later that morning: a shorter day, started at 10:00.
            write_scenario(tmp_path / "day.toml", sit_min=12)
            config.write_text(
                config.read_text(encoding="utf-8").replace("T08:00:00", "T10:00:00"),
                encoding="utf-8",
            )
            second = await start_daemon(config, "--until-sources-end")
            try:
                returncode = await asyncio.wait_for(second.wait(), 90)
            finally:
                if second.returncode is None:
                    second.kill()
                    await second.wait()
            final = outbox_nudges(state_dir)
            with contextlib.suppress(AssertionError):
                await until(lambda: {i for i, _ in final} <= set(phone.nudge_ids()), 20, "all")
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        return {
            "phone": phone,
            "config": config,
            "returncode": returncode,
            "at_kill": at_kill,
            "final": final,
            "sitting_seen_s": sitting_seen_s,
        }

    run = asyncio.run(scenario())
    phone: Phone = run["phone"]
    config: Path = run["config"]
    assert run["returncode"] == 0, daemon_log(config)
    snooze_replies = phone.payloads("/reply/snooze")
    assert [r["result"]["kind"] for r in snooze_replies if r["ok"]] == ["slouch", "hydration"]
    pending_at_kill = [nudge_id for nudge_id, sent in run["at_kill"] if not sent]
    assert len(pending_at_kill) >= 2
    # Everything pending at the kill went out after the restart, in order, ids unchanged.
    final_ids = [nudge_id for nudge_id, _ in run["final"]]
    assert all(sent for _, sent in run["final"]), run["final"]
    received = first_occurrences(phone.nudge_ids())
    assert received == final_ids
    assert received == recorded_nudge_ids(state_dir)
    assert set(pending_at_kill) <= set(received)
    position = [received.index(nudge_id) for nudge_id in pending_at_kill]
    assert position == sorted(position)
    # The snooze set before the kill still holds: the second morning sits slouched too, yet
    # no slouch nudge goes out after the restart.
    second_run = [p for p in phone.payloads("/nudge") if p["time"] >= "2026-11-25T10:00"]
    assert any(p["kind"] == "sitting" for p in second_run), second_run
    assert not any(p["kind"] == "slouch" for p in second_run), second_run
    assert set(snoozes_in_store(state_dir, "sam")) == {"slouch", "hydration"}
    # Today's counters carry over the crash: the second run starts from what the first
    # had counted, and adds its own 12 minutes of sitting.
    states = [s for s in phone.payloads("/state") if s["updated"] >= "2026-11-25T10:00"]
    assert states, daemon_log(config)
    sitting_seen_s: float = run["sitting_seen_s"]
    assert sitting_seen_s >= 3 * 60
    assert states[0]["sitting_today_s"] >= sitting_seen_s
    assert states[-1]["sitting_today_s"] >= sitting_seen_s + 11 * 60
