"""Acti4-style window features on an absolute sample-time grid, built from quarter-seconds.

Every feature comes from per-quarter-second sums. A quarter ``q`` holds the samples with
``q * 0.25 <= t_s < (q + 1) * 0.25``; the grid is absolute (whole seconds of sample time),
so a stream cut into blocks anywhere and the same samples analysed at once produce the same
quarters, bit for bit: each quarter is summed from the same samples in the same order.

Windows follow Acti4: 2 s long, 1 s apart. Window ``c`` (an integer second) covers
``[c - 1, c + 1)``, i.e. quarters ``4c - 4 .. 4c + 3``, and stands for the one-second slot
``[c - 0.5, c + 0.5)`` in the output. Its features:

- ``n``: samples in the window; ``filled``: how many of its 8 quarters hold samples (a window
  with fewer than ``min_filled`` is unknown: too few samples).
- ``mean_s``: mean acceleration (g, sensor frame); in the body frame after the mount it is
  the gravity direction used for angles.
- acceleration SD (g), the Acti4 way: the sample standard deviation (N - 1) of each body
  axis over the window, computed from the covariance of the window's samples rotated by the
  mount. ``sd_max_g`` is the largest of the three (Acti4's still/move test) and
  ``sd_vertical_g`` the SD of the body's up axis (Acti4 uses the thigh's long axis, which
  is vertical when upright, for walk/run). No 5 Hz low-pass is applied.
- gyroscope mean and largest absolute rate per axis (deg/s) where the sensor has one.

For learning the sensor's forward direction from walking (:mod:`monitor.orientation`),
windows also carry ``dmag_acc_cov_s``: the covariance of each sensor axis with the change of
the acceleration magnitude from one sample to the next. While walking, the magnitude (the
vertical acceleration, to first order) rises and falls once per step, and the acceleration
along the walking direction follows it a quarter of a step later; across the step the
covariance with the magnitude's *change* therefore points forward. Quarters hold
``dmag_acc = sum dm * a`` (g^2) and ``dmag = sum dm`` (g), ``dm`` being each sample's
magnitude minus the previous sample's (0 for the very first sample).

Quarters also carry what the transition detector needs to integrate vertical motion
without keeping samples: with ``m`` the acceleration magnitude in g and each sample weighted
``w = 0.25 / n`` s (the quarter's mean times its length), ``mag_int = sum w (m - 1)`` (g*s)
and ``mag_mom = sum w (m - 1) (t_end - t)`` (g*s^2) where ``t_end`` is the quarter's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.mount import Mount
from devices.samples import FloatArray
from monitor.motionbins import SAMPLE_COLUMNS as MOTION_SAMPLE_COLUMNS
from monitor.motionbins import MotionBins, bin_index, bins_from_columns

QUARTER_S = 0.25
QUARTERS_PER_S = 4
WINDOW_QUARTERS = 8
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Order of the six distinct products x_i * x_j kept per quarter.
_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
_PAIR_I = np.array([i for i, _ in _PAIRS])
_PAIR_J = np.array([j for _, j in _PAIRS])
# Where each entry of a 3x3 covariance comes from among the six products.
_COV_INDEX = np.array([0, 3, 4, 3, 1, 5, 4, 5, 2])


def quarter_index(t_s: float | FloatArray) -> IntArray:
    """Quarter-second index of sample times on the absolute grid."""
    return np.floor(np.asarray(t_s, dtype=np.float64) / QUARTER_S).astype(np.int64)


def magnitude_g(acc_g: FloatArray) -> FloatArray:
    """Acceleration magnitude of each sample (n, 3) -> (n,), bit for bit as in the quarters."""
    acc = np.asarray(acc_g, dtype=np.float64)
    squares = acc * acc
    return np.asarray(np.sqrt(squares[:, 0] + squares[:, 1] + squares[:, 2]), dtype=np.float64)


# Columns of the per-quarter sum matrix. The first ones are those of the motion bins
# (acceleration, angular rate, magnitude, squared magnitude: ``motionbins.sample_columns``),
# so both are summed from one per-sample matrix.
_ACC = slice(0, 3)
_GYRO = slice(3, 6)
_MAG = 6
_MAG_SQ = 7
_PROD = slice(8, 14)
_MAG_INT = 14
_MAG_MOM = 15
_DMAG_ACC = slice(16, 19)
_DMAG = 19
_COLUMNS = 20


@dataclass(frozen=True, slots=True)
class QuarterSums:
    """Per-quarter sums of consecutive quarters ``first .. first + len - 1``.

    All sums sit in one matrix ``sums`` (q, 16) so that every step is one numpy call; the
    properties name its columns. Empty quarters (no samples) have zero counts and sums.
    """

    first: int
    n: IntArray  # (q,)
    sums: FloatArray  # (q, 16)
    gyro_absmax: FloatArray | None  # (q, 3) deg/s, None without a gyroscope

    def __len__(self) -> int:
        """Number of quarters."""
        return int(self.n.shape[0])

    @property
    def acc_sum(self) -> FloatArray:
        """Sum of acceleration (q, 3), g."""
        return self.sums[:, _ACC]

    @property
    def acc_products(self) -> FloatArray:
        """Sums of products (q, 6), g^2, order xx, yy, zz, xy, xz, yz."""
        return self.sums[:, _PROD]

    @property
    def mag_sum(self) -> FloatArray:
        """Sum of the acceleration magnitude (q,), g."""
        return self.sums[:, _MAG]

    @property
    def mag_sq_sum(self) -> FloatArray:
        """Sum of the squared magnitude (q,), g^2."""
        return self.sums[:, _MAG_SQ]

    @property
    def mag_int(self) -> FloatArray:
        """Integral of magnitude minus 1 g over the quarter (q,), g*s."""
        return self.sums[:, _MAG_INT]

    @property
    def mag_mom(self) -> FloatArray:
        """First moment of that integral about the quarter's end (q,), g*s^2."""
        return self.sums[:, _MAG_MOM]

    @property
    def dmag_acc_sum(self) -> FloatArray:
        """Sums of the magnitude change times acceleration (q, 3), g^2."""
        return self.sums[:, _DMAG_ACC]

    @property
    def dmag_sum(self) -> FloatArray:
        """Sum of the magnitude change from the previous sample (q,), g."""
        return self.sums[:, _DMAG]

    @property
    def gyro_sum(self) -> FloatArray | None:
        """Sum of angular rate (q, 3), deg/s; None without a gyroscope."""
        return None if self.gyro_absmax is None else self.sums[:, _GYRO]

    def slice(self, start: int, stop: int) -> QuarterSums:
        """Quarters ``first + start .. first + stop - 1`` (views)."""
        return QuarterSums(
            first=self.first + start,
            n=self.n[start:stop],
            sums=self.sums[start:stop],
            gyro_absmax=None if self.gyro_absmax is None else self.gyro_absmax[start:stop],
        )

    def concat(self, other: QuarterSums) -> QuarterSums:
        """These quarters followed by ``other`` (which must follow on directly)."""
        absmax = None
        if self.gyro_absmax is not None and other.gyro_absmax is not None:
            absmax = np.concatenate((self.gyro_absmax, other.gyro_absmax))
        return QuarterSums(
            first=self.first,
            n=np.concatenate((self.n, other.n)),
            sums=np.concatenate((self.sums, other.sums)),
            gyro_absmax=absmax,
        )


