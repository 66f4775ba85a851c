"""Time the evaluation of 24 h of one 100 Hz six-axis sensor (``python -m bench.evaluation_speed``).

The day is synthetic and held in memory: stretches of sitting, standing, walking and lying
built from gravity in a posture plus noise and a 2 Hz gait. Timed, three runs each on one
core: the daemon's path (``WearerEvaluator.feed`` with 1 s blocks) at the live evaluation
pace and at a 15 s pace, and the offline one (``analyze_sensors`` on the whole recording).
Prints min/median/max seconds and the peak resident memory of the process. Target: 24 h
evaluated in at most 3 s. An evaluation pass costs a few hundred microseconds of numpy call
overhead whatever its length, so the cost per day is about that times the number of passes.

``--live-hours H`` (default 2) also times the live case of the target "4 sensors at 100 Hz
cost at most 1 % of one core": two wearers with a trunk and a thigh sensor each, fed 1 s
blocks in time order at the live pace, for H hours of sample time; the CPU time it took
(``time.process_time``) over H hours is the share of one core.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from devices.mount import Mount
from devices.recording import Recording
from devices.samples import FloatArray, Placement, SampleBlock
from monitor.analyze import analyze_sensors
from monitor.evaluation import (
    LIVE_EVALUATE_EVERY_S,
    EvaluationThresholds,
    SensorSetup,
    WearerEvaluator,
)

RATE_HZ = 100.0
DAY_S = 24 * 3600
TARGET_S = 3.0
SETUP = SensorSetup("trunk", Placement.TRUNK, Mount.identity())


def synthetic_day(seconds: int = DAY_S, seed: int = 7) -> Recording:
    """A day of trunk data (identity mount): posture stretches of 1-40 min.

    Changes between postures are 1.5 s movements with a quintic height profile (0.45 m
    between standing and sitting, 0.8 m down to lying), so the transition detector has work.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    tilt = np.zeros(n)
    vertical = np.zeros(n)
    gyro = rng.normal(0.0, 1.5, (n, 3))
    heights = {"sit": -0.45, "stand": 0.0, "walk": 0.0, "lie": -0.8}
    tilts = {"sit": -10.0, "stand": 0.0, "walk": 5.0, "lie": -85.0}
    i = 0
    previous = "stand"
    while i < n:
        length = int(rng.uniform(60, 2400) * RATE_HZ)
        stop = min(n, i + length)
        kind = str(rng.choice(["sit", "stand", "walk", "lie"], p=[0.45, 0.2, 0.25, 0.1]))
        tilt[i:stop] = tilts[kind]
        if kind == "walk":
            phase = 2 * np.pi * 2.0 * t[i:stop]
            vertical[i:stop] = 0.3 * np.sin(phase)
            gyro[i:stop] += 40.0 * np.sin(phase)[:, None]
        move = min(stop, i + int(1.5 * RATE_HZ))
        u = (t[i:move] - t[i]) / 1.5
        dh = heights[kind] - heights[previous]
        vertical[i:move] += dh * (60 * u - 180 * u**2 + 120 * u**3) / 1.5**2 / 9.80665
        tilt[i:move] = tilts[previous] + (tilts[kind] - tilts[previous]) * (
            10 * u**3 - 15 * u**4 + 6 * u**5
        )
        previous = kind
        i = stop
    th = np.radians(tilt)
    up = 1.0 + vertical
    acc = np.column_stack((-up * np.sin(th), np.zeros(n), up * np.cos(th)))
    acc += rng.normal(0.0, 0.01, acc.shape)
    return Recording(t_s=t, acc_g=acc, gyro_dps=gyro)


