"""What a back report shows for one day (or one recording): the compact history and its JSON form.

A ``DayHistory`` holds exactly what a report needs and nothing raw: a per-minute activity
timeline (one letter per minute), seconds per activity, sitting bouts, seconds per trunk
flexion band, lifts (time, technique, risks, peak flexion), steps, sleep spells with seconds
per position, slouches, falls and the nudges sent. The daemon keeps one per wearer and local
day in its SQLite store (``to_document``/``from_document``); ``backwatch analyze --report``
builds one from a recording (``from_analysis``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from alerts.events import EventType
from alerts.summary import DailySummary, choose_focus
from monitor.activity import Activity
from monitor.analyze import AnalysisResult
from monitor.sleep import POSITIONS

DOCUMENT_VERSION = 1
MINUTE_S = 60.0
NO_DATA = "."
"""The timeline letter of a minute without data."""
ACTIVITY_LETTERS: Mapping[Activity, str] = {
    Activity.LYING: "L",
    Activity.SITTING: "S",
    Activity.STANDING: "T",
    Activity.WALKING: "W",
    Activity.RUNNING: "R",
    Activity.UNKNOWN: "U",
}
LETTER_ACTIVITIES: Mapping[str, Activity] = {v: k for k, v in ACTIVITY_LETTERS.items()}
MAX_LIFTS_PER_DAY = 5000
"""A day keeps at most this many lifts (a bound on the stored size); later ones are counted."""
MAX_BOUTS_PER_DAY = 1000
_POSITION_NAMES = tuple(p.value for p in POSITIONS)


class HistoryFormatError(ValueError):
    """A stored day history that cannot be read."""


@dataclass(frozen=True, slots=True)
class FlexionBands:
    """Seconds of trunk posture per flexion band (0-20, 20-60, beyond 60 degrees)."""

    neutral_s: float = 0.0
    moderate_s: float = 0.0
    awkward_s: float = 0.0

    @property
    def measured_s(self) -> float:
        """Seconds with a known trunk angle."""
        return self.neutral_s + self.moderate_s + self.awkward_s

    def shares(self) -> tuple[float, float, float] | None:
        """Share of the measured time in each band (None before any)."""
        total = self.measured_s
        if total <= 0:
            return None
        return (self.neutral_s / total, self.moderate_s / total, self.awkward_s / total)

    def plus(self, other: FlexionBands) -> FlexionBands:
        """Both added up."""
        return FlexionBands(
            self.neutral_s + other.neutral_s,
            self.moderate_s + other.moderate_s,
            self.awkward_s + other.awkward_s,
        )


@dataclass(frozen=True, slots=True)
class LiftRecord:
    """One lift: when, how (squat, stoop, mixed), what was risky, how deep."""

    time_s: float
    technique: str
    risks: tuple[str, ...]
    peak_flexion_deg: float | None

    @property
    def risky(self) -> bool:
        """The lift had at least one risk."""
        return bool(self.risks)


@dataclass(frozen=True, slots=True)
class SleepRecord:
    """One long lying spell: its span and seconds per position (supine .. unknown)."""

    start_s: float
    end_s: float
    position_s: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class NudgeLine:
    """One nudge sent: when, its kind and title, whether (and when) it was acknowledged."""

    time_s: float
    kind: str
    severity: str
    title: str
    acknowledged_s: float | None = None


@dataclass(frozen=True, slots=True)
class DayHistory:
    """One wearer's day (or one recording) as a report needs it.

    Times are seconds on the history's own time base (Unix seconds for the daemon's days,
    the recording's seconds for a recording); ``start_s`` is the first second shown (local
    midnight for a day) and ``span_s`` how many seconds are shown.
    """

    wearer: str
    title: str
    start_s: float
    span_s: float
    day: date | None = None
    minute_activity: str = ""
    activity_s: Mapping[str, float] = field(default_factory=dict)
    sitting_limit_s: float = 1800.0
    sitting_bouts: tuple[tuple[float, float], ...] = ()
    flexion: FlexionBands = field(default_factory=FlexionBands)
    lifts: tuple[LiftRecord, ...] = ()
    lifts_not_kept: int = 0
    steps: int = 0
    sleep: tuple[SleepRecord, ...] = ()
    slouches: tuple[tuple[float, float, float], ...] = ()
    falls: tuple[float, ...] = ()
    nudges: tuple[NudgeLine, ...] = ()

    def seconds(self, activity: Activity) -> float:
        """Seconds spent in one activity."""
        return float(self.activity_s.get(activity.value, 0.0))

    @property
    def recorded_s(self) -> float:
        """Seconds with any decided activity (unknown excluded)."""
        return sum(float(v) for k, v in self.activity_s.items() if k != Activity.UNKNOWN.value)

    @property
    def has_data(self) -> bool:
        """Anything was recorded that day."""
        return self.recorded_s > 0 or bool(self.lifts) or bool(self.nudges) or self.steps > 0

    @property
    def walking_min(self) -> float:
        """Minutes walking or running (moderate activity toward the weekly target)."""
        return (self.seconds(Activity.WALKING) + self.seconds(Activity.RUNNING)) / 60.0

    @property
    def long_bouts(self) -> tuple[tuple[float, float], ...]:
        """Sitting bouts that reached the limit."""
        return tuple(b for b in self.sitting_bouts if b[1] - b[0] >= self.sitting_limit_s)

    @property
    def lift_count(self) -> int:
        """Every lift, kept or not."""
        return len(self.lifts) + self.lifts_not_kept

    @property
    def risky_lifts(self) -> int:
        """Lifts with at least one risk (of those kept)."""
        return sum(1 for lift in self.lifts if lift.risky)

    @property
    def acknowledged_nudges(self) -> int:
        """Nudges the wearer acknowledged."""
        return sum(1 for n in self.nudges if n.acknowledged_s is not None)

    def sleep_position_s(self) -> dict[str, float]:
        """Seconds lying in each position over every sleep spell."""
        out = dict.fromkeys(_POSITION_NAMES, 0.0)
        for spell in self.sleep:
            for name, value in spell.position_s.items():
                out[name] = out.get(name, 0.0) + float(value)
        return out

    def with_nudges(self, nudges: Iterable[NudgeLine]) -> DayHistory:
        """The same day with these nudges."""
        return replace(self, nudges=tuple(sorted(nudges, key=lambda n: n.time_s)))

    # -- JSON document (the store's form) -------------------------------------------------

    def to_document(self) -> str:
        """Compact JSON of everything but the nudges (those the store keeps already)."""
        doc: dict[str, Any] = {
            "version": DOCUMENT_VERSION,
            "title": self.title,
            "start_s": self.start_s,
            "span_s": self.span_s,
            "day": None if self.day is None else self.day.isoformat(),
            "minute_activity": self.minute_activity,
            "activity_s": {k: round(float(v), 1) for k, v in sorted(self.activity_s.items())},
            "sitting_limit_s": self.sitting_limit_s,
            "sitting_bouts": [[round(a, 1), round(b, 1)] for a, b in self.sitting_bouts],
            "flexion_s": [
                round(self.flexion.neutral_s, 1),
                round(self.flexion.moderate_s, 1),
                round(self.flexion.awkward_s, 1),
            ],
            "lifts": [
                [
                    round(lift.time_s, 1),
                    lift.technique,
                    ",".join(lift.risks),
                    None if lift.peak_flexion_deg is None else round(lift.peak_flexion_deg, 1),
                ]
                for lift in self.lifts
            ],
            "lifts_not_kept": self.lifts_not_kept,
            "steps": self.steps,
            "sleep": [
                {
                    "start_s": round(s.start_s, 1),
                    "end_s": round(s.end_s, 1),
                    "position_s": {k: round(float(v), 1) for k, v in s.position_s.items()},
                }
                for s in self.sleep
            ],
            "slouches": [[round(a, 1), round(b, 1), round(d, 1)] for a, b, d in self.slouches],
            "falls": [round(t, 1) for t in self.falls],
        }
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_document(cls, wearer: str, text: str) -> DayHistory:
        """Read a stored document (raises HistoryFormatError)."""
        try:
            doc = json.loads(text)
            if int(doc["version"]) > DOCUMENT_VERSION:
                raise HistoryFormatError(f"history version {doc['version']} is too new")
            day = doc.get("day")
            flexion = doc.get("flexion_s", [0.0, 0.0, 0.0])
            return cls(
                wearer=wearer,
                title=str(doc["title"]),
                start_s=float(doc["start_s"]),
                span_s=float(doc["span_s"]),
                day=None if day is None else date.fromisoformat(day),
                minute_activity=str(doc.get("minute_activity", "")),
                activity_s={str(k): float(v) for k, v in doc.get("activity_s", {}).items()},
                sitting_limit_s=float(doc.get("sitting_limit_s", 1800.0)),
                sitting_bouts=tuple((float(a), float(b)) for a, b in doc.get("sitting_bouts", [])),
                flexion=FlexionBands(float(flexion[0]), float(flexion[1]), float(flexion[2])),
                lifts=tuple(
                    LiftRecord(
                        float(t),
                        str(tech),
                        tuple(r for r in str(risks).split(",") if r),
                        None if peak is None else float(peak),
                    )
                    for t, tech, risks, peak in doc.get("lifts", [])
                ),
                lifts_not_kept=int(doc.get("lifts_not_kept", 0)),
                steps=int(doc.get("steps", 0)),
                sleep=tuple(
                    SleepRecord(
                        float(s["start_s"]),
                        float(s["end_s"]),
                        {str(k): float(v) for k, v in s["position_s"].items()},
                    )
                    for s in doc.get("sleep", [])
                ),
                slouches=tuple(
                    (float(a), float(b), float(d)) for a, b, d in doc.get("slouches", [])
                ),
                falls=tuple(float(t) for t in doc.get("falls", [])),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            if isinstance(exc, HistoryFormatError):
                raise
            raise HistoryFormatError(
                f"stored day history of {wearer} is unreadable: {exc}"
            ) from exc


def minute_seconds(
    segments: Iterable[tuple[str, float, float]], start_s: float, span_s: float
) -> npt.NDArray[np.float64]:
    """Seconds of each activity in each minute from ``start_s``: shape (minutes, activities).

    ``segments``: ``(activity, start_s, end_s)``; activities in ``ACTIVITY_LETTERS`` order.
    """
    minutes = max(0, math.ceil(span_s / MINUTE_S))
    names = [a.value for a in ACTIVITY_LETTERS]
    filled = np.zeros((minutes, len(names)))
    edges = start_s + MINUTE_S * np.arange(minutes + 1, dtype=np.float64)
    for activity, a, b in segments:
        lo = max(a, start_s)
        hi = min(b, float(edges[-1]))
        if hi <= lo:
            continue
        first = int((lo - start_s) // MINUTE_S)
        last = min(minutes, math.ceil((hi - start_s) / MINUTE_S))
        overlap = np.minimum(hi, edges[first + 1 : last + 1]) - np.maximum(lo, edges[first:last])
        filled[first:last, names.index(activity)] += np.clip(overlap, 0.0, None)
    return filled


def timeline_letters(filled: npt.NDArray[np.float64]) -> str:
    """One letter per minute: the activity that filled most of it (``NO_DATA`` for none)."""
    if filled.shape[0] == 0:
        return ""
    letters = np.array([*ACTIVITY_LETTERS.values(), NO_DATA])
    best = np.argmax(filled, axis=1)
    best[filled.max(axis=1) <= 0] = len(ACTIVITY_LETTERS)
    return "".join(letters[best].tolist())


def minute_timeline(
    segments: Iterable[tuple[str, float, float]], start_s: float, span_s: float
) -> str:
    """One letter per minute from ``start_s``: the activity that filled most of that minute.

    ``segments``: ``(activity, start_s, end_s)``. A minute no segment touches is ``NO_DATA``.
    """
    return timeline_letters(minute_seconds(segments, start_s, span_s))


def lift_record(
    start_s: float, labels: Mapping[str, str], evidence: Mapping[str, float]
) -> LiftRecord:
    """A lift record from a lift observation's labels and evidence."""
    peak = evidence.get("peak_flexion_deg")
    return LiftRecord(
        time_s=start_s,
        technique=labels.get("technique", "mixed"),
        risks=tuple(r for r in labels.get("risks", "").split(",") if r),
        peak_flexion_deg=None if peak is None or not math.isfinite(peak) else float(peak),
    )


