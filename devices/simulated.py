"""A simulated wearer: body-segment motion for a scenario, as one IMU on trunk, waist or thigh.

The body model, in short. Each segment (trunk, pelvis, thigh) has an orientation: a posture per
step, smooth transitions between steps through realistic key poses (leaning forward to sit
down, sitting on the bed edge before lying down), and small rotations on top: postural sway
and breathing, occasional fidgets, and the oscillations of gait. The sensor sits on the
segment at a lever arm from the hip, and the hip moves up and down (sitting down lowers it,
gait bounces it). Acceleration is the second derivative of the sensor's position, angular
rate comes from the orientation's derivative, and the accelerometer reads specific force
(acceleration plus 1 g up) in the sensor frame. Both are evaluated as continuous functions
of scenario time, so any block of samples can be produced on its own, vectorised.

Lifts and falls (scenario keys ``lift``, ``twist_deg`` and ``fall``, see
:mod:`devices.scenario`). A lift is a bend-and-return movement in the middle of a standing
step: ``_LIFT_DOWN_S`` down, ``_LIFT_HOLD_S`` at the bottom, ``_LIFT_UP_S`` up (shortened to
fit a short step). A squat bends the knees (thighs past horizontal, hips 0.42 m lower) with
the trunk at 35° and the pelvis at 15°; a stoop keeps the legs nearly straight (thighs 8°,
hips 4 cm lower) and bends the trunk to 85°, the pelvis to 50° (SisFall D16 waists reach
45-65°). A twist turns the trunk about its long axis at the bottom, the pelvis by a third
of it. A fall replaces the transition into a lying step: ``_FALL_S`` (``_FALL_FROM_SEAT_S``
from sitting) of accelerating rotation and drop to the floor (hips ``_HIP_HEIGHT_FLOOR_M``),
stopped within ``_IMPACT_S``, which makes the impact (about 4 g at the waist); the wearer
then lies still. :func:`motion_truth` gives when each lift and fall happens.

Numbers are chosen to match real recordings (SisFall, waist sensor at 200 Hz):
- Seated pauses in D07-D10 tilt the pelvis back by a median of 20 degrees relative to
  standing (per subject and activity: 4 to 54 degrees; low chairs more than half-height
  ones), so sitting puts the pelvis at -20 degrees.
- Walking (D01) shows a step frequency of 1.6-1.8 Hz and, per 2 s window, acceleration SDs
  of about 0.2 g vertical, 0.17 g antero-posterior and 0.15 g lateral (0.30-0.34 g as the
  norm of the three); slow jogging (D03) 2.5-2.9 Hz and 0.8-0.9 g vertical, 0.45 g
  antero-posterior, 0.35-0.45 g lateral (about 1.0 g norm). Gyro SDs: 15-30 deg/s walking,
  35-75 deg/s jogging. The gait harmonics below reproduce these numbers.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.mount import Mount
from devices.pacing import Pacer
from devices.queue import BlockQueue
from devices.recording import Recording
from devices.samples import FloatArray, Placement, SampleBlock
from devices.scenario import (
    Activity,
    FallDirection,
    LiftTechnique,
    LyingPosition,
    Scenario,
    ScenarioStep,
)
from devices.source import pace_blocks

STANDARD_GRAVITY_M_S2 = 9.80665
ACC_NOISE_G = 0.01
GYRO_NOISE_DPS = 0.5
GYRO_BIAS_MAX_DPS = 1.0
SITTING_PELVIS_TILT_DEG = -20.0
PELVIS_SHARE_OF_TRUNK_FLEXION = 0.4
PELVIS_SHARE_OF_LATERAL_BEND = 0.3
WALKING_STEPS_PER_S = 1.8
RUNNING_STEPS_PER_S = 2.7
CADENCE_VARIATION = 0.04  # cadence of a gait bout: nominal times 1 +- this
INTENSITY_VARIATION = 0.08  # gait amplitudes of a bout: times 1 +- this
INTENSITY_MODULATION = 0.05  # slow stride-to-stride swell of the amplitudes within a bout
_MODULATION_HZ = (0.03, 0.08)

_DIFF_H_S = 1e-3  # step for the numerical derivatives of orientation and position
_NOISE_CHUNK = 4096  # samples per independently seeded noise chunk
_RECORDING_SPAN = 1 << 14  # samples rendered at once by recording()
_DEG = math.pi / 180.0

# Lever arm from the hip joint to the sensor, in the segment frame (x forward, z up), m.
_LEVER_M = {
    Placement.TRUNK: np.array([0.10, 0.0, 0.40]),
    Placement.WAIST: np.array([0.08, 0.0, 0.10]),
    Placement.THIGH: np.array([0.06, 0.0, -0.22]),
}

_HIP_HEIGHT_SITTING_M = -0.45
_HIP_HEIGHT_LYING_M = -0.45
_HIP_HEIGHT_BED_EDGE_M = -0.50
_HIP_HEIGHT_FLOOR_M = -0.85  # lying on the floor after a fall

# Lifts: bottom pose (trunk, pelvis, thigh pitch in degrees; hip height in m) per technique.
_LIFT_POSES: dict[LiftTechnique, tuple[float, float, float, float]] = {
    LiftTechnique.SQUAT: (35.0, 15.0, -100.0, -0.42),
    LiftTechnique.STOOP: (85.0, 50.0, -8.0, -0.04),
}
_LIFT_DOWN_S = 1.3
_LIFT_HOLD_S = 1.0
_LIFT_UP_S = 1.3
_LIFT_PELVIS_TWIST_SHARE = 1.0 / 3.0
_LIFT_MARGIN_S = 1.0  # kept still before and after a lift within its step

# Falls: duration of the fall, from upright and from a seat, and of the impact at its end.
_FALL_S = 1.0
_FALL_FROM_SEAT_S = 0.8
_IMPACT_S = 0.05


class _Posture:
    """Posture classes that decide how a transition moves."""

    UPRIGHT = "upright"
    SITTING = "sitting"
    LYING = "lying"


def _posture_class(activity: Activity) -> str:
    if activity is Activity.SITTING:
        return _Posture.SITTING
    if activity is Activity.LYING:
        return _Posture.LYING
    return _Posture.UPRIGHT


# Postural sway (SD, degrees) while still; gait replaces it while walking or running.
_SWAY_DEG = {
    Activity.STANDING: {Placement.TRUNK: 0.6, Placement.WAIST: 0.4, Placement.THIGH: 0.3},
    Activity.SITTING: {Placement.TRUNK: 0.5, Placement.WAIST: 0.2, Placement.THIGH: 0.3},
    Activity.LYING: {Placement.TRUNK: 0.15, Placement.WAIST: 0.1, Placement.THIGH: 0.15},
    Activity.WALKING: {Placement.TRUNK: 0.2, Placement.WAIST: 0.2, Placement.THIGH: 0.2},
    Activity.RUNNING: {Placement.TRUNK: 0.2, Placement.WAIST: 0.2, Placement.THIGH: 0.2},
}
_BREATHING_DEG = 0.3  # trunk pitch amplitude at rest
_BREATHING_HZ = 0.25
_SWAY_COMPONENTS = 5
_SWAY_BAND_HZ = (0.05, 0.7)

# Fidgets: mean rate per minute, and SD (degrees) of the (roll, pitch, yaw) excursion.
_FIDGET_PER_MIN = {Activity.STANDING: 1.5, Activity.SITTING: 0.8, Activity.LYING: 0.3}
_FIDGET_DEG = {
    Activity.STANDING: {
        Placement.TRUNK: (2.0, 3.0, 4.0),
        Placement.WAIST: (2.0, 1.5, 3.0),
        Placement.THIGH: (2.0, 3.0, 5.0),
    },
    Activity.SITTING: {
        Placement.TRUNK: (2.0, 5.0, 4.0),
        Placement.WAIST: (1.0, 3.0, 2.0),
        Placement.THIGH: (2.0, 4.0, 6.0),
    },
    Activity.LYING: {
        Placement.TRUNK: (3.0, 2.0, 3.0),
        Placement.WAIST: (2.0, 1.0, 2.0),
        Placement.THIGH: (3.0, 3.0, 4.0),
    },
}
_FIDGET_DURATION_S = (1.0, 2.5)

# Gait: hip acceleration harmonics (multiple of the step phase, amplitude in g, phase rad)
# along the walking direction (x), to the left (y) and up (z).
_Harmonic = tuple[float, float, float]
_HIP_GAIT: dict[Activity, tuple[tuple[_Harmonic, ...], ...]] = {
    Activity.WALKING: (
        ((1.0, 0.26, 0.6), (2.0, 0.08, 1.0)),
        ((0.5, 0.13, 0.0), (1.5, 0.08, 0.5)),
        ((1.0, 0.30, 0.0), (2.0, 0.10, 0.0)),
    ),
    Activity.RUNNING: (
        ((1.0, 0.62, 0.6), (2.0, 0.32, 1.0)),
        ((0.5, 0.30, 0.0), (1.5, 0.22, 0.5)),
        ((1.0, 1.18, 0.0), (2.0, 0.45, 0.0), (3.0, 0.20, 0.0)),
    ),
}
# Heel-strike impacts are damped on their way up the body: the thigh gets more than the hip.
_THIGH_EXTRA_VERTICAL: dict[Activity, tuple[_Harmonic, ...]] = {
    Activity.WALKING: ((2.0, 0.10, 0.0),),
    Activity.RUNNING: ((2.0, 0.60, 0.0), (3.0, 0.40, 0.0)),
}
# Segment rotation during gait: per axis (roll, pitch, yaw) harmonics (multiple, degrees,
# phase) plus a constant offset in degrees; thigh pitch negative = hip flexion.
_SEGMENT_GAIT: dict[Activity, dict[Placement, tuple[tuple[_Harmonic, ...], ...]]] = {
    Activity.WALKING: {
        Placement.TRUNK: (((0.5, 2.5, 0.0),), ((1.0, 2.0, 0.3),), ((0.5, 4.0, 0.2),)),
        Placement.WAIST: (((0.5, 4.0, 0.3),), ((1.0, 2.5, 0.5),), ((0.5, 6.0, 0.0),)),
        Placement.THIGH: (((0.5, 3.0, 0.4),), ((0.5, 25.0, 0.0),), ((0.5, 5.0, 0.2),)),
    },
    Activity.RUNNING: {
        Placement.TRUNK: (((0.5, 4.5, 0.0),), ((1.0, 3.6, 0.3),), ((0.5, 7.0, 0.2),)),
        Placement.WAIST: (((0.5, 7.0, 0.3),), ((1.0, 4.5, 0.5),), ((0.5, 10.0, 0.0),)),
        Placement.THIGH: (((0.5, 5.0, 0.4),), ((0.5, 40.0, 0.0),), ((0.5, 8.0, 0.2),)),
    },
}
_THIGH_GAIT_PITCH_OFFSET_DEG = {Activity.WALKING: -5.0, Activity.RUNNING: -15.0}

# Nominal transition durations (s) by (from, to) posture class.
_TRANSITION_S = {
    (_Posture.UPRIGHT, _Posture.UPRIGHT): 1.5,
    (_Posture.SITTING, _Posture.SITTING): 1.5,
    (_Posture.UPRIGHT, _Posture.SITTING): 2.5,
    (_Posture.SITTING, _Posture.UPRIGHT): 2.5,
    (_Posture.UPRIGHT, _Posture.LYING): 3.0,
    (_Posture.LYING, _Posture.UPRIGHT): 3.0,
    (_Posture.SITTING, _Posture.LYING): 2.5,
    (_Posture.LYING, _Posture.SITTING): 2.5,
    (_Posture.LYING, _Posture.LYING): 2.0,
}
_GAIT_RAMP_S = 1.0


class SimulatedSensorError(ValueError):
    """Settings a simulated sensor cannot work with."""


# --------------------------------------------------------------------------- rotations


def _rot_x(deg: float) -> FloatArray:
    """Rotation about the forward axis (positive: the head goes to the wearer's right)."""
    c, s = math.cos(deg * _DEG), math.sin(deg * _DEG)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(deg: float) -> FloatArray:
    """Rotation about the left axis (positive: forward flexion, the forward axis tips down)."""
    c, s = math.cos(deg * _DEG), math.sin(deg * _DEG)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(deg: float) -> FloatArray:
    """Rotation about the up axis (positive: the front turns to the wearer's left)."""
    c, s = math.cos(deg * _DEG), math.sin(deg * _DEG)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _exp_so3(rotvec: FloatArray) -> FloatArray:
    """Rotation matrices (n, 3, 3) from rotation vectors (n, 3) in radians (Rodrigues)."""
    theta_sq = np.einsum("ij,ij->i", rotvec, rotvec)
    theta = np.sqrt(theta_sq)
    small = theta < 1e-4
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta_sq / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta_sq / 24.0, (1.0 - np.cos(safe)) / (safe * safe))
    x, y, z = rotvec[:, 0], rotvec[:, 1], rotvec[:, 2]
    out = np.empty((rotvec.shape[0], 3, 3))
    out[:, 0, 0] = 1.0 - b * (y * y + z * z)
    out[:, 1, 1] = 1.0 - b * (x * x + z * z)
    out[:, 2, 2] = 1.0 - b * (x * x + y * y)
    out[:, 0, 1] = -a * z + b * x * y
    out[:, 1, 0] = a * z + b * x * y
    out[:, 0, 2] = a * y + b * x * z
    out[:, 2, 0] = -a * y + b * x * z
    out[:, 1, 2] = -a * x + b * y * z
    out[:, 2, 1] = a * x + b * y * z
    return out


