"""Trunk angles from gravity, upright calibration, orientation learned from walking, mounts.

**Learning the mount from walking** (:class:`GaitLearner`), so that a sensor clipped on in
any orientation works without a declared mount:

- *Up* is the mean gravity direction over the seconds decided walking (the trunk is close to
  upright when walking; Acti4 takes its trunk and thigh references from walking too).
- *Forward* comes from the rhythm of the steps. The acceleration magnitude (the vertical
  acceleration, to first order) rises and falls once per step; the acceleration along the
  walking direction follows it about a quarter of a step later, while the side-to-side
  acceleration repeats only once per stride and does not follow it at all. So, per walking
  window, the covariance of the acceleration with the magnitude's change from sample to
  sample (:attr:`monitor.windows.WindowFeatures.dmag_acc_cov_s`), with its vertical part
  removed, points forward. On the SisFall waist recordings of level walking (D01, D02; four
  subjects) it points forward in 94-100 % of the windows, and the mean direction is within
  5-30° of forward; jogging reverses it (the vertical and forward rhythms are then nearly in
  opposite phase), stairs scatter it, so only walking counts, and an estimate is used only
  when the per-window directions agree (their mean resultant length is at least
  ``min_consistency``).
- Evidence is gathered in epochs of at least ``min_walk_s`` walking seconds and judged at
  whole minutes of sample time. A sensor without a mount takes the first estimate; later
  epochs that agree with it refine it, and one that disagrees by more than ``reorient_deg``
  (the sensor was clipped on anew) replaces it. A calibrated sensor keeps its calibration
  unless its up direction disagrees that much; a calibration done without a known forward
  direction takes its forward direction from walking. Declared mounts are never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from devices.mount import Mount, MountError
from devices.samples import FloatArray

#: The sensor's own axes, tried in this order when a default forward direction is needed.
_SENSOR_AXES = np.eye(3)


class OrientationError(ValueError):
    """Samples that do not allow an orientation to be found (no gravity, too few samples)."""


class MountSource(StrEnum):
    """Where the mount in use came from."""

    DECLARED = "declared"  # configured or given on the command line (--mount)
    CALIBRATED = "calibrated"  # the wearer stood upright and still on request
    CALIBRATED_UP = "calibrated_up"  # calibrated up, forward not known (yet)
    WALKING = "walking"  # learned from walking: up and forward
    LEARNED = "learned"  # taken from the data (first still upright-looking period)
    DEFAULT = "default"  # nothing known yet: sensor axes taken as body axes


@dataclass(frozen=True, slots=True)
class SensorOrientation:
    """The mount a sensor is evaluated with, and where it came from.

    ``forward_known`` is False when the forward direction is a guess (learned or default
    mounts only know which way is up): angles that need the sign of forward (flexion versus
    extension) are then less trustworthy than the inclination from upright.
    """

    mount: Mount
    source: MountSource

    @property
    def forward_known(self) -> bool:
        """Whether the body's forward direction is known: declared, calibrated or walked."""
        return self.source in (MountSource.DECLARED, MountSource.CALIBRATED, MountSource.WALKING)


