"""The Bluetooth SIG Battery service: battery level in percent."""

from __future__ import annotations

from devices.protocols.errors import DecodeError

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
_MAX_PERCENT = 100


def decode_battery_level(data: bytes) -> int:
    """Battery level in percent (one unsigned byte, 0-100)."""
    if len(data) != 1:
        raise DecodeError(f"battery level must be 1 byte, got {len(data)}")
    if data[0] > _MAX_PERCENT:
        raise DecodeError(f"battery level must be 0..100 %, got {data[0]}")
    return data[0]


def encode_battery_level(percent: int) -> bytes:
    """Encode a battery level (what a sensor sends)."""
    if not 0 <= percent <= _MAX_PERCENT:
        raise ValueError(f"battery level must be 0..100 %, got {percent}")
    return bytes([percent])
