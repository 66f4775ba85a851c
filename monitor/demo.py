"""``backwatch demo``: a simulated day through a private Mosquitto, nudges printed on arrival."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import aiomqtt

from devices.emulator import (
    EmulatedDiyBoard,
    EmulatedPolarH10,
    EmulatedSensor,
    SensorIdentity,
    emulated_bluez,
)
from devices.emulator.feeds import LiveTimeline
from devices.mount import Mount
from devices.protocols.diy import DiyConfig
from devices.samples import Placement, SampleBlock
from devices.scenario import Scenario, load_scenario
from devices.simulated import SimulatedSensor
from monitor.broker import PrivateMosquitto

DEMO_SPEED = 90.0
DEMO_WEARER = "alex"
DEMO_BASE_TOPIC = "backwatch"
_WALL_LIMIT_S = 110.0
_SEVERITY_MARK = {"info": "·", "advice": "▶", "warning": "!", "urgent": "‼"}


CHEST_ADDRESS = "A0:9E:1A:DE:00:01"
THIGH_ADDRESS = "F0:0D:D1:1D:00:02"
DEMO_RATE_HZ = 50.0
_CHEST_MOUNT = "-y,+z"
_THIGH_MOUNT = "+x,-z"


def _demo_config(*, host: str, port: int, speed: float, start: datetime, state_dir: Path) -> str:
    """Settings for the demo daemon: one wearer, a Polar H10 on the chest, a DIY thigh board."""
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

        [thresholds]
        # The demo's night is three minutes long: count it as sleep.
        sleep_min_lying_min = 2
        sleep_break_min = 1

        [[wearers]]
        name = "{DEMO_WEARER}"

        [[wearers.sensors]]
        id = "chest"
        kind = "polar_h10"
        address = "{CHEST_ADDRESS}"
        placement = "trunk"
        mount = "{_CHEST_MOUNT}"
        rate_hz = {DEMO_RATE_HZ:g}

        [[wearers.sensors]]
        id = "thigh"
        kind = "diy"
        address = "{THIGH_ADDRESS}"
        placement = "thigh"
        mount = "{_THIGH_MOUNT}"
        rate_hz = {DEMO_RATE_HZ:g}
        """
    )


def _emulated_sensors(day: Scenario, speed: float) -> list[EmulatedSensor]:
    """The wearer's two sensors, emulated over BlueZ and fed by the simulated day."""

    def feed(placement: Placement, mount: str, seed: int) -> Iterator[SampleBlock]:
        return SimulatedSensor(
            scenario=day,
            placement=placement,
            sensor_id=placement.value,
            rate_hz=DEMO_RATE_HZ,
            mount=Mount.parse(mount),
            seed=seed,
        ).blocks()

    chest = EmulatedPolarH10(
        SensorIdentity(CHEST_ADDRESS, "Polar H10 DE0001", battery_pct=83),
        feed(Placement.TRUNK, _CHEST_MOUNT, 1),
        samples_per_frame=36,
    )
    thigh = EmulatedDiyBoard(
        SensorIdentity(THIGH_ADDRESS, "backwatch-diy thigh", battery_pct=64),
        feed(Placement.THIGH, _THIGH_MOUNT, 2),
        config=DiyConfig(
            rate_hz=DEMO_RATE_HZ,
            acc_g_per_lsb=0.000244,
            gyro_dps_per_lsb=0.07,
            samples_per_frame=19,
        ),
    )
    day_timeline = LiveTimeline(DEMO_RATE_HZ * speed)  # one body: both sensors stay in step
    for sensor in (chest, thigh):
        sensor.time_scale = speed
        sensor.follow(day_timeline)
    return [chest, thigh]


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


