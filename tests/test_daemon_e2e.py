"""End to end: the daemon as a subprocess, a simulated wearer, nudges through a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiomqtt
import pytest

from monitor.broker import PrivateMosquitto
from tests.harness import REPO, SensorSpec, run_simulated_day, write_config
from tests.json_schema import errors, load_schema

CHEST = SensorSpec("chest", "trunk", "-y,+z", seed=3)
THIGH = SensorSpec("thigh", "thigh", "+x,-z", seed=4)
NUDGE_KEYS = {
    "id",
    "time",
    "wearer",
    "kind",
    "severity",
    "title",
    "message",
    "guideline",
    "evidence",
    "event_start_s",
    "event_end_s",
}


@pytest.mark.parametrize("sensors", [(CHEST, THIGH), (CHEST,)], ids=["chest+thigh", "chest"])
def test_sitting_31_minutes_gives_exactly_one_nudge(
    mosquitto: PrivateMosquitto, tmp_path: Path, sensors: tuple[SensorSpec, ...]
) -> None:
    base = f"e2e-{len(sensors)}"
    result = run_simulated_day(
        mosquitto,
        tmp_path,
        base_topic=base,
        scenario="sit-31min",
        sensors=sensors,
        speed=300,
        topics=[f"{base}/+/nudge", f"{base}/status", f"{base}/+/state"],
    )
    assert result.returncode == 0, result.log
    nudges = result.payloads("/nudge")
    assert len(nudges) == 1, (nudges, result.log[-3000:])
    nudge = nudges[0]
    assert set(nudge) >= NUDGE_KEYS
    assert nudge["wearer"] == "sam"
    assert nudge["kind"] == "sitting"
    assert nudge["title"]
    assert "30 minutes" in nudge["message"]
    assert nudge["evidence"]["bout_min"] == 30
    assert nudge["evidence"]["limit_min"] == 30
    # The bout began after the 2-minute stand (08:02) and the nudge fired 30 min later.
    assert nudge["event_end_s"] - nudge["event_start_s"] == pytest.approx(1800, abs=15)
    assert result.texts("/status")[-1] == "offline"
    state = result.payloads("/state")[-1]  # the final retained state
    assert errors(state, load_schema("state")) == []
    assert 1850 <= state["sitting_today_s"] <= 1900
    assert state["activity"] == "walking"
    assert 150 <= state["steps_today"] <= 260  # 2 minutes of walking at ~1.8 steps/s
    assert state["sitting_bout_s"] == 0


def test_standing_up_before_30_minutes_gives_no_nudge(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    base = "e2e-break"
    result = run_simulated_day(
        mosquitto,
        tmp_path,
        base_topic=base,
        scenario="sit-break-sit",
        sensors=(CHEST, THIGH),
        speed=300,
        topics=[f"{base}/+/nudge"],
    )
    assert result.returncode == 0, result.log
    assert result.payloads("/nudge") == []
    assert "all sources of sam have ended" in result.log


def test_sigterm_stops_cleanly_and_leaves_offline_retained(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    base = "e2e-signal"
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=base,
        scenario="demo-day",
        sensors=(CHEST,),
        speed=1,
    )

    async def scenario() -> tuple[int, list[str]]:
        seen: list[str] = []
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="sig") as client:
            await client.subscribe(f"{base}/status", qos=1)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(config),
                cwd=REPO,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            async with asyncio.timeout(60):
                async for message in client.messages:
                    seen.append(str(message.payload.decode()))
                    if seen[-1] == "online":
                        break
                process.send_signal(signal.SIGTERM)
                returncode = await process.wait()
                async for message in client.messages:
                    seen.append(str(message.payload.decode()))
                    if seen[-1] == "offline":
                        break
        return returncode, seen

    returncode, seen = asyncio.run(scenario())
    assert returncode == 0
    assert seen[-1] == "offline"

    async def retained() -> str:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="late") as client:
            await client.subscribe(f"{base}/status", qos=1)
            async with asyncio.timeout(10):
                async for message in client.messages:
                    assert message.retain
                    return str(message.payload.decode())
        return ""

    assert asyncio.run(retained()) == "offline"


def test_nudge_payload_is_plain_json_for_any_phone_client(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    """A phone MQTT client gets a short title and text fit for a notification."""
    base = "e2e-phone"
    result = run_simulated_day(
        mosquitto,
        tmp_path,
        base_topic=base,
        scenario="sit-31min",
        sensors=(CHEST, THIGH),
        speed=300,
        topics=[f"{base}/sam/nudge"],
    )
    (nudge,) = result.payloads("/nudge")
    assert len(nudge["title"]) <= 40
    assert len(nudge["message"]) <= 240
    assert json.loads(json.dumps(nudge)) == nudge