def quarter_sums(
    t_s: FloatArray,
    acc_g: FloatArray,
    gyro_dps: FloatArray | None,
    first: int,
    stop: int,
    *,
    previous_mag_g: float = math.nan,
) -> QuarterSums:
    """Sum samples into quarters ``first .. stop - 1``; samples must lie inside that range.

    ``previous_mag_g`` is the acceleration magnitude of the sample before these (NaN: none;
    the first sample's magnitude change is then 0). Vectorised: the per-sample quantities go
    into one matrix summed with a single ``np.add.reduceat``.
    """
    return _quarters(t_s, acc_g, gyro_dps, (first, stop), previous_mag_g)[0]


def quarter_and_motion_sums(
    t_s: FloatArray,
    acc_g: FloatArray,
    gyro_dps: FloatArray | None,
    first: int,
    stop: int,
    *,
    previous_mag_g: float = math.nan,
    bins_with_gyro: bool | None,
) -> tuple[QuarterSums, MotionBins | None]:
    """:func:`quarter_sums`, and the motion bins the samples span (sensor frame).

    Both come from one per-sample matrix. ``bins_with_gyro``: None for no bins, else whether
    the bins carry angular rate. The bins are None too when there are no samples.
    """
    quarters, per_sample = _quarters(t_s, acc_g, gyro_dps, (first, stop), previous_mag_g)
    if bins_with_gyro is None or t_s.shape[0] == 0:
        return quarters, None
    first_bin, stop_bin = int(bin_index(t_s[0])), int(bin_index(t_s[-1])) + 1
    columns = per_sample[:, :MOTION_SAMPLE_COLUMNS]
    bins = bins_from_columns(t_s, columns, first_bin, stop_bin, has_gyro=bins_with_gyro)
    return quarters, bins


