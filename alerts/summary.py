"""A wearer's day in a few numbers: the retained daily summary, its one focus, the morning words.

Pure: values in, values out (no clock, no I/O). The daemon builds a ``DailySummary`` at the
end of each local day and publishes it retained on ``<base>/<wearer>/summary`` (shape pinned
by ``alerts/schemas/summary.schema.json``); ``morning_wording`` turns yesterday's summary
into the morning nudge's title and message; reports use ``choose_focus`` and ``FOCUS_ADVICE``
for their "one thing to work on".
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

AWKWARD_SHARE_LIMIT = 0.05
"""Hoogendoorn 2000: trunk flexion of 60 degrees or more for over 5 % of the time."""
RISKY_LIFT_SHARE_LIMIT = 0.25
"""A quarter of the lifts with a risk is worth working on (a backwatch choice)."""
RISKY_LIFTS_MIN = 2
"""Fewer risky lifts than this in a day are not made the focus."""
LONG_BOUTS_LIMIT = 1
"""More sitting bouts past the limit than this in a day make sitting the focus."""
# Each check scores how far past its limit the day went (1 = at the limit).


class Focus(StrEnum):
    """The one thing to work on next."""

    LIFTING = "lifting"
    BENDING = "bending"
    SITTING = "sitting"
    ACTIVITY = "activity"
    KEEP_GOING = "keep_going"


FOCUS_ADVICE = MappingProxyType(
    {
        Focus.LIFTING: (
            "Lift with bent knees and hips, the load close to the body, and turn with the "
            "feet rather than the back."
        ),
        Focus.BENDING: (
            "Bring low work up to waist height or kneel for it, so the back spends less time "
            "bent past 60 degrees."
        ),
        Focus.SITTING: (
            "Stand up and move for a few minutes before a sitting bout reaches its limit."
        ),
        Focus.ACTIVITY: (
            "Add a brisk walk: walking toward 150 minutes a week is good for the back."
        ),
        Focus.KEEP_GOING: "Keep it up: breaks from sitting, good lifts and regular walks.",
    }
)
"""One sentence of advice per focus."""


class DailySummary(BaseModel):
    """One wearer's local day in numbers (the retained ``summary`` topic's payload).

    Minutes are rounded to 0.1; ``flexion_over_60_share`` is a share of the time the trunk
    angle was known (null without a trunk sensor); ``week_walking_min`` counts the seven
    days ending with ``day``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    wearer: str
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    recorded_min: float = Field(ge=0)
    lying_min: float = Field(ge=0)
    sitting_min: float = Field(ge=0)
    standing_min: float = Field(ge=0)
    walking_min: float = Field(ge=0)
    longest_sitting_min: float = Field(ge=0)
    long_sitting_bouts: int = Field(ge=0)
    sitting_limit_min: float = Field(gt=0)
    steps: int = Field(ge=0)
    flexion_over_60_share: float | None = Field(default=None, ge=0, le=1)
    lifts: int = Field(ge=0)
    risky_lifts: int = Field(ge=0)
    sleep_position: str | None = None
    nudges: int = Field(ge=0)
    nudges_acknowledged: int = Field(ge=0)
    week_walking_min: float = Field(ge=0)
    weekly_target_min: float = Field(gt=0)
    focus: Focus = Focus.KEEP_GOING

    def to_json(self) -> str:
        """Compact JSON in declaration order."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> DailySummary:
        """Parse a summary written by ``to_json``."""
        return cls.model_validate_json(text)


def choose_focus(summary: DailySummary, *, weekly: bool = True) -> Focus:
    """The first guideline the day went past, in order of the harm it does to the back.

    In order: risky lifts (more than a quarter of the lifts, at least two), flexion beyond
    60 degrees (more than 5 % of the measured time), sitting bouts past the limit (more
    than one), the week's walking short of the weekly target (unless ``weekly`` is false:
    a recording says nothing of the week). None past: keep going.
    """
    scores: list[tuple[float, Focus]] = []
    if summary.risky_lifts >= RISKY_LIFTS_MIN and summary.lifts > 0:
        share = summary.risky_lifts / summary.lifts
        scores.append((share / RISKY_LIFT_SHARE_LIMIT, Focus.LIFTING))
    if summary.flexion_over_60_share is not None:
        scores.append((summary.flexion_over_60_share / AWKWARD_SHARE_LIMIT, Focus.BENDING))
    scores.append((summary.long_sitting_bouts / LONG_BOUTS_LIMIT, Focus.SITTING))
    if weekly and summary.recorded_min > 0:
        shortfall = 1.0 - summary.week_walking_min / summary.weekly_target_min
        scores.append((1.0 + shortfall, Focus.ACTIVITY) if shortfall > 0 else (0.0, Focus.ACTIVITY))
    return next((focus for score, focus in scores if score > 1.0), Focus.KEEP_GOING)


def highlights(summary: DailySummary) -> list[str]:
    """Short phrases on the day: sitting, lifts, bending, steps (the morning nudge's body)."""
    out = [f"{summary.sitting_min / 60:.1f} h sitting"]
    if summary.long_sitting_bouts:
        out[-1] += (
            f", {summary.long_sitting_bouts} bout(s) past {summary.sitting_limit_min:g} min"
            f" (longest {summary.longest_sitting_min:.0f} min)"
        )
    if summary.lifts:
        out.append(f"{summary.lifts} lifts, {summary.risky_lifts} risky")
    if summary.flexion_over_60_share is not None:
        out.append(f"bent past 60° {100 * summary.flexion_over_60_share:.1f} % of the time")
    out.append(
        f"{summary.steps} steps, {summary.week_walking_min:.0f} of "
        f"{summary.weekly_target_min:.0f} walking min this week"
    )
    return out


def morning_wording(summary: DailySummary) -> tuple[str, str]:
    """The morning nudge's title and message from yesterday's summary (fits a nudge)."""
    title = "Yesterday for your back"
    message = "; ".join(highlights(summary)) + ". Today: " + FOCUS_ADVICE[summary.focus]
    return title, message
