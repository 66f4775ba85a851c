"""Activity classification on synthetic wearers with known ground truth, and its parts.

The synthetic wearer below is physical enough for the evaluation: each posture is gravity in
a tilted body frame, walking and running add vertical and forward oscillation, and sitting
down, standing up, lying down and getting up are smooth movements that change height (a
quintic profile, zero velocity at both ends) and tilt. Other tests import ``synthetic``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from devices.mount import Mount
from devices.samples import FloatArray, Placement, SampleBlock
from monitor.activity import (
    ACTIVITIES,
    LYING,
    SITTING,
    STANDING,
    UNKNOWN,
    WALKING,
    Activity,
    BodyWindows,
    BoutFilter,
    Posture,
    PostureLabeler,
    Segment,
    ThighWindows,
    TransitionDetector,
    judge_transition,
    run_lengths,
    segments_from_runs,
)
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.windows import (
    QUARTER_S,
    VerticalMotion,
    magnitude_g,
    quarter_sums,
    vertical_motion,
    window_features,
)

G = 9.80665

# Sagittal tilt (degrees, positive forward) of each posture per placement.
_PITCH = {
    Placement.WAIST: {"stand": 0.0, "sit": -20.0, "walk": 3.0, "run": 5.0, "lie": -90.0},
    Placement.TRUNK: {"stand": 0.0, "sit": -8.0, "walk": 4.0, "run": 8.0, "lie": -90.0},
    Placement.THIGH: {"stand": 0.0, "sit": -90.0, "walk": 0.0, "run": 0.0, "lie": -90.0},
}
_HEIGHT = {"stand": 0.0, "walk": 0.0, "run": 0.0, "sit": -0.45, "lie": -0.75}
_LEAN = {Placement.WAIST: 8.0, Placement.TRUNK: 30.0, Placement.THIGH: 0.0}
_TRANSITION_S = 1.8


@dataclass(frozen=True, slots=True)
class Synthetic:
    """One sensor's samples and the truth: phases ``(kind, start_s, end_s)``."""

    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray
    phases: tuple[tuple[str, float, float], ...]


def synthetic(
    phases: Sequence[tuple[str, float]],
    placement: Placement,
    *,
    rate_hz: float = 50.0,
    mount: Mount | None = None,
    start_s: float = 0.0,
    seed: int = 0,
    noise_g: float = 0.004,
) -> Synthetic:
    """Samples for a sequence of ``(kind, seconds)`` phases: stand, sit, walk, run, lie.

    Between postures of different height or tilt a movement of ``_TRANSITION_S`` is taken
    from the start of the next phase.
    """
    rng = np.random.default_rng(seed)
    total = sum(s for _, s in phases)
    n = round(total * rate_hz)
    t = np.arange(n) / rate_hz
    pitch = np.zeros(n)
    height_acc = np.zeros(n)  # g, vertical
    fwd_acc = np.zeros(n)  # g, horizontal forward
    truth = []
    edge = 0.0
    prev: str | None = None
    for kind, seconds in phases:
        a, b = edge, edge + seconds
        sel = (t >= a) & (t < b)
        tt = t[sel] - a
        p_new = _PITCH[placement][kind]
        pitch[sel] = p_new
        if kind == "walk":
            swing = 25.0 if placement is Placement.THIGH else 0.0
            height_acc[sel] += 0.25 * np.sin(2 * np.pi * 2.0 * tt)
            fwd_acc[sel] += 0.1 * np.sin(2 * np.pi * 1.0 * tt)
            pitch[sel] += swing * np.sin(2 * np.pi * 1.0 * tt)
        elif kind == "run":
            swing = 40.0 if placement is Placement.THIGH else 0.0
            height_acc[sel] += 1.4 * np.sin(2 * np.pi * 2.8 * tt)
            fwd_acc[sel] += 0.3 * np.sin(2 * np.pi * 1.4 * tt)
            pitch[sel] += swing * np.sin(2 * np.pi * 1.4 * tt)
        if prev is not None:
            p_old = _PITCH[placement][prev]
            dh = _HEIGHT[kind] - _HEIGHT[prev]
            if abs(dh) > 1e-9 or abs(p_new - p_old) > 1e-9:
                move = (t >= a) & (t < a + _TRANSITION_S)
                u = (t[move] - a) / _TRANSITION_S
                smooth = 10 * u**3 - 15 * u**4 + 6 * u**5
                lean = _LEAN[placement] * np.sin(np.pi * u) if {prev, kind} & {"sit"} else 0.0
                pitch[move] = p_old + (p_new - p_old) * smooth + lean
                accel = dh * (60 * u - 180 * u**2 + 120 * u**3) / _TRANSITION_S**2
                height_acc[move] = accel / G
        truth.append((kind, start_s + a, start_s + b))
        prev = kind
        edge = b
    th = np.radians(pitch)
    up = 1.0 + height_acc
    body = np.column_stack(
        (
            fwd_acc * np.cos(th) - up * np.sin(th),
            np.zeros(n),
            fwd_acc * np.sin(th) + up * np.cos(th),
        )
    )
    body += rng.normal(0.0, noise_g, body.shape)
    rate = np.gradient(pitch, 1.0 / rate_hz)
    gyro_b = np.column_stack((np.zeros(n), rate, np.zeros(n))) + rng.normal(0.0, 0.5, (n, 3))
    m = mount if mount is not None else Mount.identity()
    return Synthetic(t + start_s, m.to_sensor(body), m.to_sensor(gyro_b), tuple(truth))


