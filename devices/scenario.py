"""Scenarios for the simulated wearer: steps of activity and posture, loaded from TOML files.

A scenario file has an optional ``name`` and ``description`` and a list of ``[[step]]``
tables, each with:

- ``activity``: ``lying``, ``sitting``, ``standing``, ``walking`` or ``running``;
- ``duration_s`` or ``duration_min``;
- ``trunk_flexion_deg`` (forward lean, negative reclined; default per activity) and
  ``lateral_bend_deg`` (positive to the right), not for lying;
- ``lying_position``: ``supine``, ``prone``, ``left`` or ``right`` (lying only);
- ``lift``: ``squat`` or ``stoop`` (standing only): the wearer bends down and straightens
  up once, in the middle of the step (knees bent and trunk fairly upright, or legs straight
  and trunk bent far forward), optionally twisting the trunk by ``twist_deg`` (positive to
  the left) at the bottom;
- ``fall``: ``forward``, ``backward``, ``left`` or ``right`` (lying only): the wearer gets
  into this lying step by falling to the floor, from whatever the step before was, and lands
  prone, supine, on the left or on the right side (``lying_position`` may be left out; if
  given it must match);
- ``label``: a short description.

Example::

    [[step]]
    activity = "standing"
    duration_s = 12
    lift = "stoop"
    twist_deg = 30
    label = "Picks a box off the floor with straight legs, turning"

    [[step]]
    activity = "lying"
    duration_min = 2
    fall = "forward"
    label = "Trips and falls, stays down"
"""

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


class LiftTechnique(StrEnum):
    """How a simulated lift is done."""

    SQUAT = "squat"
    STOOP = "stoop"


class FallDirection(StrEnum):
    """Which way a simulated fall goes, and so how the wearer lands."""

    FORWARD = "forward"
    BACKWARD = "backward"
    LEFT = "left"
    RIGHT = "right"

    @property
    def lying_position(self) -> LyingPosition:
        """The position the wearer lands in."""
        return {
            FallDirection.FORWARD: LyingPosition.PRONE,
            FallDirection.BACKWARD: LyingPosition.SUPINE,
            FallDirection.LEFT: LyingPosition.LEFT,
            FallDirection.RIGHT: LyingPosition.RIGHT,
        }[self]


ACTIVITIES: tuple[Activity, ...] = tuple(Activity)
MAX_TWIST_DEG = 90.0

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
    side is down. ``lift`` (standing only): one bend-and-return movement in the middle of
    the step, with ``twist_deg`` of trunk rotation at the bottom. ``fall`` (lying only):
    the wearer falls into this step; the landing sets ``lying_position``. ``label`` is a
    short description a person understands.
    """

    activity: Activity
    duration_s: float
    trunk_flexion_deg: float = math.nan
    lateral_bend_deg: float = 0.0
    lying_position: LyingPosition = LyingPosition.SUPINE
    label: str = ""
    lift: LiftTechnique | None = None
    twist_deg: float = 0.0
    fall: FallDirection | None = None

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
        self._check_lift_and_fall()

    def _check_lift_and_fall(self) -> None:
        if self.lift is not None:
            if not isinstance(self.lift, LiftTechnique):
                object.__setattr__(self, "lift", _enum_value(LiftTechnique, "lift", self.lift))
            if self.activity is not Activity.STANDING:
                raise ScenarioError(
                    f"key 'lift': only applies to activity 'standing', not {self.activity.value!r}"
                )
        if not abs(self.twist_deg) <= MAX_TWIST_DEG:
            raise ScenarioError(
                f"key 'twist_deg': must be from {-MAX_TWIST_DEG:g} to {MAX_TWIST_DEG:g}, "
                f"got {self.twist_deg}"
            )
        if self.twist_deg != 0.0 and self.lift is None:
            raise ScenarioError("key 'twist_deg': only applies to a step with a 'lift'")
        if self.fall is not None:
            if not isinstance(self.fall, FallDirection):
                object.__setattr__(self, "fall", _enum_value(FallDirection, "fall", self.fall))
            if self.activity is not Activity.LYING:
                raise ScenarioError(
                    f"key 'fall': only applies to activity 'lying', not {self.activity.value!r}"
                )
            object.__setattr__(self, "lying_position", self.fall.lying_position)


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
    "lift",
    "twist_deg",
    "fall",
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
    lift = _enum_value(LiftTechnique, "lift", raw["lift"]) if "lift" in raw else None
    twist = _number(raw, "twist_deg") if "twist_deg" in raw else 0.0
    fall = _enum_value(FallDirection, "fall", raw["fall"]) if "fall" in raw else None
    if fall is not None:
        if "lying_position" in raw and position is not fall.lying_position:
            raise ScenarioError(
                f"key 'lying_position': a fall {fall.value!r} lands "
                f"{fall.lying_position.value!r}, not {position.value!r}"
            )
        if activity is Activity.LYING:
            position = fall.lying_position
    return ScenarioStep(
        activity=activity,
        duration_s=duration_s,
        trunk_flexion_deg=flexion,
        lateral_bend_deg=bend,
        lying_position=position,
        label=label,
        lift=lift,
        twist_deg=twist,
        fall=fall,
    )


def _number(raw: dict[str, Any], key: str) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"key '{key}': must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ScenarioError(f"key '{key}': must be a finite number, got {value!r}")
    return number
