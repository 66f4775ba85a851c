"""Body-frame samples summed on a fixed 1/16 s grid: the common input of lift and fall detection.

A bin ``b`` holds the samples with ``b / 16 <= t_s < (b + 1) / 16``. Like the quarter-seconds
of :mod:`monitor.windows`, the grid is absolute (sample time), and each bin is summed from its
own samples in their own order, so samples cut into blocks anywhere give the same bins, bit
for bit. 16 bins per second keep every bin filled down to the slowest supported rate (25 Hz)
while resolving an impact to 62.5 ms and a bending movement (1-3 s) well.

Per bin: the sample count, sums of acceleration (g, body frame) and angular rate (deg/s, body
frame), of the acceleration magnitude and its square, the largest and smallest magnitude, and
the largest angular-rate norm. Bins without samples have ``n == 0`` and zero sums.

:class:`MotionBinner` is the streaming front end: it takes samples in any blocks and returns
the bins that are complete (a later sample exists), holding back only the samples of the
newest, unfinished bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.samples import FloatArray

BINS_PER_S = 16
BIN_S = 1.0 / BINS_PER_S
IntArray = npt.NDArray[np.int64]

# Columns of the per-bin sum matrix (and of the per-sample matrix summed into it).
_ACC = slice(0, 3)
_GYRO = slice(3, 6)
_MAG = 6
_MAG_SQ = 7
_COLUMNS = 8
SAMPLE_COLUMNS = _COLUMNS
"""Columns of :func:`sample_columns` (the first columns of the quarter-second matrix too)."""


def bin_index(t_s: float | FloatArray) -> IntArray:
    """Bin index of sample times (exact: 16 is a power of two)."""
    return np.floor(np.asarray(t_s, dtype=np.float64) * BINS_PER_S).astype(np.int64)


@dataclass(frozen=True, slots=True)
class MotionBins:
    """Consecutive bins ``first .. first + len - 1`` of one sensor, body frame.

    ``sums`` (b, 8): acceleration x, y, z (g), angular rate x, y, z (deg/s; zero without a
    gyroscope), magnitude (g) and squared magnitude (g^2). ``mag_max_g``/``mag_min_g``:
    extremes of the magnitude (0 in empty bins). ``rate_max_dps``: largest angular-rate norm,
    None without a gyroscope.
    """

    first: int
    n: IntArray
    sums: FloatArray
    mag_max_g: FloatArray
    mag_min_g: FloatArray
    rate_max_dps: FloatArray | None

    def __len__(self) -> int:
        """Number of bins."""
        return int(self.n.shape[0])

    @property
    def end(self) -> int:
        """One past the last bin."""
        return self.first + len(self)

    @property
    def has_gyro(self) -> bool:
        """Whether the sensor has a gyroscope."""
        return self.rate_max_dps is not None

    @property
    def acc_sum(self) -> FloatArray:
        """Sum of body-frame acceleration per bin (b, 3), g."""
        return self.sums[:, _ACC]

    @property
    def gyro_sum(self) -> FloatArray:
        """Sum of body-frame angular rate per bin (b, 3), deg/s (zero without a gyroscope)."""
        return self.sums[:, _GYRO]

    @property
    def mag_sum(self) -> FloatArray:
        """Sum of the acceleration magnitude per bin, g."""
        return self.sums[:, _MAG]

    @property
    def mag_sq_sum(self) -> FloatArray:
        """Sum of the squared magnitude per bin, g^2."""
        return self.sums[:, _MAG_SQ]

    def times_s(self) -> FloatArray:
        """Start time of each bin."""
        return np.arange(self.first, self.end, dtype=np.float64) * BIN_S

    def slice(self, start: int, stop: int) -> MotionBins:
        """Bins with absolute indices ``start .. stop - 1`` (clipped to those held)."""
        a = min(max(start - self.first, 0), len(self))
        b = min(max(stop - self.first, a), len(self))
        return MotionBins(
            first=self.first + a,
            n=self.n[a:b],
            sums=self.sums[a:b],
            mag_max_g=self.mag_max_g[a:b],
            mag_min_g=self.mag_min_g[a:b],
            rate_max_dps=None if self.rate_max_dps is None else self.rate_max_dps[a:b],
        )

    def with_vectors(self, acc_sum: FloatArray, gyro_sum: FloatArray | None) -> MotionBins:
        """These bins with other acceleration and angular-rate sums (a rotation of them).

        Magnitudes and their extremes are kept, as a rotation leaves them as they are.
        ``gyro_sum`` None: the gyroscope sent nothing for these bins (zero rate).
        """
        sums = self.sums.copy()
        sums[:, _ACC] = acc_sum
        sums[:, _GYRO] = 0.0 if gyro_sum is None else gyro_sum
        rate = self.rate_max_dps
        if rate is not None and gyro_sum is None:
            rate = np.zeros_like(rate)
        return MotionBins(self.first, self.n, sums, self.mag_max_g, self.mag_min_g, rate)

    def concat(self, other: MotionBins) -> MotionBins:
        """These bins followed by ``other``, which must start where these end."""
        if len(self) == 0:
            return other
        if len(other) == 0:
            return self
        if other.first != self.end:
            raise ValueError(f"bins {other.first}.. do not follow bins ..{self.end - 1}")
        rate = None
        if self.rate_max_dps is not None and other.rate_max_dps is not None:
            rate = np.concatenate((self.rate_max_dps, other.rate_max_dps))
        return MotionBins(
            first=self.first,
            n=np.concatenate((self.n, other.n)),
            sums=np.concatenate((self.sums, other.sums)),
            mag_max_g=np.concatenate((self.mag_max_g, other.mag_max_g)),
            mag_min_g=np.concatenate((self.mag_min_g, other.mag_min_g)),
            rate_max_dps=rate,
        )


def empty_bins(first: int, count: int, has_gyro: bool) -> MotionBins:
    """``count`` bins without samples, from ``first``."""
    return MotionBins(
        first=first,
        n=np.zeros(count, dtype=np.int64),
        sums=np.zeros((count, _COLUMNS)),
        mag_max_g=np.zeros(count),
        mag_min_g=np.zeros(count),
        rate_max_dps=np.zeros(count) if has_gyro else None,
    )


def sample_columns(acc_g: FloatArray, gyro_dps: FloatArray | None) -> FloatArray:
    """The per-sample matrix that bins sum (m, 8), column-major.

    Columns in the bins' order: acceleration, angular rate (zero without a gyroscope),
    magnitude and squared magnitude. :func:`monitor.windows.quarter_sums` builds the same
    columns first in its own per-sample matrix, so the evaluator bins from that instead.
    """
    acc = np.asarray(acc_g, dtype=np.float64)
    columns = np.empty((acc.shape[0], _COLUMNS), order="F")
    columns[:, _ACC] = acc
    columns[:, _GYRO] = 0.0 if gyro_dps is None else gyro_dps
    squares = columns[:, _MAG_SQ]
    np.multiply(columns[:, 0], columns[:, 0], out=squares)
    squares += columns[:, 1] * columns[:, 1]
    squares += columns[:, 2] * columns[:, 2]
    np.sqrt(squares, out=columns[:, _MAG])
    return columns


def bins_from_columns(
    t_s: FloatArray, columns: FloatArray, first: int, stop: int, *, has_gyro: bool
) -> MotionBins:
    """Sum a per-sample matrix (:func:`sample_columns`) into bins ``first .. stop - 1``.

    Vectorised: one ``np.add.reduceat`` for the sums, one ``maximum``/``minimum.reduceat``
    per extreme. ``has_gyro``: whether the bins carry angular rate (its columns are read).
    """
    count = stop - first
    out = empty_bins(first, count, has_gyro)
    if t_s.shape[0] == 0:
        return out
    b = bin_index(t_s) - first
    if int(b[0]) < 0 or int(b[-1]) >= count:
        raise ValueError("samples outside the bins asked for")
    n = np.bincount(b, minlength=count)[:count].astype(np.int64)
    filled = n > 0
    starts = (np.cumsum(n) - n)[filled]
    out.n[:] = n
    out.sums[filled] = np.add.reduceat(columns, starts, axis=0)
    # One maximum over the magnitude, its negation (the minimum) and the squared rate.
    mag = columns[:, _MAG]
    extremes = np.empty((3 if out.rate_max_dps is not None else 2, t_s.shape[0]))
    extremes[0] = mag
    np.negative(mag, out=extremes[1])
    if out.rate_max_dps is not None:
        gyro = columns[:, _GYRO]
        rate_sq = extremes[2]
        np.multiply(gyro[:, 0], gyro[:, 0], out=rate_sq)
        rate_sq += gyro[:, 1] * gyro[:, 1]
        rate_sq += gyro[:, 2] * gyro[:, 2]
    largest = np.maximum.reduceat(extremes, starts, axis=1)
    out.mag_max_g[filled] = largest[0]
    out.mag_min_g[filled] = -largest[1]
    if out.rate_max_dps is not None:
        # The square root is monotonic: the root of the largest square is the largest norm.
        out.rate_max_dps[filled] = np.sqrt(largest[2])
    return out


def bin_samples(
    t_s: FloatArray,
    acc_b: FloatArray,
    gyro_b: FloatArray | None,
    first: int,
    stop: int,
    *,
    has_gyro: bool | None = None,
) -> MotionBins:
    """Sum body-frame samples into bins ``first .. stop - 1``; samples must lie in that range.

    ``has_gyro`` overrides whether the result carries angular rate (a sensor with a
    gyroscope whose block lacks it gets zeros).
    """
    with_gyro = gyro_b is not None if has_gyro is None else has_gyro
    columns = sample_columns(acc_b, gyro_b)
    return bins_from_columns(
        np.asarray(t_s, dtype=np.float64), columns, first, stop, has_gyro=with_gyro
    )


class MotionBinner:
    """Streaming binning of one sensor's body-frame samples.

    Samples must come in time order; samples not after the newest one seen are dropped and
    counted. Feeding the same samples in any blocks gives the same bins.
    """

    __slots__ = ("_acc", "_dropped", "_gyro", "_has_gyro", "_newest_s", "_next", "_t")

    def __init__(self, has_gyro: bool) -> None:
        """``has_gyro``: whether bins carry angular rate (blocks without it read as zero)."""
        self._has_gyro = has_gyro
        self._next: int | None = None  # first bin not returned yet
        self._newest_s = -math.inf
        self._t = np.zeros(0)
        self._acc = np.zeros((0, 3))
        self._gyro = np.zeros((0, 3))
        self._dropped = 0

    @property
    def dropped_samples(self) -> int:
        """Samples ignored because they were not newer than ones already seen."""
        return self._dropped

    @property
    def next_bin(self) -> int | None:
        """First bin not returned yet (None before any sample)."""
        return self._next

    def add(self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None) -> MotionBins:
        """Take samples; return the bins completed by them (possibly none)."""
        t = np.asarray(t_s, dtype=np.float64)
        keep = t > self._newest_s
        if not bool(np.all(keep)):
            self._dropped += int(t.shape[0] - np.count_nonzero(keep))
            t = t[keep]
            acc_b = acc_b[keep]
            gyro_b = None if gyro_b is None else gyro_b[keep]
        if t.shape[0] == 0:
            return self._nothing()
        if self._next is None:
            self._next = int(bin_index(t[0]))
        gyro = gyro_b if gyro_b is not None else np.zeros((t.shape[0], 3))
        self._t = np.concatenate((self._t, t))
        self._acc = np.concatenate((self._acc, acc_b))
        self._gyro = np.concatenate((self._gyro, gyro))
        self._newest_s = float(t[-1])
        return self._emit(int(bin_index(self._newest_s)))

    def finish(self) -> MotionBins:
        """End of data: return the last, unfinished bin too."""
        if self._next is None or self._t.shape[0] == 0:
            return self._nothing()
        return self._emit(int(bin_index(self._newest_s)) + 1)

    def _nothing(self) -> MotionBins:
        first = self._next if self._next is not None else 0
        return empty_bins(first, 0, self._has_gyro)

    def _emit(self, stop: int) -> MotionBins:
        assert self._next is not None
        if stop <= self._next:
            return self._nothing()
        cut = int(np.searchsorted(self._t, stop * BIN_S, side="left"))
        out = bin_samples(
            self._t[:cut],
            self._acc[:cut],
            self._gyro[:cut] if self._has_gyro else None,
            self._next,
            stop,
            has_gyro=self._has_gyro,
        )
        self._t = self._t[cut:]
        self._acc = self._acc[cut:]
        self._gyro = self._gyro[cut:]
        self._next = stop
        return out


def window_sum(values: FloatArray, width: int) -> FloatArray:
    """Sums of ``width`` consecutive rows, in a fixed order (exact wherever computed).

    Row ``i`` of the result sums ``values[i] .. values[i + width - 1]`` by doubling: sums of
    2, 4, 8, ... rows are built from pairs of the level below, and the window is made of
    one run per binary digit of ``width``, smallest first. The order depends only on
    ``width``, so the same rows give the same sum bit for bit whatever array they sit in,
    with about ``2 log2(width)`` array additions instead of ``width - 1``. The result has
    ``len(values) - width + 1`` rows (none if shorter).
    """
    count = values.shape[0] - width + 1
    if count <= 0:
        return np.zeros((0, *values.shape[1:]))
    level = np.asarray(values, dtype=np.float64)  # sums of `size` rows
    size = 1
    total: FloatArray | None = None
    covered = 0  # rows summed into total so far
    while True:
        if width & size:
            part = level[covered : covered + count]
            total = part.copy() if total is None else total + part
            covered += size
        if covered == width:
            break
        level = level[:-size] + level[size:]
        size *= 2
    assert total is not None
    return total


def window_count(counts: IntArray | npt.NDArray[np.bool_], width: int) -> FloatArray:
    """Sums of ``width`` consecutive whole counts (as floats), like :func:`window_sum`.

    Whole numbers add up exactly in any order, so one cumulative sum serves every window.
    """
    count = counts.shape[0] - width + 1
    if count <= 0:
        return np.zeros(0)
    total = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
    return np.asarray(total[width:] - total[:count], dtype=np.float64)


def append_bins(old: MotionBins | None, new: MotionBins | None) -> MotionBins | None:
    """``old`` followed by the part of ``new`` after it; a gap is filled with empty bins."""
    if new is None or len(new) == 0:
        return old
    if old is None:
        return new
    if new.first < old.end:
        new = new.slice(old.end, new.end)
        if len(new) == 0:
            return old
    if new.first > old.end:
        old = old.concat(empty_bins(old.end, new.first - old.end, old.has_gyro))
    return old.concat(new)
