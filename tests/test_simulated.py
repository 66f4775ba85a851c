"""The simulated wearer: determinism, timing, and physics checked against known ground truth."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from devices.mount import Mount
from devices.queue import BlockQueue
from devices.samples import FloatArray, Placement, SampleBlock
from devices.scenario import (
    DEFAULT_TRUNK_FLEXION_DEG,
    Activity,
    LyingPosition,
    Scenario,
    ScenarioStep,
    load_scenario,
)
from devices.simulated import SimulatedSensor, SimulatedSensorError, motion_truth
from devices.source import SampleSource
from tests.fakes import FakePacer

S, SIT, W, R, L = (
    Activity.STANDING,
    Activity.SITTING,
    Activity.WALKING,
    Activity.RUNNING,
    Activity.LYING,
)
SISFALL_MOUNT = Mount.parse("-y,+z")  # -y up, +z forward, as the SisFall belt device


def _scenario(*steps: ScenarioStep) -> Scenario:
    return Scenario("test", steps)


def _sensor(
    scenario: Scenario,
    placement: Placement,
    *,
    mount: Mount | None = None,
    rate_hz: float = 50.0,
    seed: int = 0,
    sensor_id: str = "s1",
) -> SimulatedSensor:
    return SimulatedSensor(scenario, placement, sensor_id, rate_hz=rate_hz, mount=mount, seed=seed)


def _window(t_s: FloatArray, values: FloatArray, start_s: float, end_s: float) -> FloatArray:
    return values[(t_s >= start_s) & (t_s < end_s)]


def _inclination_deg(acc_body: FloatArray) -> FloatArray:
    """Angle between the segment's up axis (body z) and vertical, from the mean gravity."""
    cosine = np.clip(acc_body[:, 2] / np.linalg.norm(acc_body, axis=1), -1.0, 1.0)
    return np.asarray(np.degrees(np.arccos(cosine)), dtype=np.float64)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    scenario = load_scenario("short")
    a = _sensor(scenario, Placement.TRUNK, seed=7).recording()
    b = _sensor(scenario, Placement.TRUNK, seed=7).recording()
    c = _sensor(scenario, Placement.TRUNK, seed=8).recording()
    assert a.gyro_dps is not None
    assert b.gyro_dps is not None
    assert c.gyro_dps is not None
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    np.testing.assert_array_equal(a.gyro_dps, b.gyro_dps)
    assert not np.allclose(a.acc_g, c.acc_g, atol=1e-3)
    # other sensor id on the same wearer: same motion, other noise
    d = _sensor(scenario, Placement.TRUNK, seed=7, sensor_id="s2").recording()
    assert not np.array_equal(a.acc_g, d.acc_g)
    assert (a.acc_g - d.acc_g).std() == pytest.approx(0.01 * math.sqrt(2), rel=0.1)


def test_blocks_are_lazy_and_match_the_recording_whatever_the_block_size() -> None:
    scenario = load_scenario("short")
    sensor = _sensor(scenario, Placement.THIGH, seed=3)
    whole = sensor.recording()
    blocks = list(sensor.blocks())
    other = SimulatedSensor(scenario, Placement.THIGH, "s1", seed=3, block_s=1.3)
    np.testing.assert_allclose(np.concatenate([b.acc_g for b in blocks]), whole.acc_g, atol=1e-9)
    np.testing.assert_allclose(
        np.concatenate([b.acc_g for b in other.blocks()]), whole.acc_g, atol=1e-9
    )
    gyro_blocks = [b.gyro_dps for b in blocks]
    assert all(g is not None for g in gyro_blocks)
    iterator = sensor.blocks()
    first = next(iterator)
    assert isinstance(first, SampleBlock)
    assert len(first) == 25


def test_timestamps_and_block_sizes() -> None:
    scenario = _scenario(ScenarioStep(S, 10.01))
    start_s = 1_700_000_000.25
    sensor = SimulatedSensor(scenario, Placement.WAIST, "w", rate_hz=100.0, start_s=start_s)
    assert sensor.n_samples == 1001
    blocks = list(sensor.blocks())
    assert [len(b) for b in blocks] == [50] * 20 + [1]
    assert all(b.sensor_id == "w" for b in blocks)
    t_s = np.concatenate([b.t_s for b in blocks])
    np.testing.assert_array_equal(t_s, start_s + np.arange(1001) / 100.0)
    assert sensor.recording().t_s[-1] == start_s + 1000 / 100.0


