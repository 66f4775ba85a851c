"""Sensor faults via unmodified bleak and the emulated BlueZ: the others stream on, each recovers.

The daemon (a subprocess) has two wearers with four Bluetooth sensors: a Polar H10 and a
DIY board on ``ann``, a Thingy:52 and a DIY board on ``bob``. One at a time, each sensor
gets a fault: a storm of dropped links, a burst of garbage frames, a stall longer than the
stale-data watchdog, and an adapter that answers ``InProgress`` to connects after a drop.
The per-sensor status on MQTT (published every second) is the evidence: while one sensor is
in trouble the other three keep counting samples, and afterwards the troubled one is
connected and counting again, its fault visible in its counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from devices.emulator import (
    ConnectFailure,
    EmulatedDiyBoard,
    EmulatedPolarH10,
    EmulatedSensor,
    EmulatedThingy52,
    EmulatorHandle,
    SensorIdentity,
)
from devices.protocols.diy import DiyConfig
from monitor.broker import PrivateMosquitto
from tests.bluez_bus import bluez_rig
from tests.harness import REPO, SensorSpec, write_config

BASE = "fault-ble"
H10 = "A0:9E:1A:00:00:21"
ANN_BOARD = "F0:0D:00:00:00:22"
THINGY = "C0:FF:EE:00:00:23"
BOB_BOARD = "F0:0D:00:00:00:24"
SENSORS = {  # address -> (wearer, sensor id)
    H10: ("ann", "chest"),
    ANN_BOARD: ("ann", "thigh"),
    THINGY: ("bob", "chest"),
    BOB_BOARD: ("bob", "thigh"),
}
PHASE_S = 6.0  # each fault runs this long before the next begins; the stall outlasts 5 s


def _emulated() -> list[EmulatedSensor]:
    board = DiyConfig(
        rate_hz=50.0, acc_g_per_lsb=0.000244, gyro_dps_per_lsb=0.07, samples_per_frame=10
    )
    return [
        EmulatedPolarH10(SensorIdentity(H10, "Polar H10 000021", battery_pct=80)),
        EmulatedDiyBoard(SensorIdentity(ANN_BOARD, "backwatch-diy 22"), config=board),
        EmulatedThingy52(SensorIdentity(THINGY, "Thingy 23")),
        EmulatedDiyBoard(SensorIdentity(BOB_BOARD, "backwatch-diy 24"), config=board),
    ]


def _config(path: Path, broker: PrivateMosquitto) -> Path:
    ann = (
        SensorSpec("chest", "trunk", "-y,+z", kind="polar_h10", address=H10),
        SensorSpec("thigh", "thigh", "+x,-z", kind="diy", address=ANN_BOARD),
    )
    bob = (
        SensorSpec("chest", "trunk", "+z,+x", kind="thingy52", address=THINGY),
        SensorSpec("thigh", "thigh", "+x,-z", kind="diy", address=BOB_BOARD),
    )
    config = write_config(
        path,
        host=broker.host,
        port=broker.port,
        base_topic=BASE,
        scenario="short",
        sensors=ann,
        speed=1,
        wearer="ann",
        extra="[policy]\ntips = false\n[daemon]\nstate_interval_s = 1\n",
    )
    bob_tables = '\n[[wearers]]\nname = "bob"\n' + "".join(s.table("short") for s in bob)
    config.write_text(config.read_text(encoding="utf-8") + bob_tables, encoding="utf-8")
    return config


@dataclass(frozen=True, slots=True)
class Status:
    """One sensor status as received, with the test's monotonic time of arrival."""

    at_s: float
    connected: bool
    counters: dict[str, int]


class StatusLog:
    """Every sensor status message, per sensor, in arrival order."""

    def __init__(self) -> None:
        """Nothing seen yet."""
        self.by_sensor: dict[tuple[str, str], list[Status]] = {key: [] for key in SENSORS.values()}

    def add(self, topic: str, payload: dict[str, Any]) -> None:
        """Keep a status from ``<base>/<wearer>/sensor/<sensor>/status``."""
        parts = topic.split("/")
        key = (parts[-4], parts[-2])
        if key in self.by_sensor:
            self.by_sensor[key].append(
                Status(time.monotonic(), bool(payload["connected"]), dict(payload["counters"]))
            )

    def latest(self, key: tuple[str, str]) -> Status | None:
        """The newest status of one sensor."""
        seen = self.by_sensor[key]
        return seen[-1] if seen else None

    def samples_between(self, key: tuple[str, str], start_s: float, end_s: float) -> int:
        """How many samples the daemon counted for a sensor between two moments."""
        inside = [s for s in self.by_sensor[key] if start_s <= s.at_s <= end_s]
        if len(inside) < 2:
            return 0
        return inside[-1].counters["samples"] - inside[0].counters["samples"]


