"""Polar Measurement Data (PMD) service: commands, responses, settings and data frames.

The byte layouts follow Polar's public SDK (``polarofficial/polar-ble-sdk``): the control
point answers ``F0 op type status more params…``; settings are ``type,count,values`` (LE);
a data frame is ``[0] type, [1..8] u64 timestamp, [9] frame type, payload``. The frame
timestamp is nanoseconds since 2000-01-01T00:00:00Z and belongs to the *last* sample;
earlier samples are spread evenly between the previous frame's timestamp and this one, or
at the nominal rate for the first frame after a (re)start.

Everything here is a pure function of bytes: bad input raises :class:`DecodeError`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from devices.protocols.errors import CommandRefusedError, DecodeError
from devices.samples import FloatArray

IntArray = npt.NDArray[np.int64]

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

POLAR_EPOCH_UNIX_S = 946_684_800
"""2000-01-01T00:00:00Z in Unix seconds: the zero of PMD timestamps."""

RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F
FRAME_HEADER_BYTES = 10
_COMPRESSED_BIT = 0x80
_FRAME_TYPE_MASK = 0x7F
_MEASUREMENT_TYPE_MASK = 0x3F
_MAX_TIMESTAMP_NS = (1 << 63) - 1
_NS_PER_S = 1_000_000_000
_MG_PER_G = 1000.0
_AXES = 3
_MAX_DELTA_BITS = 32


class PmdMeasurementType(IntEnum):
    """What a PMD stream carries (``PmdMeasurementType.kt``)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14
    OFFLINE_TEMP = 15


class PmdOpCode(IntEnum):
    """Control point requests (``PmdControlPointCommand.kt``)."""

    GET_MEASUREMENT_SETTINGS = 1
    START_MEASUREMENT = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5


class PmdStatus(IntEnum):
    """Control point result codes (``PmdControlPointResponse.kt``)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class PmdSettingType(IntEnum):
    """Setting identifiers in the settings TLV (``PmdSetting.kt``)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


_SETTING_FIELD_BYTES: Mapping[PmdSettingType, int] = {
    PmdSettingType.SAMPLE_RATE: 2,
    PmdSettingType.RESOLUTION: 2,
    PmdSettingType.RANGE: 2,
    PmdSettingType.RANGE_MILLIUNIT: 4,
    PmdSettingType.CHANNELS: 1,
    PmdSettingType.FACTOR: 4,
}

_FEATURE_BITS: tuple[tuple[int, int, PmdMeasurementType], ...] = (
    (1, 0x01, PmdMeasurementType.ECG),
    (1, 0x02, PmdMeasurementType.PPG),
    (1, 0x04, PmdMeasurementType.ACC),
    (1, 0x08, PmdMeasurementType.PPI),
    (1, 0x20, PmdMeasurementType.GYRO),
    (1, 0x40, PmdMeasurementType.MAGNETOMETER),
    (1, 0x80, PmdMeasurementType.SKIN_TEMP),
    (2, 0x02, PmdMeasurementType.SDK_MODE),
    (2, 0x04, PmdMeasurementType.LOCATION),
    (2, 0x08, PmdMeasurementType.PRESSURE),
    (2, 0x10, PmdMeasurementType.TEMPERATURE),
    (2, 0x20, PmdMeasurementType.OFFLINE_RECORDING),
    (2, 0x40, PmdMeasurementType.OFFLINE_HR),
)


def _type_name(value: int) -> str:
    try:
        return PmdMeasurementType(value).name
    except ValueError:
        return f"type {value}"


# --------------------------------------------------------------------------- features


def parse_features(data: bytes) -> frozenset[PmdMeasurementType]:
    """Measurement types a device offers, from the control point *read* (``0F`` + bitmask)."""
    if len(data) < 2:
        raise DecodeError(f"PMD feature read needs at least 2 bytes, got {len(data)}")
    if data[0] != FEATURES_CODE:
        raise DecodeError(f"PMD feature read must start with 0x0F, got 0x{data[0]:02X}")
    return frozenset(
        kind for index, bit, kind in _FEATURE_BITS if index < len(data) and data[index] & bit
    )