def test_without_gyro_and_bad_settings() -> None:
    scenario = _scenario(ScenarioStep(S, 2.0))
    sensor = SimulatedSensor(scenario, Placement.TRUNK, "h10", has_gyro=False)
    assert all(block.gyro_dps is None for block in sensor.blocks())
    assert sensor.recording().gyro_dps is None
    with pytest.raises(SimulatedSensorError, match="rate_hz"):
        SimulatedSensor(scenario, Placement.TRUNK, "x", rate_hz=0.0)
    with pytest.raises(SimulatedSensorError, match="block_s"):
        SimulatedSensor(scenario, Placement.TRUNK, "x", block_s=-1.0)


def test_mount_rotates_the_same_motion_into_the_sensor_frame() -> None:
    scenario = load_scenario("short")
    plain = _sensor(scenario, Placement.TRUNK).recording()
    mount = Mount.parse("+x,-y")  # sensor x points up, sensor -y forward
    mounted = _sensor(scenario, Placement.TRUNK, mount=mount).recording()
    assert plain.gyro_dps is not None
    assert mounted.gyro_dps is not None
    # same motion and noise draws; the noise is added in the sensor frame, hence the slack
    assert np.abs(mount.to_body(mounted.acc_g) - plain.acc_g).max() < 0.1
    assert np.abs(mount.to_body(mounted.gyro_dps) - plain.gyro_dps).max() < 8.0
    np.testing.assert_allclose(mounted.acc_g[100:1000].mean(axis=0), [1.0, 0.0, 0.0], atol=0.03)


# --------------------------------------------------------------------------- postures


def test_standing_trunk_with_sisfall_mount_reads_minus_one_g_on_y() -> None:
    record = _sensor(
        _scenario(ScenarioStep(S, 30.0)), Placement.TRUNK, mount=SISFALL_MOUNT
    ).recording()
    mean = record.acc_g[100:-100].mean(axis=0)
    np.testing.assert_allclose(mean, [0.0, -1.0, 0.0], atol=0.02)
    assert record.acc_g[:, 1].std() < 0.05  # still: small sway and noise only
    assert record.gyro_dps is not None
    assert np.abs(record.gyro_dps).max() < 10.0


@pytest.mark.parametrize(
    ("position", "expected_body"),
    [
        (LyingPosition.SUPINE, [1.0, 0.0, 0.0]),  # forward axis points up
        (LyingPosition.PRONE, [-1.0, 0.0, 0.0]),
        (LyingPosition.LEFT, [0.0, -1.0, 0.0]),  # left axis points down
        (LyingPosition.RIGHT, [0.0, 1.0, 0.0]),
    ],
)
@pytest.mark.parametrize("placement", list(Placement))
def test_lying_positions(
    position: LyingPosition, expected_body: list[float], placement: Placement
) -> None:
    scenario = _scenario(ScenarioStep(L, 20.0, lying_position=position))
    record = _sensor(scenario, placement, mount=SISFALL_MOUNT).recording()
    mean_body = SISFALL_MOUNT.to_body(record.acc_g[100:-100]).mean(axis=0)
    np.testing.assert_allclose(mean_body, expected_body, atol=0.03)


def test_sitting_thigh_horizontal_pelvis_back_trunk_as_asked() -> None:
    scenario = _scenario(ScenarioStep(SIT, 40.0, trunk_flexion_deg=25.0))
    means = {}
    for placement in Placement:
        record = _sensor(scenario, placement, mount=SISFALL_MOUNT).recording()
        means[placement] = SISFALL_MOUNT.to_body(record.acc_g[200:-200]).mean(axis=0)
    thigh = means[Placement.THIGH]
    assert _inclination_deg(thigh[None, :])[0] == pytest.approx(90.0, abs=3.0)
    assert thigh[0] == pytest.approx(1.0, abs=0.03)  # front of the thigh faces up
    trunk = means[Placement.TRUNK]
    assert math.degrees(math.atan2(-trunk[0], trunk[2])) == pytest.approx(25.0, abs=2.0)
    waist = means[Placement.WAIST]
    pelvis_flexion = math.degrees(math.atan2(-waist[0], waist[2]))
    assert pelvis_flexion == pytest.approx(-20.0 + 0.4 * 25.0, abs=2.0)  # tilted back


def test_standing_flexion_and_side_bend() -> None:
    scenario = _scenario(ScenarioStep(S, 20.0, trunk_flexion_deg=40.0, lateral_bend_deg=15.0))
    record = _sensor(scenario, Placement.TRUNK).recording()
    mean = record.acc_g[100:-100].mean(axis=0)
    # the world's up, seen in a trunk flexed 40 degrees then bent 15 degrees to the right
    expected = [
        -math.sin(math.radians(40)),
        math.cos(math.radians(40)) * math.sin(math.radians(15)),
        math.cos(math.radians(40)) * math.cos(math.radians(15)),
    ]
    np.testing.assert_allclose(mean, expected, atol=0.03)
    thigh = _sensor(scenario, Placement.THIGH).recording().acc_g[100:-100].mean(axis=0)
    np.testing.assert_allclose(thigh, [0.0, 0.0, 1.0], atol=0.02)  # a stoop: thigh vertical