def _log_so3(rotation: FloatArray) -> FloatArray:
    """Rotation vector (3,) of one rotation matrix whose angle is below 180 degrees."""
    cos_angle = float(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))
    angle = math.acos(cos_angle)
    if angle < 1e-12:
        return np.zeros(3)
    if angle > math.pi - 1e-3:
        raise AssertionError("transition key poses must differ by less than 180 degrees")
    axis = np.array(
        [
            rotation[2, 1] - rotation[1, 2],
            rotation[0, 2] - rotation[2, 0],
            rotation[1, 0] - rotation[0, 1],
        ]
    )
    return np.asarray(axis * (angle / (2.0 * math.sin(angle))), dtype=np.float64)


def _min_jerk(tau: FloatArray) -> FloatArray:
    """Smooth 0-to-1 profile with zero velocity and acceleration at both ends."""
    tau = np.clip(tau, 0.0, 1.0)
    return np.asarray(tau**3 * (10.0 + tau * (-15.0 + 6.0 * tau)), dtype=np.float64)


def _fall_profile(tau: FloatArray, impact_fraction: float) -> FloatArray:
    """0 to 1 accelerating from rest like a fall, stopped at constant deceleration.

    Up to ``1 - impact_fraction`` the progress grows with the square of time (falling);
    over the last ``impact_fraction`` the speed drops linearly to zero (the impact).
    """
    tau = np.clip(tau, 0.0, 1.0)
    d = min(max(impact_fraction, 1e-3), 0.5)
    t1 = 1.0 - d
    a = 1.0 / (t1 * (t1 + d))
    v1 = 2.0 * a * t1
    after = tau - t1
    falling = a * tau * tau
    stopping = a * t1 * t1 + v1 * after - v1 / (2.0 * d) * after * after
    return np.asarray(np.where(tau <= t1, falling, stopping), dtype=np.float64)


