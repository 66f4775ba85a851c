"""The DIY batched frame: layout, scales from the config characteristic, seq and clock wraps."""

from __future__ import annotations

import numpy as np
import pytest

from devices.protocols.battery import decode_battery_level, encode_battery_level
from devices.protocols.diy import (
    CONFIG_BYTES,
    DiyConfig,
    build_config,
    decode_frame,
    encode_frame,
    parse_config,
    sequence_gap,
    unwrap_t_ms,
)
from devices.protocols.errors import DecodeError

CONFIG = DiyConfig(rate_hz=100.0, acc_g_per_lsb=1 / 8192, gyro_dps_per_lsb=0.0625)


def test_frame_vector() -> None:
    # seq 0x0102, t_ms 1000, two samples of ax ay az gx gy gz.
    data = bytes.fromhex("0201 E80300000000 0000 0020 6400 9CFF 00000010 00F0 0020 0000 0000 1000")
    frame = decode_frame(data, CONFIG)
    assert frame.seq == 258
    assert frame.t_ms == 1000
    np.testing.assert_array_equal(frame.sample_times_ms, [1000.0, 1010.0])
    np.testing.assert_array_equal(frame.acc_g, [[0.0, 0.0, 1.0], [0.5, -0.5, 1.0]])
    assert frame.gyro_dps is not None
    np.testing.assert_array_equal(frame.gyro_dps, [[6.25, -6.25, 0.0], [0.0, 0.0, 1.0]])


def test_frame_without_gyro() -> None:
    config = DiyConfig(rate_hz=50.0, acc_g_per_lsb=1 / 4096, gyro_dps_per_lsb=1.0, has_gyro=False)
    data = encode_frame(7, 5, np.array([[0.0, 0.0, 1.0]]), None, config)
    frame = decode_frame(data, config)
    assert frame.gyro_dps is None
    np.testing.assert_array_equal(frame.acc_g, [[0.0, 0.0, 1.0]])


def test_round_trip() -> None:
    rng = np.random.default_rng(1)
    acc = rng.uniform(-3.9, 3.9, size=(19, 3))
    gyro = rng.uniform(-1000, 1000, size=(19, 3))
    frame = decode_frame(encode_frame(65535, 2**32 - 5, acc, gyro, CONFIG), CONFIG)
    assert frame.seq == 65535
    np.testing.assert_allclose(frame.acc_g, acc, atol=0.5 / 8192)
    assert frame.gyro_dps is not None
    np.testing.assert_allclose(frame.gyro_dps, gyro, atol=0.5 * 0.0625)


@pytest.mark.parametrize(
    ("size", "message"), [(0, "header"), (17, "header"), (19, "whole number"), (24, "whole")]
)
def test_bad_frame_lengths(size: int, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_frame(bytes(size), CONFIG)


def test_config_round_trip_and_size() -> None:
    data = build_config(CONFIG)
    assert len(data) == CONFIG_BYTES == 16
    assert parse_config(data) == CONFIG


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DiyConfig(rate_hz=0.0, acc_g_per_lsb=1.0, gyro_dps_per_lsb=1.0), "rate_hz"),
        (DiyConfig(rate_hz=50.0, acc_g_per_lsb=0.0, gyro_dps_per_lsb=1.0), "acc_g_per_lsb"),
        (
            DiyConfig(rate_hz=50.0, acc_g_per_lsb=1.0, gyro_dps_per_lsb=1.0, version=2),
            "version",
        ),
    ],
)
def test_bad_configs(config: DiyConfig, message: str) -> None:
    assert any(message in problem for problem in config.problems())
    with pytest.raises(ValueError, match=message):
        build_config(config)


def test_parse_config_rejects_nan_scale() -> None:
    data = bytearray(build_config(CONFIG))
    data[8:12] = bytes.fromhex("0000C07F")  # float32 NaN as the g-per-LSB scale
    with pytest.raises(DecodeError, match="acc_g_per_lsb"):
        parse_config(bytes(data))


def test_sequence_gaps() -> None:
    assert sequence_gap(None, 5) == 0
    assert sequence_gap(5, 6) == 0
    assert sequence_gap(5, 9) == 3
    assert sequence_gap(65534, 1) == 2  # wraps at 65536
    assert sequence_gap(100, 100) == 0  # a repeat is not loss
    assert sequence_gap(100, 99) == 0  # nor is a step back


def test_clock_unwrap() -> None:
    assert unwrap_t_ms(None, 123) == 123
    assert unwrap_t_ms(2**32 - 10, 5) == 2**32 + 5
    assert unwrap_t_ms(2**32 + 5, 20) == 2**32 + 20
    assert unwrap_t_ms(1000, 990) == 990


def test_battery_level() -> None:
    assert decode_battery_level(b"\x57") == 87
    assert encode_battery_level(87) == b"\x57"
    with pytest.raises(DecodeError, match=r"0\.\.100"):
        decode_battery_level(b"\x65")
    with pytest.raises(DecodeError, match="1 byte"):
        decode_battery_level(b"")