def _quarters(
    t_s: FloatArray,
    acc_g: FloatArray,
    gyro_dps: FloatArray | None,
    span: tuple[int, int],
    previous_mag_g: float,
) -> tuple[QuarterSums, FloatArray]:
    """The quarter sums of quarters ``span`` and the per-sample matrix they were summed from."""
    first, stop = span
    count = stop - first
    q = np.floor(t_s * QUARTERS_PER_S).astype(np.int64) - first  # exact: 4 is a power of 2
    n = np.bincount(q, minlength=count)[:count].astype(np.int64)
    acc = np.asarray(acc_g, dtype=np.float64)
    # Column-major: every column is filled and summed as one contiguous run.
    per_sample = np.empty((acc.shape[0], _COLUMNS), order="F")
    per_sample[:, _ACC] = acc
    # Column by column from the contiguous copies: a gather of the pairs first (acc[:, i])
    # cost more than the products themselves. Same values, bit for bit.
    for k, (i, j) in enumerate(_PAIRS):
        np.multiply(per_sample[:, i], per_sample[:, j], out=per_sample[:, _PROD.start + k])
    squares = _PROD.start  # the first three products are the squares, as magnitude_g adds
    mag_sq = per_sample[:, _MAG_SQ]
    np.add(per_sample[:, squares], per_sample[:, squares + 1], out=mag_sq)
    mag_sq += per_sample[:, squares + 2]
    mag = np.sqrt(mag_sq, out=per_sample[:, _MAG])
    dev = np.multiply(mag - 1.0, (QUARTER_S / np.maximum(n, 1))[q], out=per_sample[:, _MAG_INT])
    np.multiply(dev, (q + first + 1) * QUARTER_S - t_s, out=per_sample[:, _MAG_MOM])
    per_sample[:, _GYRO] = 0.0 if gyro_dps is None else gyro_dps
    dmag = per_sample[:, _DMAG]
    if acc.shape[0]:
        dmag[0] = 0.0 if math.isnan(previous_mag_g) else mag[0] - previous_mag_g
        np.subtract(mag[1:], mag[:-1], out=dmag[1:])
    for axis in range(3):
        np.multiply(per_sample[:, axis], dmag, out=per_sample[:, _DMAG_ACC.start + axis])
    sums = np.zeros((count, _COLUMNS))
    absmax = None if gyro_dps is None else np.zeros((count, 3))
    if acc.shape[0]:
        filled = n > 0
        starts = (np.cumsum(n) - n)[filled]
        sums[filled] = np.add.reduceat(per_sample, starts, axis=0)
        if absmax is not None and gyro_dps is not None:
            absmax[filled] = np.maximum.reduceat(np.abs(gyro_dps), starts, axis=0)
    return QuarterSums(first=first, n=n, sums=sums, gyro_absmax=absmax), per_sample


def empty_quarter_sums(first: int, count: int, has_gyro: bool) -> QuarterSums:
    """``count`` quarters without samples (a gap in the data)."""
    return QuarterSums(
        first=first,
        n=np.zeros(count, dtype=np.int64),
        sums=np.zeros((count, _COLUMNS)),
        gyro_absmax=np.zeros((count, 3)) if has_gyro else None,
    )


