"""Trunk angles and upright calibration against known rotations (within 1 degree)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from devices.mount import Mount
from devices.samples import FloatArray
from monitor.orientation import (
    MountSource,
    OrientationError,
    SensorOrientation,
    calibrate_upright,
    inclination_deg,
    trunk_angles,
)


def _pitch(deg: float) -> FloatArray:
    """Rotation of the body about its left (y) axis; positive leans forward."""
    a = math.radians(deg)
    return np.array(
        [[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]]
    )


def _roll(deg: float) -> FloatArray:
    """Rotation of the body about its forward (x) axis; positive bends to the right."""
    a = math.radians(deg)
    return np.array(
        [[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]]
    )


def _gravity_in_body(rotation_world_from_body: FloatArray) -> FloatArray:
    """Specific force at rest (world up) seen in a rotated body frame."""
    return np.asarray(rotation_world_from_body.T @ np.array([0.0, 0.0, 1.0]))


@pytest.mark.parametrize("flexion", [-30.0, -5.0, 0.0, 10.0, 20.0, 45.0, 60.0, 89.0])
def test_pure_flexion(flexion: float) -> None:
    acc = _gravity_in_body(_pitch(flexion))[None, :]
    f, lat, inc = trunk_angles(acc)
    assert f[0] == pytest.approx(flexion, abs=1.0)
    assert lat[0] == pytest.approx(0.0, abs=1.0)
    assert inc[0] == pytest.approx(abs(flexion), abs=1.0)


@pytest.mark.parametrize("lateral", [-25.0, -10.0, 10.0, 25.0])
def test_pure_lateral_bend_toward_the_right_is_positive(lateral: float) -> None:
    acc = _gravity_in_body(_roll(lateral))[None, :]
    f, lat, inc = trunk_angles(acc)
    assert lat[0] == pytest.approx(lateral, abs=1.0)
    assert f[0] == pytest.approx(0.0, abs=1.0)
    assert inc[0] == pytest.approx(abs(lateral), abs=1.0)


def test_vectorised_over_rows_and_zero_rows_are_nan() -> None:
    rows = np.vstack([_gravity_in_body(_pitch(a)) for a in (0.0, 30.0, 60.0)] + [np.zeros(3)])
    f, _, inc = trunk_angles(rows)
    np.testing.assert_allclose(f[:3], [0.0, 30.0, 60.0], atol=1e-9)
    np.testing.assert_allclose(inc[:3], [0.0, 30.0, 60.0], atol=1e-9)
    assert np.isnan(f[3])
    assert np.isnan(inc[3])


@pytest.mark.parametrize(
    ("mount_text", "flexion"),
    [("-y,+z", 35.0), ("+z,+x", -15.0), ("+x,-y", 50.0), ("-z,+y", 5.0)],
)
def test_sensor_frame_through_a_mount_gives_the_body_angle(mount_text: str, flexion: float) -> None:
    mount = Mount.parse(mount_text)
    body = _gravity_in_body(_pitch(flexion) @ _roll(8.0))[None, :]
    sensor = mount.to_sensor(body)
    f, lat, _ = trunk_angles(mount.to_body(sensor))
    assert f[0] == pytest.approx(flexion, abs=1.0)
    # The lateral bend applied after the flexion reads 8 degrees.
    assert lat[0] == pytest.approx(8.0, abs=1.0)


def test_calibrate_upright_recovers_a_tilted_mount_with_a_hint() -> None:
    # True mount: up is about -y tilted 20 degrees toward +z; forward about +z.
    a = math.radians(20.0)
    true = Mount.from_axes(
        up_s=np.array([0.0, -math.cos(a), math.sin(a)]),
        forward_s=np.array([0.0, math.sin(a), math.cos(a)]),
    )
    rng = np.random.default_rng(1)
    upright_body = np.tile([0.0, 0.0, 1.0], (300, 1)) + rng.normal(0, 0.01, (300, 3))
    samples = true.to_sensor(upright_body)
    mount = calibrate_upright(samples, Mount.parse("-y,+z"))
    np.testing.assert_allclose(mount.sensor_from_body, true.sensor_from_body, atol=0.01)
    # A 30 degree forward lean measured with the calibrated mount reads 30 degrees.
    lean = true.to_sensor(_gravity_in_body(_pitch(30.0))[None, :])
    assert trunk_angles(mount.to_body(lean))[0][0] == pytest.approx(30.0, abs=1.0)


def test_calibrate_upright_without_hint_finds_up_and_a_horizontal_forward() -> None:
    samples = np.tile([0.0, -1.0, 0.0], (50, 1))
    mount = calibrate_upright(samples, None)
    np.testing.assert_allclose(mount.sensor_from_body[:, 2], [0.0, -1.0, 0.0], atol=1e-12)
    assert abs(float(mount.sensor_from_body[:, 0] @ mount.sensor_from_body[:, 2])) < 1e-12
    # Up is right whatever forward was guessed: inclination of an upright sample is 0.
    assert inclination_deg(samples, mount.sensor_from_body[:, 2])[0] == pytest.approx(0.0, abs=1e-6)


def test_calibrate_upright_rejects_free_fall_and_bad_shapes() -> None:
    with pytest.raises(OrientationError):
        calibrate_upright(np.zeros((10, 3)), None)
    with pytest.raises(OrientationError):
        calibrate_upright(np.zeros((0, 3)), None)


def test_sensor_orientation_says_whether_forward_is_known() -> None:
    mount = Mount.identity()
    assert SensorOrientation(mount, MountSource.DECLARED).forward_known
    assert SensorOrientation(mount, MountSource.CALIBRATED).forward_known
    assert not SensorOrientation(mount, MountSource.LEARNED).forward_known
    assert not SensorOrientation(mount, MountSource.DEFAULT).forward_known


def test_inclination_of_lying_on_the_back() -> None:
    lying = _gravity_in_body(_pitch(-90.0))[None, :]
    assert inclination_deg(lying, np.array([0.0, 0.0, 1.0]))[0] == pytest.approx(90.0, abs=1.0)