# --------------------------------------------------------------------------- poses


def _lying_rotation(position: LyingPosition) -> FloatArray:
    if position is LyingPosition.SUPINE:
        return _rot_y(-90.0)
    if position is LyingPosition.PRONE:
        return _rot_y(90.0)
    if position is LyingPosition.LEFT:
        return _rot_x(-90.0)
    return _rot_x(90.0)


@dataclass(frozen=True, slots=True)
class _Pose:
    """Orientation of every segment and the hip height; what a key frame holds."""

    trunk: FloatArray
    waist: FloatArray
    thigh: FloatArray
    hip_height_m: float

    def of(self, placement: Placement) -> FloatArray:
        """The segment orientation for a placement."""
        if placement is Placement.TRUNK:
            return self.trunk
        if placement is Placement.WAIST:
            return self.waist
        return self.thigh


def _step_pose(step: ScenarioStep) -> _Pose:
    flexion, bend = step.trunk_flexion_deg, step.lateral_bend_deg
    trunk = _rot_y(flexion) @ _rot_x(bend)
    pelvis_bend = _rot_x(PELVIS_SHARE_OF_LATERAL_BEND * bend)
    if step.activity is Activity.LYING:
        lying = _lying_rotation(step.lying_position)
        height = _HIP_HEIGHT_FLOOR_M if step.fall is not None else _HIP_HEIGHT_LYING_M
        return _Pose(lying, lying, lying, height)
    if step.activity is Activity.SITTING:
        pelvis = _rot_y(SITTING_PELVIS_TILT_DEG + PELVIS_SHARE_OF_TRUNK_FLEXION * flexion)
        return _Pose(trunk, pelvis @ pelvis_bend, _rot_y(-90.0), _HIP_HEIGHT_SITTING_M)
    pelvis = _rot_y(PELVIS_SHARE_OF_TRUNK_FLEXION * flexion)
    return _Pose(trunk, pelvis @ pelvis_bend, np.eye(3), 0.0)