def build_features(kinds: frozenset[PmdMeasurementType] | set[PmdMeasurementType]) -> bytes:
    """The control point read value announcing ``kinds`` (what an emulated device answers)."""
    out = bytearray([FEATURES_CODE, 0, 0])
    for index, bit, kind in _FEATURE_BITS:
        if kind in kinds:
            out[index] |= bit
    return bytes(out)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class PmdSettings:
    """Settings a device offers (GET_MEASUREMENT_SETTINGS) or reports (START response).

    Each field holds every value listed for that setting, in the order received.
    ``factor`` is the float32 scale the START response may carry for compressed frames.
    """

    sample_rates_hz: tuple[int, ...] = ()
    resolutions_bits: tuple[int, ...] = ()
    ranges: tuple[int, ...] = ()
    ranges_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factors: tuple[float, ...] = ()

    @property
    def factor(self) -> float | None:
        """The first factor listed, if any."""
        return self.factors[0] if self.factors else None

    def __len__(self) -> int:
        """Number of setting types present."""
        return sum(
            1
            for values in (
                self.sample_rates_hz,
                self.resolutions_bits,
                self.ranges,
                self.ranges_milliunit,
                self.channels,
                self.factors,
            )
            if values
        )


def parse_settings(data: bytes) -> PmdSettings:
    """Decode a settings TLV (``type, count, count x value``, little-endian)."""
    found: dict[PmdSettingType, list[int | float]] = {}
    if len(data) <= 1:  # Polar treats an empty or one-byte parameter block as "no settings"
        return PmdSettings()
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise DecodeError(f"PMD settings truncated at byte {offset}: type without count")
        raw_type, count = data[offset], data[offset + 1]
        offset += 2
        try:
            setting = PmdSettingType(raw_type)
        except ValueError:
            raise DecodeError(f"PMD settings: unknown setting type {raw_type}") from None
        size = _SETTING_FIELD_BYTES[setting]
        end = offset + count * size
        if end > len(data):
            raise DecodeError(
                f"PMD settings: {setting.name} lists {count} values of {size} bytes "
                f"but only {len(data) - offset} bytes remain"
            )
        values = found.setdefault(setting, [])
        for start in range(offset, end, size):
            chunk = data[start : start + size]
            if setting is PmdSettingType.FACTOR:
                factor = struct.unpack("<f", chunk)[0]
                if not math.isfinite(factor) or factor <= 0:
                    raise DecodeError(f"PMD settings: factor {factor!r} is not a positive number")
                values.append(factor)
            else:
                signed = setting is PmdSettingType.RANGE_MILLIUNIT
                values.append(int.from_bytes(chunk, "little", signed=signed))
        offset = end

    def ints(kind: PmdSettingType) -> tuple[int, ...]:
        return tuple(int(v) for v in found.get(kind, ()))

    return PmdSettings(
        sample_rates_hz=ints(PmdSettingType.SAMPLE_RATE),
        resolutions_bits=ints(PmdSettingType.RESOLUTION),
        ranges=ints(PmdSettingType.RANGE),
        ranges_milliunit=ints(PmdSettingType.RANGE_MILLIUNIT),
        channels=ints(PmdSettingType.CHANNELS),
        factors=tuple(float(v) for v in found.get(PmdSettingType.FACTOR, ())),
    )


def build_settings(settings: PmdSettings) -> bytes:
    """Encode settings as a TLV (the inverse of :func:`parse_settings`)."""
    out = bytearray()
    groups: tuple[tuple[PmdSettingType, tuple[int, ...] | tuple[float, ...]], ...] = (
        (PmdSettingType.SAMPLE_RATE, settings.sample_rates_hz),
        (PmdSettingType.RESOLUTION, settings.resolutions_bits),
        (PmdSettingType.RANGE, settings.ranges),
        (PmdSettingType.RANGE_MILLIUNIT, settings.ranges_milliunit),
        (PmdSettingType.CHANNELS, settings.channels),
        (PmdSettingType.FACTOR, settings.factors),
    )
    for setting, values in groups:
        if not values:
            continue
        if len(values) > 255:
            raise ValueError(f"{setting.name}: at most 255 values, got {len(values)}")
        out += bytes([setting, len(values)])
        size = _SETTING_FIELD_BYTES[setting]
        for value in values:
            if setting is PmdSettingType.FACTOR:
                out += struct.pack("<f", value)
            else:
                signed = setting is PmdSettingType.RANGE_MILLIUNIT
                out += int(value).to_bytes(size, "little", signed=signed)
    return bytes(out)


