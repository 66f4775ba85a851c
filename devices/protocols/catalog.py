"""Which sensor models backwatch supports and how to recognise them from an advertisement."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from devices.protocols.diy import DIY_SERVICE_UUID
from devices.protocols.thingy52 import thingy_uuid

THINGY_CONFIGURATION_SERVICE_UUID = thingy_uuid(0x0100)
"""The service a Thingy:52 advertises (its configuration service)."""


class SensorModel(StrEnum):
    """A supported Bluetooth LE sensor model."""

    POLAR_H10 = "polar_h10"
    POLAR_VERITY_SENSE = "polar_verity_sense"
    THINGY52 = "thingy52"
    DIY = "diy"


_NAME_PREFIXES: tuple[tuple[str, SensorModel], ...] = (
    ("Polar H10", SensorModel.POLAR_H10),
    ("Polar Sense", SensorModel.POLAR_VERITY_SENSE),
    ("Thingy", SensorModel.THINGY52),
)


def identify(name: str | None, service_uuids: Iterable[str]) -> SensorModel | None:
    """The model an advertisement belongs to, from its service UUIDs or its name."""
    uuids = {uuid.lower() for uuid in service_uuids}
    if DIY_SERVICE_UUID in uuids:
        return SensorModel.DIY
    if THINGY_CONFIGURATION_SERVICE_UUID in uuids:
        return SensorModel.THINGY52
    if name:
        for prefix, model in _NAME_PREFIXES:
            if name.startswith(prefix):
                return model
    return None