def _key_pose(trunk_deg: float, waist_deg: float, thigh_deg: float, height_m: float) -> _Pose:
    return _Pose(_rot_y(trunk_deg), _rot_y(waist_deg), _rot_y(thigh_deg), height_m)


_BED_EDGE = _key_pose(10.0, -10.0, -90.0, _HIP_HEIGHT_BED_EDGE_M)
_RISING_FROM_BED = _key_pose(25.0, 0.0, -90.0, _HIP_HEIGHT_BED_EDGE_M)


def _lying_pose(position: LyingPosition) -> _Pose:
    lying = _lying_rotation(position)
    return _Pose(lying, lying, lying, _HIP_HEIGHT_LYING_M)


def _lift_pose(step: ScenarioStep) -> _Pose:
    """The bottom of a step's lift."""
    assert step.lift is not None
    trunk_deg, pelvis_deg, thigh_deg, height = _LIFT_POSES[step.lift]
    twist = step.twist_deg
    return _Pose(
        _rot_y(trunk_deg) @ _rot_z(twist),
        _rot_y(pelvis_deg) @ _rot_z(_LIFT_PELVIS_TWIST_SHARE * twist),
        _rot_y(thigh_deg),
        height,
    )


def _lift_times(free_start: float, free_end: float) -> tuple[float, float, float, float] | None:
    """Start, bottom reached, bottom left, end of a lift centred in a still interval."""
    room = free_end - free_start - 2.0 * _LIFT_MARGIN_S
    nominal = _LIFT_DOWN_S + _LIFT_HOLD_S + _LIFT_UP_S
    if room <= 0.5:
        return None
    scale = min(1.0, room / nominal)
    start = (free_start + free_end - nominal * scale) / 2.0
    down = start + _LIFT_DOWN_S * scale
    up = down + _LIFT_HOLD_S * scale
    return start, down, up, up + _LIFT_UP_S * scale


def _transition_keys(prev: ScenarioStep, nxt: ScenarioStep) -> list[tuple[float, _Pose]]:
    """Intermediate key poses (fraction of the transition, pose) between two steps."""
    a, b = _posture_class(prev.activity), _posture_class(nxt.activity)
    keys: list[tuple[float, _Pose]] = []
    if nxt.fall is not None:
        return keys  # straight down to the floor
    if (a, b) == (_Posture.UPRIGHT, _Posture.SITTING):
        # lean forward as the hips go back and down, then settle into the seat
        keys.append((0.45, _key_pose(prev.trunk_flexion_deg + 30.0, 15.0, -35.0, -0.10)))
    elif (a, b) == (_Posture.SITTING, _Posture.UPRIGHT):
        # lean forward over the feet, lift off the seat, straighten up
        keys.append((0.4, _key_pose(40.0, 20.0, -80.0, -0.42)))
    elif (a, b) == (_Posture.UPRIGHT, _Posture.LYING):
        keys.append((0.35, _BED_EDGE))
        if nxt.lying_position is LyingPosition.PRONE:
            keys.append((0.7, _lying_pose(LyingPosition.LEFT)))
    elif (a, b) == (_Posture.SITTING, _Posture.LYING):
        if nxt.lying_position is LyingPosition.PRONE:
            keys.append((0.5, _lying_pose(LyingPosition.LEFT)))
    elif (a, b) == (_Posture.LYING, _Posture.SITTING):
        if prev.lying_position is LyingPosition.PRONE:
            keys.append((0.5, _lying_pose(LyingPosition.LEFT)))
    elif (a, b) == (_Posture.LYING, _Posture.UPRIGHT):
        if prev.lying_position is LyingPosition.PRONE:
            keys.append((0.25, _lying_pose(LyingPosition.LEFT)))
        keys.append((0.55, _RISING_FROM_BED))
        keys.append((0.8, _key_pose(35.0, 20.0, -60.0, -0.30)))
    elif (a, b) == (_Posture.LYING, _Posture.LYING):
        opposite = {
            frozenset((LyingPosition.SUPINE, LyingPosition.PRONE)): LyingPosition.LEFT,
            frozenset((LyingPosition.LEFT, LyingPosition.RIGHT)): LyingPosition.SUPINE,
        }.get(frozenset((prev.lying_position, nxt.lying_position)))
        if opposite is not None:
            keys.append((0.5, _lying_pose(opposite)))
    return keys


# --------------------------------------------------------------------------- the track


