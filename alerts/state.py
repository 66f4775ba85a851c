"""Retained per-wearer and per-sensor state values, as published on the state topics.

JSON shapes are pinned by ``alerts/schemas/state.schema.json`` and
``alerts/schemas/sensor_status.schema.json``; unknown values are ``null``, never left out.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from alerts.clock import UtcTime

ACTIVITY_PATTERN = r"^[a-z_]{1,32}$"
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


class WearerStatusLike(Protocol):
    """What ``WearerState.from_status`` reads from the evaluation's per-wearer status."""

    @property
    def activity(self) -> object | None:
        """The activity label (a StrEnum or str), None when unknown."""
        ...

    @property
    def trunk_flexion_deg(self) -> float | None:
        """Latest trunk flexion, degrees."""
        ...

    @property
    def sitting_bout_s(self) -> float | None:
        """Current sitting bout, seconds."""
        ...

    @property
    def sample_time_s(self) -> float | None:
        """Sample time of the latest sample."""
        ...


class ReliefStatusLike(Protocol):
    """What ``ReliefPlanInfo.from_status`` reads (``alerts.policy.ReliefStatus``)."""

    @property
    def plan_id(self) -> str:
        """The plan's id."""
        ...

    @property
    def started(self) -> datetime:
        """When the cramp was reported."""
        ...

    @property
    def phase(self) -> object:
        """``cold``, ``heat`` or ``check_in`` (a StrEnum)."""
        ...

    @property
    def next_step(self) -> datetime | None:
        """When the next reminder is due."""
        ...

    @property
    def ends(self) -> datetime:
        """When the last step (the check-in) is due."""
        ...


class ReliefPlanInfo(BaseModel):
    """The active relief plan in the retained state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    started: UtcTime
    phase: Annotated[str, StringConstraints(pattern=r"^(cold|heat|check_in)$")]
    next_step: UtcTime | None
    ends: UtcTime

    @classmethod
    def from_status(cls, status: ReliefStatusLike) -> ReliefPlanInfo:
        """From the policy's relief status."""
        return cls(
            plan_id=status.plan_id,
            started=status.started,
            phase=str(status.phase),
            next_step=status.next_step,
            ends=status.ends,
        )


class WearerState(BaseModel):
    """What ``<base>/<wearer>/state`` says about a wearer right now (retained).

    ``activity`` is the evaluation's label (``lying``, ``sitting``, ``standing``, ``walking``,
    ``running``, ``unknown``); ``sample_time_s`` is the sample time of the latest sample the
    state reflects; ``updated`` is the wall time (UTC) it was published. Counts are for the
    local day; ``relief_plan`` is the active relief plan after a cramp report, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    activity: Annotated[str, StringConstraints(pattern=ACTIVITY_PATTERN)] | None
    trunk_flexion_deg: float | None
    sitting_bout_s: NonNegative | None
    sitting_today_s: NonNegative | None
    sample_time_s: float | None
    updated: UtcTime
    slouching: bool | None = None
    lifts_today: Count | None = None
    risky_lifts_today: Count | None = None
    steps_today: Count | None = None
    relief_plan: ReliefPlanInfo | None = None

    @classmethod
    def from_status(
        cls,
        status: WearerStatusLike,
        updated: datetime,
        *,
        sitting_today_s: float | None = None,
        slouching: bool | None = None,
        lifts_today: int | None = None,
        risky_lifts_today: int | None = None,
        steps_today: int | None = None,
        relief_plan: ReliefPlanInfo | None = None,
    ) -> WearerState:
        """The state for a status object with the same field names, stamped ``updated``.

        ``sitting_today_s`` and the daily counts come separately: "today" is a wall-clock
        notion the evaluation does not have. Non-finite numbers (NaN while a value is not
        known yet) become None.
        """
        activity = None if status.activity is None else str(status.activity)
        return cls(
            activity=activity,
            trunk_flexion_deg=_finite_or_none(status.trunk_flexion_deg),
            sitting_bout_s=_finite_or_none(status.sitting_bout_s),
            sitting_today_s=_finite_or_none(sitting_today_s),
            sample_time_s=_finite_or_none(status.sample_time_s),
            updated=updated,
            slouching=slouching,
            lifts_today=lifts_today,
            risky_lifts_today=risky_lifts_today,
            steps_today=steps_today,
            relief_plan=relief_plan,
        )

    def to_json(self) -> str:
        """Compact JSON in declaration order."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> WearerState:
        """Parse and validate a state written by ``to_json``."""
        return cls.model_validate_json(text, strict=True)


class SensorStatus(BaseModel):
    """What ``<base>/<wearer>/sensor/<sensor>/status`` says about one sensor (retained).

    ``link`` is the connection state (``streaming``, ``connecting``, ``backoff``, ...;
    ``simulated`` or ``replay`` for those sources); ``last_seen`` the wall time of the newest
    samples; ``counters`` the loss and recovery counts since the daemon started (samples,
    decode_errors, sequence_gaps, lost_samples, queue_dropped_samples, reconnects, ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    connected: bool
    battery_pct: Annotated[float, Field(ge=0, le=100)] | None
    rate_hz: NonNegative | None
    updated: UtcTime
    link: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")] | None = None
    last_seen: UtcTime | None = None
    counters: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")], int] = Field(
        default_factory=dict
    )

    def to_json(self) -> str:
        """Compact JSON in declaration order."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> SensorStatus:
        """Parse and validate a status written by ``to_json``."""
        return cls.model_validate_json(text, strict=True)
