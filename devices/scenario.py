"""Scenarios for the simulated wearer: steps of activity and posture, loaded from TOML files."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from devices.samples import FloatArray

MIN_TRUNK_FLEXION_DEG = -45.0
MAX_TRUNK_FLEXION_DEG = 120.0
MAX_LATERAL_BEND_DEG = 60.0
_BUILTIN_PACKAGE = "devices"
_BUILTIN_DIR = "scenarios"
_EnumT = TypeVar("_EnumT", bound=StrEnum)


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line naming file, step and key."""


class Activity(StrEnum):
    """What the wearer is doing; ``list(Activity)`` fixes the indices ``activity_at`` returns."""

    LYING = "lying"
    SITTING = "sitting"
    STANDING = "standing"
    WALKING = "walking"
    RUNNING = "running"


class LyingPosition(StrEnum):
    """Which side is down when lying: supine = on the back, the body's forward axis points up."""

    SUPINE = "supine"
    PRONE = "prone"
    LEFT = "left"
    RIGHT = "right"


ACTIVITIES: tuple[Activity, ...] = tuple(Activity)

# Trunk flexion (forward lean from vertical) when a step does not give one. Seated, the
# trunk leans back against the backrest a little; walking and running lean forward.
DEFAULT_TRUNK_FLEXION_DEG: dict[Activity, float] = {
    Activity.LYING: 0.0,
    Activity.SITTING: -8.0,
    Activity.STANDING: 0.0,
    Activity.WALKING: 3.0,
    Activity.RUNNING: 8.0,
}


@dataclass(frozen=True, slots=True)
class ScenarioStep:
    """One stretch of a single activity.

    ``trunk_flexion_deg`` is the trunk's forward lean from vertical (negative: reclined),
    NaN meaning the activity's default; ``lateral_bend_deg`` is the side bend, positive to
    the wearer's right. Both are ignored when lying, where ``lying_position`` says which
    side is down. ``label`` is a short description a person understands.
    """

    activity: Activity
    duration_s: float
    trunk_flexion_deg: float = math.nan
    lateral_bend_deg: float = 0.0
    lying_position: LyingPosition = LyingPosition.SUPINE
    label: str = ""

    def __post_init__(self) -> None:
        """Fill in the default flexion and check the values; errors name the key."""
        if not isinstance(self.activity, Activity):
            object.__setattr__(self, "activity", _enum_value(Activity, "activity", self.activity))
        if not isinstance(self.lying_position, LyingPosition):
            value = _enum_value(LyingPosition, "lying_position", self.lying_position)
            object.__setattr__(self, "lying_position", value)
        if not (math.isfinite(self.duration_s) and self.duration_s > 0.0):
            raise ScenarioError(
                f"key 'duration_s': must be a positive number, got {self.duration_s}"
            )
        if math.isnan(self.trunk_flexion_deg):
            flexion = DEFAULT_TRUNK_FLEXION_DEG[self.activity]
            object.__setattr__(self, "trunk_flexion_deg", flexion)
        if not MIN_TRUNK_FLEXION_DEG <= self.trunk_flexion_deg <= MAX_TRUNK_FLEXION_DEG:
            raise ScenarioError(
                f"key 'trunk_flexion_deg': must be from {MIN_TRUNK_FLEXION_DEG:g} to "
                f"{MAX_TRUNK_FLEXION_DEG:g}, got {self.trunk_flexion_deg}"
            )
        if not abs(self.lateral_bend_deg) <= MAX_LATERAL_BEND_DEG:
            raise ScenarioError(
                f"key 'lateral_bend_deg': must be from {-MAX_LATERAL_BEND_DEG:g} to "
                f"{MAX_LATERAL_BEND_DEG:g}, got {self.lateral_bend_deg}"
            )