def trunk_angles(acc_body_g: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Flexion, lateral bend and inclination in degrees from body-frame gravity, vectorised.

    ``acc_body_g`` has shape (n, 3) in the body frame (x forward, y left, z up) and should be
    the low-frequency (mean) acceleration, which at rest is the specific force: +1 g along the
    axis pointing up. Signs:

    - flexion: positive when the trunk leans forward (the forward axis tips down, so it reads
      a negative share of gravity), negative when leaning back; ``atan2(-a_x, a_z)``.
    - lateral: positive when bending toward the wearer's right side (the left axis tips up);
      ``atan2(a_y, a_z)``.
    - inclination: angle between the body's up axis and the measured up, 0-180°, whatever
      the direction; ``acos(a_z / |a|)``.

    Rows of zero length give NaN.
    """
    acc = np.asarray(acc_body_g, dtype=np.float64)
    ax, ay, az = acc[:, 0], acc[:, 1], acc[:, 2]
    norm = np.sqrt(ax * ax + ay * ay + az * az)
    flexion = np.degrees(np.arctan2(-ax, az))
    lateral = np.degrees(np.arctan2(ay, az))
    with np.errstate(invalid="ignore", divide="ignore"):
        inclination = np.degrees(np.arccos(np.clip(az / norm, -1.0, 1.0)))
    zero = norm == 0.0
    if np.any(zero):
        flexion = np.where(zero, np.nan, flexion)
        lateral = np.where(zero, np.nan, lateral)
        inclination = np.where(zero, np.nan, inclination)
    return flexion, lateral, inclination


def inclination_deg(acc_s: FloatArray, up_s: FloatArray) -> FloatArray:
    """Angle in degrees between each measured gravity vector (n, 3) and a unit up vector."""
    acc = np.asarray(acc_s, dtype=np.float64)
    norm = np.linalg.norm(acc, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (acc @ np.asarray(up_s, dtype=np.float64)) / norm
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), dtype=np.float64)


def default_forward(up_s: FloatArray) -> FloatArray:
    """A forward direction when none is known: the sensor axis most nearly horizontal."""
    up = np.asarray(up_s, dtype=np.float64)
    axis = int(np.argmin(np.abs(up)))
    return np.asarray(_SENSOR_AXES[axis], dtype=np.float64)


def calibrate_upright(acc_s: FloatArray, mount_hint: Mount | None) -> Mount:
    """The mount from samples taken while the wearer stands upright and still.

    Up is the mean gravity direction of ``acc_s`` (sensor frame, shape (n, 3)). Forward is
    the hint's forward axis (its first column in sensor coordinates) made perpendicular to
    the measured up; without a hint, or if the hint's forward is nearly vertical now, it is
    :func:`default_forward`.
    """
    acc = np.asarray(acc_s, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[1] != 3 or acc.shape[0] == 0:
        raise OrientationError(f"need acceleration of shape (n, 3), got {acc.shape}")
    up = acc.mean(axis=0)
    norm = float(np.linalg.norm(up))
    if norm < 0.3:
        raise OrientationError(f"mean acceleration of {norm:.2f} g is too small to find up")
    up = up / norm
    if mount_hint is not None:
        forward = mount_hint.sensor_from_body[:, 0]
        if abs(float(np.dot(forward, up))) < 0.9:
            return Mount.from_axes(up_s=up, forward_s=forward)
    return Mount.from_axes(up_s=up, forward_s=default_forward(up))


#: An estimate that moves the mount in use by less than this is not worth a change (deg).
REFINE_DEG = 2.0


def angle_between_deg(a: FloatArray, b: FloatArray) -> float:
    """Angle between two 3-vectors in degrees (NaN if either has zero length)."""
    na = float(np.linalg.norm(a))
    nb = float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return float("nan")
    cos = float(np.dot(a, b)) / (na * nb)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def gait_directions(
    mean_s: FloatArray, dmag_acc_cov_s: FloatArray
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per walking window: unit gravity (w, 3), unit forward evidence (w, 3), and which hold one.

    The forward evidence is the window's covariance of the acceleration with the magnitude's
    change, without its component along the window's own gravity direction.
    """
    mean = np.asarray(mean_s, dtype=np.float64)
    cov = np.asarray(dmag_acc_cov_s, dtype=np.float64)
    norm = np.sqrt(np.einsum("ij,ij->i", mean, mean))
    with np.errstate(invalid="ignore", divide="ignore"):
        up = mean / norm[:, None]
        horizontal = cov - np.einsum("ij,ij->i", cov, up)[:, None] * up
        length = np.sqrt(np.einsum("ij,ij->i", horizontal, horizontal))
        forward = horizontal / length[:, None]
    usable = np.isfinite(norm) & (norm > 0.5) & np.isfinite(length) & (length > 0.0)
    return (
        np.where(usable[:, None], up, 0.0),
        np.where(usable[:, None], forward, 0.0),
        usable,
    )


@dataclass(slots=True)
class _Evidence:
    """Sums of unit gravity and unit forward directions over walking windows."""

    up_sum: FloatArray = field(default_factory=lambda: np.zeros(3))
    forward_sum: FloatArray = field(default_factory=lambda: np.zeros(3))
    windows: int = 0

    def add(self, other: _Evidence) -> None:
        self.up_sum = self.up_sum + other.up_sum
        self.forward_sum = self.forward_sum + other.forward_sum
        self.windows += other.windows

    @property
    def consistency(self) -> float:
        """Mean resultant length of the per-window forward directions (0..1)."""
        return float(np.linalg.norm(self.forward_sum)) / self.windows if self.windows else 0.0

    def mount(self, up_s: FloatArray | None = None) -> Mount:
        """The mount these windows suggest (up given, or their mean gravity direction)."""
        up = self.up_sum if up_s is None else up_s
        return Mount.from_axes(up_s=up, forward_s=self.forward_sum)


class GaitLearner:
    """One sensor's mount learned from walking windows; see the module notes.

    Feed the walking windows in time order with :meth:`add`; call :meth:`propose` at each
    whole minute of sample time with the orientation in use.
    """

    __slots__ = (
        "_agreed",
        "_epoch",
        "_min_consistency",
        "_min_windows",
        "_need_forward",
        "_reorient",
    )

    def __init__(
        self,
        min_walk_s: float = 60.0,
        min_consistency: float = 0.5,
        reorient_deg: float = 30.0,
        *,
        need_forward: bool = True,
    ) -> None:
        """``need_forward``: False for a thigh sensor, whose evaluation uses only its up."""
        self._min_windows = max(1, math.ceil(min_walk_s))
        self._min_consistency = min_consistency
        self._reorient = reorient_deg
        self._need_forward = need_forward
        self._epoch = _Evidence()
        self._agreed = _Evidence()

    @property
    def walking_s(self) -> int:
        """Walking seconds gathered in the current epoch."""
        return self._epoch.windows

    def add(self, mean_s: FloatArray, dmag_acc_cov_s: FloatArray) -> None:
        """Add walking windows: mean acceleration and magnitude-change covariance (w, 3).

        The sums run window by window in order, so they do not depend on how the windows
        are grouped into calls.
        """
        up, forward, usable = gait_directions(mean_s, dmag_acc_cov_s)
        count = int(np.count_nonzero(usable))
        if count:
            epoch = self._epoch
            epoch.up_sum = _running_sum(epoch.up_sum, up[usable])
            epoch.forward_sum = _running_sum(epoch.forward_sum, forward[usable])
            epoch.windows += count

    def propose(self, current: SensorOrientation | None) -> SensorOrientation | None:
        """A better orientation than ``current`` if the evidence calls for one, else None."""
        epoch = self._epoch
        if epoch.windows < self._min_windows:
            return None
        self._epoch = _Evidence()
        if current is not None and current.source is MountSource.DECLARED:
            return None
        if self._need_forward and epoch.consistency < self._min_consistency:
            return None
        try:
            estimate = self._mount(epoch)
        except MountError:
            return None
        if current is None or current.source in (MountSource.LEARNED, MountSource.DEFAULT):
            self._agreed = epoch
            return SensorOrientation(estimate, MountSource.WALKING)
        moved_up = angle_between_deg(
            estimate.sensor_from_body[:, 2], current.mount.sensor_from_body[:, 2]
        )
        if moved_up > self._reorient:  # clipped on anew
            self._agreed = epoch
            return SensorOrientation(estimate, MountSource.WALKING)
        if current.source is MountSource.CALIBRATED_UP:
            try:
                mount = epoch.mount(up_s=current.mount.sensor_from_body[:, 2])
            except MountError:
                return None
            return SensorOrientation(
                mount if self._need_forward else current.mount, MountSource.CALIBRATED
            )
        if current.source is not MountSource.WALKING:
            return None  # calibrated: kept
        moved_forward = angle_between_deg(
            estimate.sensor_from_body[:, 0], current.mount.sensor_from_body[:, 0]
        )
        if self._need_forward and moved_forward > self._reorient:
            self._agreed = epoch
            return SensorOrientation(estimate, MountSource.WALKING)
        self._agreed.add(epoch)
        try:
            refined = self._mount(self._agreed)
        except MountError:
            return None
        change = max(
            angle_between_deg(
                refined.sensor_from_body[:, axis], current.mount.sensor_from_body[:, axis]
            )
            for axis in ((0, 2) if self._need_forward else (2,))
        )
        return SensorOrientation(refined, MountSource.WALKING) if change > REFINE_DEG else None

    def _mount(self, evidence: _Evidence) -> Mount:
        if self._need_forward:
            return evidence.mount()
        up = evidence.up_sum / float(np.linalg.norm(evidence.up_sum))
        return Mount.from_axes(up_s=up, forward_s=default_forward(up))


def _running_sum(total: FloatArray, rows: FloatArray) -> FloatArray:
    """``total`` plus each row in turn (one sequential cumulative sum)."""
    return np.asarray(np.cumsum(np.vstack((total[None, :], rows)), axis=0)[-1], dtype=np.float64)