def stream(recording: Recording, evaluate_every_s: float, block_s: float = 1.0) -> int:
    """Feed the recording to a WearerEvaluator in blocks; return the segment count."""
    evaluator = WearerEvaluator(
        "bench", [SETUP], EvaluationThresholds(), evaluate_every_s=evaluate_every_s
    )
    step = int(block_s * RATE_HZ)
    t: FloatArray = recording.t_s
    gyro = recording.gyro_dps
    assert gyro is not None
    for a in range(0, t.shape[0], step):
        evaluator.feed(
            SampleBlock("trunk", t[a : a + step], recording.acc_g[a : a + step], gyro[a : a + step])
        )
    evaluator.finish()
    return len(evaluator.segments)


def live_four_sensors(recording: Recording, hours: float) -> float:
    """CPU seconds to evaluate two wearers (trunk + thigh each) live for ``hours``."""
    n = min(len(recording), int(hours * 3600 * RATE_HZ))
    step = int(RATE_HZ)  # 1 s blocks, as sensors deliver them
    gyro = recording.gyro_dps
    assert gyro is not None
    wearers = []
    for name in ("ann", "bob"):
        setups = [
            SensorSetup(f"{name}-trunk", Placement.TRUNK, Mount.identity()),
            SensorSetup(f"{name}-thigh", Placement.THIGH, Mount.identity()),
        ]
        wearers.append((WearerEvaluator(name, setups, EvaluationThresholds()), setups))
    t: FloatArray = recording.t_s
    start = time.process_time()
    for a in range(0, n, step):
        b = min(n, a + step)
        for evaluator, setups in wearers:
            for setup in setups:
                evaluator.feed(
                    SampleBlock(setup.sensor_id, t[a:b], recording.acc_g[a:b], gyro[a:b])
                )
    for evaluator, _ in wearers:
        evaluator.finish()
    return time.process_time() - start


def offline(recording: Recording) -> int:
    """The analyze path on the whole recording; return the segment count."""
    return len(analyze_sensors({SETUP: recording}).segments)


def timed(run: Callable[[], int], repeats: int) -> tuple[list[float], int]:
    """Wall-clock seconds of each run, and the last run's result."""
    times = []
    result = 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return times, result


def main(argv: Sequence[str] | None = None) -> int:
    """Build the day, time both paths, print the numbers."""
    parser = argparse.ArgumentParser(prog="python -m bench.evaluation_speed")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--live-hours", type=float, default=2.0)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    recording = synthetic_day(int(args.hours * 3600))
    print(f"{args.hours:g} h at {RATE_HZ:g} Hz, 6 axes: {len(recording):,} samples")
    ok = True
    runs: list[tuple[str, Callable[[], int], bool]] = [
        ("offline (analyze)", lambda: offline(recording), True),
        (
            f"stream, pace {LIVE_EVALUATE_EVERY_S:g} s",
            lambda: stream(recording, LIVE_EVALUATE_EVERY_S),
            False,
        ),
        ("stream, pace 15 s", lambda: stream(recording, 15.0), False),
    ]
    scaled = TARGET_S * args.hours / 24.0
    for name, run, has_target in runs:
        times, segments = timed(run, args.repeats)
        if has_target:
            ok = ok and max(times) <= scaled
        target = f"target {scaled:.2f} s" if has_target else "no target: the live cost is below"
        print(
            f"{name:20} min {min(times):6.2f} s  median {statistics.median(times):6.2f} s  "
            f"max {max(times):6.2f} s  ({segments} segments; {target})"
        )
    if args.live_hours > 0:
        live_hours = min(args.live_hours, args.hours)
        shares = [
            100.0 * live_four_sensors(recording, live_hours) / (live_hours * 3600.0)
            for _ in range(args.repeats)
        ]
        ok = ok and max(shares) <= 1.0
        print(
            f"{'live, 4 sensors':20} min {min(shares):6.3f} %  median "
            f"{statistics.median(shares):6.3f} %  max {max(shares):6.3f} %  of one core "
            f"({live_hours:g} h at {RATE_HZ:g} Hz, pace {LIVE_EVALUATE_EVERY_S:g} s; target 1 %)"
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {peak_kib / 1024:.0f} MiB (includes the day's samples in memory)")
    print("the targets are met" if ok else "a target is MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
