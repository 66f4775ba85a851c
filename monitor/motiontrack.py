"""One wearer's lift and fall tracking: body-frame samples in, lifts, paces and falls out.

:class:`MotionTracker` ties the pieces together for the evaluator: a
:class:`~monitor.motionbins.MotionBinner` per sensor, a
:class:`~monitor.lifts.LiftDetector` (body sensor, and thigh when worn) and a
:class:`~monitor.falls.FallDetector` (body sensor). The caller rotates each block into the
body frame with the sensor's mount (``mount.to_body``) before handing it over. Results do
not depend on how samples are cut into blocks, so a recording analysed offline and the same
samples streamed give the same lifts and falls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.samples import FloatArray, Placement
from monitor.falls import Fall, FallDetector, FallThresholds
from monitor.lifts import BendFrequency, Lift, LiftDetector, LiftThresholds
from monitor.motionbins import MotionBinner, MotionBins


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

    Feed body-frame samples with :meth:`add_body` and :meth:`add_thigh` as blocks arrive
    (each sensor's blocks in time order), and call :meth:`finish` at the end of data.
    """

    __slots__ = ("_body", "_falls", "_lifts", "_thigh")

    def __init__(
        self,
        body_placement: Placement,
        *,
        has_thigh: bool = False,
        lift_thresholds: LiftThresholds | None = None,
        fall_thresholds: FallThresholds | None = None,
    ) -> None:
        """Set up detectors; binners start with each sensor's first block."""
        self._lifts = LiftDetector(body_placement, has_thigh=has_thigh, thresholds=lift_thresholds)
        self._falls = FallDetector(body_placement, fall_thresholds)
        self._body: MotionBinner | None = None
        self._thigh: MotionBinner | None = None

    def add_body(
        self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None = None
    ) -> MotionUpdate:
        """Samples of the body sensor (body frame: x forward, y left, z up)."""
        if self._body is None:
            self._body = MotionBinner(has_gyro=gyro_b is not None)
        return self._feed(self._body.add(t_s, acc_b, gyro_b), None)

    def add_thigh(
        self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None = None
    ) -> MotionUpdate:
        """Samples of the thigh sensor (its body frame, up along the thigh when standing)."""
        if self._thigh is None:
            self._thigh = MotionBinner(has_gyro=gyro_b is not None)
        return self._feed(None, self._thigh.add(t_s, acc_b, gyro_b))

    def finish(self) -> MotionUpdate:
        """End of data: decide everything left."""
        body = self._body.finish() if self._body is not None else None
        thigh = self._thigh.finish() if self._thigh is not None else None
        first = self._feed(body, thigh)
        lifts, windows = self._lifts.finish()
        falls = self._falls.finish()
        return MotionUpdate(
            lifts=(*first.lifts, *lifts),
            frequencies=(*first.frequencies, *windows),
            falls=(*first.falls, *falls),
        )

    def _feed(self, body: MotionBins | None, thigh: MotionBins | None) -> MotionUpdate:
        lifts, windows = self._lifts.update(body, thigh)
        falls = self._falls.update(body) if body is not None else []
        return MotionUpdate(lifts=tuple(lifts), frequencies=tuple(windows), falls=tuple(falls))
