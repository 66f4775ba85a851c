"""How a sensor sits on the body: which sensor axes point up and forward when standing upright."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from devices.samples import FloatArray

_AXIS = {"x": 0, "y": 1, "z": 2}
_MOUNT_RE = re.compile(r"^\s*([+-]?)([xyz])\s*,\s*([+-]?)([xyz])\s*$", re.IGNORECASE)


class MountError(ValueError):
    """A mount description that does not name two perpendicular sensor axes."""


@dataclass(frozen=True, slots=True)
class Mount:
    """Rotation between the sensor frame and the body frame.

    Body frame, right-handed: x forward (anterior), y left, z up (cranial), for a wearer
    standing upright. ``sensor_from_body`` has the body axes, written in sensor coordinates,
    as its columns; ``to_body`` turns sensor-frame vectors (rows) into body-frame vectors.
    """

    sensor_from_body: FloatArray

    @classmethod
    def parse(cls, text: str) -> Mount:
        """Read ``UP,FWD`` such as ``-y,+z``: the sensor axes pointing up and forward."""
        match = _MOUNT_RE.match(text)
        if match is None:
            raise MountError(f"mount {text!r} is not two signed axes 'UP,FWD' such as '-y,+z'")
        up_sign, up_axis, fwd_sign, fwd_axis = match.groups()
        if up_axis.lower() == fwd_axis.lower():
            raise MountError(f"mount {text!r} names the same axis for up and forward")
        up = np.zeros(3)
        up[_AXIS[up_axis.lower()]] = -1.0 if up_sign == "-" else 1.0
        fwd = np.zeros(3)
        fwd[_AXIS[fwd_axis.lower()]] = -1.0 if fwd_sign == "-" else 1.0
        return cls.from_axes(up_s=up, forward_s=fwd)

    @classmethod
    def from_axes(cls, up_s: FloatArray, forward_s: FloatArray) -> Mount:
        """Build from the body's up and (roughly) forward directions in sensor coordinates.

        ``forward_s`` is made perpendicular to ``up_s`` first, so a forward direction that is
        only approximately horizontal (as learned from data) is fine.
        """
        up = np.asarray(up_s, dtype=np.float64)
        up_norm = float(np.linalg.norm(up))
        if up_norm == 0.0:
            raise MountError("the up direction has zero length")
        up = up / up_norm
        fwd = np.asarray(forward_s, dtype=np.float64)
        fwd = fwd - np.dot(fwd, up) * up
        fwd_norm = float(np.linalg.norm(fwd))
        if fwd_norm < 1e-6:
            raise MountError("the forward direction is parallel to the up direction")
        fwd = fwd / fwd_norm
        left = np.cross(up, fwd)
        return cls(sensor_from_body=np.column_stack((fwd, left, up)))

    @classmethod
    def identity(cls) -> Mount:
        """Sensor axes equal to body axes (x forward, y left, z up)."""
        return cls(sensor_from_body=np.eye(3))

    def to_body(self, vectors_s: FloatArray) -> FloatArray:
        """Rotate sensor-frame vectors, shape (n, 3), into the body frame."""
        return np.asarray(vectors_s @ self.sensor_from_body, dtype=np.float64)

    def to_sensor(self, vectors_b: FloatArray) -> FloatArray:
        """Rotate body-frame vectors, shape (n, 3), into the sensor frame."""
        return np.asarray(vectors_b @ self.sensor_from_body.T, dtype=np.float64)