@dataclass(frozen=True, slots=True)
class WindowFeatures:
    """Features of consecutive windows ``first .. first + len - 1`` (window = center second)."""

    first: int
    n: IntArray  # (w,) samples
    filled: IntArray  # (w,) quarters holding samples, 0..8
    mean_s: FloatArray  # (w, 3) g, sensor frame
    cov_s: FloatArray  # (w, 3, 3) g^2, sample covariance (N - 1), sensor frame
    gyro_mean_dps: FloatArray | None  # (w, 3)
    gyro_absmax_dps: FloatArray | None  # (w, 3)
    dmag_acc_cov_s: FloatArray  # (w, 3) g^2, covariance of each axis with the magnitude change

    def __len__(self) -> int:
        """Number of windows."""
        return int(self.n.shape[0])

    @property
    def centers_s(self) -> FloatArray:
        """Center time of each window (also the middle of its one-second output slot)."""
        return np.arange(self.first, self.first + len(self), dtype=np.float64)

    def body_mean(self, mount: Mount) -> FloatArray:
        """Mean acceleration in the body frame (w, 3)."""
        return mount.to_body(self.mean_s)

    def body_sd(self, mount: Mount) -> FloatArray:
        """Acceleration SD of each body axis (w, 3), g."""
        return body_sd_g(self.cov_s, mount)


def body_sd_g(cov_s: FloatArray, mount: Mount) -> FloatArray:
    """Acceleration SD along each body axis (w, 3), g, from sensor-frame covariances (w, 3, 3).

    Axis ``j``'s variance is ``r_j' C r_j`` (``r_j``: column ``j`` of ``sensor_from_body``),
    the nine covariance entries added in a fixed order over whole columns of windows: the
    same for any grouping of windows, and many times quicker than einsum's 3 x 3 loops.
    """
    r = mount.sensor_from_body
    # (axis, window): each operation runs along the windows, and there are 18 of them
    # whatever the number of windows (the daemon evaluates a couple at a time).
    var = np.zeros((3, cov_s.shape[0]))
    for a in range(3):
        for b in range(3):
            var += (r[a] * r[b])[:, None] * cov_s[None, :, a, b]
    return np.asarray(np.sqrt(np.maximum(var.T, 0.0)), dtype=np.float64)


def _seconds(values: FloatArray) -> FloatArray:
    """Sum groups of four consecutive quarters, always in the same order."""
    return np.asarray(values[0::4] + values[1::4] + values[2::4] + values[3::4])


def window_features(quarters: QuarterSums) -> WindowFeatures:
    """Features of every window fully inside the given quarters.

    ``quarters.first`` must be a whole second (a multiple of 4) and the length a multiple of
    4; the result covers windows ``first/4 + 1 .. (first + len)/4 - 1``. Every window is
    summed from its two seconds in a fixed order, so the result does not depend on how the
    quarters were grouped into calls.
    """
    if quarters.first % QUARTERS_PER_S or len(quarters) % QUARTERS_PER_S:
        raise ValueError("quarters must cover whole seconds")
    counts = np.empty((len(quarters), 2))
    counts[:, 0] = quarters.n
    counts[:, 1] = quarters.n > 0
    count_s = _seconds(counts)
    sum_s = _seconds(quarters.sums)
    count_w = count_s[:-1] + count_s[1:]
    sum_w = sum_s[:-1] + sum_s[1:]
    n = count_w[:, 0]
    safe_n = np.maximum(n, 1.0)
    mean = sum_w[:, _ACC] / safe_n[:, None]
    prod = sum_w[:, _PROD]
    denom = np.maximum(n - 1.0, 1.0)
    centred = (prod - n[:, None] * mean[:, _PAIR_I] * mean[:, _PAIR_J]) / denom[:, None]
    cov = centred[:, _COV_INDEX].reshape(-1, 3, 3)
    dmag_acc = (sum_w[:, _DMAG_ACC] - sum_w[:, _DMAG, None] * mean) / denom[:, None]
    gyro_mean = gyro_absmax = None
    if quarters.gyro_absmax is not None:
        gyro_mean = sum_w[:, _GYRO] / safe_n[:, None]
        q_max = quarters.gyro_absmax
        m_s = np.maximum(np.maximum(q_max[0::4], q_max[1::4]), np.maximum(q_max[2::4], q_max[3::4]))
        gyro_absmax = np.maximum(m_s[:-1], m_s[1:])
    return WindowFeatures(
        first=quarters.first // QUARTERS_PER_S + 1,
        n=n.astype(np.int64),
        filled=count_w[:, 1].astype(np.int64),
        mean_s=mean,
        cov_s=cov,
        gyro_mean_dps=gyro_mean,
        gyro_absmax_dps=gyro_absmax,
        dmag_acc_cov_s=dmag_acc,
    )