# --------------------------------------------------------------------------- commands


def build_start_command(
    measurement_type: PmdMeasurementType,
    *,
    sample_rate_hz: int,
    resolution_bits: int = 16,
    range_g: int | None = None,
    channels: int | None = None,
) -> bytes:
    """The control point write that starts an online stream.

    ACC at 200 Hz, 16 bit, ±8 g gives ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``.
    """
    for name, value, limit in (
        ("sample_rate_hz", sample_rate_hz, 0xFFFF),
        ("resolution_bits", resolution_bits, 0xFFFF),
        ("range_g", range_g, 0xFFFF),
        ("channels", channels, 0xFF),
    ):
        if value is not None and not 0 < value <= limit:
            raise ValueError(f"{name} must be in 1..{limit}, got {value}")
    settings = PmdSettings(
        sample_rates_hz=(sample_rate_hz,),
        resolutions_bits=(resolution_bits,),
        ranges=() if range_g is None else (range_g,),
        channels=() if channels is None else (channels,),
    )
    return bytes([PmdOpCode.START_MEASUREMENT, measurement_type]) + build_settings(settings)


def build_get_settings_command(measurement_type: PmdMeasurementType) -> bytes:
    """The control point write asking which settings a stream supports."""
    return bytes([PmdOpCode.GET_MEASUREMENT_SETTINGS, measurement_type])


def build_stop_command(measurement_type: PmdMeasurementType) -> bytes:
    """The control point write that stops a stream."""
    return bytes([PmdOpCode.STOP_MEASUREMENT, measurement_type])


@dataclass(frozen=True, slots=True)
class PmdCommand:
    """A control point write as a device sees it (used by the emulated sensor)."""

    op_code: PmdOpCode
    measurement_type: int
    parameters: bytes


def parse_command(data: bytes) -> PmdCommand:
    """Decode a control point write (``op, type, settings…``)."""
    if len(data) < 2:
        raise DecodeError(f"PMD command needs at least 2 bytes, got {len(data)}")
    try:
        op_code = PmdOpCode(data[0])
    except ValueError:
        raise DecodeError(f"PMD command: unknown op code {data[0]}") from None
    return PmdCommand(op_code, data[1] & _MEASUREMENT_TYPE_MASK, bytes(data[2:]))


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class PmdResponse:
    """A control point response: ``F0 op type status [more params…]``."""

    op_code: PmdOpCode
    measurement_type: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        """Whether the device accepted the command."""
        return self.status == PmdStatus.SUCCESS

    @property
    def status_name(self) -> str:
        """The status as Polar names it, e.g. ``INVALID_SAMPLE_RATE``."""
        try:
            return PmdStatus(self.status).name
        except ValueError:
            return f"UNKNOWN_STATUS_{self.status}"


def parse_control_point_response(data: bytes) -> PmdResponse:
    """Decode a control point indication."""
    if len(data) < 4:
        raise DecodeError(f"PMD response needs at least 4 bytes, got {len(data)}")
    if data[0] != RESPONSE_CODE:
        raise DecodeError(f"PMD response must start with 0xF0, got 0x{data[0]:02X}")
    try:
        op_code = PmdOpCode(data[1])
    except ValueError:
        raise DecodeError(f"PMD response: unknown op code {data[1]}") from None
    status = data[3]
    if status == PmdStatus.SUCCESS:
        more = len(data) > 4 and data[4] != 0
        parameters = bytes(data[5:])
    else:
        more, parameters = False, b""
    return PmdResponse(op_code, data[2], status, more, parameters)


def build_control_point_response(
    op_code: PmdOpCode,
    measurement_type: int,
    status: PmdStatus = PmdStatus.SUCCESS,
    parameters: bytes = b"",
) -> bytes:
    """Encode a control point indication (what an emulated device sends)."""
    return bytes([RESPONSE_CODE, op_code, measurement_type, status, 0]) + parameters


def check_response(
    response: PmdResponse, op_code: PmdOpCode, measurement_type: PmdMeasurementType
) -> bytes:
    """The parameters of a successful answer to ``op_code``; raise if the device refused."""
    if response.op_code != op_code or response.measurement_type != measurement_type:
        raise DecodeError(
            f"PMD response answers {response.op_code.name} {_type_name(response.measurement_type)}"
            f", expected {op_code.name} {measurement_type.name}"
        )
    if not response.ok and response.status != PmdStatus.ALREADY_IN_STATE:
        raise CommandRefusedError(
            f"PMD {op_code.name} {measurement_type.name} refused: {response.status_name}",
            response.status,
        )
    return response.parameters


