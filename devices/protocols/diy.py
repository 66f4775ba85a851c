"""backwatch's own DIY IMU profile (Arduino Nano 33 BLE, ESP32): batched frames and their scales.

GATT layout (128-bit UUIDs, base ``6313xxxx-81a8-48ed-ba2c-340c6a73dc20``):

- service ``6313b000-…``
- data ``6313b001-…`` (notify): ``u16 seq, u32 t_ms, N x int16[6]`` little-endian. ``seq``
  counts frames (wrapping at 65536) so the host can count lost frames; ``t_ms`` is the
  board's millisecond clock (wrapping at 2³²) at the *first* sample; the samples follow at
  the configured rate, each ``ax, ay, az, gx, gy, gz`` in sensor units. N ≥ 1 fills the
  MTU: 19 samples fit a 247-byte MTU, one fits the default 23.
- config ``6313b002-…`` (read): ``u8 version (1), u8 flags (bit 0: gyroscope present),
  u16 samples per frame, float32 rate_hz, float32 g per LSB, float32 °/s per LSB``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from devices.protocols.errors import DecodeError
from devices.samples import FloatArray

_BASE_UUID = "6313{:04x}-81a8-48ed-ba2c-340c6a73dc20"
DIY_SERVICE_UUID = _BASE_UUID.format(0xB000)
DIY_DATA_UUID = _BASE_UUID.format(0xB001)
DIY_CONFIG_UUID = _BASE_UUID.format(0xB002)

PROFILE_VERSION = 1
FLAG_GYRO = 0x01
_HEADER_FORMAT = "<HI"
HEADER_BYTES = struct.calcsize(_HEADER_FORMAT)
RECORD_BYTES = 12
_CONFIG_FORMAT = "<BBHfff"
CONFIG_BYTES = struct.calcsize(_CONFIG_FORMAT)
_SEQ_MODULUS = 1 << 16
_T_MODULUS = 1 << 32
_MIN_RATE_HZ = 0.01
_MAX_RATE_HZ = 2000.0


@dataclass(frozen=True, slots=True)
class DiyConfig:
    """What the config characteristic publishes: rate, scales, whether there is a gyroscope."""

    rate_hz: float
    acc_g_per_lsb: float
    gyro_dps_per_lsb: float
    has_gyro: bool = True
    samples_per_frame: int = 19
    version: int = PROFILE_VERSION

    def problems(self) -> list[str]:
        """What makes this configuration unusable (empty when valid)."""
        found = []
        if self.version != PROFILE_VERSION:
            found.append(f"profile version must be {PROFILE_VERSION}, got {self.version}")
        if not (math.isfinite(self.rate_hz) and _MIN_RATE_HZ <= self.rate_hz <= _MAX_RATE_HZ):
            found.append(
                f"rate_hz must be {_MIN_RATE_HZ:g}..{_MAX_RATE_HZ:g}, got {self.rate_hz!r}"
            )
        for name, value in (
            ("acc_g_per_lsb", self.acc_g_per_lsb),
            ("gyro_dps_per_lsb", self.gyro_dps_per_lsb),
        ):
            if not (math.isfinite(value) and value > 0):
                found.append(f"{name} must be a positive number, got {value!r}")
        if self.samples_per_frame < 1:
            found.append(f"samples_per_frame must be at least 1, got {self.samples_per_frame}")
        return found


def build_config(config: DiyConfig) -> bytes:
    """Encode the config characteristic value."""
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return struct.pack(
        _CONFIG_FORMAT,
        config.version,
        FLAG_GYRO if config.has_gyro else 0,
        config.samples_per_frame,
        config.rate_hz,
        config.acc_g_per_lsb,
        config.gyro_dps_per_lsb,
    )


def parse_config(data: bytes) -> DiyConfig:
    """Decode and check the config characteristic value."""
    if len(data) != CONFIG_BYTES:
        raise DecodeError(f"DIY config must be {CONFIG_BYTES} bytes, got {len(data)}")
    version, flags, per_frame, rate_hz, acc_scale, gyro_scale = struct.unpack(_CONFIG_FORMAT, data)
    config = DiyConfig(
        rate_hz=rate_hz,
        acc_g_per_lsb=acc_scale,
        gyro_dps_per_lsb=gyro_scale,
        has_gyro=bool(flags & FLAG_GYRO),
        samples_per_frame=per_frame,
        version=version,
    )
    problems = config.problems()
    if problems:
        raise DecodeError("DIY config: " + "; ".join(problems))
    return config


@dataclass(frozen=True, slots=True)
class DiyFrame:
    """One decoded data notification; ``sample_times_ms`` counts from the board's clock."""

    seq: int
    t_ms: int
    sample_times_ms: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.acc_g.shape[0])


def decode_frame(data: bytes, config: DiyConfig) -> DiyFrame:
    """Decode a data notification with the scales of ``config``."""
    if len(data) < HEADER_BYTES + RECORD_BYTES:
        raise DecodeError(
            f"DIY frame needs a {HEADER_BYTES}-byte header and at least one "
            f"{RECORD_BYTES}-byte sample, got {len(data)} bytes"
        )
    body = len(data) - HEADER_BYTES
    if body % RECORD_BYTES:
        raise DecodeError(
            f"DIY frame body of {body} bytes is not a whole number of {RECORD_BYTES}-byte samples"
        )
    seq, t_ms = struct.unpack_from(_HEADER_FORMAT, data)
    raw = np.frombuffer(data, dtype="<i2", offset=HEADER_BYTES).reshape(-1, 6)
    values = raw.astype(np.float64)
    n = values.shape[0]
    times_ms = t_ms + np.arange(n, dtype=np.float64) * (1000.0 / config.rate_hz)
    gyro = values[:, 3:6] * config.gyro_dps_per_lsb if config.has_gyro else None
    return DiyFrame(seq, t_ms, times_ms, values[:, 0:3] * config.acc_g_per_lsb, gyro)


def encode_frame(
    seq: int, t_ms: int, acc_g: FloatArray, gyro_dps: FloatArray | None, config: DiyConfig
) -> bytes:
    """Encode samples (n, 3) as one data notification (what the board sends)."""
    n = acc_g.shape[0]
    if n == 0:
        raise ValueError("a DIY frame needs at least one sample")
    gyro = np.zeros((n, 3)) if gyro_dps is None else gyro_dps
    scaled = np.hstack([acc_g / config.acc_g_per_lsb, gyro / config.gyro_dps_per_lsb])
    body = np.clip(np.rint(scaled), -32768, 32767).astype("<i2").tobytes()
    return struct.pack(_HEADER_FORMAT, seq % _SEQ_MODULUS, t_ms % _T_MODULUS) + body


def sequence_gap(previous_seq: int | None, seq: int) -> int:
    """Frames lost between ``previous_seq`` and ``seq`` (0 for the first frame).

    A step of more than half the sequence space is read as a restart or a repeat, not as
    loss, and counts 0.
    """
    if previous_seq is None:
        return 0
    missing = (seq - previous_seq - 1) % _SEQ_MODULUS
    return 0 if missing >= _SEQ_MODULUS // 2 else missing


def unwrap_t_ms(previous_unwrapped_ms: int | None, t_ms: int) -> int:
    """The board clock without its 2³² ms wrap, continuing from ``previous_unwrapped_ms``."""
    if previous_unwrapped_ms is None:
        return t_ms
    step = (t_ms - previous_unwrapped_ms) % _T_MODULUS
    if step >= _T_MODULUS // 2:
        step -= _T_MODULUS
    return previous_unwrapped_ms + step