@dataclass(frozen=True, slots=True)
class VerticalMotion:
    """Vertical motion over a movement between two rests, from quarter sums.

    ``rise_m``: height gained (negative: lost) between the rests. ``v_min_mps``/``v_max_mps``:
    extremes of the vertical velocity at quarter ends; ``first_mps``: the first velocity
    beyond ``excursion_mps`` in either direction (0 if none), telling down-then-up from
    up-then-down.
    """

    rise_m: float
    v_min_mps: float
    v_max_mps: float
    first_mps: float


STANDARD_GRAVITY_MPS2 = 9.80665


def vertical_motion(
    mag_int: FloatArray,
    mag_mom: FloatArray,
    mag_before_g: float,
    mag_after_g: float,
    excursion_mps: float,
) -> VerticalMotion:
    """Integrate the magnitude deviation of a movement twice, with zero velocity at both ends.

    To first order the acceleration magnitude minus 1 g is the vertical acceleration,
    whatever the sensor's orientation. Velocity is forced to zero at both ends (the wearer
    rests before and after): a constant offset is removed, and the resting magnitudes
    before and after (``mag_before_g``, ``mag_after_g``; they differ slightly when a sensor's
    axes are not perfectly scaled) are removed as a linear ramp.
    """
    count = mag_int.shape[0]
    duration = count * QUARTER_S
    if count == 0:
        return VerticalMotion(0.0, 0.0, 0.0, 0.0)
    ends = np.arange(1, count + 1) * QUARTER_S  # quarter ends, from the movement's start
    velocity = np.cumsum(mag_int)  # g*s at quarter ends, before corrections
    total = float(velocity[-1])
    # Displacement at the end: each quarter's own moment plus its velocity carried onward.
    disp = float(np.sum(mag_mom + mag_int * (duration - ends)))
    ramp = mag_after_g - mag_before_g
    rise = disp - total * duration / 2.0 + ramp * duration * duration / 12.0
    # Velocity corrected for the constant offset and the ramp (quarter ends).
    frac = ends / duration
    corrected = velocity - total * frac - ramp * duration * (frac * frac - frac) / 2.0
    v = corrected * STANDARD_GRAVITY_MPS2
    beyond = np.flatnonzero(np.abs(v) > excursion_mps)
    first = float(v[beyond[0]]) if beyond.shape[0] else 0.0
    return VerticalMotion(
        rise_m=rise * STANDARD_GRAVITY_MPS2,
        v_min_mps=float(min(0.0, v.min())),
        v_max_mps=float(max(0.0, v.max())),
        first_mps=first,
    )


def tail_rise_m(mag_int: FloatArray, mag_mom: FloatArray, mag_after_g: float) -> float:
    """Height change (m) over quarters that end at a rest, from the end backwards.

    For movements that did not start from rest (walking straight into a chair), only the
    end has a known velocity (zero): integrating backwards from it over a short tail gives
    the height change over that tail. ``mag_after_g`` is the resting magnitude after it.
    """
    count = mag_int.shape[0]
    base = mag_after_g - 1.0
    s = mag_int - base * QUARTER_S
    m = mag_mom - base * QUARTER_S * QUARTER_S / 2.0
    offsets = np.arange(count) * QUARTER_S
    return -float(np.sum(offsets * s + QUARTER_S * s - m)) * STANDARD_GRAVITY_MPS2
