"""``backwatch demo``: a simulated day through a private Mosquitto, nudges printed on arrival."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import textwrap
from datetime import datetime, time
from pathlib import Path
from typing import Any

import aiomqtt

from devices.scenario import load_scenario
from monitor.broker import PrivateMosquitto

DEMO_SPEED = 90.0
DEMO_WEARER = "alex"
DEMO_BASE_TOPIC = "backwatch"
_WALL_LIMIT_S = 110.0
_SEVERITY_MARK = {"info": "·", "advice": "▶", "warning": "!", "urgent": "‼"}


def _demo_config(
    *, host: str, port: int, scenario: str, speed: float, start: datetime, state_dir: Path
) -> str:
    """A complete settings file for the demo daemon: one wearer, chest and thigh sensors."""
    return textwrap.dedent(
        f"""\
        log_level = "INFO"
        state_dir = "{state_dir}"

        [mqtt]
        host = "{host}"
        port = {port}
        base_topic = "{DEMO_BASE_TOPIC}"
        client_id = "backwatch-demo"

        [simulation]
        speed = {speed}
        start = "{start.isoformat()}"

        [daemon]
        state_interval_s = 600

        [[wearers]]
        name = "{DEMO_WEARER}"

        [[wearers.sensors]]
        id = "chest"
        kind = "simulated"
        placement = "trunk"
        mount = "-y,+z"
        scenario = "{scenario}"
        rate_hz = 50
        seed = 1

        [[wearers.sensors]]
        id = "thigh"
        kind = "simulated"
        placement = "thigh"
        mount = "-y,+z"
        scenario = "{scenario}"
        rate_hz = 50
        seed = 2
        """
    )


def _clock_label(iso_time: str) -> str:
    """HH:MM in local time from an ISO 8601 UTC time."""
    moment = datetime.fromisoformat(iso_time.replace("Z", "+00:00"))
    return moment.astimezone().strftime("%H:%M")


def format_nudge(nudge: dict[str, Any]) -> str:
    """A nudge as a person reads it in a terminal."""
    mark = _SEVERITY_MARK.get(str(nudge.get("severity")), "▶")
    lines = [f"{_clock_label(nudge['time'])}  {nudge['wearer']}  {mark} {nudge['title']}"]
    wrapped = textwrap.wrap(str(nudge["message"]), width=72)
    lines += [f"       {line}" for line in wrapped]
    if nudge.get("guideline"):
        lines.append(f"       ({nudge['guideline']})")
    return "\n".join(lines)


def format_state_change(state: dict[str, Any]) -> str | None:
    """A one-line note when the wearer's activity changes, or None."""
    activity = state.get("activity")
    updated = state.get("updated")
    if not activity or not updated:
        return None
    return f"{_clock_label(str(updated))}  {state.get('wearer', DEMO_WEARER)}  now {activity}"


async def _print_messages(client: aiomqtt.Client, received: list[dict[str, Any]]) -> None:
    last_activity: str | None = None
    async for message in client.messages:
        topic = message.topic.value
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            continue
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if topic.endswith("/nudge"):
            received.append(data)
            print(format_nudge(data), flush=True)
        elif topic.endswith("/state") and data.get("activity") != last_activity:
            last_activity = data.get("activity")
            line = format_state_change(data)
            if line is not None:
                print(f"\033[2m{line}\033[0m" if sys.stdout.isatty() else line, flush=True)


async def run_demo(scenario: str = "demo-day", speed: float | None = None) -> int:
    """Run the demo day end to end; 0 when the daemon finished cleanly and nudges arrived."""
    speed = speed if speed is not None else DEMO_SPEED
    day = load_scenario(scenario)
    today = datetime.now().astimezone()
    start = datetime.combine(today.date(), time(8, 0), tzinfo=today.tzinfo)
    wall_s = day.duration_s / speed
    print(
        f"backwatch demo: {DEMO_WEARER} lives '{day.name}' ({day.duration_s / 60:.0f} min, "
        f"chest and thigh sensors) at {speed:g}x speed, about {wall_s:.0f} s.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="backwatch-demo-") as tmp:
        tmp_path = Path(tmp)
        async with PrivateMosquitto() as broker:
            print(f"Private Mosquitto on {broker.host}:{broker.port}; nudges as they arrive:\n")
            config_path = tmp_path / "backwatch.toml"
            config_path.write_text(
                _demo_config(
                    host=broker.host,
                    port=broker.port,
                    scenario=scenario,
                    speed=speed,
                    start=start,
                    state_dir=tmp_path / "state",
                ),
                encoding="utf-8",
            )
            received: list[dict[str, Any]] = []
            async with aiomqtt.Client(broker.host, broker.port, identifier="demo-phone") as client:
                await client.subscribe(f"{DEMO_BASE_TOPIC}/+/nudge", qos=1)
                await client.subscribe(f"{DEMO_BASE_TOPIC}/+/state", qos=1)
                printer = asyncio.create_task(_print_messages(client, received))
                log_path = tmp_path / "daemon.log"
                returncode = await _run_daemon(config_path, log_path, _WALL_LIMIT_S)
                await asyncio.sleep(0.5)  # let the last deliveries print
                printer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await printer
            if returncode != 0:
                print(f"\nThe daemon exited with status {returncode}; its log:", file=sys.stderr)
                print(log_path.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
                return 1
    print(
        f"\nDemo day over: {len(received)} nudge(s) delivered through MQTT. "
        f"Run `backwatch run --config FILE` with your own sensors next."
    )
    return 0 if received else 1


async def _run_daemon(config_path: Path, log_path: Path, limit_s: float) -> int:
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--config",
            str(config_path),
            "--until-sources-end",
            stdout=log_file,
            stderr=log_file,
        )
        try:
            return await asyncio.wait_for(process.wait(), timeout=limit_s)
        except TimeoutError:
            process.terminate()
            await process.wait()
            print(f"\nThe demo did not finish within {limit_s:.0f} s.", file=sys.stderr)
            return 1