def format_sensor_status(sensor: str, status: dict[str, Any]) -> str:
    """A one-line note when a sensor connects or disconnects."""
    when = _clock_label(str(status["updated"])) if status.get("updated") else "     "
    if not status.get("connected"):
        return f"{when}  {DEMO_WEARER}  {sensor} sensor disconnected"
    details = []
    if status.get("rate_hz"):
        details.append(f"{status['rate_hz']:g} Hz")
    if status.get("battery_pct") is not None:
        details.append(f"battery {status['battery_pct']:g} %")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"{when}  {DEMO_WEARER}  {sensor} sensor connected{suffix}"


def _dim(line: str) -> str:
    return f"\033[2m{line}\033[0m" if sys.stdout.isatty() else line


# What the wearer reports from the phone during the day (share of the day's wall time,
# command, payload): a back cramp in the afternoon, and a red-flag symptom later on.
_PHONE_REPORTS: tuple[tuple[float, str, dict[str, object]], ...] = (
    (0.62, "report_cramp", {}),
    (0.86, "report_symptoms", {"symptoms": ["leg_numbness"]}),
)


_ESCALATION_INTERVAL_S = 300.0  # the policy's default repeat of an urgent alert


async def _phone_reports(
    client: aiomqtt.Client,
    wall_s: float,
    speed: float,
    received: list[dict[str, Any]],
    urgent_seen: asyncio.Event,
) -> None:
    """Send the day's reports like the phone app or a Home Assistant button would.

    After the urgent alert has been repeated once, the wearer taps "acknowledge" on it,
    which stops the repeats.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    topic = f"{DEMO_BASE_TOPIC}/{DEMO_WEARER}/cmd"
    for share, command, payload in _PHONE_REPORTS:
        await asyncio.sleep(max(0.0, started + share * wall_s - loop.time()))
        print(_dim(f"       (the wearer reports: {command.replace('_', ' ')} {payload or ''})"))
        await client.publish(f"{topic}/{command}", json.dumps(payload), qos=1)
    await urgent_seen.wait()
    urgent = [n for n in received if n.get("kind") == "red_flag"]
    await asyncio.sleep(1.3 * _ESCALATION_INTERVAL_S / speed)
    print(_dim("       (the wearer taps acknowledge on the urgent alert)"))
    await client.publish(f"{topic}/acknowledge", json.dumps({"nudge_id": urgent[-1]["id"]}), qos=1)


async def _print_messages(
    client: aiomqtt.Client, received: list[dict[str, Any]], urgent_seen: asyncio.Event
) -> None:
    last_activity: str | None = None
    connected_sensors: dict[str, bool] = {}
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
            if data.get("kind") == "fall_check":
                print(_dim("       (no answer: the wearer is still on the floor)"), flush=True)
            elif "unanswered_s" in data.get("evidence", {}):
                # The unanswered-fall alert reached the household; someone checks on the
                # wearer, who taps I'm OK, which ends the repeats.
                print(_dim("       (someone checks on the wearer, who taps I'm OK)"), flush=True)
                await client.publish(f"{topic.rsplit('/', 1)[0]}/cmd/im_ok", "{}", qos=1)
            elif data.get("kind") == "red_flag":
                urgent_seen.set()
        elif "/reply/" in topic and data.get("error"):
            print(f"       (backwatch could not do that: {data['error']})", flush=True)
        elif "/sensor/" in topic:
            sensor = topic.split("/")[-2]
            connected = bool(data.get("connected"))
            known = sensor in connected_sensors
            if connected_sensors.get(sensor) != connected and (connected or known):
                connected_sensors[sensor] = connected
                print(_dim(format_sensor_status(sensor, data)), flush=True)
        elif topic.endswith("/state") and data.get("activity") != last_activity:
            last_activity = data.get("activity")
            line = format_state_change(data)
            if line is not None:
                print(_dim(line), flush=True)


async def run_demo(scenario: str = "demo-day", speed: float | None = None) -> int:
    """Run the demo day end to end; 0 when the daemon finished cleanly and nudges arrived."""
    speed = speed if speed is not None else DEMO_SPEED
    day = load_scenario(scenario)
    today = datetime.now().astimezone()
    start = datetime.combine(today.date(), time(8, 0), tzinfo=today.tzinfo)
    wall_s = day.duration_s / speed
    print(
        f"backwatch demo: {DEMO_WEARER} lives '{day.name}' ({day.duration_s / 60:.0f} min) "
        f"at {speed:g}x speed, about {wall_s:.0f} s.\n"
        f"Sensors: a Polar H10 on the chest and a DIY board on the thigh, emulated on a "
        f"private BlueZ and read through bleak like real ones.",
        flush=True,
    )
    sensors = _emulated_sensors(day, speed)
    with tempfile.TemporaryDirectory(prefix="backwatch-demo-") as tmp:
        tmp_path = Path(tmp)
        async with PrivateMosquitto() as broker, emulated_bluez(sensors) as bluez:
            print(f"Private Mosquitto on {broker.host}:{broker.port}; nudges as they arrive:\n")
            config_path = tmp_path / "backwatch.toml"
            config_path.write_text(
                _demo_config(
                    host=broker.host,
                    port=broker.port,
                    speed=speed,
                    start=start,
                    state_dir=tmp_path / "state",
                ),
                encoding="utf-8",
            )
            received: list[dict[str, Any]] = []
            async with aiomqtt.Client(broker.host, broker.port, identifier="demo-phone") as client:
                for topic in ("+/nudge", "+/state", "+/sensor/+/status"):
                    await client.subscribe(f"{DEMO_BASE_TOPIC}/{topic}", qos=1)
                await client.subscribe(f"{DEMO_BASE_TOPIC}/+/reply/+", qos=1)
                urgent_seen = asyncio.Event()
                printer = asyncio.create_task(_print_messages(client, received, urgent_seen))
                phone = asyncio.create_task(
                    _phone_reports(client, wall_s, speed, received, urgent_seen)
                )
                log_path = tmp_path / "daemon.log"
                returncode = await _run_daemon(
                    config_path, log_path, bluez.bus_address, sensors, wall_s
                )
                await asyncio.sleep(0.5)  # let the last deliveries print
                for task in (printer, phone):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if returncode != 0:
                print(f"\nThe daemon exited with status {returncode}; its log:", file=sys.stderr)
                print(log_path.read_text(encoding="utf-8")[-4000:], file=sys.stderr)
                return 1
    print(
        f"\nDemo day over: {len(received)} nudge(s) delivered through MQTT. "
        f"Run `backwatch scan`, then `backwatch run --config FILE` with your own sensors."
    )
    return 0 if received else 1


async def _feeds_finished(sensors: list[EmulatedSensor], expected_wall_s: float) -> None:
    """Return once the day has been played: its time is up and no sensor sends any more."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last = [-1] * len(sensors)
    while True:
        await asyncio.sleep(1.0)
        sent = [sensor.samples_sent for sensor in sensors]
        if loop.time() - started >= expected_wall_s and sent == last:
            return
        last = sent


async def _run_daemon(
    config_path: Path,
    log_path: Path,
    bus_address: str,
    sensors: list[EmulatedSensor],
    expected_wall_s: float,
) -> int:
    """Run ``backwatch run`` against the emulated BlueZ until the day is played, then stop it."""
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": bus_address}
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--config",
            str(config_path),
            stdout=log_file,
            stderr=log_file,
            env=env,
        )
        waiting = asyncio.create_task(process.wait())
        played = asyncio.create_task(_feeds_finished(sensors, expected_wall_s))
        done, _ = await asyncio.wait(
            {waiting, played}, timeout=_WALL_LIMIT_S, return_when=asyncio.FIRST_COMPLETED
        )
        played.cancel()
        if waiting in done:
            return waiting.result()  # the daemon stopped on its own: a failure
        if played not in done:
            print(f"\nThe demo did not finish within {_WALL_LIMIT_S:.0f} s.", file=sys.stderr)
        await asyncio.sleep(1.0)  # the evaluation decides a few sample-seconds behind
        process.send_signal(signal.SIGTERM)
        returncode = await process.wait()
        return returncode if played in done else 1