def from_analysis(result: AnalysisResult, *, title: str, wearer: str = "recording") -> DayHistory:
    """The history of a recording, as ``backwatch analyze`` evaluated it."""
    start_s = result.segments[0].start_s if result.segments else 0.0
    span_s = max(result.duration_s, MINUTE_S)
    activity_s: dict[str, float] = {}
    for seg in result.segments:
        activity_s[seg.activity.value] = activity_s.get(seg.activity.value, 0.0) + seg.duration_s
    e = result.exposure
    lifts = tuple(
        lift_record(o.start_s, o.labels, o.evidence)
        for o in result.observations
        if o.type is EventType.LIFT
    )
    return DayHistory(
        wearer=wearer,
        title=title,
        start_s=start_s,
        span_s=span_s,
        minute_activity=minute_timeline(
            ((s.activity.value, s.start_s, s.end_s) for s in result.segments), start_s, span_s
        ),
        activity_s=activity_s,
        sitting_limit_s=result.limit_s,
        sitting_bouts=tuple((b.start_s, b.end_s) for b in result.sitting_bouts),
        flexion=FlexionBands(e.neutral_s, e.moderate_s, e.awkward_s),
        lifts=lifts,
        steps=result.steps,
        sleep=tuple(
            SleepRecord(s.start_s, s.end_s, {p.value: s.seconds(p) for p in POSITIONS})
            for s in result.lying_spells
        ),
        slouches=tuple(
            (h.start_s, h.end_s, h.angle_deg)
            for h in result.posture_holds
            if h.type is EventType.SLOUCH
        ),
        falls=tuple(o.start_s for o in result.observations if o.type is EventType.FALL),
    )


