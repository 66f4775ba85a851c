"""AccGyroMerger: every accelerometer sample comes out once, in order, with the right gyroscope.

Property tests feed two streams on their own grids, cut into frames of random sizes and
interleaved in random order, and check conservation, exact values (a gyroscope that is
linear in time interpolates exactly), the bound on how long acc is held back, and gaps.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.gyro_merge import AccGyroMerger, MergedRun

PROPERTY = settings(max_examples=200, deadline=None)
EDGE_TOLERANCE_S = 1e-6


def gyro_of(t: np.ndarray) -> np.ndarray:
    """A gyroscope signal linear in time, so linear interpolation is exact."""
    return np.column_stack([10.0 + 3.0 * t, -2.0 * t, 0.5 * t - 7.0])


def acc_of(t: np.ndarray) -> np.ndarray:
    return np.column_stack([np.sin(t), np.cos(t), np.full_like(t, 1.0)])


def chunks(n: int, sizes: list[int]) -> list[slice]:
    out, start, i = [], 0, 0
    while start < n:
        size = sizes[i % len(sizes)]
        out.append(slice(start, min(n, start + size)))
        start += size
        i += 1
    return out


class Feed:
    """Interleaves acc and gyro frames in a given order and records what comes out."""

    def __init__(self, merger: AccGyroMerger, acc_in: np.ndarray) -> None:
        self.merger = merger
        self.acc_in = acc_in
        self.runs: list[MergedRun] = []

    def acc(self, t: np.ndarray) -> None:
        self.runs += self.merger.add_acc(t, acc_of(t))
        # Everything older than max_wait_s before the newest acc sample is out already.
        released = sum(len(r) for r in self.runs)
        old = np.count_nonzero(self.acc_in < t[-1] - self.merger.max_wait_s - 1e-9)
        assert released >= old

    def gyro(self, t: np.ndarray) -> None:
        self.runs += self.merger.add_gyro(t, gyro_of(t))


def play(
    merger: AccGyroMerger,
    *,
    acc_t: np.ndarray,
    gyro_t: np.ndarray,
    acc_sizes: list[int],
    gyro_sizes: list[int],
    order: list[bool],
) -> Feed:
    feed = Feed(merger, acc_t)
    acc_frames = chunks(acc_t.size, acc_sizes)
    gyro_frames = chunks(gyro_t.size, gyro_sizes) if gyro_t.size else []
    i = j = k = 0
    while i < len(acc_frames) or j < len(gyro_frames):
        take_acc = order[k % len(order)] if order else True
        k += 1
        if (take_acc and i < len(acc_frames)) or j >= len(gyro_frames):
            feed.acc(acc_t[acc_frames[i]])
            i += 1
        else:
            feed.gyro(gyro_t[gyro_frames[j]])
            j += 1
    feed.runs += merger.flush()
    return feed


def joined(runs: list[MergedRun]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([r.t_s for r in runs]), np.vstack([r.acc_g for r in runs])


rates = st.sampled_from([25.0, 52.0, 100.0, 200.0])
sizes = st.lists(st.integers(1, 60), min_size=1, max_size=6)
orders = st.lists(st.booleans(), min_size=1, max_size=12)


@PROPERTY
@given(
    acc_rate=rates,
    gyro_rate=rates,
    n=st.integers(1, 500),
    t0=st.floats(0.0, 1e6),
    phase=st.floats(0.0, 1.0),
    acc_sizes=sizes,
    gyro_sizes=sizes,
    order=orders,
    patient=st.booleans(),
)
def test_every_acc_sample_out_once_with_exact_gyro(
    *,
    acc_rate: float,
    gyro_rate: float,
    n: int,
    t0: float,
    phase: float,
    acc_sizes: list[int],
    gyro_sizes: list[int],
    order: list[bool],
    patient: bool,
) -> None:
    acc_t = t0 + np.arange(n) / acc_rate
    # The gyroscope starts a little before the accelerometer and ends a little after it.
    start = t0 - phase / gyro_rate
    gyro_t = start + np.arange(int((acc_t[-1] - start) * gyro_rate) + 2) / gyro_rate
    wait_s = 1e7 if patient else 2.0
    merger = AccGyroMerger(
        max_wait_s=wait_s,
        fallback_after_s=wait_s,
        gyro_keep_s=wait_s,
        max_gap_s=1.5 / gyro_rate,
        edge_tolerance_s=EDGE_TOLERANCE_S,
    )
    feed = play(
        merger, acc_t=acc_t, gyro_t=gyro_t, acc_sizes=acc_sizes, gyro_sizes=gyro_sizes, order=order
    )

    t, acc = joined(feed.runs)
    np.testing.assert_array_equal(t, acc_t)
    np.testing.assert_array_equal(acc, acc_of(acc_t))
    assert merger.samples_out == n
    assert merger.pending_samples == 0
    without = sum(len(r) for r in feed.runs if r.gyro_dps is None)
    assert merger.samples_without_gyro == without
    for run in feed.runs:
        if run.gyro_dps is not None:
            # Within the edge tolerance of the first or last gyroscope sample, an acc sample
            # takes that sample's value: off by up to the slope (3 dps/s) times the tolerance.
            np.testing.assert_allclose(
                run.gyro_dps, gyro_of(run.t_s), rtol=1e-9, atol=1e-6 + 3.0 * EDGE_TOLERANCE_S
            )
    if patient:
        # Nobody gives up waiting and the gyroscope covers the whole span: all have gyro.
        assert merger.samples_without_gyro == 0


@PROPERTY
@given(
    n=st.integers(1, 800),
    acc_sizes=sizes,
    rate=rates,
    max_wait_s=st.floats(0.05, 3.0),
)
def test_acc_is_never_held_longer_than_max_wait(
    n: int, acc_sizes: list[int], rate: float, max_wait_s: float
) -> None:
    merger = AccGyroMerger(max_wait_s=max_wait_s, fallback_after_s=max_wait_s * 2)
    acc_t = 100.0 + np.arange(n) / rate
    out: list[MergedRun] = []
    for frame in chunks(n, acc_sizes):
        out += merger.add_acc(acc_t[frame], acc_of(acc_t[frame]))
        newest = acc_t[frame][-1]
        released = sum(len(r) for r in out)
        # No gyroscope at all: every sample older than max_wait_s is out already.
        assert released >= np.count_nonzero(acc_t[: frame.stop] < newest - max_wait_s - 1e-9)
        assert all(r.gyro_dps is None for r in out)
    out += merger.flush()
    t, _ = joined(out)
    np.testing.assert_array_equal(t, acc_t)
    assert merger.samples_without_gyro == n


@PROPERTY
@given(
    acc_sizes=sizes,
    gyro_sizes=sizes,
    order=orders,
    gap_start=st.integers(5, 200),
    gap_len=st.integers(3, 100),
)
def test_acc_inside_a_gyro_gap_has_no_gyro(
    acc_sizes: list[int], gyro_sizes: list[int], order: list[bool], gap_start: int, gap_len: int
) -> None:
    rate = 52.0
    acc_t = 5.0 + np.arange(400) / rate
    gyro_all = acc_t.copy()
    gone = slice(gap_start, gap_start + gap_len)
    gyro_t = np.delete(gyro_all, np.arange(400)[gone])
    merger = AccGyroMerger(max_gap_s=1.5 / rate, edge_tolerance_s=0.25 / rate)
    feed = play(
        merger, acc_t=acc_t, gyro_t=gyro_t, acc_sizes=acc_sizes, gyro_sizes=gyro_sizes, order=order
    )
    t, _ = joined(feed.runs)
    np.testing.assert_array_equal(t, acc_t)
    has_gyro = np.concatenate([np.full(len(r), r.gyro_dps is not None) for r in feed.runs])
    # Samples strictly inside the gap are uncovered; samples where gyro exists are covered
    # (same grid: each lies on a gyroscope sample) unless they waited out max_wait_s.
    inside = np.zeros(400, dtype=bool)
    inside[gone] = True
    assert not np.any(has_gyro & inside)
    for run in feed.runs:
        if run.gyro_dps is not None:
            np.testing.assert_allclose(run.gyro_dps, gyro_of(run.t_s), atol=1e-9)


def test_gyro_after_acc_releases_held_samples_exactly() -> None:
    merger = AccGyroMerger(max_gap_s=0.05, edge_tolerance_s=0.001)
    t = np.arange(10) / 52.0
    assert merger.add_acc(t, acc_of(t)) == []
    assert merger.pending_samples == 10
    runs = merger.add_gyro(t[:6], gyro_of(t[:6]))
    assert [len(r) for r in runs] == [6]
    assert runs[0].gyro_dps is not None
    np.testing.assert_allclose(runs[0].gyro_dps, gyro_of(t[:6]))
    runs = merger.add_gyro(t[6:] + 1e-4, gyro_of(t[6:] + 1e-4))
    assert [len(r) for r in runs] == [4]
    assert merger.samples_without_gyro == 0


def test_gyro_that_stops_lets_acc_through_after_the_wait_then_at_once() -> None:
    rate = 52.0
    merger = AccGyroMerger(max_wait_s=1.0, fallback_after_s=3.0, max_gap_s=1.5 / rate)
    t = np.arange(20 * 52) / rate
    out: list[MergedRun] = []
    out += merger.add_gyro(t[:104], gyro_of(t[:104]))  # 2 s of gyroscope, then nothing
    held = []
    for frame in chunks(t.size, [26]):
        out += merger.add_acc(t[frame], acc_of(t[frame]))
        held.append(merger.pending_samples)
    # After the fallback the accelerometer is no longer held at all.
    assert merger.gyro_stalled
    assert held[-1] == 0
    assert max(held) <= 1.0 * rate + 26
    with_gyro = sum(len(r) for r in out if r.gyro_dps is not None)
    assert with_gyro == 104
    assert merger.samples_without_gyro == t.size - 104
    # The gyroscope comes back: acc waits for it again and gets it.
    later = 30.0 + np.arange(52) / rate
    merger.add_gyro(later, gyro_of(later))
    assert not merger.gyro_stalled
    runs = merger.add_acc(later, acc_of(later))
    assert sum(len(r) for r in runs if r.gyro_dps is not None) == 52


def test_clock_jumping_back_hands_everything_back() -> None:
    merger = AccGyroMerger(max_wait_s=1.0, fallback_after_s=2.0)
    t = 1000.0 + np.arange(20) / 52.0
    merger.add_acc(t, acc_of(t))
    restart = np.arange(5) / 52.0
    runs = merger.add_acc(restart, acc_of(restart))
    assert merger.resets == 1
    assert sum(len(r) for r in runs) == 20
    assert merger.pending_samples == 5


def test_out_of_order_samples_are_dropped_and_counted() -> None:
    merger = AccGyroMerger()
    t = np.array([1.0, 2.0, 2.0, 1.5, 3.0])
    merger.add_acc(t, acc_of(t))
    assert merger.dropped_acc == 2
    assert merger.pending_samples == 3


def test_bad_shapes_and_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="accelerometer"):
        AccGyroMerger().add_acc(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="max_wait_s"):
        AccGyroMerger(max_wait_s=5.0, fallback_after_s=1.0)


def test_near_a_gyro_sample_at_a_gap_takes_that_sample_not_a_blend_across_the_gap() -> None:
    merger = AccGyroMerger(max_gap_s=0.05, edge_tolerance_s=0.002)
    merger.add_gyro(np.array([0.0, 1.0]), np.array([[0.0, 0.0, 0.0], [100.0, 50.0, 10.0]]))
    t = np.array([0.001, 0.5, 0.999])
    runs = merger.add_acc(t, acc_of(t))
    assert [(len(r), r.gyro_dps is None) for r in runs] == [(1, False), (1, True), (1, False)]
    assert runs[0].gyro_dps is not None
    assert runs[2].gyro_dps is not None
    np.testing.assert_array_equal(runs[0].gyro_dps, [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(runs[2].gyro_dps, [[100.0, 50.0, 10.0]])
    assert merger.samples_without_gyro == 1