# --------------------------------------------------------------------------- data frames


@dataclass(frozen=True, slots=True)
class PmdFrame:
    """One decoded data notification.

    ``values`` is acceleration in g for ACC and angular rate in degrees/s for GYRO, shape
    (n, 3). ``timestamp_ns`` (the last sample's time) is what the next call passes as
    ``previous_timestamp_ns``.
    """

    measurement_type: PmdMeasurementType
    frame_type: int
    compressed: bool
    timestamp_ns: int
    sample_timestamps_ns: IntArray
    values: FloatArray

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.sample_timestamps_ns.shape[0])

    @property
    def sample_times_unix_s(self) -> FloatArray:
        """Sample times in Unix seconds, reading the device clock as UTC."""
        return pmd_ns_to_unix_s(self.sample_timestamps_ns)


def pmd_ns_to_unix_s(timestamps_ns: IntArray) -> FloatArray:
    """Convert PMD timestamps (ns since 2000-01-01Z) to Unix seconds."""
    return np.asarray(timestamps_ns, dtype=np.float64) / _NS_PER_S + POLAR_EPOCH_UNIX_S


def unix_s_to_pmd_ns(t_s: float) -> int:
    """Convert Unix seconds to a PMD timestamp."""
    return round((t_s - POLAR_EPOCH_UNIX_S) * _NS_PER_S)


def decode_data_frame(
    data: bytes,
    *,
    previous_timestamp_ns: int | None,
    sample_rate_hz: float | None,
    factor: float = 1.0,
) -> PmdFrame:
    """Decode an ACC or GYRO data notification.

    ``previous_timestamp_ns`` is the previous frame's ``timestamp_ns`` of the same stream
    (None or 0 for the first frame); ``sample_rate_hz`` is the rate the stream was started
    with (None if unknown); ``factor`` comes from the START response.

    Timing: samples are spread evenly after the previous frame's timestamp. When there is
    no previous frame, when time went backwards, or when that spread is more than a factor
    of two away from the nominal rate (frames were lost), the nominal rate counts back
    from this frame's timestamp instead.
    """
    if len(data) < FRAME_HEADER_BYTES + 1:
        raise DecodeError(
            f"PMD data frame needs a 10-byte header and a payload, got {len(data)} bytes"
        )
    if not math.isfinite(factor) or factor <= 0:
        raise DecodeError(f"PMD factor must be a positive number, got {factor!r}")
    raw_type = data[0] & _MEASUREMENT_TYPE_MASK
    timestamp_ns = int.from_bytes(data[1:9], "little")
    if timestamp_ns > _MAX_TIMESTAMP_NS:
        raise DecodeError(f"PMD timestamp {timestamp_ns} ns is beyond the year 2292")
    frame_byte = data[9]
    compressed = bool(frame_byte & _COMPRESSED_BIT)
    frame_type = frame_byte & _FRAME_TYPE_MASK
    payload = bytes(data[FRAME_HEADER_BYTES:])
    kind = "compressed" if compressed else "raw"

    values: FloatArray
    if raw_type == PmdMeasurementType.ACC:
        measurement = PmdMeasurementType.ACC
        if not compressed and frame_type in (0, 1, 2):
            values = _decode_raw_ints(payload, frame_type + 1) / _MG_PER_G
        elif compressed and frame_type == 0:
            values = _decode_delta(payload, resolution_bits=16).astype(np.float64) * factor
        elif compressed and frame_type == 1:
            values = _decode_delta(payload, resolution_bits=16).astype(np.float64)
            values *= factor / _MG_PER_G
        else:
            raise DecodeError(f"PMD ACC {kind} frame type {frame_type} is not supported")
    elif raw_type == PmdMeasurementType.GYRO:
        measurement = PmdMeasurementType.GYRO
        if compressed and frame_type == 0:
            values = _decode_delta(payload, resolution_bits=16).astype(np.float64) * factor
        elif compressed and frame_type == 1:
            bits = _decode_delta(payload, resolution_bits=32, wrap=True)
            floats = bits.astype(np.uint32).view(np.float32).astype(np.float64)
            values = floats * factor
        else:
            raise DecodeError(f"PMD GYRO {kind} frame type {frame_type} is not supported")
    else:
        raise DecodeError(f"PMD measurement {_type_name(raw_type)} is not decoded")

    if not np.all(np.isfinite(values)):
        raise DecodeError(f"PMD {measurement.name} frame holds values that are not finite")
    stamps = _sample_timestamps_ns(
        timestamp_ns, values.shape[0], previous_timestamp_ns, sample_rate_hz
    )
    return PmdFrame(measurement, frame_type, compressed, timestamp_ns, stamps, values)


