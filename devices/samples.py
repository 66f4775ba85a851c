"""The sample block every source yields, and the names of sensor kinds and placements."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Placement(StrEnum):
    """Where on the body a sensor is worn."""

    TRUNK = "trunk"
    WAIST = "waist"
    THIGH = "thigh"


class SensorKind(StrEnum):
    """What produces the samples: a simulated wearer, a recording, or a real sensor model."""

    SIMULATED = "simulated"
    REPLAY = "replay"


class SampleBlockError(ValueError):
    """A sample block whose arrays do not fit together."""


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples of one sensor.

    ``t_s`` holds each sample's time in seconds since the Unix epoch (sample time, from the
    sensor's own clock where it has one), strictly increasing; ``acc_g`` is acceleration in g
    in the sensor's frame, shape (n, 3); ``gyro_dps`` is angular rate in degrees per second,
    shape (n, 3), or None for sensors without a gyroscope.
    """

    sensor_id: str
    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None = None

    def __post_init__(self) -> None:
        """Check that the arrays describe the same samples."""
        n = self.t_s.shape[0]
        if self.t_s.ndim != 1:
            raise SampleBlockError(f"t_s must be one-dimensional, got shape {self.t_s.shape}")
        if self.acc_g.shape != (n, 3):
            raise SampleBlockError(f"acc_g must have shape ({n}, 3), got {self.acc_g.shape}")
        if self.gyro_dps is not None and self.gyro_dps.shape != (n, 3):
            raise SampleBlockError(f"gyro_dps must have shape ({n}, 3), got {self.gyro_dps.shape}")

    def __len__(self) -> int:
        """Number of samples in the block."""
        return int(self.t_s.shape[0])

    @property
    def start_s(self) -> float:
        """Time of the first sample."""
        return float(self.t_s[0])

    @property
    def end_s(self) -> float:
        """Time of the last sample."""
        return float(self.t_s[-1])
