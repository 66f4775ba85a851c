"""What alerts accepts from the evaluation: observations of guideline-relevant moments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class EventType(StrEnum):
    """Kinds of moments the evaluation reports."""

    SITTING_BOUT = "sitting_bout"
    SLOUCH = "slouch"
    SIDE_BEND = "side_bend"
    SLEEP_POSITION = "sleep_position"
    LIFT = "lift"
    FALL = "fall"
    BEND_FREQUENCY = "bend_frequency"


@dataclass(frozen=True, slots=True)
class Observation:
    """One moment worth telling the wearer about, on sample time.

    ``start_s``/``end_s`` are sample times (Unix seconds for live sensors) of the span the
    observation covers; ``evidence`` holds the numbers behind it, each name carrying its unit
    (``bout_s``, ``limit_s``, ``peak_flexion_deg``); ``labels`` holds the names behind it
    (``technique``, ``risks`` as a comma-separated list, ``band``), empty when there are none.
    """

    wearer: str
    type: EventType
    start_s: float
    end_s: float
    evidence: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    decided_s: float | None = None
    """Sample time of the newest sample the live evaluation had when it decided this (the
    decisive sample); None where no such moment applies (offline analysis)."""
