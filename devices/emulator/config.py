"""The emulator's TOML configuration: adapters and the sensors in range of them.

Example::

    adapters = ["hci0"]

    [[sensors]]
    kind = "polar_h10"            # polar_h10 | polar_verity_sense | thingy52 | diy
    address = "A0:9E:1A:00:00:01"
    name = "Polar H10 0001"
    adapter = "hci0"              # optional, default the first adapter
    rssi_dbm = -60                # optional
    battery_pct = 87              # optional
    seed = 1                      # optional, seeds the standing-wearer feed
    samples_per_frame = 20        # optional (polar_h10, diy; polar_verity_sense: ACC frames)
    gyro_samples_per_frame = 24   # optional (polar_verity_sense: GYRO frames)
    compressed = false            # optional (polar_h10: delta frames)
    rate_hz = 104.0               # optional (diy)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.emulator.feeds import still_wearer
from devices.emulator.sensors import (
    EmulatedDiyBoard,
    EmulatedPolarH10,
    EmulatedPolarVeritySense,
    EmulatedSensor,
    EmulatedThingy52,
    SensorIdentity,
)
from devices.protocols import diy
from devices.protocols.catalog import SensorModel

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_ADAPTER = re.compile(r"^hci[0-9]{1,2}$")
_KNOWN_KEYS = {
    "kind",
    "address",
    "name",
    "adapter",
    "rssi_dbm",
    "battery_pct",
    "seed",
    "samples_per_frame",
    "compressed",
    "rate_hz",
    "gyro_samples_per_frame",
}
_ONLY_FOR: dict[str, frozenset[SensorModel]] = {
    "samples_per_frame": frozenset(
        {SensorModel.POLAR_H10, SensorModel.POLAR_VERITY_SENSE, SensorModel.DIY}
    ),
    "compressed": frozenset({SensorModel.POLAR_H10}),
    "rate_hz": frozenset({SensorModel.DIY}),
    "gyro_samples_per_frame": frozenset({SensorModel.POLAR_VERITY_SENSE}),
}


class EmulatorConfigError(ValueError):
    """A configuration the emulator cannot run; the message names the field at fault."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Adapters and the sensors placed next to them."""

    adapters: tuple[str, ...]
    sensors: tuple[tuple[EmulatedSensor, str], ...]


def load_config(path: Path) -> EmulatorConfig:
    """Read and check an emulator configuration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EmulatorConfigError(f"{path}: {exc}") from exc
    return parse_config(data)


def parse_config(data: dict[str, Any]) -> EmulatorConfig:
    """Build sensors from parsed TOML."""
    adapters = tuple(data.get("adapters", ["hci0"]))
    if not adapters or not all(isinstance(a, str) and _ADAPTER.match(a) for a in adapters):
        raise EmulatorConfigError(f"adapters: expected names like 'hci0', got {adapters!r}")
    entries = data.get("sensors", [])
    if not isinstance(entries, list) or not entries:
        raise EmulatorConfigError("sensors: at least one [[sensors]] table is needed")
    sensors = tuple(_sensor(index, entry, adapters) for index, entry in enumerate(entries))
    addresses = [sensor.identity.address.upper() for sensor, _ in sensors]
    repeated = sorted({a for a in addresses if addresses.count(a) > 1})
    if repeated:
        raise EmulatorConfigError(f"sensors: repeated address {repeated}")
    return EmulatorConfig(adapters, sensors)


def _sensor(
    index: int, entry: dict[str, Any], adapters: tuple[str, ...]
) -> tuple[EmulatedSensor, str]:
    where = f"sensors[{index}]"
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise EmulatorConfigError(f"{where}: unknown keys {unknown}")
    try:
        model = SensorModel(entry.get("kind", ""))
    except ValueError:
        raise EmulatorConfigError(
            f"{where}.kind: expected polar_h10, polar_verity_sense, thingy52 or diy, "
            f"got {entry.get('kind')!r}"
        ) from None
    for key, models in _ONLY_FOR.items():
        if key in entry and model not in models:
            raise EmulatorConfigError(f"{where}.{key}: not a setting of {model}")
    address = str(entry.get("address", ""))
    if not _ADDRESS.match(address):
        raise EmulatorConfigError(f"{where}.address: expected AA:BB:CC:DD:EE:FF, got {address!r}")
    adapter = str(entry.get("adapter", adapters[0]))
    if adapter not in adapters:
        raise EmulatorConfigError(f"{where}.adapter: {adapter!r} is not in adapters {adapters}")
    default_names = {
        SensorModel.POLAR_H10: f"Polar H10 {address[-5:].replace(':', '')}",
        SensorModel.POLAR_VERITY_SENSE: f"Polar Sense {address.replace(':', '')[-8:]}",
        SensorModel.THINGY52: "Thingy",
        SensorModel.DIY: "backwatch-imu",
    }
    if model not in default_names:
        raise EmulatorConfigError(f"{where}.kind: {model} is not emulated")
    identity = SensorIdentity(
        address=address,
        name=str(entry.get("name", default_names[model])),
        rssi_dbm=int(entry.get("rssi_dbm", -60)),
        battery_pct=int(entry.get("battery_pct", 87)),
    )
    seed = int(entry.get("seed", index))
    sensor: EmulatedSensor
    if model is SensorModel.POLAR_H10:
        sensor = EmulatedPolarH10(
            identity,
            still_wearer(200.0, sensor_id=identity.name, seed=seed),
            samples_per_frame=int(entry.get("samples_per_frame", 20)),
            compressed=bool(entry.get("compressed", False)),
        )
    elif model is SensorModel.POLAR_VERITY_SENSE:
        acc_frame = int(entry.get("samples_per_frame", 36))
        gyro_frame = int(entry.get("gyro_samples_per_frame", 24))
        for key, value in (
            ("samples_per_frame", acc_frame),
            ("gyro_samples_per_frame", gyro_frame),
        ):
            if not 1 <= value <= 255:
                raise EmulatorConfigError(f"{where}.{key}: expected 1-255, got {value}")
        sensor = EmulatedPolarVeritySense(
            identity,
            still_wearer(52.0, sensor_id=identity.name, seed=seed),
            acc_samples_per_frame=acc_frame,
            gyro_samples_per_frame=gyro_frame,
        )
    elif model is SensorModel.THINGY52:
        sensor = EmulatedThingy52(identity, still_wearer(100.0, sensor_id=identity.name, seed=seed))
    else:
        rate_hz = float(entry.get("rate_hz", 104.0))
        board = diy.DiyConfig(
            rate_hz=rate_hz,
            acc_g_per_lsb=0.000122,
            gyro_dps_per_lsb=0.07,
            samples_per_frame=int(entry.get("samples_per_frame", 10)),
        )
        problems = board.problems()
        if problems:
            raise EmulatorConfigError(f"{where}: " + "; ".join(problems))
        sensor = EmulatedDiyBoard(
            identity, still_wearer(rate_hz, sensor_id=identity.name, seed=seed), config=board
        )
    return sensor, adapter