def activity_at(segments: Sequence[Segment], t_s: float) -> Activity:
    """The activity of the segment holding ``t_s``."""
    for seg in segments:
        if seg.start_s <= t_s < seg.end_s:
            return seg.activity
    return Activity.UNKNOWN


def evaluate(
    sensors: dict[SensorSetup, Synthetic], thresholds: EvaluationThresholds | None = None
) -> WearerEvaluator:
    """Feed whole recordings (time-interleaved 5 s blocks) and finish."""
    ev = WearerEvaluator("w", list(sensors), thresholds)
    t0 = min(float(s.t_s[0]) for s in sensors.values())
    t1 = max(float(s.t_s[-1]) for s in sensors.values())
    edge = t0
    while edge <= t1:
        for setup, s in sensors.items():
            sel = (s.t_s >= edge) & (s.t_s < edge + 5.0)
            if np.any(sel):
                ev.feed(SampleBlock(setup.sensor_id, s.t_s[sel], s.acc_g[sel], s.gyro_dps[sel]))
        edge += 5.0
    ev.finish()
    return ev


_EXPECTED = {
    "stand": Activity.STANDING,
    "sit": Activity.SITTING,
    "walk": Activity.WALKING,
    "run": Activity.RUNNING,
    "lie": Activity.LYING,
}

_DAY = (
    ("stand", 20.0),
    ("walk", 25.0),
    ("stand", 10.0),
    ("sit", 40.0),
    ("stand", 12.0),
    ("run", 15.0),
    ("walk", 10.0),
    ("sit", 30.0),
    ("lie", 30.0),
    ("sit", 15.0),
    ("stand", 15.0),
)


def _check_phases(segments: Sequence[Segment], truth: Sequence[tuple[str, float, float]]) -> None:
    """Each phase's core (3 s in from both ends) is at least 90 % the expected activity."""
    for kind, a, b in truth:
        core = np.arange(a + 3.0, b - 3.0, 0.25)
        got = [activity_at(segments, float(x)) for x in core]
        share = sum(g is _EXPECTED[kind] for g in got) / len(got)
        assert share >= 0.9, f"{kind} [{a:.0f}, {b:.0f}): {share:.0%} {set(got)}"


@pytest.mark.parametrize("placement", [Placement.WAIST, Placement.TRUNK])
def test_every_activity_from_one_body_sensor(placement: Placement) -> None:
    mount = Mount.parse("-y,+z")
    data = synthetic(_DAY, placement, mount=mount)
    ev = evaluate({SensorSetup("s", placement, mount): data})
    # The first stand has no evidence yet (posture unknown until the first walk).
    _check_phases(ev.segments, data.phases[1:])


def test_every_activity_from_trunk_and_thigh() -> None:
    trunk_mount = Mount.parse("+x,-z")
    thigh_mount = Mount.parse("-y,+x")
    trunk = synthetic(_DAY, Placement.TRUNK, mount=trunk_mount, seed=1)
    thigh = synthetic(_DAY, Placement.THIGH, mount=thigh_mount, seed=2)
    ev = evaluate(
        {
            SensorSetup("t", Placement.TRUNK, trunk_mount): trunk,
            SensorSetup("h", Placement.THIGH, thigh_mount): thigh,
        }
    )
    # With a thigh sensor even the very first stand is known.
    _check_phases(ev.segments, trunk.phases)


