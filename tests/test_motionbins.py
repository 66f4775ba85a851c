"""Motion bins: the 1/16 s grid, streaming equals one call, fixed-order window sums."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.motionbins import (
    BIN_S,
    MotionBinner,
    MotionBins,
    bin_index,
    bin_samples,
    window_count,
    window_sum,
)
from monitor.windows import quarter_and_motion_sums, quarter_sums


def _samples(n: int, rate_hz: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1000.0 + np.arange(n) / rate_hz
    acc = np.array([0.0, 0.0, 1.0]) + 0.2 * rng.standard_normal((n, 3))
    gyro = 30.0 * rng.standard_normal((n, 3))
    return t, acc, gyro


def _equal(a: MotionBins, b: MotionBins) -> bool:
    return (
        a.first == b.first
        and np.array_equal(a.n, b.n)
        and np.array_equal(a.sums, b.sums)
        and np.array_equal(a.mag_max_g, b.mag_max_g)
        and np.array_equal(a.mag_min_g, b.mag_min_g)
        and a.rate_max_dps is not None
        and b.rate_max_dps is not None
        and np.array_equal(a.rate_max_dps, b.rate_max_dps)
    )


def test_bins_hold_their_samples() -> None:
    t, acc, gyro = _samples(200, 50.0, 1)
    first = int(bin_index(t[0]))
    bins = bin_samples(t, acc, gyro, first, int(bin_index(t[-1])) + 1)
    assert int(bins.n.sum()) == 200
    mag = np.linalg.norm(acc, axis=1)
    members = bin_index(t) == first + 5
    assert bins.n[5] == np.count_nonzero(members)
    np.testing.assert_allclose(bins.acc_sum[5], acc[members].sum(axis=0))
    np.testing.assert_allclose(bins.mag_max_g[5], mag[members].max())
    np.testing.assert_allclose(bins.mag_min_g[5], mag[members].min())
    assert bins.rate_max_dps is not None
    np.testing.assert_allclose(bins.rate_max_dps[5], np.linalg.norm(gyro[members], axis=1).max())
    np.testing.assert_allclose(bins.times_s()[5], (first + 5) * BIN_S)


def test_streaming_in_any_blocks_gives_the_same_bins_bit_for_bit() -> None:
    t, acc, gyro = _samples(3000, 100.0, 2)
    whole = bin_samples(t, acc, gyro, int(bin_index(t[0])), int(bin_index(t[-1])) + 1)
    rng = np.random.default_rng(3)
    binner = MotionBinner(has_gyro=True)
    parts = []
    i = 0
    while i < t.shape[0]:
        j = min(t.shape[0], i + int(rng.integers(1, 90)))
        parts.append(binner.add(t[i:j], acc[i:j], gyro[i:j]))
        i = j
    parts.append(binner.finish())
    streamed = parts[0]
    for part in parts[1:]:
        streamed = streamed.concat(part)
    assert _equal(streamed, whole)


def test_old_samples_are_dropped_and_counted() -> None:
    t, acc, gyro = _samples(100, 50.0, 4)
    binner = MotionBinner(has_gyro=True)
    binner.add(t[:60], acc[:60], gyro[:60])
    binner.add(t[50:], acc[50:], gyro[50:])
    assert binner.dropped_samples == 10


def test_window_sums_do_not_depend_on_where_the_rows_sit() -> None:
    rng = np.random.default_rng(5)
    values = rng.standard_normal((500, 3)) * 1e3
    all_at_once = window_sum(values, 13)
    shifted = window_sum(values[137:], 13)
    assert np.array_equal(all_at_once[137:], shifted)
    assert window_sum(values[:5], 13).shape == (0, 3)


@pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 13, 16, 31, 33])
def test_window_sums_are_the_sums_of_their_rows(width: int) -> None:
    rng = np.random.default_rng(width)
    values = rng.standard_normal((120, 2))
    expected = np.array([values[i : i + width].sum(axis=0) for i in range(121 - width)])
    got = window_sum(values, width)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    # Whole numbers come out exact, whatever the order of the additions.
    counts = rng.integers(0, 9, (120, 1)).astype(np.float64)
    exact = [float(counts[i : i + width].sum()) for i in range(121 - width)]
    assert window_sum(counts, width)[:, 0].tolist() == exact


def test_quarters_and_bins_from_one_matrix_equal_each_computed_alone() -> None:
    t, acc, gyro = _samples(523, 100.0, 4)
    t = t[np.arange(t.shape[0]) % 97 != 5]  # a few missing samples
    acc, gyro = acc[: t.shape[0]], gyro[: t.shape[0]]
    first_q, stop_q = int(np.floor(t[0] * 4)), int(np.floor(t[-1] * 4)) + 1
    quarters, bins = quarter_and_motion_sums(
        t, acc, gyro, first_q, stop_q, previous_mag_g=1.0, bins_with_gyro=True
    )
    alone = quarter_sums(t, acc, gyro, first_q, stop_q, previous_mag_g=1.0)
    assert np.array_equal(quarters.sums, alone.sums)
    assert np.array_equal(quarters.n, alone.n)
    expected = bin_samples(t, acc, gyro, int(bin_index(t[0])), int(bin_index(t[-1])) + 1)
    assert bins is not None
    assert _equal(bins, expected)  # same columns in the same order, bit for bit
    assert bins.rate_max_dps is not None
    assert float(bins.rate_max_dps.max()) > 0.0


def test_window_count_is_the_window_sum_of_counts() -> None:
    counts = np.random.default_rng(2).integers(0, 5, 300)
    for width in (1, 2, 7, 32, 300, 301):
        expected = window_sum(counts.astype(np.float64)[:, None], width)[:, 0]
        assert np.array_equal(window_count(counts, width), expected)
    assert np.array_equal(
        window_count(counts > 0, 4)[:3], [float(np.sum(counts[i : i + 4] > 0)) for i in range(3)]
    )