def _enum_value(kind: type[_EnumT], key: str, value: object) -> _EnumT:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ScenarioError(f"key '{key}': must be one of {choices}, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named sequence of steps; times inside it are offsets from its start, in seconds."""

    name: str
    steps: tuple[ScenarioStep, ...]
    description: str = ""
    _ends_s: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check there is something to do and precompute the step ends."""
        if not self.steps:
            raise ScenarioError(f"scenario {self.name!r} has no steps")
        ends = np.cumsum([step.duration_s for step in self.steps], dtype=np.float64)
        object.__setattr__(self, "_ends_s", ends)

    @property
    def duration_s(self) -> float:
        """Total duration."""
        return float(self._ends_s[-1])

    def step_bounds_s(self) -> tuple[tuple[float, float], ...]:
        """(start, end) offset of every step."""
        starts = np.concatenate(([0.0], self._ends_s[:-1]))
        return tuple(
            (float(start), float(end)) for start, end in zip(starts, self._ends_s, strict=True)
        )

    def truth_segments(self) -> list[tuple[Activity, float, float]]:
        """Ground truth: (activity, start, end) with consecutive steps of one activity merged.

        A sitting bout of two steps (say upright, then slouched) is one sitting segment.
        """
        segments: list[tuple[Activity, float, float]] = []
        for step, (start, end) in zip(self.steps, self.step_bounds_s(), strict=True):
            if segments and segments[-1][0] == step.activity:
                segments[-1] = (step.activity, segments[-1][1], end)
            else:
                segments.append((step.activity, start, end))
        return segments

    def step_index_at(self, t_rel_s: FloatArray) -> npt.NDArray[np.int_]:
        """Index of the step each offset falls in (before the start: 0; after the end: last)."""
        index = np.searchsorted(self._ends_s, np.asarray(t_rel_s, dtype=np.float64), side="right")
        return np.minimum(index, len(self.steps) - 1).astype(np.int_)

    def activity_at(self, t_rel_s: FloatArray) -> npt.NDArray[np.int_]:
        """Activity index (into ``list(Activity)``) at each offset, vectorised."""
        codes = np.array([ACTIVITIES.index(step.activity) for step in self.steps], dtype=np.int_)
        return codes[self.step_index_at(t_rel_s)]


# --------------------------------------------------------------------------- loading

_TOP_KEYS = ("name", "description", "step")
_STEP_KEYS = (
    "activity",
    "duration_s",
    "duration_min",
    "trunk_flexion_deg",
    "lateral_bend_deg",
    "lying_position",
    "label",
)


def list_builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with backwatch."""
    folder = resources.files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_DIR)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name, or a scenario TOML file by path."""
    builtins = list_builtin_scenarios()
    if name_or_path in builtins:
        resource = resources.files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_DIR, f"{name_or_path}.toml")
        return parse_scenario(resource.read_text(encoding="utf-8"), str(resource), name_or_path)
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            f"{name_or_path}: no such scenario file or built-in scenario "
            f"(built-in: {', '.join(builtins)})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{name_or_path}: cannot read the scenario file: {exc}") from exc
    return parse_scenario(text, name_or_path, path.stem)


def parse_scenario(text: str, source: str, default_name: str) -> Scenario:
    """Parse scenario TOML; ``source`` names the file in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from exc
    for key in document:
        if key not in _TOP_KEYS:
            raise ScenarioError(f"{source}: unknown key {key!r} (expected {', '.join(_TOP_KEYS)})")
    name = document.get("name", default_name)
    description = document.get("description", "")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(f"{source}: key 'name': must be a non-empty string")
    if not isinstance(description, str):
        raise ScenarioError(f"{source}: key 'description': must be a string")
    raw_steps = document.get("step")
    if raw_steps is None:
        raise ScenarioError(f"{source}: no steps: add [[step]] tables")
    if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
        raise ScenarioError(f"{source}: key 'step': must be [[step]] tables")
    if not raw_steps:
        raise ScenarioError(f"{source}: no steps: add [[step]] tables")
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        try:
            steps.append(_parse_step(raw))
        except ScenarioError as exc:
            raise ScenarioError(f"{source}: step {number}: {exc}") from None
    return Scenario(name=name, steps=tuple(steps), description=description)


def _parse_step(raw: dict[str, Any]) -> ScenarioStep:
    for key in raw:
        if key not in _STEP_KEYS:
            raise ScenarioError(f"key {key!r}: unknown (expected {', '.join(_STEP_KEYS)})")
    if "activity" not in raw:
        raise ScenarioError("key 'activity': missing")
    activity = _enum_value(Activity, "activity", raw["activity"])
    if "duration_s" in raw and "duration_min" in raw:
        raise ScenarioError("key 'duration_min': give either duration_s or duration_min, not both")
    if "duration_s" in raw:
        duration_s = _number(raw, "duration_s")
    elif "duration_min" in raw:
        duration_s = _number(raw, "duration_min") * 60.0
    else:
        raise ScenarioError("key 'duration_s': missing (give duration_s or duration_min)")
    if duration_s <= 0.0:
        key = "duration_s" if "duration_s" in raw else "duration_min"
        raise ScenarioError(f"key '{key}': must be positive, got {raw[key]}")
    flexion = _number(raw, "trunk_flexion_deg") if "trunk_flexion_deg" in raw else math.nan
    bend = _number(raw, "lateral_bend_deg") if "lateral_bend_deg" in raw else 0.0
    position = LyingPosition.SUPINE
    if "lying_position" in raw:
        if activity is not Activity.LYING:
            raise ScenarioError(
                f"key 'lying_position': only applies to activity 'lying', not {activity.value!r}"
            )
        position = _enum_value(LyingPosition, "lying_position", raw["lying_position"])
    label = raw.get("label", "")
    if not isinstance(label, str):
        raise ScenarioError(f"key 'label': must be a string, got {label!r}")
    return ScenarioStep(
        activity=activity,
        duration_s=duration_s,
        trunk_flexion_deg=flexion,
        lateral_bend_deg=bend,
        lying_position=position,
        label=label,
    )


def _number(raw: dict[str, Any], key: str) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key '{key}': must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ScenarioError(f"key '{key}': must be a finite number, got {value!r}")
    return number
