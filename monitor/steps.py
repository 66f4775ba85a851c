"""Steps from one body-worn accelerometer: peaks of the acceleration magnitude, streamed.

A step is a peak of the acceleration magnitude (the vertical acceleration to first order,
whatever the sensor's orientation): a sample that is the largest within
``min_interval_s`` on either side (the first of equal values), and that rises at least
``prominence_g`` above the lowest sample in that span. Heel strike shakes the body once per
step, so one peak per step remains once the span is longer than the double peaks of a
heel strike and shorter than the time between steps (0.25 s allows up to 240 steps/min).
The defaults (0.25 s, 0.1 g) count the SisFall walking and jogging trials (D01-D04, waist)
within 3 % of the cadence their spectra show.

Peaks are found anywhere; the evaluation counts only those that fall in seconds decided
walking or running, so fidgets and bumps while sitting are never steps.

Vectorised: the largest sample of each block of ``min_interval_s`` where the signal varies
by the prominence is a candidate (at most one per block), and each candidate is checked
against its neighbourhood in one gathered array. Streamed: the
test of a sample needs the samples ``min_interval_s`` either side of it, so the detector
holds back that much; the decision for a sample depends on those samples only, which makes
the result the same however the samples arrive in blocks. The span in samples comes from
the median interval of the first ``rate_probe`` samples.
"""

from __future__ import annotations

import math

import numpy as np

from devices.samples import FloatArray
from monitor.windows import magnitude_g

#: Samples used to fix the span in samples (their median interval).
RATE_PROBE_SAMPLES = 32


class StepDetector:
    """Finds step peaks in one sensor's samples, block after block."""

    __slots__ = (
        "_buf_m",
        "_buf_t",
        "_first_index",
        "_min_interval_s",
        "_next_index",
        "_prominence_g",
        "_span",
    )

    def __init__(self, min_interval_s: float = 0.25, prominence_g: float = 0.1) -> None:
        """``min_interval_s``: shortest time between steps; ``prominence_g``: peak height."""
        if not min_interval_s > 0 or not prominence_g > 0:
            raise ValueError("min_interval_s and prominence_g must be positive")
        self._min_interval_s = min_interval_s
        self._prominence_g = prominence_g
        self._span: int | None = None  # samples either side of a peak
        self._buf_t = np.zeros(0)
        self._buf_m = np.zeros(0)
        self._first_index = 0  # global index of the buffer's first sample
        self._next_index = 0  # first global index not tested yet

    def update(self, t_s: FloatArray, acc_g: FloatArray) -> FloatArray:
        """Take the next samples (times (n,), acceleration (n, 3) in g); return peak times."""
        if t_s.shape[0] == 0:
            return np.zeros(0)
        acc = np.asarray(acc_g, dtype=np.float64)
        magnitude = magnitude_g(acc)
        self._buf_t = np.concatenate((self._buf_t, np.asarray(t_s, dtype=np.float64)))
        self._buf_m = np.concatenate((self._buf_m, magnitude))
        if self._span is None:
            if self._buf_t.shape[0] < RATE_PROBE_SAMPLES:
                return np.zeros(0)
            dt = float(np.median(np.diff(self._buf_t[:RATE_PROBE_SAMPLES])))
            self._span = max(1, math.floor(self._min_interval_s / dt)) if dt > 0 else 1
            self._next_index = self._span
        return self._scan(final=False)

    def finish(self) -> FloatArray:
        """End of data: test the samples held back, with what context there is."""
        if self._span is None:
            return np.zeros(0)
        return self._scan(final=True)

    def _scan(self, final: bool) -> FloatArray:
        assert self._span is not None
        span = self._span
        m = self._buf_m
        n = m.shape[0]
        first = self._first_index
        # Local indices [a, b) can be tested: each has `span` samples either side.
        a = self._next_index - first
        b = n - 1 if final else n - span  # the very last sample has no right side
        peaks = np.zeros(0)
        if b > a:
            peaks = self._peaks(m, a, b, span)
            self._next_index = first + b
        # Keep `span` samples of left context before the next sample to test.
        keep_from = max(0, self._next_index - first - span)
        self._buf_t = self._buf_t[keep_from:]
        self._buf_m = self._buf_m[keep_from:]
        self._first_index = first + keep_from
        return peaks

    def _peaks(self, m: FloatArray, a: int, b: int, span: int) -> FloatArray:
        """Times of the peaks among local samples [a, b) of the buffer."""
        n = m.shape[0]
        if b <= a:
            return np.zeros(0)
        # Cut the buffer into blocks of `span` samples. A sample's own block lies inside its
        # span either side, so a peak is the largest of its block; and the span lies inside
        # its block and the two around it, so where those vary by less than the prominence
        # there is no peak. Both only narrow down the candidates, whatever the cut.
        blocks = -(-n // span)
        padded = np.concatenate((m, np.full(blocks * span - n, m[-1])))
        block_max = padded.reshape(blocks, span).max(axis=1)
        block_min = padded.reshape(blocks, span).min(axis=1)
        wide_max = np.maximum(block_max, np.maximum(_shift(block_max, 1), _shift(block_max, -1)))
        wide_min = np.minimum(block_min, np.minimum(_shift(block_min, 1), _shift(block_min, -1)))
        varied = wide_max - wide_min >= self._prominence_g
        if not np.any(varied):
            return np.zeros(0)
        top = np.repeat(np.where(varied, block_max, np.inf), span)[a:b]
        candidates = np.flatnonzero(m[a:b] == top) + a
        if candidates.shape[0] == 0:
            return np.zeros(0)
        offsets = np.arange(-span, span + 1)
        index = candidates[:, None] + offsets
        inside = (index >= 0) & (index < n)
        values = m[np.clip(index, 0, n - 1)]
        peak = m[candidates]
        highest = np.where(inside, values, -np.inf).max(axis=1)
        lowest = np.where(inside, values, np.inf).min(axis=1)
        # The first of equal values wins: nothing equal to the peak may come before it.
        before = offsets < 0
        equal_before = np.any(inside & before & (values >= peak[:, None]), axis=1)
        keep = (peak >= highest) & ~equal_before & (peak - lowest >= self._prominence_g)
        return np.asarray(self._buf_t[candidates[keep]], dtype=np.float64)


def _shift(values: FloatArray, by: int) -> FloatArray:
    """``values`` moved ``by`` places (positive: later), edges repeated."""
    if by > 0:
        return np.concatenate((np.repeat(values[:1], by), values[:-by]))
    return np.concatenate((values[-by:], np.repeat(values[-1:], -by)))
