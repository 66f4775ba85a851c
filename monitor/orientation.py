"""Trunk angles from gravity, upright calibration, and which sensor mount is in use."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from devices.mount import Mount
from devices.samples import FloatArray

#: The sensor's own axes, tried in this order when a default forward direction is needed.
_SENSOR_AXES = np.eye(3)


class OrientationError(ValueError):
    """Samples that do not allow an orientation to be found (no gravity, too few samples)."""


class MountSource(StrEnum):
    """Where the mount in use came from."""

    DECLARED = "declared"  # configured or given on the command line (--mount)
    CALIBRATED = "calibrated"  # the wearer stood upright and still on request
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
        """Whether the body's forward direction was declared or calibrated with a hint."""
        return self.source in (MountSource.DECLARED, MountSource.CALIBRATED)


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
