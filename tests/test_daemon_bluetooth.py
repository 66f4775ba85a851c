"""The daemon with Bluetooth sensors: unmodified bleak against the emulated BlueZ, end to end."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

from devices.emulator import EmulatedDiyBoard, EmulatedPolarH10, EmulatedSensor, SensorIdentity
from devices.emulator.feeds import LiveTimeline
from devices.mount import Mount
from devices.protocols.diy import DiyConfig
from devices.samples import Placement
from devices.scenario import load_scenario
from devices.simulated import SimulatedSensor
from monitor.broker import PrivateMosquitto
from tests.bluez_bus import bluez_rig
from tests.harness import REPO, DaemonResult, SensorSpec, run_daemon_collecting, write_config

CHEST_ADDRESS = "A0:9E:1A:00:00:0C"
THIGH_ADDRESS = "F0:0D:00:00:00:07"
SPEED = 100.0


def _wearer_sensors(scenario: str, speed: float) -> list[EmulatedSensor]:
    day = load_scenario(scenario)

    def feed(placement: Placement, mount: str, seed: int) -> SimulatedSensor:
        return SimulatedSensor(
            scenario=day,
            placement=placement,
            sensor_id=placement.value,
            rate_hz=50.0,
            mount=Mount.parse(mount),
            seed=seed,
        )

    chest = EmulatedPolarH10(
        SensorIdentity(CHEST_ADDRESS, "Polar H10 00000C", battery_pct=77),
        feed(Placement.TRUNK, "-y,+z", 5).blocks(),
        samples_per_frame=36,
    )
    thigh = EmulatedDiyBoard(
        SensorIdentity(THIGH_ADDRESS, "backwatch-diy 07", battery_pct=55),
        feed(Placement.THIGH, "+x,-z", 6).blocks(),
        config=DiyConfig(
            rate_hz=50.0, acc_g_per_lsb=0.000244, gyro_dps_per_lsb=0.07, samples_per_frame=19
        ),
    )
    day_timeline = LiveTimeline(50.0 * speed)  # one body: both sensors stay in step
    for sensor in (chest, thigh):
        sensor.time_scale = speed
        sensor.follow(day_timeline)
    return [chest, thigh]


async def _played(sensors: list[EmulatedSensor], quiet_s: float = 1.0) -> None:
    """Return once every emulated sensor has streamed and then stayed quiet for a while."""
    last = [-1] * len(sensors)
    while True:
        await asyncio.sleep(quiet_s)
        sent = [s.samples_sent for s in sensors]
        if sent == last and all(n > 0 for n in sent):
            return
        last = sent


def _run_daemon_with_emulator(
    broker: PrivateMosquitto,
    tmp_path: Path,
    base: str,
    *,
    thigh_address: str,
    emulate_thigh: bool = True,
) -> tuple[list[EmulatedSensor], DaemonResult]:
    """The daemon configured for a Polar H10 and a DIY thigh board, living sit-31min.

    The chest and (unless ``emulate_thigh`` is false) the thigh are emulated on a private
    BlueZ; the daemon gets SIGTERM once they have played the day.
    """
    config = write_config(
        tmp_path / "backwatch.toml",
        host=broker.host,
        port=broker.port,
        base_topic=base,
        scenario="sit-31min",
        speed=SPEED,
        sensors=(
            SensorSpec("chest", "trunk", "-y,+z", kind="polar_h10", address=CHEST_ADDRESS),
            SensorSpec("thigh", "thigh", "+x,-z", kind="diy", address=thigh_address),
        ),
    )

    async def scenario() -> tuple[list[EmulatedSensor], DaemonResult]:
        sensors = _wearer_sensors("sit-31min", SPEED)
        if not emulate_thigh:
            sensors = sensors[:1]
        async with bluez_rig(tmp_path, sensors) as emu:
            env = {"DBUS_SYSTEM_BUS_ADDRESS": emu.bus_address, "PATH": os.environ["PATH"]}
            result = await run_daemon_collecting(
                config,
                host=broker.host,
                port=broker.port,
                topics=[f"{base}/+/nudge", f"{base}/+/sensor/+/status"],
                extra_args=(),
                env=env,
                stop_when=lambda: _played(sensors),
            )
        return sensors, result

    return asyncio.run(scenario())


def test_sitting_nudge_through_bleak_and_emulated_bluez(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    sensors, result = _run_daemon_with_emulator(
        mosquitto, tmp_path, "ble-e2e", thigh_address=THIGH_ADDRESS
    )
    assert result.returncode == 0, result.log[-3000:]
    nudges = result.payloads("/nudge")
    assert [n["kind"] for n in nudges] == ["sitting"], result.log[-3000:]
    chest = result.payloads("/sensor/chest/status")
    thigh = result.payloads("/sensor/thigh/status")
    connected_chest = [s for s in chest if s["connected"]]
    connected_thigh = [s for s in thigh if s["connected"]]
    assert connected_chest
    assert connected_chest[-1]["battery_pct"] == 77
    assert connected_thigh
    assert connected_thigh[-1]["battery_pct"] == 55
    rates = [float(s["rate_hz"]) for s in connected_chest + connected_thigh if s["rate_hz"]]
    # At 100x a few seconds of sample time are a few blocks of wall time: judge the median.
    assert rates
    assert 45 <= statistics.median(rates) <= 55, rates
    assert all(s.samples_sent >= 50 * 34 * 60 * 0.95 for s in sensors)


def test_a_missing_sensor_does_not_stop_the_other(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    _, result = _run_daemon_with_emulator(
        mosquitto, tmp_path, "ble-missing", thigh_address="F0:0D:00:00:00:99", emulate_thigh=False
    )
    assert result.returncode == 0
    assert [n["kind"] for n in result.payloads("/nudge")] == ["sitting"], result.log[-4000:]
    thigh = result.payloads("/sensor/thigh/status")
    assert thigh
    assert not any(s["connected"] for s in thigh)


def test_scan_lists_sensors_with_a_configuration_snippet(tmp_path: Path) -> None:
    async def scenario() -> subprocess.CompletedProcess[str]:
        sensors = _wearer_sensors("short", 1.0)
        async with bluez_rig(tmp_path, sensors) as emu:
            env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": emu.bus_address}
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "scan",
                "--timeout-s",
                "2",
                cwd=REPO,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await process.communicate()
            assert process.returncode is not None
            return subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())

    result = asyncio.run(scenario())
    assert result.returncode == 0, result.stderr
    assert CHEST_ADDRESS in result.stdout
    assert THIGH_ADDRESS in result.stdout
    assert "polar_h10" in result.stdout
    assert "diy" in result.stdout
    assert f'address = "{CHEST_ADDRESS}"' in result.stdout
    assert 'kind = "diy"' in result.stdout


def test_scan_without_bluetooth_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-bus"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "scan", "--timeout-s", "1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert result.returncode == 69, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot scan" in lines[0]
