"""``python -m devices.emulator.measure``: sample rates and reconnect times, emulated stack.

Runs an emulated Polar H10 (200 Hz), Thingy:52 (100 Hz), DIY board (104 Hz) and Polar
Verity Sense (52 Hz accelerometer + gyroscope) at once, streams them with
:class:`devices.ble.BleSensorSource` over unmodified bleak, reports the sustained sample
rate of each (and for the Verity the share of samples delivered with gyroscope and the
delay the merge adds), then drops the H10, DIY and Verity links repeatedly and reports the
time from the drop to the first new sample.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from devices.ble import AdapterGate, BleSensorConfig, BleSensorSource, LinkState, ReconnectPolicy
from devices.emulator import (
    EmulatedDiyBoard,
    EmulatedPolarH10,
    EmulatedPolarVeritySense,
    EmulatedThingy52,
    SensorIdentity,
    emulated_bluez,
)
from devices.protocols.catalog import SensorModel
from devices.queue import BlockQueue

H10 = "A0:9E:1A:00:00:01"
THINGY = "C0:11:22:33:44:55"
BOARD = "D0:11:22:33:44:66"
VERITY = "A0:9E:1A:00:00:02"


class WallPacer:
    """The wall clock as a Pacer."""

    speed = 1.0

    def now_s(self) -> float:
        """Unix time."""
        return time.time()

    async def sleep_until_s(self, t_s: float) -> None:
        """Sleep until ``t_s``."""
        await asyncio.sleep(max(0.0, t_s - time.time()))


class Counted:
    """A running source and a count of the samples it delivered."""

    def __init__(self, source: BleSensorSource) -> None:
        self.source = source
        self.queue = BlockQueue(maxsize=100_000)
        self.samples = 0
        self.gyro_samples = 0
        self.delays_s: list[float] = []
        self.last_block_monotonic_s = 0.0
        self.tasks = [
            asyncio.create_task(source.run(self.queue, WallPacer())),
            asyncio.create_task(self._drain()),
        ]

    async def _drain(self) -> None:
        while (block := await self.queue.get()) is not None:
            self.samples += len(block)
            if block.gyro_dps is not None:
                self.gyro_samples += len(block)
            self.delays_s.append(time.time() - block.end_s)
            self.last_block_monotonic_s = time.monotonic()


async def _until(condition: object, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 (polls counters)
            await asyncio.sleep(0.01)


async def measure(duration_s: float, trials: int, policy: ReconnectPolicy) -> dict[str, object]:
    """Run the measurement; returns the numbers as a JSON-able dict."""
    sensors = [
        EmulatedPolarH10(SensorIdentity(H10, "Polar H10 0001")),
        EmulatedThingy52(SensorIdentity(THINGY, "Thingy")),
        EmulatedDiyBoard(SensorIdentity(BOARD, "backwatch-imu")),
        EmulatedPolarVeritySense(SensorIdentity(VERITY, "Polar Sense 1A000002")),
    ]
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bw-measure-") as directory:
        async with emulated_bluez(sensors, directory=Path(directory)) as emu:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = emu.bus_address
            gate = AdapterGate()
            configs = [
                BleSensorConfig("trunk", address=H10, rate_hz=200, policy=policy),
                BleSensorConfig("thigh", model=SensorModel.THINGY52, rate_hz=100, policy=policy),
                BleSensorConfig("waist", address=BOARD, policy=policy),
                BleSensorConfig("arm", address=VERITY, rate_hz=52, policy=policy),
            ]
            runs = [Counted(BleSensorSource(c, gate=gate)) for c in configs]
            await _until(lambda: all(r.samples > 0 for r in runs))
            await asyncio.sleep(1.0)
            start = [r.samples for r in runs]
            start_gyro = [r.gyro_samples for r in runs]
            for r in runs:
                r.delays_s.clear()
            t0 = time.monotonic()
            await asyncio.sleep(duration_s)
            elapsed = time.monotonic() - t0
            rates = {
                r.source.sensor_id: round((r.samples - s0) / elapsed, 2)
                for r, s0 in zip(runs, start, strict=True)
            }
            result["sustained_rate_hz"] = rates
            result["share_with_gyro"] = {
                r.source.sensor_id: round((r.gyro_samples - g0) / max(1, r.samples - s0), 4)
                for r, s0, g0 in zip(runs, start, start_gyro, strict=True)
            }
            result["block_end_to_delivery_s"] = {
                r.source.sensor_id: {
                    "median": round(statistics.median(r.delays_s), 3),
                    "max": round(max(r.delays_s), 3),
                }
                for r in runs
                if r.delays_s
            }
            result["window_s"] = round(elapsed, 2)
            result["status"] = {
                r.source.sensor_id: {
                    "decode_errors": r.source.status().decode_errors,
                    "sequence_gaps": r.source.status().sequence_gaps,
                    "queue_dropped_samples": r.source.status().queue_dropped_samples,
                    "samples_without_gyro": r.source.status().samples_without_gyro,
                }
                for r in runs
            }
            reconnect_s: dict[str, list[float]] = {}
            for run, address in ((runs[0], H10), (runs[2], BOARD), (runs[3], VERITY)):
                times = []
                for _ in range(trials):
                    before = run.source.status().reconnects
                    dropped_at = time.monotonic()
                    emu.peripheral(address).drop_connection()
                    await _until(
                        lambda run=run, before=before: run.source.status().reconnects > before
                    )
                    await _until(
                        lambda run=run, t=dropped_at: run.last_block_monotonic_s > t + 0.05
                    )
                    times.append(run.last_block_monotonic_s - dropped_at)
                    assert run.source.status().state is LinkState.STREAMING
                    await asyncio.sleep(0.5)
                reconnect_s[run.source.sensor_id] = times
            result["reconnect_to_first_block_s"] = {
                sensor: {
                    "min": round(min(v), 3),
                    "median": round(statistics.median(v), 3),
                    "max": round(max(v), 3),
                    "trials": len(v),
                }
                for sensor, v in reconnect_s.items()
            }
            for run in runs:
                for task in run.tasks:
                    task.cancel()
                await asyncio.gather(*run.tasks, return_exceptions=True)
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m devices.emulator.measure")
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--initial-delay-s", type=float, default=ReconnectPolicy().initial_delay_s)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    policy = ReconnectPolicy(initial_delay_s=args.initial_delay_s)
    result = asyncio.run(measure(args.duration_s, args.trials, policy))
    result["initial_delay_s"] = args.initial_delay_s
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