def test_thigh_alone_tells_sitting_from_standing() -> None:
    mount = Mount.identity()
    phases = (("stand", 15.0), ("sit", 20.0), ("walk", 15.0), ("sit", 20.0))
    data = synthetic(phases, Placement.THIGH, mount=mount)
    ev = evaluate({SensorSetup("h", Placement.THIGH, mount): data})
    _check_phases(ev.segments, data.phases)


def test_sitting_down_after_walking_without_a_pause_is_still_found() -> None:
    mount = Mount.parse("-y,+z")
    phases = (("walk", 30.0), ("sit", 30.0), ("walk", 20.0))
    data = synthetic(phases, Placement.WAIST, mount=mount)
    ev = evaluate({SensorSetup("s", Placement.WAIST, mount): data})
    _check_phases(ev.segments, data.phases)


def test_bending_forward_and_back_is_not_sitting() -> None:
    """A stoop: pelvis tilts 50 degrees forward, rests, comes back up; no height change."""
    mount = Mount.identity()
    base = synthetic((("walk", 20.0), ("stand", 40.0)), Placement.WAIST, mount=mount)
    acc = base.acc_g.copy()
    t = base.t_s
    bend = (t >= 30.0) & (t < 40.0)
    u = np.clip(np.minimum(t[bend] - 30.0, 40.0 - t[bend]) / 1.5, 0.0, 1.0)
    th = np.radians(50.0 * (10 * u**3 - 15 * u**4 + 6 * u**5))
    acc[bend] = np.column_stack((-np.sin(th), np.zeros(th.shape), np.cos(th)))
    data = Synthetic(t, acc, base.gyro_dps, base.phases)
    ev = evaluate({SensorSetup("s", Placement.WAIST, mount): data})
    after = [activity_at(ev.segments, x) for x in np.arange(41.0, 58.0, 0.5)]
    assert Activity.SITTING not in after
    assert after.count(Activity.STANDING) >= 0.9 * len(after)


@pytest.mark.parametrize("placement", [Placement.WAIST, Placement.TRUNK])
def test_walking_down_stairs_and_stopping_is_not_sitting(placement: Placement) -> None:
    """Walk, then five seconds down a flight (0.85 m), then stand still."""
    mount = Mount.parse("-y,+z")
    base = synthetic((("walk", 30.0), ("stand", 30.0)), placement, mount=mount, seed=4)
    t = base.t_s
    u = np.clip((t - 25.0) / 5.0, 0.0, 1.0)
    a_v = -0.85 * (60 * u - 180 * u**2 + 120 * u**3) / 25.0 / G * ((t >= 25.0) & (t < 30.0))
    body = mount.to_body(base.acc_g)
    norm = body / np.linalg.norm(body, axis=1)[:, None]
    acc = mount.to_sensor(body + norm * a_v[:, None])
    data = Synthetic(t, acc, base.gyro_dps, base.phases)
    ev = evaluate({SensorSetup("s", placement, mount): data})
    after = [activity_at(ev.segments, x) for x in np.arange(33.0, 58.0, 0.5)]
    assert Activity.SITTING not in after
    assert after.count(Activity.STANDING) >= 0.9 * len(after)


# -- windows and vertical motion ---------------------------------------------------------