async def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _storm(emu: EmulatorHandle) -> None:
    for _ in range(4):
        emu.peripheral(H10).drop_connection()
        await asyncio.sleep(PHASE_S / 4)


async def _garbage(emu: EmulatorHandle) -> None:
    emu.peripheral(ANN_BOARD).send_garbage(30)
    await asyncio.sleep(PHASE_S)


async def _stall(emu: EmulatorHandle) -> None:
    emu.peripheral(THINGY).stall(PHASE_S + 1.0)
    await asyncio.sleep(PHASE_S)


async def _in_progress(emu: EmulatorHandle) -> None:
    peripheral = emu.peripheral(BOB_BOARD)
    peripheral.fail_next_connects(4, ConnectFailure.IN_PROGRESS)
    peripheral.drop_connection()
    await asyncio.sleep(PHASE_S)


FAULTS: list[tuple[str, tuple[str, str], Callable[[EmulatorHandle], Awaitable[None]]]] = [
    ("disconnect storm", SENSORS[H10], _storm),
    ("garbage frames", SENSORS[ANN_BOARD], _garbage),
    ("stall", SENSORS[THINGY], _stall),
    ("InProgress", SENSORS[BOB_BOARD], _in_progress),
]


def test_each_sensor_fault_leaves_the_others_streaming_and_recovers(tmp_path: Path) -> None:
    async def scenario() -> tuple[StatusLog, list[tuple[str, float, float]], dict[str, int]]:
        statuses = StatusLog()
        phases: list[tuple[str, float, float]] = []
        async with PrivateMosquitto() as broker:
            config = _config(tmp_path / "backwatch.toml", broker)
            sensors = _emulated()
            async with (
                bluez_rig(tmp_path, sensors) as emu,
                aiomqtt.Client(broker.host, broker.port, identifier="watch") as client,
            ):
                await client.subscribe(f"{BASE}/+/sensor/+/status", qos=1)

                async def collect() -> None:
                    async for message in client.messages:
                        raw = message.payload
                        assert isinstance(raw, bytes | bytearray)
                        statuses.add(message.topic.value, json.loads(raw))

                collector = asyncio.create_task(collect())
                env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": emu.bus_address}
                with (tmp_path / "daemon.log").open("wb") as log_file:
                    daemon = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "monitor",
                        "run",
                        "--config",
                        str(config),
                        cwd=REPO,
                        env=env,
                        stdout=log_file,
                        stderr=log_file,
                    )
                try:

                    def all_streaming() -> bool:
                        latest = [statuses.latest(key) for key in SENSORS.values()]
                        return all(s is not None and s.counters["samples"] > 0 for s in latest)

                    await _wait(all_streaming, 60, "all four sensors streaming")
                    for name, _key, inject in FAULTS:
                        start_s = time.monotonic()
                        await inject(emu)
                        phases.append((name, start_s, time.monotonic()))

                    def all_recovered() -> bool:
                        end_s = phases[-1][2]
                        return all(
                            (latest := statuses.latest(key)) is not None
                            and latest.connected
                            and statuses.samples_between(key, end_s + 1.0, latest.at_s) > 0
                            for key in SENSORS.values()
                        )

                    await _wait(all_recovered, 60, "every sensor streaming again")
                    dropped = {a: emu.peripheral(a).notifications_dropped for a in SENSORS}
                finally:
                    daemon.terminate()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(daemon.wait(), 15)
                    if daemon.returncode is None:
                        daemon.kill()
                        await daemon.wait()
                    collector.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await collector
        return statuses, phases, dropped

    statuses, phases, dropped = asyncio.run(scenario())
    log = (tmp_path / "daemon.log").read_text(encoding="utf-8")[-4000:]
    # While each fault ran, every other sensor kept delivering samples (50 Hz: about 300
    # per 6 s phase; a third is plenty to show it was not held up).
    for (name, faulty, _), (_, start_s, end_s) in zip(FAULTS, phases, strict=True):
        for key in SENSORS.values():
            if key == faulty:
                continue
            counted = statuses.samples_between(key, start_s, end_s)
            assert counted >= 100, (name, key, counted, log)
    latest = {key: statuses.latest(key) for key in SENSORS.values()}
    assert all(s is not None and s.connected for s in latest.values())
    counters = {key: s.counters for key, s in latest.items() if s is not None}
    assert counters[SENSORS[H10]]["reconnects"] >= 4, counters
    assert counters[SENSORS[ANN_BOARD]]["decode_errors"] >= 10, counters
    assert counters[SENSORS[THINGY]]["stale_timeouts"] >= 1, counters
    assert counters[SENSORS[BOB_BOARD]]["reconnects"] >= 1, counters
    # The sensors nobody touched were never disconnected.
    assert counters[SENSORS[ANN_BOARD]]["reconnects"] == 0, counters
    assert dropped[THINGY] > 0  # the stall held back notifications
    assert counters[SENSORS[BOB_BOARD]]["connect_failures"] >= 1, counters