@dataclass(frozen=True, slots=True)
class _Track:
    """Key frames of one segment: orientation, hip height and sway amplitude over time."""

    t_s: FloatArray  # (k,)
    rotation: FloatArray  # (k, 3, 3)
    rotvec_to_next: FloatArray  # (k, 3): from key i to key i+1, in key i's frame
    hip_height_m: FloatArray  # (k,)
    sway_rad: FloatArray  # (k,)
    impact_fraction: FloatArray  # (k,): > 0 where the move to the next key is a fall

    def evaluate(self, t_rel_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Base orientation (n, 3, 3), hip height (n,) and sway amplitude (n,) at each time."""
        last = self.t_s.shape[0] - 1
        index = np.clip(np.searchsorted(self.t_s, t_rel_s, side="right") - 1, 0, last - 1)
        t0, t1 = self.t_s[index], self.t_s[index + 1]
        tau = (t_rel_s - t0) / (t1 - t0)
        s = _min_jerk(tau)
        impact = self.impact_fraction[index]
        falls = impact > 0.0
        if bool(np.any(falls)):
            for fraction in np.unique(impact[falls]).tolist():
                chosen = impact == fraction
                s[chosen] = _fall_profile(tau[chosen], fraction)
        rotation = self.rotation[index] @ _exp_so3(self.rotvec_to_next[index] * s[:, None])
        height = self.hip_height_m[index] + s * (
            self.hip_height_m[index + 1] - self.hip_height_m[index]
        )
        sway = self.sway_rad[index] + s * (self.sway_rad[index + 1] - self.sway_rad[index])
        return rotation, height, sway


def _transition_durations(scenario: Scenario) -> list[float]:
    """Duration of the transition at each step boundary, at most half of either step."""
    steps = scenario.steps
    durations = []
    for prev, nxt in itertools.pairwise(steps):
        nominal = _TRANSITION_S[(_posture_class(prev.activity), _posture_class(nxt.activity))]
        if nxt.fall is not None:
            seated = prev.activity is Activity.SITTING
            nominal = _FALL_FROM_SEAT_S if seated else _FALL_S
        durations.append(min(nominal, prev.duration_s / 2.0, nxt.duration_s / 2.0))
    return durations


def _free_interval(scenario: Scenario, k: int, transitions: list[float]) -> tuple[float, float]:
    """The part of step ``k`` outside the transitions into and out of it."""
    start, end = scenario.step_bounds_s()[k]
    if k > 0:
        start += transitions[k - 1] / 2.0
    if k < len(scenario.steps) - 1:
        end -= transitions[k] / 2.0
    return start, end


def _build_track(scenario: Scenario, placement: Placement) -> _Track:
    steps = scenario.steps
    bounds = scenario.step_bounds_s()
    transitions = _transition_durations(scenario)
    times: list[float] = [0.0]
    poses: list[_Pose] = [_step_pose(steps[0])]
    sways: list[float] = [_SWAY_DEG[steps[0].activity][placement]]
    impacts: list[float] = [0.0]

    def add_lift(k: int) -> None:
        step = steps[k]
        when = _lift_times(*_free_interval(scenario, k, transitions))
        if step.lift is None or when is None:
            return
        sway = _SWAY_DEG[step.activity][placement]
        bottom = _lift_pose(step)
        for t, pose in zip(when, (_step_pose(step), bottom, bottom, _step_pose(step)), strict=True):
            times.append(t)
            poses.append(pose)
            sways.append(sway)
            impacts.append(0.0)

    for k, duration in enumerate(transitions):
        add_lift(k)
        boundary = bounds[k][1]
        prev, nxt = steps[k], steps[k + 1]
        prev_sway = _SWAY_DEG[prev.activity][placement]
        next_sway = _SWAY_DEG[nxt.activity][placement]
        start = boundary - duration / 2.0
        times.append(start)
        poses.append(_step_pose(prev))
        sways.append(prev_sway)
        impacts.append(_IMPACT_S / duration if nxt.fall is not None else 0.0)
        for fraction, pose in _transition_keys(prev, nxt):
            times.append(start + fraction * duration)
            poses.append(pose)
            sways.append(min(prev_sway, next_sway))
            impacts.append(0.0)
        times.append(boundary + duration / 2.0)
        poses.append(_step_pose(nxt))
        sways.append(next_sway)
        impacts.append(0.0)
    add_lift(len(steps) - 1)
    times.append(scenario.duration_s)
    poses.append(_step_pose(steps[-1]))
    sways.append(_SWAY_DEG[steps[-1].activity][placement])
    impacts.append(0.0)
    rotations = np.stack([pose.of(placement) for pose in poses])
    rotvecs = np.zeros((len(poses), 3))
    for i in range(len(poses) - 1):
        rotvecs[i] = _log_so3(rotations[i].T @ rotations[i + 1])
    return _Track(
        t_s=np.array(times),
        rotation=rotations,
        rotvec_to_next=rotvecs,
        hip_height_m=np.array([pose.hip_height_m for pose in poses]),
        sway_rad=np.array(sways) * _DEG,
        impact_fraction=np.array(impacts),
    )


@dataclass(frozen=True, slots=True)
class _GaitBout:
    """One walking or running step: its oscillators and the window where it fades in and out."""

    activity: Activity
    steps_per_s: float
    phase_rad: float
    intensity: float
    modulation_hz: float
    modulation_phase_rad: float
    ramp_in: tuple[float, float] | None
    ramp_out: tuple[float, float] | None
    active: tuple[float, float]

    def envelope(self, t_rel_s: FloatArray) -> FloatArray:
        """0 outside the bout, 1 inside, with smooth ramps at the ends."""
        value = np.ones_like(t_rel_s)
        if self.ramp_in is not None:
            a, b = self.ramp_in
            value *= _min_jerk((t_rel_s - a) / (b - a))
        if self.ramp_out is not None:
            a, b = self.ramp_out
            value *= 1.0 - _min_jerk((t_rel_s - a) / (b - a))
        return value


def _build_gait(scenario: Scenario, rng: np.random.Generator) -> list[_GaitBout]:
    steps = scenario.steps
    bounds = scenario.step_bounds_s()
    transitions = _transition_durations(scenario)
    bouts = []
    for k, step in enumerate(steps):
        variation, intensity = rng.uniform(-1.0, 1.0, 2)
        phase, modulation_phase = rng.uniform(0.0, 2.0 * math.pi, 2)
        modulation_hz = rng.uniform(*_MODULATION_HZ)
        if step.activity not in (Activity.WALKING, Activity.RUNNING):
            continue
        nominal = WALKING_STEPS_PER_S if step.activity is Activity.WALKING else RUNNING_STEPS_PER_S
        start, end = bounds[k]
        quarter = step.duration_s / 4.0
        ramp_in = ramp_out = None
        if k > 0:
            half = transitions[k - 1] / 2.0
            if _posture_class(steps[k - 1].activity) == _Posture.UPRIGHT:
                ramp_in = (start - half, start + half)
            else:  # get up first, then start walking
                ramp_in = (start + half - 0.2, start + half + min(_GAIT_RAMP_S, quarter))
        if k < len(steps) - 1:
            half = transitions[k] / 2.0
            if _posture_class(steps[k + 1].activity) == _Posture.UPRIGHT:
                ramp_out = (end - half, end + half)
            else:  # stop walking, then sit or lie down
                ramp_out = (end - half - min(_GAIT_RAMP_S, quarter), end - half + 0.2)
        active = (
            ramp_in[0] if ramp_in is not None else -math.inf,
            ramp_out[1] if ramp_out is not None else math.inf,
        )
        bouts.append(
            _GaitBout(
                activity=step.activity,
                steps_per_s=nominal * (1.0 + CADENCE_VARIATION * variation),
                phase_rad=phase,
                intensity=1.0 + INTENSITY_VARIATION * intensity,
                modulation_hz=modulation_hz,
                modulation_phase_rad=modulation_phase,
                ramp_in=ramp_in,
                ramp_out=ramp_out,
                active=active,
            )
        )
    return bouts


@dataclass(frozen=True, slots=True)
class _Fidgets:
    """Occasional small movements while still: start, duration and rotation per placement."""

    start_s: FloatArray  # (m,), sorted
    duration_s: FloatArray  # (m,)
    rotvec_rad: FloatArray  # (m, 3)


def _build_fidgets(scenario: Scenario, placement: Placement, rng: np.random.Generator) -> _Fidgets:
    """Draw fidgets for all placements alike (one wearer), keep this placement's rotations."""
    starts: list[FloatArray] = []
    durations: list[FloatArray] = []
    rotvecs: list[FloatArray] = []
    for step, (start, end) in zip(scenario.steps, scenario.step_bounds_s(), strict=True):
        rate = _FIDGET_PER_MIN.get(step.activity, 0.0)
        # margins keep fidgets out of transitions (at most 1.5 s from each boundary)
        lo, hi = start + 2.0, end - 2.0 - _FIDGET_DURATION_S[1]
        count = int(rng.poisson(rate * max(hi - lo, 0.0) / 60.0)) if hi > lo else 0
        t = np.sort(rng.uniform(lo, hi, count)) if count else np.empty(0)
        d = rng.uniform(*_FIDGET_DURATION_S, count)
        normal = rng.standard_normal((count, len(Placement), 3))
        if count:
            sd = np.array([_FIDGET_DEG[step.activity][p] for p in Placement]) * _DEG
            rotvecs.append((normal * sd)[:, list(Placement).index(placement), :])
            starts.append(t)
            durations.append(d)
    if not starts:
        return _Fidgets(np.empty(0), np.empty(0), np.empty((0, 3)))
    return _Fidgets(np.concatenate(starts), np.concatenate(durations), np.concatenate(rotvecs))


def _harmonics(phase: FloatArray, terms: tuple[_Harmonic, ...]) -> FloatArray:
    total = np.zeros_like(phase)
    for multiple, amplitude, offset in terms:
        total += amplitude * np.cos(multiple * phase + offset)
    return total


def _displacement(phase: FloatArray, omega: float, terms: tuple[_Harmonic, ...]) -> FloatArray:
    """Displacement (m) whose second derivative is the sum of harmonic accelerations (g)."""
    total = np.zeros_like(phase)
    for multiple, amplitude_g, offset in terms:
        scale = amplitude_g * STANDARD_GRAVITY_M_S2 / (multiple * omega) ** 2
        total -= scale * np.cos(multiple * phase + offset)
    return total


# --------------------------------------------------------------------------- the sensor


class SimulatedSensor:
    """One IMU on a simulated wearer who lives through a scenario.

    Samples are at ``t_s = start_s + i / rate_hz`` for i in 0 .. n-1, n = round(duration *
    rate). Everything random is drawn from ``seed``: the body's motion (sway, fidgets,
    cadence) from the seed alone, so sensors of one wearer with the same seed move together;
    the sensor's noise and gyro bias from the seed and the sensor id. Noise comes in chunks
    of 4096 samples, each from its own generator seeded by (seed, sensor, chunk index), so
    ``blocks()`` is lazy and gives the same samples whatever ``block_s`` is.
    """

    def __init__(
        self,
        scenario: Scenario,
        placement: Placement,
        sensor_id: str,
        *,
        rate_hz: float = 50.0,
        mount: Mount | None = None,
        seed: int = 0,
        start_s: float = 0.0,
        block_s: float = 0.5,
        has_gyro: bool = True,
    ) -> None:
        """Set up the wearer's motion; nothing is rendered until blocks are asked for."""
        if not (math.isfinite(rate_hz) and rate_hz > 0.0):
            raise SimulatedSensorError(f"rate_hz must be a positive number, got {rate_hz}")
        if not (math.isfinite(block_s) and block_s > 0.0):
            raise SimulatedSensorError(f"block_s must be a positive number, got {block_s}")
        self.scenario = scenario
        self.placement = Placement(placement)
        self.sensor_id = sensor_id
        self.rate_hz = float(rate_hz)
        self.mount = mount if mount is not None else Mount.identity()
        self.seed = int(seed)
        self.start_s = float(start_s)
        self.block_s = float(block_s)
        self.has_gyro = has_gyro
        self.n_samples = max(2, round(scenario.duration_s * self.rate_hz))
        self.samples_per_block = max(1, round(self.block_s * self.rate_hz))
        body_rng = np.random.default_rng([self.seed, 0])
        self._track = _build_track(scenario, self.placement)
        self._gait = _build_gait(scenario, body_rng)
        self._fidgets = _build_fidgets(scenario, self.placement, body_rng)
        low_hz, high_hz = _SWAY_BAND_HZ
        log_hz = body_rng.uniform(math.log(low_hz), math.log(high_hz), (3, _SWAY_COMPONENTS))
        self._sway_hz = np.exp(log_hz)
        self._sway_phase = body_rng.uniform(0.0, 2.0 * math.pi, (3, _SWAY_COMPONENTS))
        self._sensor_key = zlib.crc32(sensor_id.encode("utf-8"))
        bias_rng = np.random.default_rng([self.seed, 1, self._sensor_key])
        self._gyro_bias_dps = bias_rng.uniform(-GYRO_BIAS_MAX_DPS, GYRO_BIAS_MAX_DPS, 3)

    @property
    def duration_s(self) -> float:
        """Sample time covered: the scenario's duration."""
        return self.scenario.duration_s

    def blocks(self) -> Iterator[SampleBlock]:
        """Sample blocks of ``block_s`` each (the last may be shorter), rendered lazily."""
        cache: dict[int, FloatArray] = {}
        for first in range(0, self.n_samples, self.samples_per_block):
            last = min(first + self.samples_per_block, self.n_samples)
            t_s, acc_g, gyro_dps = self.render(first, last, cache)
            yield SampleBlock(sensor_id=self.sensor_id, t_s=t_s, acc_g=acc_g, gyro_dps=gyro_dps)

    def recording(self) -> Recording:
        """The whole scenario as one recording (equal to the concatenated blocks)."""
        times, accs, gyros = [], [], []
        cache: dict[int, FloatArray] = {}
        for first in range(0, self.n_samples, _RECORDING_SPAN):
            t_s, acc_g, gyro_dps = self.render(
                first, min(first + _RECORDING_SPAN, self.n_samples), cache
            )
            times.append(t_s)
            accs.append(acc_g)
            if gyro_dps is not None:
                gyros.append(gyro_dps)
        return Recording(
            t_s=np.concatenate(times),
            acc_g=np.concatenate(accs),
            gyro_dps=np.concatenate(gyros) if gyros else None,
        )

    async def run(self, queue: BlockQueue, pacer: Pacer) -> None:
        """Offer the blocks as the pacer reaches their sample time, then close the queue."""
        await pace_blocks(self.blocks(), queue, pacer)

    def render(
        self, first: int, last: int, cache: dict[int, FloatArray] | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """Samples ``first`` to ``last - 1``: times (s), acceleration (g), angular rate (°/s)."""
        index = np.arange(first, last)
        t_rel = index / self.rate_hz
        t_s = self.start_s + t_rel
        force_body, rate_body = self._body_signals(t_rel)
        noise = self._noise(first, last, cache if cache is not None else {})
        acc_g = self.mount.to_sensor(force_body) + ACC_NOISE_G * noise[:, :3]
        gyro_dps: FloatArray | None = None
        if self.has_gyro:
            gyro_dps = (
                self.mount.to_sensor(rate_body / _DEG)
                + self._gyro_bias_dps
                + GYRO_NOISE_DPS * noise[:, 3:]
            )
        return t_s, acc_g, gyro_dps

    def _noise(self, first: int, last: int, cache: dict[int, FloatArray]) -> FloatArray:
        """Standard normal noise (n, 6) for samples first..last-1, chunk by chunk."""
        parts = []
        for chunk in range(first // _NOISE_CHUNK, (last - 1) // _NOISE_CHUNK + 1):
            if chunk not in cache:
                cache.clear()  # blocks move forward: only the current chunk is worth keeping
                rng = np.random.default_rng([self.seed, 2, self._sensor_key, chunk])
                cache[chunk] = rng.standard_normal((_NOISE_CHUNK, 6))
            base = chunk * _NOISE_CHUNK
            lo, hi = max(first, base) - base, min(last, base + _NOISE_CHUNK) - base
            parts.append(cache[chunk][lo:hi])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    # ----------------------------------------------------------------------- body model

    def _body_signals(self, t_rel: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Specific force (n, 3) in g and angular rate (n, 3) in rad/s, in the segment frame."""
        n = t_rel.shape[0]
        h = _DIFF_H_S
        stacked = np.concatenate((t_rel - h, t_rel, t_rel + h))
        rotation, position = self._pose_at(stacked)
        r_minus, r_mid, r_plus = rotation[:n], rotation[n : 2 * n], rotation[2 * n :]
        p_minus, p_mid, p_plus = position[:n], position[n : 2 * n], position[2 * n :]
        accel_world = (p_plus - 2.0 * p_mid + p_minus) / (h * h) / STANDARD_GRAVITY_M_S2
        accel_world[:, 2] += 1.0  # specific force: an accelerometer at rest reads 1 g up
        force_body = np.einsum("nji,nj->ni", r_mid, accel_world)
        derivative = np.einsum("nji,njk->nik", r_mid, (r_plus - r_minus) / (2.0 * h))
        rate_body = 0.5 * np.stack(
            (
                derivative[:, 2, 1] - derivative[:, 1, 2],
                derivative[:, 0, 2] - derivative[:, 2, 0],
                derivative[:, 1, 0] - derivative[:, 0, 1],
            ),
            axis=1,
        )
        return force_body, rate_body

    def _pose_at(self, t_rel: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Segment orientation (n, 3, 3) and sensor position (n, 3) in metres."""
        base, height, sway_rad = self._track.evaluate(t_rel)
        rotvec = self._sway(t_rel, sway_rad)
        hip = np.zeros((t_rel.shape[0], 3))
        hip[:, 2] = height
        lo, hi = float(t_rel.min()), float(t_rel.max())
        for bout in self._gait:
            if bout.active[1] < lo or bout.active[0] > hi:
                continue
            self._add_gait(bout, t_rel, rotvec, hip)
        self._add_fidgets(t_rel, rotvec, lo, hi)
        rotation = base @ _exp_so3(rotvec)
        # Posture changes pivot at the hip, so they swing the sensor on its lever arm; sway,
        # gait and fidgets of trunk and pelvis turn about points near the sensor and move
        # it little, while the thigh swings about the hip in gait as well.
        lever_rotation = rotation if self.placement is Placement.THIGH else base
        position = hip + lever_rotation @ _LEVER_M[self.placement]
        return rotation, position

    def _sway(self, t_rel: FloatArray, amplitude_rad: FloatArray) -> FloatArray:
        """Postural sway (roll, pitch, yaw) with unit-SD sums of sinusoids, plus breathing."""
        phases = 2.0 * math.pi * t_rel[:, None, None] * self._sway_hz + self._sway_phase
        unit = np.sin(phases).sum(axis=2) * math.sqrt(2.0 / _SWAY_COMPONENTS)  # (n, 3)
        rotvec = unit * amplitude_rad[:, None] * np.array([1.0, 1.0, 0.5])
        if self.placement is Placement.TRUNK:
            breathing = np.sin(2.0 * math.pi * _BREATHING_HZ * t_rel)
            rotvec[:, 1] += _BREATHING_DEG * _DEG * breathing
        return np.asarray(rotvec, dtype=np.float64)

    def _add_gait(
        self, bout: _GaitBout, t_rel: FloatArray, rotvec: FloatArray, hip: FloatArray
    ) -> None:
        """Add one gait bout's segment rotation and hip displacement, faded by its envelope."""
        swell = INTENSITY_MODULATION * np.sin(
            2.0 * math.pi * bout.modulation_hz * t_rel + bout.modulation_phase_rad
        )
        envelope = bout.envelope(t_rel) * bout.intensity * (1.0 + swell)
        omega = 2.0 * math.pi * bout.steps_per_s
        phase = omega * t_rel + bout.phase_rad
        for axis, terms in enumerate(_HIP_GAIT[bout.activity]):
            hip[:, axis] += envelope * _displacement(phase, omega, terms)
        if self.placement is Placement.THIGH:
            extra = _THIGH_EXTRA_VERTICAL[bout.activity]
            hip[:, 2] += envelope * _displacement(phase, omega, extra)
        for axis, terms in enumerate(_SEGMENT_GAIT[bout.activity][self.placement]):
            rotvec[:, axis] += envelope * _harmonics(phase, terms) * _DEG
        if self.placement is Placement.THIGH:
            rotvec[:, 1] += envelope * _THIGH_GAIT_PITCH_OFFSET_DEG[bout.activity] * _DEG

    def _add_fidgets(self, t_rel: FloatArray, rotvec: FloatArray, lo: float, hi: float) -> None:
        """Add the fidgets overlapping [lo, hi]: smooth sin^4 bumps of rotation."""
        fidgets = self._fidgets
        if fidgets.start_s.size == 0:
            return
        first = int(np.searchsorted(fidgets.start_s, lo - _FIDGET_DURATION_S[1], side="left"))
        last = int(np.searchsorted(fidgets.start_s, hi, side="right"))
        for i in range(first, last):
            tau = (t_rel - fidgets.start_s[i]) / fidgets.duration_s[i]
            inside = (tau > 0.0) & (tau < 1.0)
            if not np.any(inside):
                continue
            bump = np.where(inside, np.sin(math.pi * np.clip(tau, 0.0, 1.0)) ** 4, 0.0)
            rotvec += bump[:, None] * fidgets.rotvec_rad[i]


@dataclass(frozen=True, slots=True)
class SimulatedLift:
    """When a simulated lift happens (scenario seconds from its start) and how."""

    start_s: float
    bottom_s: float
    rise_s: float
    end_s: float
    technique: LiftTechnique
    twist_deg: float


@dataclass(frozen=True, slots=True)
class SimulatedFall:
    """When a simulated fall starts and lands (scenario seconds from its start)."""

    start_s: float
    impact_s: float
    direction: FallDirection
    from_activity: Activity


def motion_truth(scenario: Scenario) -> tuple[list[SimulatedLift], list[SimulatedFall]]:
    """Ground truth of the lifts and falls a simulated wearer performs in a scenario."""
    transitions = _transition_durations(scenario)
    bounds = scenario.step_bounds_s()
    lifts: list[SimulatedLift] = []
    falls: list[SimulatedFall] = []
    for k, step in enumerate(scenario.steps):
        if step.lift is not None:
            when = _lift_times(*_free_interval(scenario, k, transitions))
            if when is not None:
                lifts.append(SimulatedLift(*when, technique=step.lift, twist_deg=step.twist_deg))
        if step.fall is not None and k > 0:
            boundary = bounds[k][0]
            half = transitions[k - 1] / 2.0
            falls.append(
                SimulatedFall(
                    start_s=boundary - half,
                    impact_s=boundary + half,
                    direction=step.fall,
                    from_activity=scenario.steps[k - 1].activity,
                )
            )
    return lifts, falls


def activity_truth(
    scenario: Scenario, t_s: FloatArray, start_s: float = 0.0
) -> npt.NDArray[np.int_]:
    """Ground-truth activity index (into ``list(Activity)``) for sample times of a sensor."""
    return scenario.activity_at(np.asarray(t_s, dtype=np.float64) - start_s)
