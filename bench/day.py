"""The benchmark's synthetic wearer day: thigh + trunk recordings at 100 Hz with ground truth.

One simulated wearer (:mod:`devices.simulated`) lives a scripted day from midnight: a night
lying in turn on the back, the sides and the front; a morning of standing, walking and
sitting at a desk; a nap on the back after lunch and a rest on the back on the sofa in the
evening (lying during the day, which a thigh sensor alone cannot tell from sitting); a run;
evening sitting; back to bed. Bout lengths are drawn from a seeded generator, so the day is
the same on every machine.

Both sensors are written in acti-motus's documented axis convention (its ``x`` along the
segment pointing up, ``z`` into the skin), which backwatch reads through its declared mounts
``THIGH_MOUNT`` and ``TRUNK_MOUNT``: one pair of files serves both tools.

Agreement is judged per second (the middle of each second of the day) against the scripted
activity; the seconds within ``EXCLUDE_S`` of a change of activity are left out (the
simulated transitions last up to 3 s, centred on the change).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from devices.mount import Mount
from devices.recording import write_recording
from devices.samples import Placement
from devices.scenario import Activity, LyingPosition, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor

RATE_HZ = 100.0
DAY_H = 24.0
SEED = 2026
#: Sensor frame of both files: acti-motus's convention. Thigh: x up the thigh, z into the
#: front of the thigh (pointing backwards when standing). Trunk (upper back): x up the
#: spine, z into the back (pointing forwards). As backwatch mounts (UP,FWD):
THIGH_MOUNT = "+x,-z"
TRUNK_MOUNT = "+x,+z"
EXCLUDE_S = 3.0
#: Activities in the order of ``devices.scenario.Activity`` (indices of the truth arrays).
ACTIVITY_NAMES: tuple[str, ...] = tuple(a.value for a in Activity)
_CACHE_VERSION = "1"


def _minutes(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high)) * 60.0


def _night(rng: np.random.Generator, hours: float) -> list[ScenarioStep]:
    """Lying for ``hours``, turning every 25-80 minutes (people turn over many times a night)."""
    positions = (
        LyingPosition.SUPINE,
        LyingPosition.LEFT,
        LyingPosition.SUPINE,
        LyingPosition.RIGHT,
        LyingPosition.PRONE,
    )
    steps: list[ScenarioStep] = []
    left_s = hours * 3600.0
    k = 0
    while left_s > 60.0:
        length = min(left_s, _minutes(rng, 25, 80))
        steps.append(
            ScenarioStep(Activity.LYING, length, lying_position=positions[k % len(positions)])
        )
        left_s -= length
        k += 1
    return steps


def _desk_block(rng: np.random.Generator, hours: float) -> list[ScenarioStep]:
    """Desk work: sitting 20-55 min (upright or slouched), breaks of standing and walking."""
    steps: list[ScenarioStep] = []
    left_s = hours * 3600.0
    while left_s > 0:
        flexion = float(rng.choice([-8.0, 5.0, 25.0]))
        steps.append(ScenarioStep(Activity.SITTING, _minutes(rng, 20, 55), flexion))
        steps.append(ScenarioStep(Activity.STANDING, _minutes(rng, 1, 4)))
        steps.append(ScenarioStep(Activity.WALKING, _minutes(rng, 1, 6)))
        steps.append(ScenarioStep(Activity.STANDING, _minutes(rng, 1, 3)))
        left_s -= sum(s.duration_s for s in steps[-4:])
    return steps


def day_steps(seed: int = SEED) -> list[ScenarioStep]:
    """The whole 24 h script (it runs a little over 24 h; callers cut it)."""
    rng = np.random.default_rng(seed)
    steps = _night(rng, 6.5)
    steps += [
        ScenarioStep(Activity.STANDING, _minutes(rng, 5, 10)),
        ScenarioStep(Activity.WALKING, _minutes(rng, 3, 6)),
        ScenarioStep(Activity.SITTING, _minutes(rng, 15, 25)),  # breakfast
        ScenarioStep(Activity.STANDING, _minutes(rng, 5, 10)),
        ScenarioStep(Activity.WALKING, _minutes(rng, 12, 20)),  # to work
    ]
    steps += _desk_block(rng, 3.5)
    steps += [
        ScenarioStep(Activity.WALKING, _minutes(rng, 8, 12)),
        ScenarioStep(Activity.SITTING, _minutes(rng, 20, 30)),  # lunch
        ScenarioStep(Activity.LYING, _minutes(rng, 15, 25)),  # nap on the back
        ScenarioStep(Activity.SITTING, _minutes(rng, 3, 6)),
        ScenarioStep(Activity.WALKING, _minutes(rng, 5, 8)),
    ]
    steps += _desk_block(rng, 3.0)
    steps += [
        ScenarioStep(Activity.WALKING, _minutes(rng, 12, 20)),  # home
        ScenarioStep(Activity.STANDING, _minutes(rng, 3, 6)),
        ScenarioStep(Activity.RUNNING, _minutes(rng, 25, 35)),
        ScenarioStep(Activity.WALKING, _minutes(rng, 5, 8)),
        ScenarioStep(Activity.STANDING, _minutes(rng, 20, 35)),  # cooking
        ScenarioStep(Activity.SITTING, _minutes(rng, 20, 30)),  # dinner
        ScenarioStep(Activity.LYING, _minutes(rng, 15, 25)),  # sofa, on the back
        ScenarioStep(Activity.SITTING, _minutes(rng, 60, 90), -8.0),  # television
        ScenarioStep(Activity.STANDING, _minutes(rng, 3, 6)),
        ScenarioStep(Activity.WALKING, _minutes(rng, 1, 3)),
    ]
    steps += _night(rng, 6.0)
    return steps


def day_scenario(hours: float = DAY_H, seed: int = SEED) -> Scenario:
    """The first ``hours`` of the day script (the last step cut to fit)."""
    limit_s = hours * 3600.0
    kept: list[ScenarioStep] = []
    total_s = 0.0
    for step in day_steps(seed):
        if total_s + step.duration_s >= limit_s:
            rest_s = limit_s - total_s
            if rest_s > 0:
                kept.append(
                    ScenarioStep(
                        step.activity,
                        rest_s,
                        step.trunk_flexion_deg,
                        lying_position=step.lying_position,
                    )
                )
            break
        kept.append(step)
        total_s += step.duration_s
    return Scenario(f"bench-{hours:g}h", tuple(kept), "benchmark day")


@dataclass(frozen=True, slots=True)
class DayFiles:
    """The recordings of one benchmark day and the scenario behind them."""

    hours: float
    scenario: Scenario
    thigh: Path
    trunk: Path


def _cache_key(hours: float, seed: int) -> str:
    text = f"{_CACHE_VERSION}-{hours:g}-{seed}-{RATE_HZ:g}-{THIGH_MOUNT}-{TRUNK_MOUNT}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def day_files(directory: Path, hours: float = DAY_H, seed: int = SEED) -> DayFiles:
    """Write (or reuse from ``directory``) the thigh and trunk recordings of the day."""
    scenario = day_scenario(hours, seed)
    key = _cache_key(hours, seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        Placement.THIGH: directory / f"day-{hours:g}h-{key}-thigh.csv",
        Placement.TRUNK: directory / f"day-{hours:g}h-{key}-trunk.csv",
    }
    mounts = {Placement.THIGH: THIGH_MOUNT, Placement.TRUNK: TRUNK_MOUNT}
    for placement, path in paths.items():
        if path.exists():
            continue
        start = time.perf_counter()
        sensor = SimulatedSensor(
            scenario,
            placement,
            placement.value,
            rate_hz=RATE_HZ,
            mount=Mount.parse(mounts[placement]),
            seed=seed,
        )
        partial = path.with_suffix(".partial")
        write_recording(partial, sensor.recording())
        partial.rename(path)
        print(f"  wrote {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return DayFiles(hours, scenario, paths[Placement.THIGH], paths[Placement.TRUNK])


def truth_per_second(scenario: Scenario) -> npt.NDArray[np.int_]:
    """Scripted activity index of each whole second (at its middle); -1 near a change."""
    n = int(scenario.duration_s)
    middle_s = np.arange(n, dtype=np.float64) + 0.5
    truth = scenario.activity_at(middle_s).astype(np.int_)
    changes = [start for (_a, start, _end) in scenario.truth_segments()[1:]]
    for change_s in changes:
        near = np.abs(middle_s - change_s) < EXCLUDE_S + 0.5
        truth[near] = -1
    return truth


def labels_from_segments(
    segments: Sequence[tuple[str, float, float]], n_seconds: int, origin_s: float = 0.0
) -> npt.NDArray[np.int_]:
    """Activity index of each second (its middle) from (activity, start, end) segments; -1 else."""
    labels = np.full(n_seconds, -1, dtype=np.int_)
    middle_s = origin_s + np.arange(n_seconds, dtype=np.float64) + 0.5
    for name, start_s, end_s in segments:
        if name not in ACTIVITY_NAMES:
            continue
        a = int(np.searchsorted(middle_s, start_s, side="left"))
        b = int(np.searchsorted(middle_s, end_s, side="left"))
        labels[a:b] = ACTIVITY_NAMES.index(name)
    return labels


def agreement(truth: npt.NDArray[np.int_], labels: npt.NDArray[np.int_]) -> dict[str, float | None]:
    """Per activity: share of its judged seconds (truth >= 0) that got its label."""
    n = min(truth.shape[0], labels.shape[0])
    truth, labels = truth[:n], labels[:n]
    shares: dict[str, float | None] = {}
    for index, name in enumerate(ACTIVITY_NAMES):
        mask = truth == index
        count = int(mask.sum())
        shares[name] = float((labels[mask] == index).sum()) / count if count else None
    return shares