@pytest.mark.parametrize(
    "mount",
    [
        Mount.parse("-y,+z"),
        # Tilted off every sensor axis, as a calibrated mount is.
        Mount.from_axes(up_s=np.array([0.3, -0.9, 0.3]), forward_s=np.array([1.0, 0.2, 0.0])),
    ],
)
def test_window_sd_is_the_sample_sd_of_each_body_axis(mount: Mount) -> None:
    rng = np.random.default_rng(5)
    rate = 100.0
    t = np.arange(0.0, 6.0, 1.0 / rate) + 1000.0
    acc = rng.normal(0.0, 0.2, (t.shape[0], 3)) + np.array([0.1, -0.9, 0.3])
    q0 = int(np.floor(t[0] / QUARTER_S)) - 4
    q1 = int(np.floor(t[-1] / QUARTER_S)) + 4
    q1 += (-q1) % 4
    wf = window_features(quarter_sums(t, acc, None, q0, q1))
    c = 1003  # covers [1002, 1004)
    i = c - wf.first
    sel = (t >= c - 1) & (t < c + 1)
    body = mount.to_body(acc[sel])
    np.testing.assert_allclose(wf.body_sd(mount)[i], body.std(axis=0, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(wf.body_mean(mount)[i], body.mean(axis=0), rtol=1e-9)
    assert wf.n[i] == 200
    assert wf.filled[i] == 8
    assert wf.centers_s[i] == pytest.approx(1003.0)


def test_quarter_sums_do_not_depend_on_how_samples_are_grouped() -> None:
    rng = np.random.default_rng(9)
    t = 5000.0 + np.cumsum(rng.uniform(0.009, 0.011, 2000))
    acc = rng.normal(0.0, 1.0, (2000, 3))
    gyro = rng.normal(0.0, 50.0, (2000, 3))
    q0 = int(np.floor(t[0] / QUARTER_S))
    q1 = int(np.floor(t[-1] / QUARTER_S)) + 1
    whole = quarter_sums(t, acc, gyro, q0, q1)
    cut = q0 + 37
    k = int(np.searchsorted(t, cut * QUARTER_S))
    a = quarter_sums(t[:k], acc[:k], gyro[:k], q0, cut)
    previous = float(magnitude_g(acc[k - 1 : k])[0])  # the magnitude change carries over
    b = quarter_sums(t[k:], acc[k:], gyro[k:], cut, q1, previous_mag_g=previous)
    joined = a.concat(b)
    np.testing.assert_array_equal(joined.sums, whole.sums)
    np.testing.assert_array_equal(joined.n, whole.n)
    assert joined.gyro_absmax is not None
    assert whole.gyro_absmax is not None
    np.testing.assert_array_equal(joined.gyro_absmax, whole.gyro_absmax)


@pytest.mark.parametrize("dh", [-0.45, 0.45, -0.2])
def test_vertical_motion_recovers_a_known_height_change(dh: float) -> None:
    rate = 100.0
    duration = 2.0
    t = np.arange(0.0, duration, 1.0 / rate) + 200.0
    u = (t - 200.0) / duration
    a_v = dh * (60 * u - 180 * u**2 + 120 * u**3) / duration**2 / G
    tilt = np.radians(20.0 * u)  # the sensor turns on the way: magnitude does not care
    acc = np.column_stack((np.sin(tilt) * (1 + a_v), np.zeros(t.shape), np.cos(tilt) * (1 + a_v)))
    q = quarter_sums(t, acc, None, 800, 808)
    motion = vertical_motion(q.mag_int, q.mag_mom, 1.0, 1.0, 0.25)
    assert motion.rise_m == pytest.approx(dh, abs=0.03)
    peak = 1.875 * abs(dh) / duration  # the quintic's peak velocity
    if dh < 0:
        assert motion.v_min_mps == pytest.approx(-peak, abs=0.05)
    else:
        assert motion.v_max_mps == pytest.approx(peak, abs=0.05)
    # The first excursion beyond 0.25 m/s tells which way the body went (0: never that fast).
    if peak < 0.25:
        assert motion.first_mps == 0.0
    else:
        assert motion.first_mps * math.copysign(1.0, dh) >= 0.25


# -- transitions ---------------------------------------------------------------------------


def test_a_descent_that_starts_with_a_steady_acceleration_is_integrated_from_the_rest() -> None:
    """Rest, 0.75 s of steady -0.06 g (looks still), a decelerating lean, rest 0.4 m lower.

    The steady part belongs to the movement: integrated from where the rest really ended, the
    height lost is found (from the steady part's end, the body seems to rise).
    """
    rate = 100.0
    t = np.arange(0.0, 10.0, 1.0 / rate) + 300.0
    u = t - 305.0  # the movement starts 5 s in
    a_mps2 = np.zeros(t.shape)
    a_mps2[(u >= 0.0) & (u < 0.75)] = -0.06 * G
    v1 = 0.06 * G * 0.75  # m/s downward after the steady part
    brake = (u >= 0.75) & (u < 1.75)
    a_mps2[brake] = v1 * math.pi / 2.0 * np.sin(math.pi * (u[brake] - 0.75))
    drop_m = 0.5 * 0.06 * G * 0.75**2 + v1 / 2.0  # braking at half the speed on average
    lean = np.radians(np.where(brake, 20.0 * np.sin(math.pi * (u - 0.75)), 0.0))
    up_g = 1.0 + a_mps2 / G
    acc = np.column_stack((np.sin(lean) * up_g, np.zeros(t.shape), np.cos(lean) * up_g))
    acc += np.random.default_rng(2).normal(0.0, 0.003, acc.shape)
    detector = TransitionDetector(EvaluationThresholds())
    q = quarter_sums(t, acc, None, 1200, 1240)
    transitions = [*detector.update(q.slice(0, 21)), *detector.update(q.slice(21, 40))]
    assert len(transitions) == 2  # the first rest, then the one after the movement
    descent = transitions[1]
    assert descent.start_s == pytest.approx(305.0, abs=0.26)
    assert descent.motion is not None
    assert descent.motion.rise_m == pytest.approx(-drop_m, abs=0.06)
    assert descent.motion.first_mps <= -0.25  # went down first


def _body(pitch_deg: float) -> tuple[float, float, float]:
    a = math.radians(pitch_deg)
    return (-math.sin(a), 0.0, math.cos(a))


def test_judge_transition_rules_for_the_waist() -> None:
    th = EvaluationThresholds()
    up = _body(0.0)

    def judge(posture: Posture, pre: float, post: float, rise: float | None) -> Posture | None:
        motion = (
            None if rise is None else VerticalMotion(rise, min(0.0, rise), max(0.0, rise), rise)
        )
        return judge_transition(
            Placement.WAIST,
            forward_known=True,
            posture=posture,
            pre_b=_body(pre),
            post_b=_body(post),
            motion=motion,
            upright_b=up,
            thresholds=th,
        )

    assert judge(Posture.UPRIGHT, 0.0, -20.0, -0.4) is Posture.SEATED  # sitting down
    assert judge(Posture.UPRIGHT, 0.0, -25.0, 0.1) is Posture.SEATED  # slow: tilt carries it
    assert judge(Posture.SEATED, -20.0, 0.0, 0.45) is Posture.UPRIGHT  # standing up
    assert judge(Posture.SEATED, -20.0, -5.0, 0.05) is None  # leaning forward in the chair
    assert judge(Posture.UPRIGHT, 50.0, 0.0, 0.05) is None  # back up from a stoop
    assert judge(Posture.UPRIGHT, 0.0, 2.0, 0.0) is None  # shifting weight
    assert judge(Posture.UPRIGHT, 0.0, -95.0, -0.3) is None  # lying: decided per window


# -- bouts and segments -------------------------------------------------------------------


def _codes(text: str) -> np.ndarray:
    letters = {"l": LYING, "s": SITTING, "t": STANDING, "w": WALKING, "u": UNKNOWN}
    return np.array([letters[c] for c in text], dtype=np.int8)


def _expand(runs: Sequence[tuple[int, int]]) -> str:
    letters = {LYING: "l", SITTING: "s", STANDING: "t", WALKING: "w", UNKNOWN: "u"}
    return "".join(letters[c] * n for c, n in runs)


def test_minimum_bouts_absorb_short_runs_into_the_activity_before() -> None:
    th = EvaluationThresholds()
    f = BoutFilter(th.min_bout_windows())
    labels = "tttttt" + "ssss" + "tttt" + "sssssss" + "w" + "ssss" + "tt" + "lll" + "tttt"
    out = f.push(_codes(labels)) + f.flush()
    # 4 s of sitting < 5: standing; 1 s walking absorbed; 3 s lying < 5 absorbed.
    assert (
        _expand(out)
        == "tttttt" + "tttt" + "tttt" + "sssssss" + "s" + "ssss" + "tt" + "ttt" + "tttt"
    )


def test_bout_filter_gives_the_same_result_for_any_grouping() -> None:
    rng = np.random.default_rng(11)
    labels = np.repeat(
        rng.choice([SITTING, STANDING, WALKING, LYING], 300), rng.integers(1, 9, 300)
    ).astype(np.int8)
    whole = BoutFilter(EvaluationThresholds().min_bout_windows())
    expected = _expand(whole.push(labels) + whole.flush())
    for _ in range(5):
        f = BoutFilter(EvaluationThresholds().min_bout_windows())
        out: list[tuple[int, int]] = []
        cuts = np.sort(rng.choice(np.arange(1, labels.shape[0]), 40, replace=False))
        for part in np.split(labels, cuts):
            out += f.push(part)
            assert f.pending_windows <= f.lookahead
        out += f.flush()
        assert _expand(out) == expected
    assert len(expected) == labels.shape[0]


def test_run_lengths_and_segments() -> None:
    codes = _codes("ttsssu")
    assert run_lengths(codes) == [(STANDING, 2), (SITTING, 3), (UNKNOWN, 1)]
    long = np.repeat(codes, 10)
    assert run_lengths(long) == [(STANDING, 20), (SITTING, 30), (UNKNOWN, 10)]
    segs = segments_from_runs(10, [(STANDING, 2), (SITTING, 3), (SITTING, 1)])
    assert segs == [
        Segment(Activity.STANDING, 9.5, 11.5),
        Segment(Activity.SITTING, 11.5, 15.5),
    ]
    assert segs[1].duration_s == 4.0
    assert [a.value for a in ACTIVITIES] == [
        "lying",
        "sitting",
        "standing",
        "walking",
        "running",
        "unknown",
    ]


class _SecondBySecond(PostureLabeler):
    """The labeller with its array path turned off: every window goes through the loop."""

    __slots__ = ()

    def _label_span(self, *_args: object) -> bool:
        return False


def _labelling_day(seed: int) -> tuple[BodyWindows, ThighWindows]:
    """Ten minutes of windows: upright, walking, sitting, lying, stooping, sensor gaps."""
    rng = np.random.default_rng(seed)
    count = 600
    kinds = rng.choice(["stand", "walk", "sit", "lie", "stoop"], size=count // 20)
    kind = np.repeat(kinds, 20)
    tilt_deg = np.select([kind == "lie", kind == "stoop", kind == "sit"], [85.0, 70.0, 12.0], 3.0)
    tilt = np.radians(tilt_deg + rng.normal(0.0, 2.0, count))
    side = rng.normal(0.0, 0.03, count)
    mean = np.stack([-np.sin(tilt), side, np.cos(tilt)], axis=1)
    moving = kind == "walk"
    sd_max = np.where(moving, rng.uniform(0.15, 0.9, count), rng.uniform(0.0, 0.08, count))
    sd_vert = sd_max * rng.uniform(0.5, 1.0, count)
    body_known = rng.random(count) > 0.05
    thigh_known = rng.random(count) > 0.05
    # Stretches where the body sensor alone decides (the thigh sensor is away).
    for start in rng.choice(count - 40, size=4, replace=False):
        thigh_known[start : start + int(rng.integers(5, 40))] = False
    thigh_incl = np.where((kind == "sit") | (kind == "lie"), 85.0, rng.uniform(0.0, 30.0, count))
    body = BodyWindows(body_known, mean, sd_max, sd_vert)
    thigh = ThighWindows(thigh_known, thigh_incl, sd_max.copy(), sd_vert.copy())
    return body, thigh


def _labeller_state(labeller: PostureLabeler) -> dict[str, object]:
    """Everything a labeller carries from one window to the next."""
    state = {name: getattr(labeller, name) for name in PostureLabeler.__slots__}
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _label_in_chunks(
    labeller: PostureLabeler, body: BodyWindows, thigh: ThighWindows | None, cuts: list[int]
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Codes of the windows labelled in chunks, and the labeller's state after each chunk."""
    codes = []
    states = []
    for a, b in itertools.pairwise([0, *cuts, body.known.shape[0]]):
        part = BodyWindows(
            body.known[a:b], body.mean_b[a:b], body.sd_max_g[a:b], body.sd_vertical_g[a:b]
        )
        t_part = None
        if thigh is not None:
            t_part = ThighWindows(
                thigh.known[a:b],
                thigh.inclination_deg[a:b],
                thigh.sd_max_g[a:b],
                thigh.sd_vertical_g[a:b],
            )
        codes.append(labeller.label(a + 7, part, t_part))
        states.append(_labeller_state(labeller))
    return np.concatenate(codes), states


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_thigh", [True, False])
def test_labelling_by_arrays_matches_labelling_second_by_second(
    seed: int, with_thigh: bool
) -> None:
    body, thigh = _labelling_day(seed)
    thigh_windows = thigh if with_thigh else None
    th = EvaluationThresholds()
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, 600), 12, replace=False).tolist())
    fast = PostureLabeler(
        Placement.TRUNK, np.eye(3), forward_known=True, thresholds=th, lookahead_s=3
    )
    slow = _SecondBySecond(
        Placement.TRUNK, np.eye(3), forward_known=True, thresholds=th, lookahead_s=3
    )
    whole = PostureLabeler(
        Placement.TRUNK, np.eye(3), forward_known=True, thresholds=th, lookahead_s=3
    )
    got, got_states = _label_in_chunks(fast, body, thigh_windows, cuts)
    want, want_states = _label_in_chunks(slow, body, thigh_windows, cuts)
    assert got.tolist() == want.tolist()
    assert got_states == want_states
    # Any grouping of the windows into calls gives the same labels.
    assert _label_in_chunks(whole, body, thigh_windows, [])[0].tolist() == got.tolist()
    # Lying and walking occurred (and sitting, told by the thigh).
    assert {LYING, WALKING} | ({SITTING} if with_thigh else set()) <= set(want.tolist())