# --------------------------------------------------------------------------- gait


def _acti4_sd(record_acc: FloatArray, mount: Mount, rate_hz: float) -> FloatArray:
    """SD of the segment's long-axis acceleration per 2 s window (Acti4's movement measure)."""
    along = mount.to_body(record_acc)[:, 2]
    window = int(2 * rate_hz)
    n = along.size // window
    return np.asarray(along[: n * window].reshape(n, window).std(axis=1), dtype=np.float64)


@pytest.mark.parametrize("placement", [Placement.WAIST, Placement.THIGH, Placement.TRUNK])
def test_walking_and_running_fall_in_the_acti4_bands(placement: Placement) -> None:
    scenario = _scenario(
        ScenarioStep(S, 20.0), ScenarioStep(W, 60.0), ScenarioStep(R, 60.0), ScenarioStep(SIT, 30.0)
    )
    rate_hz = 50.0
    record = _sensor(scenario, placement, mount=SISFALL_MOUNT, rate_hz=rate_hz, seed=5).recording()
    t = record.t_s

    def sd(start: float, end: float) -> FloatArray:
        return _acti4_sd(_window(t, record.acc_g, start, end), SISFALL_MOUNT, rate_hz)

    standing, walking, running, sitting = sd(2, 18), sd(24, 78), sd(84, 138), sd(144, 168)
    assert standing.max() < 0.1
    assert sitting.max() < 0.1
    assert walking.min() > 0.1
    assert walking.max() < 0.72
    assert running.min() > 0.72
    # the norm of the three axis SDs of the waist matches SisFall's belt sensor
    if placement is Placement.WAIST:
        walk = _window(t, record.acc_g, 24, 78)
        run = _window(t, record.acc_g, 84, 138)
        assert 0.25 < np.linalg.norm(walk[:100].std(axis=0)) < 0.40
        assert 0.85 < np.linalg.norm(run[:100].std(axis=0)) < 1.2


@pytest.mark.parametrize(("activity", "steps_per_s"), [(W, 1.8), (R, 2.7)])
def test_cadence(activity: Activity, steps_per_s: float) -> None:
    record = _sensor(
        _scenario(ScenarioStep(activity, 64.0)), Placement.WAIST, rate_hz=100.0
    ).recording()
    vertical = record.acc_g[200:-200, 2] - record.acc_g[200:-200, 2].mean()
    spectrum = np.abs(np.fft.rfft(vertical))
    freqs = np.fft.rfftfreq(vertical.size, 1 / 100.0)
    band = (freqs > 1.0) & (freqs < 4.0)
    peak_hz = freqs[band][np.argmax(spectrum[band])]
    assert peak_hz == pytest.approx(steps_per_s, rel=0.06)


def test_thigh_swings_about_25_degrees_when_walking() -> None:
    record = _sensor(_scenario(ScenarioStep(W, 30.0)), Placement.THIGH, rate_hz=100.0).recording()
    assert record.gyro_dps is not None
    pitch_deg = np.cumsum(record.gyro_dps[:, 1]) / 100.0  # integrated pitch rate
    pitch_deg = pitch_deg[300:-300]
    swing = (np.percentile(pitch_deg, 99) - np.percentile(pitch_deg, 1)) / 2
    assert swing == pytest.approx(25.0, abs=4.0)


# --------------------------------------------------------------------------- transitions


def _bias_corrected_gyro(record_gyro: FloatArray, still: slice) -> FloatArray:
    return np.asarray(record_gyro - record_gyro[still].mean(axis=0), dtype=np.float64)


