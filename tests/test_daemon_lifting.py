"""The daemon on lifts and falls: lift events with a declared task's NIOSH index, form
coaching, and a fall check that escalates to a red-flag alert on sample time until I'm OK."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.broker import PrivateMosquitto
from tests.harness import SENSOR_RATE_HZ, SensorSpec, run_daemon_collecting, write_config
from tests.json_schema import errors, load_schema

BASE = "daemon-lifting"
SPEED = 20.0
FALL_ACK_WINDOW_S = 30.0

SCENARIO = """\
name = "shift-with-a-fall"
description = "A lead-in, three lifts (two stooped), a walk, a faint from a chair"
[[step]]
activity = "standing"
duration_s = 90
[[step]]
activity = "standing"
duration_s = 12
lift = "squat"
[[step]]
activity = "walking"
duration_s = 30
[[step]]
activity = "standing"
duration_s = 12
lift = "stoop"
twist_deg = 35
[[step]]
activity = "standing"
duration_s = 12
lift = "stoop"
[[step]]
activity = "walking"
duration_min = 1
[[step]]
activity = "sitting"
duration_min = 1
[[step]]
activity = "lying"
duration_min = 4
fall = "left"
"""

POLICY = f"""\
[policy]
quiet_hours = "off"
fall_ack_window_s = {FALL_ACK_WINDOW_S}
escalation_interval_min = 0.5
"""

TASKS = """
[wearers.tasks.crates]
load_kg = 12.0
horizontal_cm = 45.0
vertical_cm = 20.0
coupling = "poor"
"""


def _run(mosquitto: PrivateMosquitto, tmp_path: Path) -> tuple[int, str, list[Any]]:
    scenario = tmp_path / "shift.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=BASE,
        scenario=str(scenario),
        sensors=(SensorSpec("chest", "trunk", "-y,+z", seed=3),),
        speed=SPEED,
        extra=POLICY,
    )
    config.write_text(config.read_text(encoding="utf-8") + TASKS, encoding="utf-8")
    commands: list[tuple[str, dict[str, Any]]] = [
        ("declare_load", {"task": "pallets"}),
        ("declare_load", {"task": "crates", "minutes": 60}),
    ]

    async def phone() -> None:
        """Declare the task once the daemon is online; answer the fall alert with I'm OK."""
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="phone") as client:
            await client.subscribe(f"{BASE}/status", qos=1)
            await client.subscribe(f"{BASE}/sam/nudge", qos=1)
            async for message in client.messages:
                raw = message.payload
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                if message.topic.matches(f"{BASE}/status") and text == "online" and commands:
                    for name, payload in commands:
                        await client.publish(f"{BASE}/sam/cmd/{name}", json.dumps(payload), qos=1)
                    commands.clear()
                elif message.topic.matches(f"{BASE}/sam/nudge"):
                    nudge = json.loads(text)
                    if nudge["kind"] == "red_flag" and nudge["evidence"].get("repeat") == 2.0:
                        await client.publish(f"{BASE}/sam/cmd/im_ok", "{}", qos=1)
                        return

    async def run() -> tuple[int, str, list[Any]]:
        answering = asyncio.create_task(phone())
        result = await run_daemon_collecting(
            config,
            host=mosquitto.host,
            port=mosquitto.port,
            topics=[f"{BASE}/sam/nudge", f"{BASE}/sam/event", f"{BASE}/sam/reply/#"],
        )
        await asyncio.wait_for(answering, 5.0)
        return result.returncode, result.log, result.messages

    return asyncio.run(run())


def test_lifts_and_an_unanswered_fall_on_sample_time(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    returncode, log, messages = _run(mosquitto, tmp_path)
    assert returncode == 0, log[-3000:]
    replies = [p for t, p in messages if t.endswith("/reply/declare_load")]
    assert [r["ok"] for r in replies] == [False, True], replies
    assert replies[0]["error"]["reason"] == "sam has no task 'pallets' (tasks: crates)"
    assert replies[1]["result"]["load_kg"] == 12.0
    assert replies[1]["result"]["task"] == "crates"

    events = [p for t, p in messages if t.endswith("/event")]
    for event in events:
        assert errors(event, load_schema("event")) == []
        # Decided live, on the block holding the decisive sample: never before the moment.
        # The last bend-frequency window is closed by the end of the data, short of its end;
        # its coverage counts the last sample's whole period, so allow one period.
        covered_end_s = event["start_s"] + event["evidence"].get("covered_s", math.inf)
        last_sample_s = covered_end_s - 1.0 / SENSOR_RATE_HZ
        assert event["decided_s"] >= min(event["end_s"], last_sample_s), event
    lifts = [e for e in events if e["type"] == "lift"]
    assert [e["labels"]["technique"] for e in lifts] == ["squat", "stoop", "stoop"]
    for lift in lifts:
        assert lift["evidence"]["load_kg"] == 12.0
        assert lift["evidence"]["lifting_index"] > 1.0  # 12 kg, far and low, poor grip
        assert "horizontal_cm" not in lift["labels"]["niosh_assumed"]
    falls = [e for e in events if e["type"] == "fall"]
    assert len(falls) == 1

    nudges = [p for t, p in messages if t.endswith("/nudge")]
    for nudge in nudges:
        assert errors(nudge, load_schema("nudge")) == []
    kinds = [n["kind"] for n in nudges]
    assert "lift_form" in kinds
    check = next(n for n in nudges if n["kind"] == "fall_check")
    alerts = [n for n in nudges if n["kind"] == "red_flag"]
    assert alerts[0]["title"] == "No answer after a possible fall"
    assert kinds.index("fall_check") < kinds.index("red_flag")
    # Sample time drives the clock: the alert came one answer window after the check.
    first_alert_s = alerts[0]["evidence"]["unanswered_s"]
    assert FALL_ACK_WINDOW_S <= first_alert_s < FALL_ACK_WINDOW_S + 5.0
    assert [a["evidence"]["repeat"] for a in alerts[:2]] == [1.0, 2.0]
    assert alerts[0]["event_start_s"] == check["event_start_s"]
    # I'm OK after the second alert: at most one more was already on its way, then silence.
    assert len(alerts) <= 3
    im_ok = [p for t, p in messages if t.endswith("/reply/im_ok")]
    assert [r["result"]["acknowledged"] for r in im_ok] == [[check["id"]]]