def _decode_raw_ints(payload: bytes, width_bytes: int) -> FloatArray:
    """Little-endian signed integers, three per sample."""
    sample_bytes = width_bytes * _AXES
    if len(payload) % sample_bytes:
        raise DecodeError(
            f"PMD raw payload of {len(payload)} bytes is not a whole number of "
            f"{sample_bytes}-byte samples"
        )
    raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, width_bytes).astype(np.int64)
    weights = np.left_shift(np.int64(1), 8 * np.arange(width_bytes, dtype=np.int64))
    unsigned = raw @ weights
    half = np.int64(1) << (8 * width_bytes - 1)
    signed = np.where(unsigned >= half, unsigned - 2 * half, unsigned)
    return signed.reshape(-1, _AXES).astype(np.float64)


def _decode_delta(payload: bytes, *, resolution_bits: int, wrap: bool = False) -> IntArray:
    """Delta-compressed samples: a reference sample, then ``[bits][count]`` blocks.

    Deltas are two's complement, ``bits`` wide, packed least significant bit first, three
    channels per sample; each sample is the previous one plus its delta. With ``wrap`` the
    sums wrap at 32 bits (float32 bit patterns).
    """
    ref_width = (resolution_bits + 7) // 8
    ref_bytes = _AXES * ref_width
    if len(payload) < ref_bytes:
        raise DecodeError(
            f"PMD compressed payload needs a {ref_bytes}-byte reference sample, "
            f"got {len(payload)} bytes"
        )
    ref = np.frombuffer(payload[:ref_bytes], dtype=np.uint8).reshape(_AXES, ref_width)
    weights = np.left_shift(np.int64(1), 8 * np.arange(ref_width, dtype=np.int64))
    reference = ref.astype(np.int64) @ weights
    if not wrap:
        half = np.int64(1) << (resolution_bits - 1)
        reference = np.where(reference >= half, reference - 2 * half, reference)

    blocks: list[IntArray] = []
    offset = ref_bytes
    while offset < len(payload):
        if offset + 2 > len(payload):
            raise DecodeError(f"PMD delta block header truncated at byte {offset}")
        width, count = payload[offset], payload[offset + 1]
        offset += 2
        if width > _MAX_DELTA_BITS:
            raise DecodeError(f"PMD delta width {width} bits is more than {_MAX_DELTA_BITS}")
        n_values = count * _AXES
        n_bytes = (n_values * width + 7) // 8
        if offset + n_bytes > len(payload):
            raise DecodeError(
                f"PMD delta block of {count} samples x {width} bits needs {n_bytes} bytes, "
                f"only {len(payload) - offset} remain"
            )
        if width == 0:
            deltas = np.zeros(n_values, dtype=np.int64)
        else:
            chunk = np.frombuffer(payload, dtype=np.uint8, count=n_bytes, offset=offset)
            bits = np.unpackbits(chunk, bitorder="little")[: n_values * width]
            place = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
            deltas = bits.reshape(n_values, width).astype(np.int64) @ place
            half = np.int64(1) << (width - 1)
            deltas = np.where(deltas >= half, deltas - 2 * half, deltas)
        blocks.append(deltas.reshape(count, _AXES))
        offset += n_bytes

    if blocks:
        steps = np.cumsum(np.concatenate(blocks), axis=0)
        samples = np.vstack([reference[None, :], reference[None, :] + steps])
    else:
        samples = reference[None, :]
    if wrap:
        samples = np.bitwise_and(samples, np.int64(0xFFFFFFFF))
    return samples.astype(np.int64)


