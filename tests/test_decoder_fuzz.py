"""Property tests: any bytes decode to samples or raise DecodeError, and encoders round-trip."""

from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from devices.protocols import battery, diy, polar_pmd, thingy52
from devices.protocols.errors import DecodeError

FUZZ = settings(max_examples=400, deadline=None)

pmd_headers = st.builds(
    lambda kind, ts, frame: bytes([kind]) + ts.to_bytes(8, "little") + bytes([frame]),
    st.sampled_from([2, 5, 0x42, 0, 6]),
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 1, 2, 3, 0x80, 0x81, 0x82, 0xFF]),
)


def _check_pmd(frame: polar_pmd.PmdFrame) -> None:
    n = len(frame)
    assert n >= 1
    assert frame.values.shape == (n, 3)
    assert np.all(np.isfinite(frame.values))
    assert frame.sample_timestamps_ns[-1] == frame.timestamp_ns
    assert np.all(np.diff(frame.sample_timestamps_ns) >= 0)
    assert frame.sample_timestamps_ns[0] >= 0


@FUZZ
@given(
    data=st.one_of(st.binary(max_size=400), st.tuples(pmd_headers, st.binary(max_size=300))),
    previous=st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    rate=st.one_of(st.none(), st.sampled_from([25.0, 52.0, 200.0, 0.0])),
    factor=st.floats(allow_nan=True, allow_infinity=True),
)
def test_pmd_frame_decodes_or_raises_decode_error(
    data: bytes | tuple[bytes, bytes], previous: int | None, rate: float | None, factor: float
) -> None:
    raw = data if isinstance(data, bytes) else data[0] + data[1]
    try:
        frame = polar_pmd.decode_data_frame(
            raw, previous_timestamp_ns=previous, sample_rate_hz=rate, factor=factor
        )
    except DecodeError:
        return
    _check_pmd(frame)


@FUZZ
@given(st.binary(max_size=200))
def test_pmd_control_point_and_settings(data: bytes) -> None:
    for decode in (
        polar_pmd.parse_control_point_response,
        polar_pmd.parse_settings,
        polar_pmd.parse_features,
        polar_pmd.parse_command,
    ):
        with contextlib.suppress(DecodeError):
            decode(data)


@FUZZ
@given(st.binary(max_size=64))
def test_thingy_and_battery(data: bytes) -> None:
    for decode in (
        thingy52.decode_raw,
        thingy52.decode_raw_records,
        thingy52.decode_quaternion,
        thingy52.decode_euler,
        thingy52.decode_gravity,
        thingy52.parse_motion_config,
        battery.decode_battery_level,
    ):
        with contextlib.suppress(DecodeError):
            decode(data)


@FUZZ
@given(st.binary(max_size=300), st.binary(min_size=16, max_size=16))
def test_diy(data: bytes, config_bytes: bytes) -> None:
    config = diy.DiyConfig(rate_hz=100.0, acc_g_per_lsb=1 / 8192, gyro_dps_per_lsb=0.07)
    with contextlib.suppress(DecodeError):
        config = diy.parse_config(config_bytes)
    try:
        frame = diy.decode_frame(data, config)
    except DecodeError:
        return
    assert frame.acc_g.shape == (len(frame), 3)
    assert np.all(np.isfinite(frame.acc_g))
    assert np.all(np.diff(frame.sample_times_ms) > 0)


int16_samples = arrays(
    np.int64,
    st.tuples(st.integers(1, 80), st.just(3)),
    elements=st.integers(-32768, 32767),
)


@FUZZ
@given(samples=int16_samples, block=st.integers(1, 255), ts=st.integers(10**9, 2**62))
def test_pmd_delta_round_trip(samples: np.ndarray, block: int, ts: int) -> None:
    data = polar_pmd.encode_delta_frame(
        polar_pmd.PmdMeasurementType.GYRO, 0, ts, samples, block_samples=block
    )
    frame = polar_pmd.decode_data_frame(data, previous_timestamp_ns=None, sample_rate_hz=200)
    np.testing.assert_array_equal(frame.values, samples.astype(np.float64))
    assert frame.timestamp_ns == ts


@FUZZ
@given(samples=int16_samples, ts=st.integers(10**9, 2**62))
def test_pmd_raw_round_trip(samples: np.ndarray, ts: int) -> None:
    data = polar_pmd.encode_raw_acc_frame(ts, samples)
    frame = polar_pmd.decode_data_frame(data, previous_timestamp_ns=None, sample_rate_hz=100)
    np.testing.assert_array_equal(np.rint(frame.values * 1000), samples)


@FUZZ
@given(
    acc=arrays(np.float64, (5, 3), elements=st.floats(-31.0, 31.0)),
    gyro=arrays(np.float64, (5, 3), elements=st.floats(-1000.0, 1000.0)),
)
def test_thingy_raw_round_trip(acc: np.ndarray, gyro: np.ndarray) -> None:
    batch = thingy52.decode_raw_records(b"".join(thingy52.encode_raw_records(acc, gyro)))
    np.testing.assert_allclose(batch.acc_g, acc, atol=0.5 / 1024 + 1e-12)
    np.testing.assert_allclose(batch.gyro_dps, gyro, atol=0.5 / 32 + 1e-12)
