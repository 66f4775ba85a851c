"""What an emulated sensor declares and uses: its GATT layout, GATT errors, and its link."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class CharFlag(StrEnum):
    """GATT characteristic properties as BlueZ names them in ``Flags``."""

    READ = "read"
    WRITE = "write"
    WRITE_WITHOUT_RESPONSE = "write-without-response"
    NOTIFY = "notify"
    INDICATE = "indicate"


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One characteristic: its UUID and properties."""

    uuid: str
    flags: tuple[CharFlag, ...]

    @property
    def can_notify(self) -> bool:
        """Whether a client may subscribe to it."""
        return CharFlag.NOTIFY in self.flags or CharFlag.INDICATE in self.flags


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One primary service and its characteristics."""

    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]


class GattErrorName(StrEnum):
    """The D-Bus errors BlueZ returns for failed GATT operations."""

    FAILED = "org.bluez.Error.Failed"
    IN_PROGRESS = "org.bluez.Error.InProgress"
    NOT_PERMITTED = "org.bluez.Error.NotPermitted"
    NOT_SUPPORTED = "org.bluez.Error.NotSupported"
    INVALID_VALUE_LENGTH = "org.bluez.Error.InvalidValueLength"
    NOT_CONNECTED = "org.bluez.Error.NotConnected"


class GattError(Exception):
    """A GATT operation the emulated sensor refuses, returned to the client as BlueZ would."""

    def __init__(self, name: GattErrorName, text: str) -> None:
        """Keep the D-Bus error name next to its text."""
        super().__init__(text)
        self.name = name
        self.text = text


class Link(Protocol):
    """The connection as a sensor sees it: send notifications and ask who listens."""

    def notify(self, char_uuid: str, value: bytes) -> None:
        """Send a notification or indication (dropped if the client is not subscribed)."""
        ...

    def is_subscribed(self, char_uuid: str) -> bool:
        """Whether the client has enabled notifications on the characteristic."""
        ...
