"""An emulated BlueZ with emulated sensors on a private D-Bus, for tests and demos without radio.

Typical use::

    async with emulated_bluez([EmulatedPolarH10(SensorIdentity("A0:9E:1A:00:00:01",
                                                                "Polar H10 0001"))]) as emu:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = emu.bus_address   # for bleak
        emu.bluez.peripheral("A0:9E:1A:00:00:01").drop_connection()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbus_fast.aio import MessageBus

from devices.emulator.bluez import ConnectFailure, EmulatedBluez, EmulatedPeripheral
from devices.emulator.bus import private_bus
from devices.emulator.sensors import (
    EmulatedDiyBoard,
    EmulatedPolar,
    EmulatedPolarH10,
    EmulatedPolarVeritySense,
    EmulatedSensor,
    EmulatedThingy52,
    PmdStreamSpec,
    SensorIdentity,
)

__all__ = [
    "ConnectFailure",
    "EmulatedBluez",
    "EmulatedDiyBoard",
    "EmulatedPeripheral",
    "EmulatedPolar",
    "EmulatedPolarH10",
    "EmulatedPolarVeritySense",
    "EmulatedSensor",
    "EmulatedThingy52",
    "EmulatorHandle",
    "PmdStreamSpec",
    "SensorIdentity",
    "emulated_bluez",
]


@dataclass(frozen=True, slots=True)
class EmulatorHandle:
    """A running emulator: the bus address to give bleak, and the emulated BlueZ."""

    bus_address: str
    bluez: EmulatedBluez

    def peripheral(self, address: str, adapter: str = "hci0") -> EmulatedPeripheral:
        """Fault switches of the device at ``address``."""
        return self.bluez.peripheral(address, adapter)


@contextlib.asynccontextmanager
async def emulated_bluez(
    sensors: Sequence[EmulatedSensor | tuple[EmulatedSensor, str]] = (),
    *,
    adapters: Sequence[str] = ("hci0",),
    directory: Path | None = None,
    seed: int = 0,
) -> AsyncIterator[EmulatorHandle]:
    """Start a private dbus-daemon and an emulated BlueZ with ``sensors`` in range.

    A sensor given as ``(sensor, "hci1")`` sits next to that adapter. The emulator runs in
    the current event loop; everything stops on exit.
    """
    async with private_bus(directory) as address:
        bus = await MessageBus(bus_address=address, negotiate_unix_fd=True).connect()
        bluez = EmulatedBluez(bus, adapters, seed=seed)
        try:
            await bluez.start()
            for entry in sensors:
                sensor, adapter = entry if isinstance(entry, tuple) else (entry, adapters[0])
                bluez.add(sensor, adapter)
            yield EmulatorHandle(address, bluez)
        finally:
            bluez.close()
            bus.disconnect()
            with contextlib.suppress(Exception):
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