@dataclass(frozen=True, slots=True)
class WeekHistory:
    """Seven consecutive days of one wearer (days without data are empty histories)."""

    wearer: str
    days: Sequence[DayHistory]
    weekly_target_min: float = 150.0

    @property
    def walking_min(self) -> float:
        """Minutes walking or running over the week."""
        return sum(d.walking_min for d in self.days)

    @property
    def days_with_data(self) -> list[DayHistory]:
        """Days on which anything was recorded."""
        return [d for d in self.days if d.has_data]


def summary_of(
    day: DayHistory, *, week_walking_min: float | None, weekly_target_min: float = 150.0
) -> DailySummary:
    """The day's ``DailySummary`` (the retained topic's payload and the report's cards).

    ``week_walking_min``: walking of the seven days ending with this day; None (a
    recording) counts only the day's and leaves the weekly target out of the focus.
    """
    shares = day.flexion.shares()
    positions = day.sleep_position_s()
    known = {k: v for k, v in positions.items() if k != "unknown" and v > 0}
    longest_s = max((b - a for a, b in day.sitting_bouts), default=0.0)
    week = week_walking_min if week_walking_min is not None else day.walking_min
    summary = DailySummary(
        wearer=day.wearer,
        day=(day.day.isoformat() if day.day is not None else "1970-01-01"),
        recorded_min=round(day.recorded_s / 60.0, 1),
        lying_min=round(day.seconds(Activity.LYING) / 60.0, 1),
        sitting_min=round(day.seconds(Activity.SITTING) / 60.0, 1),
        standing_min=round(day.seconds(Activity.STANDING) / 60.0, 1),
        walking_min=round(day.walking_min, 1),
        longest_sitting_min=round(longest_s / 60.0, 1),
        long_sitting_bouts=len(day.long_bouts),
        sitting_limit_min=day.sitting_limit_s / 60.0,
        steps=day.steps,
        flexion_over_60_share=None if shares is None else round(shares[2], 4),
        lifts=day.lift_count,
        risky_lifts=day.risky_lifts,
        sleep_position=max(known, key=known.__getitem__) if known else None,
        nudges=len(day.nudges),
        nudges_acknowledged=day.acknowledged_nudges,
        week_walking_min=round(week, 1),
        weekly_target_min=weekly_target_min,
    )
    focus = choose_focus(summary, weekly=week_walking_min is not None)
    return summary.model_copy(update={"focus": focus})
