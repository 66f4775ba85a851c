"""Merges a gyroscope stream onto an accelerometer stream's sample times (pure, no clock).

Some sensors (the Polar Verity Sense) send the accelerometer and the gyroscope as separate
streams, each with its own frames and timestamps. :class:`AccGyroMerger` takes both as they
arrive and hands back runs of accelerometer samples, each with the gyroscope interpolated
onto the accelerometer times or without gyroscope where none covers them.

Accelerometer samples newer than the newest gyroscope sample are held back until gyroscope
covering them arrives, but never longer than ``max_wait_s`` of accelerometer time: a stalled
or lost gyroscope stream delays the accelerometer by at most that much, and after
``fallback_after_s`` without gyroscope progress the accelerometer passes straight through.
Every accelerometer sample handed back without gyroscope is counted. Time is the sensor's
own (seconds, any epoch); the only clock is the accelerometer stream itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.samples import FloatArray

_AXES = 3
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MergedRun:
    """Consecutive accelerometer samples, all with gyroscope (n, 3) or all without (None)."""

    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])


def _empty_rows() -> FloatArray:
    return np.zeros((0, _AXES))


def _checked(t_s: FloatArray, values: FloatArray, what: str) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(t_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or v.shape != (t.shape[0], _AXES):
        raise ValueError(f"{what}: need t_s (n,) and values (n, 3), got {t.shape} and {v.shape}")
    return t, v


def _after(t: FloatArray, last_s: float | None) -> BoolArray:
    """Samples strictly later than everything before them (and than ``last_s``)."""
    start = -np.inf if last_s is None else last_s
    before = np.maximum.accumulate(np.concatenate([[start], t]))[:-1]
    keep: BoolArray = t > before
    return keep


class AccGyroMerger:
    """Aligns a gyroscope stream onto accelerometer samples, holding acc back a bounded time.

    ``max_gap_s``: two consecutive gyroscope samples further apart than this are a gap (lost
    frames) and cover nothing between them. ``edge_tolerance_s``: an accelerometer sample
    this close to a gyroscope sample counts as covered by it (the streams' timestamps are
    interpolated separately and can differ by rounding). ``gyro_keep_s``: how much
    gyroscope history is kept for accelerometer frames that arrive late.

    Counters: ``samples_out`` (accelerometer samples handed back), ``samples_without_gyro``
    (of those, how many had no gyroscope), ``dropped_acc`` / ``dropped_gyro`` (samples not
    after their stream's previous sample, dropped), ``resets`` (a stream's clock jumped
    back by more than ``max_wait_s``: everything before is handed back and forgotten).
    """

    def __init__(
        self,
        *,
        max_wait_s: float = 2.0,
        fallback_after_s: float = 5.0,
        max_gap_s: float = 0.1,
        edge_tolerance_s: float = 0.002,
        gyro_keep_s: float = 10.0,
    ) -> None:
        """Start with nothing pending."""
        if not 0 < max_wait_s <= fallback_after_s:
            raise ValueError(
                f"need 0 < max_wait_s <= fallback_after_s, got {max_wait_s}, {fallback_after_s}"
            )
        if max_gap_s <= 0 or edge_tolerance_s < 0 or gyro_keep_s < max_wait_s:
            raise ValueError("max_gap_s > 0, edge_tolerance_s >= 0, gyro_keep_s >= max_wait_s")
        self.max_wait_s = max_wait_s
        self.fallback_after_s = fallback_after_s
        self.max_gap_s = max_gap_s
        self.edge_tolerance_s = edge_tolerance_s
        self.gyro_keep_s = gyro_keep_s
        self._acc_t: FloatArray = np.zeros(0)
        self._acc: FloatArray = _empty_rows()
        self._gyro_t: FloatArray = np.zeros(0)
        self._gyro: FloatArray = _empty_rows()
        self._last_acc_s: float | None = None
        self._first_acc_s: float | None = None
        self._last_gyro_s: float | None = None
        self.samples_out = 0
        self.samples_without_gyro = 0
        self.dropped_acc = 0
        self.dropped_gyro = 0
        self.resets = 0

    @property
    def pending_samples(self) -> int:
        """Accelerometer samples held back, waiting for gyroscope."""
        return int(self._acc_t.shape[0])

    @property
    def gyro_stalled(self) -> bool:
        """Whether the gyroscope has lagged the accelerometer by more than ``fallback_after_s``."""
        if self._last_acc_s is None:
            return False
        reference = self._last_gyro_s if self._last_gyro_s is not None else self._first_acc_s
        assert reference is not None
        return self._last_acc_s - reference > self.fallback_after_s

    def add_acc(self, t_s: FloatArray, acc_g: FloatArray) -> list[MergedRun]:
        """Take accelerometer samples; returns the runs that are ready."""
        t, acc = _checked(t_s, acc_g, "accelerometer")
        if t.size == 0:
            return []
        out: list[MergedRun] = []
        if self._last_acc_s is not None and t[0] < self._last_acc_s - self.max_wait_s:
            out += self.flush()
            self._reset_clock()
        keep = _after(t, self._last_acc_s)
        self.dropped_acc += int(t.size - np.count_nonzero(keep))
        t, acc = t[keep], acc[keep]
        if t.size == 0:
            return out
        if self._first_acc_s is None:
            self._first_acc_s = float(t[0])
        self._last_acc_s = float(t[-1])
        self._acc_t = np.concatenate([self._acc_t, t])
        self._acc = np.vstack([self._acc, acc])
        return out + self._release(force=False)

    def add_gyro(self, t_s: FloatArray, gyro_dps: FloatArray) -> list[MergedRun]:
        """Take gyroscope samples; returns the accelerometer runs they made ready."""
        t, gyro = _checked(t_s, gyro_dps, "gyroscope")
        if t.size == 0:
            return []
        if self._last_gyro_s is not None and t[0] < self._last_gyro_s - self.max_wait_s:
            self.resets += 1
            self._gyro_t, self._gyro = np.zeros(0), _empty_rows()
            self._last_gyro_s = None
        keep = _after(t, self._last_gyro_s)
        self.dropped_gyro += int(t.size - np.count_nonzero(keep))
        t, gyro = t[keep], gyro[keep]
        if t.size == 0:
            return []
        self._last_gyro_s = float(t[-1])
        self._gyro_t = np.concatenate([self._gyro_t, t])
        self._gyro = np.vstack([self._gyro, gyro])
        return self._release(force=False)

    def flush(self) -> list[MergedRun]:
        """Hand back everything pending (end of stream), with gyroscope where it covers."""
        return self._release(force=True)

    def _reset_clock(self) -> None:
        self.resets += 1
        self._gyro_t, self._gyro = np.zeros(0), _empty_rows()
        self._last_acc_s = self._first_acc_s = self._last_gyro_s = None

    def _coverage(self, t: FloatArray) -> tuple[BoolArray, BoolArray, BoolArray]:
        """Per acc sample: waiting for gyro, covered by a bracket, covered by a near sample."""
        g_t = self._gyro_t
        n_gyro = g_t.shape[0]
        if n_gyro == 0:
            none = np.zeros(t.shape[0], dtype=np.bool_)
            return ~none, none, none
        tol = self.edge_tolerance_s
        waiting = t > g_t[-1] + tol
        right_index = np.searchsorted(g_t, t)
        has_left = right_index > 0
        has_right = right_index < n_gyro
        left_s = g_t[np.clip(right_index - 1, 0, n_gyro - 1)]
        right_s = g_t[np.clip(right_index, 0, n_gyro - 1)]
        bracketed = has_left & has_right & (right_s - left_s <= self.max_gap_s)
        near = (has_left & (t - left_s <= tol)) | (has_right & (right_s - t <= tol))
        return waiting, bracketed & ~waiting, near & ~bracketed & ~waiting

    def _gyro_at(self, t: FloatArray, bracketed: BoolArray) -> FloatArray:
        """Gyroscope at ``t``: linear between bracketing samples, else the nearest sample."""
        g_t, g = self._gyro_t, self._gyro
        linear = np.column_stack([np.interp(t, g_t, g[:, axis]) for axis in range(_AXES)])
        if np.all(bracketed):
            return linear
        right_index = np.clip(np.searchsorted(g_t, t), 0, g_t.shape[0] - 1)
        left_index = np.clip(right_index - 1, 0, g_t.shape[0] - 1)
        take_left = np.abs(t - g_t[left_index]) <= np.abs(g_t[right_index] - t)
        nearest = g[np.where(take_left, left_index, right_index)]
        return np.where(bracketed[:, None], linear, nearest)

    def _release(self, *, force: bool) -> list[MergedRun]:
        t = self._acc_t
        if t.size == 0:
            self._trim_gyro(None)
            return []
        waiting, bracketed, near = self._coverage(t)
        assert self._last_acc_s is not None
        timed_out = (self._last_acc_s - t > self.max_wait_s) | self.gyro_stalled | force
        release = ~waiting | timed_out  # both are prefixes in time, so this is one too
        n_out = int(np.argmin(release)) if not np.all(release) else int(t.size)
        if n_out == 0:
            self._trim_gyro(None)
            return []
        out_t, out_acc = t[:n_out], self._acc[:n_out]
        covered = (bracketed | near)[:n_out]
        gyro = self._gyro_at(out_t, bracketed[:n_out]) if np.any(covered) else None
        runs: list[MergedRun] = []
        edges = np.flatnonzero(np.diff(covered.astype(np.int8))) + 1
        for start, stop in zip(
            np.concatenate([[0], edges]), np.concatenate([edges, [n_out]]), strict=True
        ):
            run_gyro = gyro[start:stop] if covered[start] and gyro is not None else None
            runs.append(MergedRun(out_t[start:stop], out_acc[start:stop], run_gyro))
        self.samples_out += n_out
        self.samples_without_gyro += int(n_out - np.count_nonzero(covered))
        self._acc_t, self._acc = t[n_out:], self._acc[n_out:]
        self._trim_gyro(float(out_t[-1]))
        return runs

    def _trim_gyro(self, released_s: float | None) -> None:
        """Forget gyroscope no longer needed: before the last released sample, or too old."""
        g_t = self._gyro_t
        if g_t.size == 0:
            return
        first = int(np.searchsorted(g_t, g_t[-1] - self.gyro_keep_s))
        if released_s is not None:
            first = max(first, int(np.searchsorted(g_t, released_s, side="right")) - 1)
        if first > 0:
            self._gyro_t, self._gyro = g_t[first:], self._gyro[first:]
