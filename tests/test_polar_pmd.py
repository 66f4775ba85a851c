"""Polar PMD decoding against the byte vectors in Polar's public SDK unit tests.

Vectors are data from ``polarofficial/polar-ble-sdk``, Android library tests under
``sources/Android/android-communications/library/src/test/java/com/polar/
androidcommunications/api/ble/model/gatt/client/``:

- ``pmd/model/AccDataTest.kt`` (raw type 1, compressed types 0 and 1)
- ``pmd/model/GyrDataTest.kt`` (compressed types 0 and 1, with and without factor)
- ``pmd/PmdSettingTest.kt`` and ``pmd/BlePmdClientControlPointResponseTest.kt``

The assertions are the ones the upstream tests assert (their comments are off in places:
``F1 FF`` is -15, not -22, and the compressed type-1 frame holds 1 delta sample, not 10).
"""

from __future__ import annotations

import numpy as np
import pytest

from devices.protocols.errors import CommandRefusedError, DecodeError
from devices.protocols.polar_pmd import (
    POLAR_EPOCH_UNIX_S,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    PmdStatus,
    build_control_point_response,
    build_features,
    build_settings,
    build_start_command,
    build_stop_command,
    check_response,
    decode_data_frame,
    encode_delta_frame,
    encode_raw_acc_frame,
    parse_command,
    parse_control_point_response,
    parse_features,
    parse_settings,
)

ACC_RAW_TYPE1_HEADER = "02 00 94 35 77 00 00 00 00 01"
ACC_RAW_TYPE1_PAYLOAD = """
F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03
F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03
FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03
F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03
FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03
F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03
F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03
F7 FF FE FF E6 03
"""

ACC_COMPRESSED_TYPE0_HEADER = "02 00 94 35 77 00 00 00 00 80"
ACC_COMPRESSED_TYPE0_PAYLOAD = """
71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF
EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3
CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03
BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27
9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B
7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B
4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F
1F CB DA E3 C7 A2 76 F9
"""

GYRO_FLOAT_FRAME = (
    "05 00 94 35 77 00 00 00 00 81 "
    "00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D"
)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(" ".join(text.split()))


def as_mg_int(values_g: np.ndarray) -> np.ndarray:
    """Polar's AccSample holds ints in mG, truncated toward zero."""
    return np.trunc(np.round(values_g * 1000.0, 6)).astype(np.int64)


def float32_bits(value: int) -> float:
    return float(np.array([value & 0xFFFFFFFF], dtype=np.uint32).view(np.float32)[0])


# ------------------------------------------------------------------ AccDataTest.kt


def test_acc_raw_type1_vector() -> None:
    frame = decode_data_frame(
        hexbytes(ACC_RAW_TYPE1_HEADER + ACC_RAW_TYPE1_PAYLOAD),
        previous_timestamp_ns=0,
        sample_rate_hz=52,
    )
    assert frame.measurement_type is PmdMeasurementType.ACC
    assert not frame.compressed
    assert frame.frame_type == 1
    assert len(frame) == 216 // 2 // 3
    np.testing.assert_array_equal(as_mg_int(frame.values[0]), [-9, -1, 999])
    np.testing.assert_array_equal(as_mg_int(frame.values[1]), [-8, -2, 997])
    assert frame.timestamp_ns == 2_000_000_000
    assert frame.sample_timestamps_ns[-1] == 2_000_000_000
    # First frame: samples count back from the last at the nominal 52 Hz.
    steps = np.diff(frame.sample_timestamps_ns)
    assert np.all(np.abs(steps - 1e9 / 52) <= 1)


def test_acc_compressed_type0_vector() -> None:
    factor = np.float32(2.44e-4)
    previous = 100
    frame = decode_data_frame(
        hexbytes(ACC_COMPRESSED_TYPE0_HEADER + ACC_COMPRESSED_TYPE0_PAYLOAD),
        previous_timestamp_ns=previous,
        sample_rate_hz=None,
        factor=float(factor),
    )
    assert frame.compressed
    assert frame.frame_type == 0
    assert len(frame) == 1 + 56
    reference = np.array([1905, 27376, -29282])
    second = reference + np.array([190, -105, -85])
    expected0 = [int(factor * np.float32(v) * np.float32(1000)) for v in reference]
    expected1 = [int(factor * np.float32(v) * np.float32(1000)) for v in second]
    np.testing.assert_array_equal(as_mg_int(frame.values[0]), expected0)
    np.testing.assert_array_equal(as_mg_int(frame.values[1]), expected1)
    assert np.all(np.abs(frame.values) <= 8.0)  # the ±8 g range the test checks
    delta = (2_000_000_000 - previous) / 57
    assert frame.sample_timestamps_ns[0] == round(previous + delta)
    assert frame.sample_timestamps_ns[-1] == 2_000_000_000