@pytest.mark.parametrize(
    ("placement", "expected_deg"),
    [
        (Placement.THIGH, -90.0),
        (Placement.WAIST, -20.0 + 0.4 * DEFAULT_TRUNK_FLEXION_DEG[SIT]),
        (Placement.TRUNK, DEFAULT_TRUNK_FLEXION_DEG[SIT]),
    ],
)
def test_gyro_integrates_to_the_sit_down(placement: Placement, expected_deg: float) -> None:
    scenario = _scenario(ScenarioStep(S, 20.0), ScenarioStep(SIT, 20.0))
    rate_hz = 100.0
    record = _sensor(scenario, placement, rate_hz=rate_hz, seed=2).recording()
    assert record.gyro_dps is not None
    gyro = _bias_corrected_gyro(record.gyro_dps, slice(100, 1500))
    span = (record.t_s >= 17.0) & (record.t_s < 23.0)
    turned_deg = gyro[span, 1].sum() / rate_hz  # pitch: rotation about the left axis
    assert turned_deg == pytest.approx(expected_deg, abs=3.0)
    # ... and the accelerometer agrees on where the segment ended up
    before = record.acc_g[(record.t_s > 14) & (record.t_s < 16)].mean(axis=0)
    after = record.acc_g[(record.t_s > 24) & (record.t_s < 26)].mean(axis=0)
    pitch_before = math.degrees(math.atan2(-before[0], before[2]))
    pitch_after = math.degrees(math.atan2(-after[0], after[2]))
    assert pitch_after - pitch_before == pytest.approx(turned_deg, abs=3.0)


def test_lying_down_rotates_through_in_seconds() -> None:
    scenario = _scenario(
        ScenarioStep(S, 20.0), ScenarioStep(L, 20.0, lying_position=LyingPosition.LEFT)
    )
    rate_hz = 100.0
    record = _sensor(scenario, Placement.TRUNK, rate_hz=rate_hz, seed=4).recording()
    assert record.gyro_dps is not None
    gyro = _bias_corrected_gyro(record.gyro_dps, slice(100, 1500))
    span = (record.t_s >= 17.0) & (record.t_s < 23.0)
    roll_deg = gyro[span, 0].sum() / rate_hz
    assert roll_deg == pytest.approx(-90.0, abs=4.0)  # onto the left side
    inclination = _inclination_deg(record.acc_g)
    smooth = np.convolve(inclination, np.ones(20) / 20, mode="same")
    t_start = record.t_s[np.argmax(smooth > 10.0)]
    t_end = record.t_s[np.argmax(smooth > 80.0)]
    assert 0.5 < t_end - t_start <= 3.0  # a movement, not a jump


def test_sit_down_leans_forward_first() -> None:
    scenario = _scenario(ScenarioStep(S, 20.0), ScenarioStep(SIT, 20.0, trunk_flexion_deg=0.0))
    record = _sensor(scenario, Placement.TRUNK, rate_hz=100.0).recording()
    span = (record.t_s >= 18.0) & (record.t_s < 22.0)
    acc = record.acc_g[span]
    flexion = np.degrees(np.arctan2(-acc[:, 0], acc[:, 2]))
    assert 20.0 < np.max(flexion) < 40.0
    assert np.linalg.norm(acc, axis=1).max() < 1.6  # no jumps: smooth motion only


@pytest.mark.parametrize("placement", list(Placement))
def test_every_transition_of_the_demo_day_is_smooth(placement: Placement) -> None:
    """No sample spikes from the model itself: acceleration and rate stay physiological.

    The demo day ends with a fall, whose impact is meant to be hard: the seconds from the
    fall's start to one second after its landing are left out, and the impact is checked
    to be there.
    """
    scenario = load_scenario("demo-day")
    record = _sensor(scenario, placement, rate_hz=25.0).recording()
    assert record.gyro_dps is not None
    _, falls = motion_truth(scenario)
    assert len(falls) == 1
    in_fall = (record.t_s >= falls[0].start_s) & (record.t_s <= falls[0].impact_s + 1.0)
    magnitude_g = np.linalg.norm(record.acc_g, axis=1)
    assert magnitude_g[~in_fall].max() < 2.5
    assert np.abs(record.gyro_dps[~in_fall]).max() < 400.0
    assert magnitude_g[in_fall].max() > 2.5


# --------------------------------------------------------------------------- streaming


def test_run_offers_every_block_at_its_end_time_then_closes() -> None:
    scenario = _scenario(ScenarioStep(S, 3.0))
    sensor = SimulatedSensor(scenario, Placement.TRUNK, "t", rate_hz=20.0, start_s=100.0)
    pacer = FakePacer(start_s=100.0)

    async def go() -> list[SampleBlock]:
        queue = BlockQueue(maxsize=100)
        await sensor.run(queue, pacer)
        received = []
        while (block := await queue.get()) is not None:
            received.append(block)
        return received

    source: SampleSource = sensor
    assert source.sensor_id == "t"
    received = asyncio.run(go())
    assert [len(b) for b in received] == [10] * 6
    assert pacer.sleeps == [b.end_s for b in received]
    assert pacer.sleeps[0] == 100.0 + 9 / 20.0
