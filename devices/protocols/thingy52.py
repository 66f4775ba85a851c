"""Nordic Thingy:52 Motion Service: raw IMU, quaternion and euler notifications, motion config.

Layouts are the packed little-endian structs of ``ble_tms.h`` (Nordic-Thingy52-FW). The raw
characteristic carries int16 x 9: accelerometer Q6.10 g (÷1024), gyroscope Q11.5 °/s (÷32),
compass Q12.4 µT (÷16): the firmware shifts its 16Q16 values right by 6, 11 and 12 bits.
(Nordic's Thingy.js divides by 64/2048/4096, which contradicts the firmware; we do not.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from devices.protocols.errors import DecodeError
from devices.samples import FloatArray

_BASE_UUID = "ef68{:04x}-9b35-4933-9b10-52ffa9740042"


def thingy_uuid(short: int) -> str:
    """The full 128-bit UUID of a Thingy characteristic or service from its 16-bit part."""
    return _BASE_UUID.format(short)


MOTION_SERVICE_UUID = thingy_uuid(0x0400)
MOTION_CONFIG_UUID = thingy_uuid(0x0401)
QUATERNION_UUID = thingy_uuid(0x0404)
RAW_UUID = thingy_uuid(0x0406)
EULER_UUID = thingy_uuid(0x0407)
GRAVITY_UUID = thingy_uuid(0x040A)

ACC_LSB_PER_G = 1 << 10
GYRO_LSB_PER_DPS = 1 << 5
COMPASS_LSB_PER_UT = 1 << 4
QUATERNION_LSB = 1 << 30
EULER_LSB_PER_DEG = 1 << 16

RAW_RECORD_BYTES = 18
_QUATERNION_BYTES = 16
_EULER_BYTES = 12
_GRAVITY_BYTES = 12
_CONFIG_FORMAT = "<HHHHB"
CONFIG_BYTES = struct.calcsize(_CONFIG_FORMAT)

MOTION_RATE_MIN_HZ = 1
MOTION_RATE_MAX_HZ = 200
_INTERVAL_MIN_MS = 100
_INTERVAL_MAX_MS = 5000


@dataclass(frozen=True, slots=True)
class ThingyRawSamples:
    """Raw motion samples, one row per notification: g, degrees/s and µT, each (n, 3)."""

    acc_g: FloatArray
    gyro_dps: FloatArray
    compass_ut: FloatArray

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.acc_g.shape[0])


def decode_raw(data: bytes) -> ThingyRawSamples:
    """Decode one raw notification (exactly 18 bytes) into a one-sample batch."""
    if len(data) != RAW_RECORD_BYTES:
        raise DecodeError(
            f"Thingy raw notification must be {RAW_RECORD_BYTES} bytes, got {len(data)}"
        )
    return decode_raw_records(data)


def decode_raw_records(records: bytes) -> ThingyRawSamples:
    """Decode concatenated 18-byte raw records (a batch of notifications) at once."""
    if not records or len(records) % RAW_RECORD_BYTES:
        raise DecodeError(
            f"Thingy raw records must be a positive multiple of {RAW_RECORD_BYTES} bytes, "
            f"got {len(records)}"
        )
    values = np.frombuffer(records, dtype="<i2").reshape(-1, 9).astype(np.float64)
    return ThingyRawSamples(
        acc_g=values[:, 0:3] / ACC_LSB_PER_G,
        gyro_dps=values[:, 3:6] / GYRO_LSB_PER_DPS,
        compass_ut=values[:, 6:9] / COMPASS_LSB_PER_UT,
    )


def encode_raw_records(
    acc_g: FloatArray, gyro_dps: FloatArray, compass_ut: FloatArray | None = None
) -> list[bytes]:
    """One raw notification per sample (what a Thingy sends), values rounded and clipped."""
    n = acc_g.shape[0]
    compass = np.zeros((n, 3)) if compass_ut is None else compass_ut
    scaled = np.hstack(
        [acc_g * ACC_LSB_PER_G, gyro_dps * GYRO_LSB_PER_DPS, compass * COMPASS_LSB_PER_UT]
    )
    packed = np.clip(np.rint(scaled), -32768, 32767).astype("<i2").tobytes()
    return [packed[i : i + RAW_RECORD_BYTES] for i in range(0, len(packed), RAW_RECORD_BYTES)]


def decode_quaternion(data: bytes) -> FloatArray:
    """Orientation quaternion (w, x, y, z) from int32 x 4 in Q2.30."""
    if len(data) != _QUATERNION_BYTES:
        raise DecodeError(f"Thingy quaternion must be {_QUATERNION_BYTES} bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i4").astype(np.float64) / QUATERNION_LSB


def encode_quaternion(wxyz: FloatArray) -> bytes:
    """Encode a quaternion (w, x, y, z) in Q2.30."""
    scaled = np.clip(np.rint(np.asarray(wxyz) * QUATERNION_LSB), -(2**31), 2**31 - 1)
    return scaled.astype("<i4").tobytes()


def decode_euler(data: bytes) -> FloatArray:
    """Roll, pitch and yaw in degrees from int32 x 3 in Q16.16."""
    if len(data) != _EULER_BYTES:
        raise DecodeError(f"Thingy euler must be {_EULER_BYTES} bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i4").astype(np.float64) / EULER_LSB_PER_DEG


def decode_gravity(data: bytes) -> FloatArray:
    """Gravity vector (float32 x 3) as the firmware's sensor fusion reports it."""
    if len(data) != _GRAVITY_BYTES:
        raise DecodeError(f"Thingy gravity must be {_GRAVITY_BYTES} bytes, got {len(data)}")
    values = np.frombuffer(data, dtype="<f4").astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise DecodeError("Thingy gravity holds values that are not finite")
    return values


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """The motion configuration characteristic (``ble_tms_config_t``).

    Firmware limits: intervals 100-5000 ms, motion processing 1-200 Hz; its default is
    1000/500/500 ms, 10 Hz, wake on motion on.
    """

    pedometer_interval_ms: int = 1000
    temperature_compensation_interval_ms: int = 500
    compass_compensation_interval_ms: int = 500
    motion_frequency_hz: int = 10
    wake_on_motion: bool = True

    def problems(self) -> list[str]:
        """What the firmware would reject, as readable messages (empty when valid)."""
        found = []
        for name, value in (
            ("pedometer_interval_ms", self.pedometer_interval_ms),
            ("temperature_compensation_interval_ms", self.temperature_compensation_interval_ms),
            ("compass_compensation_interval_ms", self.compass_compensation_interval_ms),
        ):
            if not _INTERVAL_MIN_MS <= value <= _INTERVAL_MAX_MS:
                found.append(f"{name} must be {_INTERVAL_MIN_MS}..{_INTERVAL_MAX_MS}, got {value}")
        if not MOTION_RATE_MIN_HZ <= self.motion_frequency_hz <= MOTION_RATE_MAX_HZ:
            found.append(
                f"motion_frequency_hz must be {MOTION_RATE_MIN_HZ}..{MOTION_RATE_MAX_HZ}, "
                f"got {self.motion_frequency_hz}"
            )
        return found


def build_motion_config(config: MotionConfig) -> bytes:
    """Encode the motion configuration (``<HHHHB``); 100 Hz gives ``E8 03 F4 01 F4 01 64 00 01``."""
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return struct.pack(
        _CONFIG_FORMAT,
        config.pedometer_interval_ms,
        config.temperature_compensation_interval_ms,
        config.compass_compensation_interval_ms,
        config.motion_frequency_hz,
        int(config.wake_on_motion),
    )


def parse_motion_config(data: bytes) -> MotionConfig:
    """Decode and validate a motion configuration as the firmware does."""
    if len(data) != CONFIG_BYTES:
        raise DecodeError(f"Thingy motion config must be {CONFIG_BYTES} bytes, got {len(data)}")
    pedo, temp, compass, freq, wake = struct.unpack(_CONFIG_FORMAT, data)
    if wake > 1:
        raise DecodeError(f"Thingy motion config: wake_on_motion must be 0 or 1, got {wake}")
    config = MotionConfig(pedo, temp, compass, freq, bool(wake))
    problems = config.problems()
    if problems:
        raise DecodeError("Thingy motion config: " + "; ".join(problems))
    return config