def test_acc_compressed_type1_vector() -> None:
    frame = decode_data_frame(
        hexbytes("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08"),
        previous_timestamp_ns=100,
        sample_rate_hz=None,
        factor=1.0,
    )
    assert len(frame) == 2
    np.testing.assert_array_equal(as_mg_int(frame.values), [[-15, 20, 1008], [-20, 17, 1008]])
    np.testing.assert_array_equal(frame.sample_timestamps_ns, [100, 101])


# ------------------------------------------------------------------ GyrDataTest.kt


def test_gyro_compressed_type0_vector() -> None:
    frame = decode_data_frame(
        hexbytes("05 FF FF FF FF FF FF FF 7F 80 EA FF 08 00 0D 00 03 01 DF 00"),
        previous_timestamp_ns=100,
        sample_rate_hz=None,
    )
    assert frame.measurement_type is PmdMeasurementType.GYRO
    np.testing.assert_array_equal(frame.values, [[-22.0, 8.0, 13.0], [-23.0, 11.0, 16.0]])
    assert frame.timestamp_ns == 9_223_372_036_854_775_807
    assert frame.sample_timestamps_ns[-1] == 9_223_372_036_854_775_807


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_gyro_compressed_type1_float_vector(factor: float) -> None:
    frame = decode_data_frame(
        hexbytes(GYRO_FLOAT_FRAME), previous_timestamp_ns=100, sample_rate_hz=None, factor=factor
    )
    first = [float32_bits(0x3F800000), float32_bits(0x41200000), float32_bits(0x41A00000)]
    second = [
        float32_bits(0x3F800000 + 0x1A00000),
        float32_bits(0x41200000 + 0x0800000),
        float32_bits(0x41A00000 + 0xFDECCCCD),
    ]
    expected = np.array([first, second], dtype=np.float32) * np.float32(factor)
    np.testing.assert_array_equal(frame.values.astype(np.float32), expected)
    assert first == [1.0, 10.0, 20.0]
    assert frame.timestamp_ns == 2_000_000_000
    assert frame.sample_timestamps_ns[1] == 2_000_000_000


# ------------------------------------------------------------------ settings, control point


