"""Thingy:52 motion service decoding, checked against vectors built from ``ble_tms.h``.

Nordic publishes no byte vectors, so these are built by hand from the packed structs of
``NordicSemiconductor/Nordic-Thingy52-FW`` ``include/ble_services/ble_tms.h`` and the
fixed-point formats its motion driver produces (raw acc Q6.10, gyro Q11.5, compass Q12.4).
"""

from __future__ import annotations

import numpy as np
import pytest

from devices.protocols.errors import DecodeError
from devices.protocols.thingy52 import (
    MOTION_SERVICE_UUID,
    RAW_UUID,
    MotionConfig,
    build_motion_config,
    decode_euler,
    decode_quaternion,
    decode_raw,
    decode_raw_records,
    encode_quaternion,
    encode_raw_records,
    parse_motion_config,
)

# acc (0, 0, +1 g) = (0, 0, 1024) in Q6.10; gyro (10, -2.5, 0) °/s = (320, -80, 0) in Q11.5;
# compass (16, -1, 0.5) µT = (256, -16, 8) in Q12.4.
RAW_AT_REST = bytes.fromhex("0000 0000 0004  4001 B0FF 0000  0001 F0FF 0800")


def test_uuids() -> None:
    assert MOTION_SERVICE_UUID == "ef680400-9b35-4933-9b10-52ffa9740042"
    assert RAW_UUID == "ef680406-9b35-4933-9b10-52ffa9740042"


def test_raw_vector_uses_the_firmware_fixed_point_formats() -> None:
    sample = decode_raw(RAW_AT_REST)
    np.testing.assert_array_equal(sample.acc_g, [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(sample.gyro_dps, [[10.0, -2.5, 0.0]])
    np.testing.assert_array_equal(sample.compass_ut, [[16.0, -1.0, 0.5]])


def test_raw_scaling_is_not_thingyjs_divide_by_64() -> None:
    # Regression: Thingy.js divides the accelerometer by 64, which would read a device at
    # rest as 16 g. Gravity must come out as 1 g.
    acc_z = decode_raw(RAW_AT_REST).acc_g[0, 2]
    assert acc_z == 1.0
    assert acc_z != 1024 / 64
    gyro_x = decode_raw(RAW_AT_REST).gyro_dps[0, 0]
    assert gyro_x != 320 / 2048


def test_raw_records_batch_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    acc = rng.uniform(-4, 4, size=(25, 3))
    gyro = rng.uniform(-500, 500, size=(25, 3))
    records = encode_raw_records(acc, gyro)
    assert all(len(r) == 18 for r in records)
    batch = decode_raw_records(b"".join(records))
    assert len(batch) == 25
    np.testing.assert_allclose(batch.acc_g, acc, atol=0.5 / 1024)
    np.testing.assert_allclose(batch.gyro_dps, gyro, atol=0.5 / 32)


@pytest.mark.parametrize("size", [0, 17, 19, 36])
def test_raw_wrong_length(size: int) -> None:
    with pytest.raises(DecodeError, match="18 bytes"):
        decode_raw(bytes(size))


def test_quaternion_vector() -> None:
    # Identity: w = 1.0 = 0x40000000 in Q2.30; x = -0.5 = 0xE0000000.
    identity = bytes.fromhex("00000040 00000000 000000E0 00000000")
    np.testing.assert_array_equal(decode_quaternion(identity), [1.0, 0.0, -0.5, 0.0])
    turn = np.array([np.cos(np.pi / 8), 0.0, 0.0, np.sin(np.pi / 8)])
    np.testing.assert_allclose(decode_quaternion(encode_quaternion(turn)), turn, atol=2**-30)
    with pytest.raises(DecodeError, match="16 bytes"):
        decode_quaternion(bytes(12))


def test_euler_vector() -> None:
    # roll 90°, pitch -45.5°, yaw 0 in Q16.16
    data = bytes.fromhex("00005A00 0080D2FF 00000000")
    np.testing.assert_array_equal(decode_euler(data), [90.0, -45.5, 0.0])


def test_motion_config_for_100_hz() -> None:
    config = MotionConfig(motion_frequency_hz=100)
    data = build_motion_config(config)
    assert data == bytes.fromhex("E8 03 F4 01 F4 01 64 00 01")
    assert parse_motion_config(data) == config
    assert MotionConfig() == MotionConfig(1000, 500, 500, 10, wake_on_motion=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("E8 03 F4 01 F4 01 00 00 01", "motion_frequency_hz must be 1..200, got 0"),
        ("E8 03 F4 01 F4 01 C9 00 01", "got 201"),
        ("E8 03 F4 01 F4 01 64 00 02", "wake_on_motion"),
        ("32 00 F4 01 F4 01 64 00 01", "pedometer_interval_ms"),
        ("E8 03 F4 01 F4 01 64 00", "9 bytes"),
    ],
)
def test_motion_config_rejected_like_the_firmware(data: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_motion_config(bytes.fromhex(data))


def test_build_motion_config_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match="motion_frequency_hz"):
        build_motion_config(MotionConfig(motion_frequency_hz=400))
