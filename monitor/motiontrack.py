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

import numpy as np

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
        """Set up detectors; binners start with each sensor's first block.

        ``batch_s``: samples are collected until this much body-sensor time has come in,
        then binned and run through the detectors at once (a run costs about a millisecond
        whatever its length); results do not depend on it.
        """
        self._lifts = LiftDetector(body_placement, has_thigh=has_thigh, thresholds=lift_thresholds)
        self._falls = FallDetector(body_placement, fall_thresholds)
        self._body = _Pending()
        self._thigh = _Pending()
        self._batch_s = batch_s

    def add_body(
        self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None = None
    ) -> MotionUpdate:
        """Samples of the body sensor (body frame: x forward, y left, z up)."""
        self._body.add(t_s, acc_b, gyro_b)
        if self._body.span_s() < self._batch_s:
            return MotionUpdate()
        return self._run(final=False)

    def add_thigh(
        self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None = None
    ) -> MotionUpdate:
        """Samples of the thigh sensor (its body frame, up along the thigh when standing)."""
        self._thigh.add(t_s, acc_b, gyro_b)
        return MotionUpdate()

    def finish(self) -> MotionUpdate:
        """End of data: decide everything left."""
        first = self._run(final=True)
        lifts, windows = self._lifts.finish()
        falls = self._falls.finish()
        return MotionUpdate(
            lifts=(*first.lifts, *lifts),
            frequencies=(*first.frequencies, *windows),
            falls=(*first.falls, *falls),
        )

    def _run(self, *, final: bool) -> MotionUpdate:
        """Bin what is pending and run the detectors on it."""
        body = self._body.take(final=final)
        thigh = self._thigh.take(final=final)
        lifts, windows = self._lifts.update(body, thigh)
        falls = self._falls.update(body) if body is not None else []
        return MotionUpdate(lifts=tuple(lifts), frequencies=tuple(windows), falls=tuple(falls))


class _Pending:
    """One sensor's samples not binned yet, and its binner."""

    __slots__ = ("_binner", "_blocks")

    def __init__(self) -> None:
        self._binner: MotionBinner | None = None
        self._blocks: list[tuple[FloatArray, FloatArray, FloatArray | None]] = []

    def add(self, t_s: FloatArray, acc_b: FloatArray, gyro_b: FloatArray | None) -> None:
        if self._binner is None:
            self._binner = MotionBinner(has_gyro=gyro_b is not None)
        if t_s.shape[0]:
            self._blocks.append((t_s, acc_b, gyro_b))

    def span_s(self) -> float:
        if not self._blocks:
            return 0.0
        return float(self._blocks[-1][0][-1] - self._blocks[0][0][0])

    def take(self, *, final: bool) -> MotionBins | None:
        """Complete bins of the pending samples (all of them at the end of data)."""
        if self._binner is None:
            return None
        out = None
        if self._blocks:
            t = np.concatenate([b[0] for b in self._blocks])
            acc = np.concatenate([b[1] for b in self._blocks])
            gyro = None
            if all(b[2] is not None for b in self._blocks):
                gyro = np.concatenate([b[2] for b in self._blocks if b[2] is not None])
            self._blocks = []
            out = self._binner.add(t, acc, gyro)
        if final:
            last = self._binner.finish()
            out = last if out is None else _join(out, last)
        return out


def _join(old: MotionBins, new: MotionBins) -> MotionBins:
    if len(new) == 0:
        return old
    return old.concat(new)