def test_settings_vector_with_ranges() -> None:
    settings = parse_settings(
        hexbytes("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    )
    assert len(settings) == 4
    assert settings.sample_rates_hz == (52,)
    assert settings.resolutions_bits == (16,)
    assert set(settings.ranges) == {245, 500, 1000, 2000}
    assert settings.channels == (3,)
    assert settings.ranges_milliunit == ()
    assert settings.factor is None


def test_settings_vector_with_range_milliunit() -> None:
    settings = parse_settings(hexbytes("03 02 FF FF FF FF FF 00 00 00 01 01 0E 00"))
    assert len(settings) == 2
    assert set(settings.ranges_milliunit) == {-1, 0xFF}
    assert settings.resolutions_bits == (14,)


def test_settings_round_trip_and_factor() -> None:
    settings = PmdSettings(
        sample_rates_hz=(0x7FFF,),
        resolutions_bits=(0,),
        ranges=(15,),
        ranges_milliunit=(2**31 - 1,),
        channels=(4,),
        factors=(0.5,),
    )
    assert parse_settings(build_settings(settings)) == settings


def test_control_point_response_vectors() -> None:
    ok = parse_control_point_response(hexbytes("F0 01 02 00 00 FF FF FF"))
    assert ok.op_code is PmdOpCode.GET_MEASUREMENT_SETTINGS
    assert ok.measurement_type == PmdMeasurementType.ACC
    assert ok.ok
    assert not ok.more
    assert ok.parameters == b"\xff\xff\xff"

    failed = parse_control_point_response(hexbytes("F0 01 06 07 00"))
    assert failed.measurement_type == PmdMeasurementType.MAGNETOMETER
    assert failed.status == PmdStatus.INVALID_RESOLUTION
    assert failed.status_name == "INVALID_RESOLUTION"
    assert not failed.more
    assert failed.parameters == b""


def test_check_response_raises_with_the_device_status() -> None:
    refused = parse_control_point_response(
        build_control_point_response(
            PmdOpCode.START_MEASUREMENT, PmdMeasurementType.ACC, PmdStatus.INVALID_SAMPLE_RATE
        )
    )
    with pytest.raises(CommandRefusedError, match="INVALID_SAMPLE_RATE") as info:
        check_response(refused, PmdOpCode.START_MEASUREMENT, PmdMeasurementType.ACC)
    assert info.value.status == PmdStatus.INVALID_SAMPLE_RATE
    other = parse_control_point_response(
        build_control_point_response(PmdOpCode.STOP_MEASUREMENT, PmdMeasurementType.ACC)
    )
    with pytest.raises(DecodeError, match="expected START_MEASUREMENT"):
        check_response(other, PmdOpCode.START_MEASUREMENT, PmdMeasurementType.ACC)


def test_start_command_for_h10_acc() -> None:
    command = build_start_command(
        PmdMeasurementType.ACC, sample_rate_hz=200, resolution_bits=16, range_g=8
    )
    assert command == hexbytes("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    parsed = parse_command(command)
    assert parsed.op_code is PmdOpCode.START_MEASUREMENT
    assert parse_settings(parsed.parameters).sample_rates_hz == (200,)
    assert build_stop_command(PmdMeasurementType.ACC) == b"\x03\x02"
    with pytest.raises(ValueError, match="sample_rate_hz"):
        build_start_command(PmdMeasurementType.ACC, sample_rate_hz=0)


def test_features() -> None:
    h10 = hexbytes("0F 05 00")  # ECG and ACC
    assert parse_features(h10) == {PmdMeasurementType.ECG, PmdMeasurementType.ACC}
    kinds = {PmdMeasurementType.ACC, PmdMeasurementType.GYRO, PmdMeasurementType.SDK_MODE}
    assert parse_features(build_features(kinds)) == kinds
    with pytest.raises(DecodeError, match="0x0F"):
        parse_features(b"\x0e\x05")


# ------------------------------------------------------------------ timing rules, errors


def test_interpolates_from_previous_frame() -> None:
    samples = np.array([[0, 0, 1000]] * 4)
    frame = decode_data_frame(
        encode_raw_acc_frame(1_040_800_000, samples),
        previous_timestamp_ns=1_000_000_000,
        sample_rate_hz=100,
    )
    # The device clock says 10.2 ms per sample, not the nominal 10 ms: trust the device.
    np.testing.assert_array_equal(
        frame.sample_timestamps_ns, [1_010_200_000, 1_020_400_000, 1_030_600_000, 1_040_800_000]
    )


def test_falls_back_to_nominal_rate_after_lost_frames() -> None:
    samples = np.array([[0, 0, 1000]] * 4)
    # One second since the previous frame but only 4 samples at 100 Hz: frames were lost.
    frame = decode_data_frame(
        encode_raw_acc_frame(2_000_000_000, samples),
        previous_timestamp_ns=1_000_000_000,
        sample_rate_hz=100,
    )
    np.testing.assert_array_equal(
        frame.sample_timestamps_ns,
        [1_970_000_000, 1_980_000_000, 1_990_000_000, 2_000_000_000],
    )


def test_first_frame_without_rate_is_an_error() -> None:
    with pytest.raises(DecodeError, match="sample rate"):
        decode_data_frame(
            encode_raw_acc_frame(5, np.array([[1, 2, 3], [4, 5, 6]])),
            previous_timestamp_ns=None,
            sample_rate_hz=None,
        )


def test_unix_time_of_samples() -> None:
    frame = decode_data_frame(
        encode_raw_acc_frame(1_000_000_000, np.array([[0, 0, 1000]])),
        previous_timestamp_ns=None,
        sample_rate_hz=200,
    )
    assert frame.sample_times_unix_s[0] == pytest.approx(POLAR_EPOCH_UNIX_S + 1.0)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("02 00 00 00 00 00 00 00 00 01", "header and a payload"),
        ("02 01 00 00 00 00 00 00 00 01 01 02 03", "whole number"),
        ("02 01 00 00 00 00 00 00 00 03 01 02 03", "ACC raw frame type 3"),
        ("05 01 00 00 00 00 00 00 00 01 01 02 03 04 05 06", "GYRO raw frame type 1"),
        ("00 01 00 00 00 00 00 00 00 00 01 02 03", "ECG is not decoded"),
        ("02 01 00 00 00 00 00 00 00 81 01 00 02 00 03 00 05", "header truncated"),
        ("02 01 00 00 00 00 00 00 00 81 01 00 02 00 03 00 08 02 FF", "only 1 remain"),
        ("02 01 00 00 00 00 00 00 00 81 01 00 02", "reference sample"),
        ("02 01 00 00 00 00 00 00 00 81 01 00 02 00 03 00 30 01", "more than 32"),
        ("02 01 00 00 00 00 00 00 80 01 01 02 03 04 05 06", "beyond the year 2292"),
    ],
)
def test_bad_frames_raise_decode_error(frame: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_data_frame(hexbytes(frame), previous_timestamp_ns=None, sample_rate_hz=100)


def test_delta_encoder_round_trip_with_wide_steps() -> None:
    rng = np.random.default_rng(7)
    samples = np.cumsum(rng.integers(-3000, 3000, size=(40, 3)), axis=0)
    samples[0] = [-32768, 32767, 0]
    data = encode_delta_frame(PmdMeasurementType.ACC, 1, 10**12, samples)
    frame = decode_data_frame(data, previous_timestamp_ns=None, sample_rate_hz=200)
    np.testing.assert_array_equal(np.rint(frame.values * 1000).astype(np.int64), samples)
