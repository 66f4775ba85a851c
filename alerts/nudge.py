"""The nudge: one message to a wearer, as published on ``<base>/<wearer>/nudge``.

The JSON shape is pinned by ``alerts/schemas/nudge.schema.json``; ``to_json`` writes the
fields in the order declared here, compactly (no spaces), UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from alerts.clock import UtcTime

WEARER_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Wearer names end up as MQTT topic segments, so they follow the segment rule."""

NUDGE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
EVIDENCE_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
TITLE_MAX_CHARS = 64
MESSAGE_MAX_CHARS = 400
GUIDELINE_MAX_CHARS = 200


class Severity(StrEnum):
    """How much the nudge matters, lowest first."""

    INFO = "info"
    ADVICE = "advice"
    WARNING = "warning"
    URGENT = "urgent"


class NudgeKind(StrEnum):
    """What the nudge is about; cool-downs and snoozes are kept per kind."""

    SITTING = "sitting"
    SLOUCH = "slouch"
    LIFT_FORM = "lift_form"
    FALL_CHECK = "fall_check"
    RED_FLAG = "red_flag"
    RELIEF = "relief"
    ACTIVITY = "activity"
    EXERCISE = "exercise"
    HYDRATION = "hydration"
    SLEEP_POSITION = "sleep_position"
    SUMMARY = "summary"


EvidenceKey = Annotated[str, StringConstraints(pattern=EVIDENCE_KEY_PATTERN)]


class Nudge(BaseModel):
    """One nudge, immutable once decided.

    ``time`` is the wall time the policy decided it (UTC); ``event_start_s``/``event_end_s``
    are the sample times of the moment it is about; ``evidence`` holds the numbers behind
    it, each key ending in its unit (``bout_min``, ``limit_min``, ``peak_flexion_deg``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: Annotated[str, StringConstraints(pattern=NUDGE_ID_PATTERN)]
    time: UtcTime
    wearer: Annotated[str, StringConstraints(pattern=WEARER_PATTERN)]
    kind: NudgeKind
    severity: Severity
    title: Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX_CHARS)]
    message: Annotated[str, StringConstraints(min_length=1, max_length=MESSAGE_MAX_CHARS)]
    guideline: Annotated[str, StringConstraints(min_length=1, max_length=GUIDELINE_MAX_CHARS)]
    evidence: Mapping[EvidenceKey, float] = Field(default_factory=dict)
    event_start_s: float
    event_end_s: float

    @model_validator(mode="after")
    def _span_is_ordered(self) -> Self:
        if self.event_end_s < self.event_start_s:
            raise ValueError(
                f"event_end_s {self.event_end_s} is before event_start_s {self.event_start_s}"
            )
        return self

    def to_json(self) -> str:
        """Compact JSON with a stable key order (the declaration order above)."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Nudge:
        """Parse and validate a nudge written by ``to_json`` (raises pydantic's ValidationError)."""
        return cls.model_validate_json(text, strict=True)
