"""The sample ring: wrap-around, no lost samples, oversize blocks, time windows."""

from __future__ import annotations

import numpy as np
import pytest

from devices.samples import FloatArray, SampleBlock
from monitor.ringbuffer import RingError, SampleRing


def _block(start: int, n: int, gyro: bool = True) -> SampleBlock:
    """Samples numbered ``start .. start + n - 1`` at 100 Hz; values encode the index."""
    idx = np.arange(start, start + n, dtype=np.float64)
    acc = np.column_stack((idx, idx + 0.25, idx + 0.5))
    g: FloatArray | None = np.column_stack((-idx, -idx, -idx)) if gyro else None
    return SampleBlock("s", idx / 100.0, acc, g)


def test_wraps_around_and_keeps_the_newest_in_order() -> None:
    ring = SampleRing(10, has_gyro=True)
    ring.append(_block(0, 7))
    ring.append(_block(7, 6))  # wraps: 13 samples into 10 slots
    assert len(ring) == 10
    assert ring.total_appended == 13
    assert ring.overwritten == 3
    latest = ring.latest(10)
    np.testing.assert_array_equal(latest.t_s, np.arange(3, 13) / 100.0)
    np.testing.assert_array_equal(latest.acc_g[:, 0], np.arange(3, 13))
    assert latest.gyro_dps is not None
    np.testing.assert_array_equal(latest.gyro_dps[:, 2], -np.arange(3, 13))
    assert ring.oldest_s == pytest.approx(0.03)
    assert ring.newest_s == pytest.approx(0.12)


def test_no_sample_is_lost_compared_with_concatenation() -> None:
    rng = np.random.default_rng(3)
    ring = SampleRing(64, has_gyro=False)
    blocks = []
    start = 0
    read: list[FloatArray] = []
    for _ in range(200):
        n = int(rng.integers(1, 30))
        block = _block(start, n, gyro=False)
        blocks.append(block)
        ring.append(block)
        # Read back exactly this block by time: the ring must hold all of it.
        got = ring.window(block.start_s, block.end_s + 1e-9)
        read.append(got.acc_g.copy())
        start += n
    expected = np.concatenate([b.acc_g for b in blocks])
    np.testing.assert_array_equal(np.concatenate(read), expected)
    assert ring.total_appended == start


def test_window_by_time_across_the_wrap() -> None:
    ring = SampleRing(16, has_gyro=True)
    for start in range(0, 40, 5):
        ring.append(_block(start, 5))
    # Held: samples 24..39. Ask for [0.20, 0.30): only 24..29 are still there.
    got = ring.window(0.20, 0.30)
    np.testing.assert_array_equal(got.acc_g[:, 0], np.arange(24, 30))
    got = ring.window(0.30, 0.395)
    np.testing.assert_array_equal(got.acc_g[:, 0], np.arange(30, 40))
    assert len(ring.window(1.0, 2.0)) == 0
    assert len(ring.window(0.35, 0.30)) == 0


def test_block_larger_than_the_ring_keeps_its_newest_samples() -> None:
    ring = SampleRing(8, has_gyro=True)
    ring.append(_block(0, 3))
    ring.append(_block(3, 20))
    assert len(ring) == 8
    assert ring.dropped == 12  # 20 - 8 of the big block never stored
    assert ring.overwritten == 3  # the 3 earlier samples
    assert ring.total_appended == 23
    np.testing.assert_array_equal(ring.latest(8).acc_g[:, 0], np.arange(15, 23))


def test_latest_fewer_than_held_and_views_without_wrap() -> None:
    ring = SampleRing(10, has_gyro=False)
    ring.append(_block(0, 4, gyro=False))
    got = ring.latest(2)
    np.testing.assert_array_equal(got.acc_g[:, 0], [2.0, 3.0])
    assert got.gyro_dps is None
    assert np.shares_memory(got.acc_g, ring.latest(4).acc_g)
    assert len(ring.latest(50)) == 4


def test_gyro_ring_rejects_a_block_without_gyro_and_bad_capacity() -> None:
    ring = SampleRing(4, has_gyro=True)
    with pytest.raises(RingError):
        ring.append(_block(0, 2, gyro=False))
    with pytest.raises(RingError):
        SampleRing(0, has_gyro=False)


def test_empty_ring_reports_nan_times() -> None:
    ring = SampleRing(4, has_gyro=False)
    assert np.isnan(ring.newest_s)
    assert np.isnan(ring.oldest_s)
    assert len(ring.window(0.0, 1.0)) == 0
