"""Test rig for Bluetooth: a private dbus-daemon with the emulated BlueZ, and bleak pointed at it.

``bluez_rig`` starts the bus and the emulator in the running event loop, points bleak at
it (``DBUS_SYSTEM_BUS_ADDRESS``), and puts a ``bluetoothctl`` stub on PATH so bleak reads a
BlueZ version instead of warning. Both variables are restored on exit.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import numpy as np

from devices.emulator import EmulatedSensor, EmulatorHandle, emulated_bluez
from devices.samples import SampleBlock

BLUETOOTHCTL_STUB = "#!/bin/sh\necho 'bluetoothctl: 5.66'\n"


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.asynccontextmanager
async def bluez_rig(
    directory: Path,
    sensors: Sequence[EmulatedSensor | tuple[EmulatedSensor, str]],
    *,
    adapters: Sequence[str] = ("hci0",),
) -> AsyncIterator[EmulatorHandle]:
    """The emulated BlueZ with ``sensors``, and bleak in this process talking to it."""
    stub_dir = directory / "bin"
    stub_dir.mkdir(parents=True, exist_ok=True)
    stub = stub_dir / "bluetoothctl"
    stub.write_text(BLUETOOTHCTL_STUB, encoding="utf-8")
    stub.chmod(0o755)
    bus_dir = directory / "bus"
    bus_dir.mkdir(exist_ok=True)
    async with emulated_bluez(sensors, adapters=adapters, directory=bus_dir) as emu:
        path = f"{stub_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        with _environment(DBUS_SYSTEM_BUS_ADDRESS=emu.bus_address, PATH=path):
            yield emu


def counting_feed(
    rate_hz: float, *, block_s: float = 1.0, sensor_id: str = "feed"
) -> Iterator[SampleBlock]:
    """Ground truth: sample k has acc x = (k mod 4000) - 2000 mG, z = 1 g, gyro x = k mod 100.

    Every sensor format keeps these to better than half a mG (Thingy Q6.10: 0.49 mG), so a
    test can tell from the samples alone which ones arrived and in what order.
    """
    n = max(1, round(rate_hz * block_s))
    k = 0
    while True:
        index = np.arange(k, k + n)
        acc = np.zeros((n, 3))
        acc[:, 0] = ((index % 4000) - 2000) / 1000.0
        acc[:, 2] = 1.0
        gyro = np.zeros((n, 3))
        gyro[:, 0] = (index % 100).astype(np.float64)
        yield SampleBlock(sensor_id, index / rate_hz, acc, gyro)
        k += n


def sample_index(acc_x_g: np.ndarray) -> np.ndarray:
    """Recover ``k mod 4000`` from the acc x values of :func:`counting_feed`."""
    return (np.rint(acc_x_g * 1000.0).astype(np.int64) + 2000) % 4000
