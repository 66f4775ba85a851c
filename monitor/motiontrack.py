"""One wearer's lift and fall tracking: body-frame motion bins in, lifts, paces and falls out.

:class:`MotionTracker` ties the pieces together for the evaluator: a
:class:`~monitor.lifts.LiftDetector` (body sensor, and thigh when worn) and a
:class:`~monitor.falls.FallDetector` (body sensor), fed with 1/16 s bins
(:mod:`monitor.motionbins`) in the body frame. The caller bins each sensor's samples (the
evaluator bins them in the sensor frame while it sums quarter-seconds and rotates the bins
with the sensor's mount: sums are linear and magnitudes do not change under a rotation, so
that costs a sixth of rotating every sample). Results do not depend on how the bins are cut
into calls, so a recording analysed offline and the same samples streamed give the same
lifts and falls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.samples import Placement
from monitor.falls import Fall, FallDetector, FallThresholds
from monitor.lifts import BendFrequency, Lift, LiftDetector, LiftThresholds
from monitor.motionbins import BIN_S, MotionBins, append_bins


@dataclass(frozen=True, slots=True)
class MotionUpdate:
    """What became known in one call: lifts, rated bend-frequency windows and falls."""

    lifts: tuple[Lift, ...] = ()
    frequencies: tuple[BendFrequency, ...] = ()
    falls: tuple[Fall, ...] = field(default=())

    def __bool__(self) -> bool:
        """Whether anything is in it."""
        return bool(self.lifts or self.frequencies or self.falls)


class MotionTracker:
    """Lift and fall detection for one wearer's body sensor (trunk or waist) and thigh.

    Feed body-frame bins with :meth:`add_body` and :meth:`add_thigh` as they are complete
    (each sensor's bins in time order, a gap between calls reads as empty bins), and call
    :meth:`finish` at the end of data.
    """

    __slots__ = ("_batch_s", "_body", "_falls", "_lifts", "_thigh")

    def __init__(
        self,
        body_placement: Placement,
        *,
        has_thigh: bool = False,
        lift_thresholds: LiftThresholds | None = None,
        fall_thresholds: FallThresholds | None = None,
        batch_s: float = 2.0,
    ) -> None:
        """Set up detectors.

        ``batch_s``: bins are collected until this much body-sensor time has come in, then
        run through the detectors at once (a run costs about a millisecond whatever its
        length); results do not depend on it.
        """
        self._lifts = LiftDetector(body_placement, has_thigh=has_thigh, thresholds=lift_thresholds)
        self._falls = FallDetector(body_placement, fall_thresholds)
        self._body: MotionBins | None = None
        self._thigh: MotionBins | None = None
        self._batch_s = batch_s

    def add_body(self, bins: MotionBins) -> MotionUpdate:
        """Complete bins of the body sensor (body frame: x forward, y left, z up)."""
        self._body = append_bins(self._body, bins)
        if self._body is None or len(self._body) * BIN_S < self._batch_s:
            return MotionUpdate()
        return self._run()

    def add_thigh(self, bins: MotionBins) -> MotionUpdate:
        """Complete bins of the thigh sensor (its body frame, up along the thigh when standing)."""
        self._thigh = append_bins(self._thigh, bins)
        return MotionUpdate()

    def finish(self) -> MotionUpdate:
        """End of data: decide everything left."""
        first = self._run()
        lifts, windows = self._lifts.finish()
        falls = self._falls.finish()
        return MotionUpdate(
            lifts=(*first.lifts, *lifts),
            frequencies=(*first.frequencies, *windows),
            falls=(*first.falls, *falls),
        )

    def _run(self) -> MotionUpdate:
        """Run the detectors on the bins collected since the last run."""
        body, thigh = self._body, self._thigh
        self._body = self._thigh = None
        lifts, windows = self._lifts.update(body, thigh)
        falls = self._falls.update(body) if body is not None else []
        return MotionUpdate(lifts=tuple(lifts), frequencies=tuple(windows), falls=tuple(falls))