def _sample_timestamps_ns(
    timestamp_ns: int, n: int, previous_ns: int | None, sample_rate_hz: float | None
) -> IntArray:
    """Each sample's time: the last at ``timestamp_ns``, the others interpolated."""
    nominal_ns = None
    if sample_rate_hz is not None and sample_rate_hz > 0:
        nominal_ns = _NS_PER_S / sample_rate_hz
    use_previous = previous_ns is not None and 0 < previous_ns < timestamp_ns
    if use_previous and nominal_ns is not None:
        assert previous_ns is not None
        interval_ns = (timestamp_ns - previous_ns) / n
        use_previous = 0.5 * nominal_ns <= interval_ns <= 2.0 * nominal_ns
    stamps = np.empty(n, dtype=np.int64)
    stamps[-1] = timestamp_ns
    if n == 1:
        return stamps
    if use_previous:
        assert previous_ns is not None
        interval_ns = (timestamp_ns - previous_ns) / n
        offsets = np.rint(np.arange(1, n, dtype=np.float64) * interval_ns).astype(np.int64)
        stamps[:-1] = np.minimum(previous_ns + offsets, timestamp_ns)
        return stamps
    if nominal_ns is None:
        raise DecodeError(
            "PMD frame: cannot time the samples without a previous frame or a sample rate"
        )
    back_ns = np.rint(np.arange(n - 1, 0, -1, dtype=np.float64) * nominal_ns)
    if back_ns[0] > timestamp_ns:
        raise DecodeError(
            f"PMD frame timestamp {timestamp_ns} ns is earlier than its {n} samples allow"
        )
    stamps[:-1] = timestamp_ns - back_ns.astype(np.int64)
    return stamps


# --------------------------------------------------------------------------- encoders


def encode_raw_acc_frame(timestamp_ns: int, acc_mg: IntArray) -> bytes:
    """An ACC raw type-1 frame (int16 mG, as the H10 sends) for samples ``acc_mg`` (n, 3)."""
    samples = np.asarray(acc_mg, dtype=np.int64)
    if samples.ndim != 2 or samples.shape[1] != _AXES or samples.shape[0] == 0:
        raise ValueError(f"acc_mg must have shape (n, 3) with n > 0, got {samples.shape}")
    clipped = np.clip(samples, -32768, 32767).astype("<i2")
    header = bytes([PmdMeasurementType.ACC]) + timestamp_ns.to_bytes(8, "little") + b"\x01"
    return header + clipped.tobytes()


def encode_delta_frame(
    measurement_type: PmdMeasurementType,
    frame_type: int,
    timestamp_ns: int,
    samples: IntArray,
    *,
    resolution_bits: int = 16,
    block_samples: int = 16,
) -> bytes:
    """A delta-compressed frame holding integer samples (n, 3), reference plus blocks.

    Each block of up to ``block_samples`` deltas uses the narrowest width that fits.
    """
    values = np.asarray(samples, dtype=np.int64)
    if values.ndim != 2 or values.shape[1] != _AXES or values.shape[0] == 0:
        raise ValueError(f"samples must have shape (n, 3) with n > 0, got {values.shape}")
    if not 0 < block_samples <= 255:
        raise ValueError(f"block_samples must be in 1..255, got {block_samples}")
    ref_width = (resolution_bits + 7) // 8
    out = bytearray([measurement_type])
    out += timestamp_ns.to_bytes(8, "little")
    out.append(_COMPRESSED_BIT | frame_type)
    mask = (1 << (8 * ref_width)) - 1
    for value in values[0]:
        out += (int(value) & mask).to_bytes(ref_width, "little")
    deltas = np.diff(values, axis=0)
    for start in range(0, deltas.shape[0], block_samples):
        block = deltas[start : start + block_samples]
        width = _signed_width(block)
        flat = block.reshape(-1)
        out += bytes([width, block.shape[0]])
        if width:
            place = np.arange(width, dtype=np.int64)
            bits = np.right_shift(flat[:, None] & ((1 << width) - 1), place) & 1
            out += np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()
    return bytes(out)


def _signed_width(values: IntArray) -> int:
    """Bits a two's-complement field needs to hold every value (0 when all are zero)."""
    if values.size == 0 or not np.any(values):
        return 0
    high = int(values.max())
    low = int(values.min())
    high_bits = high.bit_length() + 1 if high > 0 else 1
    low_bits = (-low - 1).bit_length() + 1 if low < 0 else 1
    return max(high_bits, low_bits)
