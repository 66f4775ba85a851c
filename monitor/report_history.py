"""The daemon's day history: recorded per wearer and local day into the store, read for reports.

``HistoryRecorder`` follows one wearer's evaluator: the decided activity segments (a
per-minute timeline and seconds per activity), sitting bouts, the flexion-band seconds and
steps (as differences of the evaluator's running totals), and the lifts, slouches, falls and
sleep spells it observes. Each local day is kept as one compact ``DayHistory`` document in
the ``AlertStore`` (a few kilobytes: no samples), written every few minutes and when the day
ends, so a restart loses at most those minutes; a restart during a day carries on the stored
document. The store's retention prunes old days with the rest of the history.

``load_day`` and ``load_week`` read the documents back, with the day's nudges from the
store's nudge history, for ``backwatch report`` and the daily summary.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

import numpy as np
import numpy.typing as npt

from alerts.events import EventType, Observation
from alerts.store import AlertStore
from alerts.summary import DailySummary
from monitor.activity import Segment
from monitor.posture import PostureExposure
from monitor.report_model import (
    ACTIVITY_LETTERS,
    LETTER_ACTIVITIES,
    MAX_BOUTS_PER_DAY,
    MAX_LIFTS_PER_DAY,
    MINUTE_S,
    DayHistory,
    FlexionBands,
    HistoryFormatError,
    LiftRecord,
    NudgeLine,
    SleepRecord,
    WeekHistory,
    lift_record,
    minute_seconds,
    summary_of,
    timeline_letters,
)
from monitor.sitting import SittingBout
from monitor.sleep import POSITIONS

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 300.0
"""Sample seconds between writes of the current day's document."""
UPDATE_EVERY_S = 60.0
"""Sample seconds between looks at the evaluator (its segments are rebuilt on each look)."""
DAY_GRACE_S = 900.0
"""A finished day stays open this long after midnight for late bouts and lifts."""
WEEKLY_TARGET_MIN = 150.0
"""WHO 2020: at least 150 minutes of moderate activity a week."""
_ACTIVITY_NAMES = tuple(a.value for a in ACTIVITY_LETTERS)


def local_midnight(day: date, zone: tzinfo | None) -> datetime:
    """The start of a local day (``zone`` None: the system's local zone)."""
    if zone is None:
        return datetime.combine(day, time()).astimezone()
    return datetime.combine(day, time(), tzinfo=zone)


def day_bounds(day: date, zone: tzinfo | None) -> tuple[float, float]:
    """``(start_s, end_s)`` of a local day in Unix seconds (23 or 25 h across DST changes)."""
    start = local_midnight(day, zone)
    end = local_midnight(day + timedelta(days=1), zone)
    return start.timestamp(), end.timestamp()


def local_day(t_s: float, zone: tzinfo | None) -> date:
    """The local day a Unix time falls on."""
    moment = datetime.fromtimestamp(t_s, UTC)
    return (moment.astimezone(zone) if zone is not None else moment.astimezone()).date()


class EvaluatorLike(Protocol):
    """What the recorder reads from a ``WearerEvaluator``."""

    @property
    def segments(self) -> list[Segment]:
        """Decided activity segments."""
        ...

    @property
    def sitting_bouts(self) -> list[SittingBout]:
        """Closed sitting bouts, then the ongoing one."""
        ...

    @property
    def exposure(self) -> PostureExposure:
        """Trunk posture seconds so far."""
        ...

    @property
    def steps(self) -> int:
        """Steps so far."""
        ...


@dataclass(slots=True)
class _DayAccumulator:
    """One local day being recorded."""

    day: date
    start_s: float
    span_s: float
    sitting_limit_s: float
    minute_s: npt.NDArray[np.float64]
    activity_s: dict[str, float] = field(default_factory=dict)
    bouts: dict[float, float] = field(default_factory=dict)
    flexion: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    lifts: list[LiftRecord] = field(default_factory=list)
    lifts_not_kept: int = 0
    steps: int = 0
    sleep: list[SleepRecord] = field(default_factory=list)
    slouches: list[tuple[float, float, float]] = field(default_factory=list)
    falls: list[float] = field(default_factory=list)
    dirty: bool = False

    @classmethod
    def new(cls, day: date, zone: tzinfo | None, sitting_limit_s: float) -> _DayAccumulator:
        start_s, end_s = day_bounds(day, zone)
        minutes = math.ceil((end_s - start_s) / MINUTE_S)
        return cls(
            day,
            start_s,
            end_s - start_s,
            sitting_limit_s,
            np.zeros((minutes, len(_ACTIVITY_NAMES))),
        )

    @classmethod
    def resume(cls, history: DayHistory, zone: tzinfo | None) -> _DayAccumulator:
        """Carry on a stored day (a restart): its minutes count as wholly their activity."""
        assert history.day is not None
        acc = cls.new(history.day, zone, history.sitting_limit_s)
        for minute, letter in enumerate(history.minute_activity[: acc.minute_s.shape[0]]):
            activity = LETTER_ACTIVITIES.get(letter)
            if activity is not None:
                acc.minute_s[minute, _ACTIVITY_NAMES.index(activity.value)] = MINUTE_S
        acc.activity_s = dict(history.activity_s)
        acc.bouts = dict(history.sitting_bouts)
        acc.flexion = [
            history.flexion.neutral_s,
            history.flexion.moderate_s,
            history.flexion.awkward_s,
        ]
        acc.lifts = list(history.lifts)
        acc.lifts_not_kept = history.lifts_not_kept
        acc.steps = history.steps
        acc.sleep = list(history.sleep)
        acc.slouches = list(history.slouches)
        acc.falls = list(history.falls)
        return acc

    def history(self, wearer: str) -> DayHistory:
        return DayHistory(
            wearer=wearer,
            title=self.day.isoformat(),
            start_s=self.start_s,
            span_s=self.span_s,
            day=self.day,
            minute_activity=timeline_letters(self.minute_s),
            activity_s=dict(self.activity_s),
            sitting_limit_s=self.sitting_limit_s,
            sitting_bouts=tuple(sorted(self.bouts.items())),
            flexion=FlexionBands(*self.flexion),
            lifts=tuple(self.lifts),
            lifts_not_kept=self.lifts_not_kept,
            steps=self.steps,
            sleep=tuple(self.sleep),
            slouches=tuple(self.slouches),
            falls=tuple(self.falls),
        )


class HistoryRecorder:
    """Records one wearer's days into the store while the daemon runs (one per pipeline)."""

    def __init__(
        self,
        store: AlertStore,
        wearer: str,
        *,
        timezone: tzinfo | None,
        sitting_limit_s: float,
        flush_every_s: float = FLUSH_EVERY_S,
        update_every_s: float = UPDATE_EVERY_S,
    ) -> None:
        """Record into ``store``; days are local days of ``timezone`` (None: the system's)."""
        self._store = store
        self.wearer = wearer
        self._zone = timezone
        self._limit_s = sitting_limit_s
        self._flush_every_s = flush_every_s
        self._update_every_s = update_every_s
        self._last_update_s = -math.inf
        self._days: dict[date, _DayAccumulator] = {}
        self._segments_until_s = -math.inf
        self._totals: tuple[float, float, float, float] | None = None
        self._last_flush_s = -math.inf
        self._latest_s = -math.inf
        self._looked_back = False

    def _day(self, t_s: float) -> _DayAccumulator | None:
        day = local_day(t_s, self._zone)
        acc = self._days.get(day)
        if acc is not None:
            return acc
        if self._days and day < min(self._days):
            return None  # a day already closed and written
        stored = self._store.day_history(self.wearer, day.isoformat())
        if stored is not None:
            try:
                acc = _DayAccumulator.resume(
                    DayHistory.from_document(self.wearer, stored), self._zone
                )
            except HistoryFormatError as exc:
                log.warning("%s: %s; starting the day afresh", self.wearer, exc)
        if acc is None:
            acc = _DayAccumulator.new(day, self._zone, self._limit_s)
        self._days[day] = acc
        return acc

    def observe(self, observations: Iterable[Observation]) -> None:
        """Take the lifts, slouches, falls and sleep spells among new observations."""
        for obs in observations:
            if obs.type is EventType.LIFT:
                acc = self._day(obs.start_s)
                if acc is None:
                    continue
                if len(acc.lifts) < MAX_LIFTS_PER_DAY:
                    acc.lifts.append(lift_record(obs.start_s, obs.labels, obs.evidence))
                else:
                    acc.lifts_not_kept += 1
            elif obs.type is EventType.SLOUCH:
                acc = self._day(obs.start_s)
                if acc is not None:
                    acc.slouches.append(
                        (obs.start_s, obs.end_s, float(obs.evidence.get("flexion_deg", math.nan)))
                    )
            elif obs.type is EventType.FALL:
                acc = self._day(obs.start_s)
                if acc is not None:
                    acc.falls.append(obs.start_s)
            elif obs.type is EventType.SLEEP_POSITION:
                acc = self._day(obs.end_s)  # last night belongs to the morning it ended
                if acc is not None:
                    acc.sleep.append(
                        SleepRecord(
                            obs.start_s,
                            obs.end_s,
                            {
                                p.value: float(obs.evidence.get(f"{p.value}_s", 0.0))
                                for p in POSITIONS
                            },
                        )
                    )
            else:
                continue
            if acc is not None:
                acc.dirty = True

    def update(
        self, evaluator: EvaluatorLike, sample_time_s: float | None, *, force: bool = False
    ) -> list[DayHistory]:
        """Take what the evaluator decided since the last look; returns days now finished.

        Looks at most every ``update_every_s`` of sample time (``force``: now). A day is
        finished (written and let go) once the sample time is ``DAY_GRACE_S`` into the next
        one. Writes the open days every ``flush_every_s`` of sample time.
        """
        if sample_time_s is None or not math.isfinite(sample_time_s):
            return []
        if not force and sample_time_s - self._last_update_s < self._update_every_s:
            return []
        self._last_update_s = sample_time_s
        self._latest_s = max(self._latest_s, sample_time_s)
        self._take_segments(evaluator.segments)
        self._take_bouts(evaluator.sitting_bouts)
        self._take_totals(evaluator.exposure, evaluator.steps, sample_time_s)
        finished = self._unsummarised_yesterday(sample_time_s)
        for day in sorted(self._days):
            _, end_s = day_bounds(day, self._zone)
            if self._latest_s >= end_s + DAY_GRACE_S:
                acc = self._days.pop(day)
                self._write(acc)
                finished.append(acc.history(self.wearer))
        if self._latest_s - self._last_flush_s >= self._flush_every_s:
            self.flush()
        return finished

    def _unsummarised_yesterday(self, t_s: float) -> list[DayHistory]:
        """Once, at the first look: yesterday's stored day if a restart kept it from its summary."""
        if self._looked_back:
            return []
        self._looked_back = True
        yesterday = local_day(t_s, self._zone) - timedelta(days=1)
        if yesterday in self._days or t_s < day_bounds(yesterday, self._zone)[1] + DAY_GRACE_S:
            return []
        key = yesterday.isoformat()
        stored = self._store.day_history(self.wearer, key)
        if stored is None or self._store.daily_summary(self.wearer, key) is not None:
            return []
        try:
            return [DayHistory.from_document(self.wearer, stored)]
        except HistoryFormatError as exc:
            log.warning("%s: %s; no summary of %s", self.wearer, exc, key)
            return []

    def flush(self) -> None:
        """Write every open day that changed."""
        for acc in self._days.values():
            if acc.dirty:
                self._write(acc)
        self._last_flush_s = self._latest_s

    def today(self) -> DayHistory | None:
        """The latest open day, as recorded so far."""
        if not self._days:
            return None
        return self._days[max(self._days)].history(self.wearer)

    def _write(self, acc: _DayAccumulator) -> None:
        self._store.set_day_history(
            self.wearer, acc.day.isoformat(), acc.history(self.wearer).to_document(), acc.start_s
        )
        acc.dirty = False

    def _take_segments(self, segments: Sequence[Segment]) -> None:
        # Only the tail is new: walk back to the first segment ending after what was taken.
        first = len(segments)
        while first > 0 and segments[first - 1].end_s > self._segments_until_s:
            first -= 1
        for seg in segments[first:]:
            a = max(seg.start_s, self._segments_until_s)
            b = seg.end_s
            while b > a:
                acc = self._day(a)
                if acc is None:
                    a = day_bounds(local_day(a, self._zone), self._zone)[1]
                    continue
                piece_end = min(b, acc.start_s + acc.span_s)
                name = seg.activity.value
                acc.minute_s += minute_seconds(((name, a, piece_end),), acc.start_s, acc.span_s)
                acc.activity_s[name] = acc.activity_s.get(name, 0.0) + (piece_end - a)
                acc.dirty = True
                a = piece_end
        if segments:
            self._segments_until_s = max(self._segments_until_s, segments[-1].end_s)

    def _take_bouts(self, bouts: Sequence[SittingBout]) -> None:
        for bout in reversed(bouts):
            acc = self._day(bout.start_s)
            if acc is None:
                break
            if acc.bouts.get(bout.start_s) == bout.end_s:
                break  # this and every earlier bout are recorded already
            if bout.start_s in acc.bouts or len(acc.bouts) < MAX_BOUTS_PER_DAY:
                acc.bouts[bout.start_s] = bout.end_s
                acc.dirty = True

    def _take_totals(self, exposure: PostureExposure, steps: int, t_s: float) -> None:
        totals = (exposure.neutral_s, exposure.moderate_s, exposure.awkward_s, float(steps))
        previous = self._totals
        self._totals = totals
        if previous is None:
            previous = (0.0, 0.0, 0.0, 0.0)
        delta = [max(0.0, now - before) for now, before in zip(totals, previous, strict=True)]
        if not any(delta):
            return
        acc = self._day(t_s)
        if acc is None:
            return
        for band in range(3):
            acc.flexion[band] += delta[band]
        acc.steps += round(delta[3])
        acc.dirty = True


def _nudge_lines(store: AlertStore, wearer: str, start_s: float, end_s: float) -> list[NudgeLine]:
    lines = []
    for record in store.nudges_of(wearer, start_s):
        if record.time_s >= end_s:
            break
        try:
            title = str(json.loads(record.payload).get("title", record.kind))
        except (ValueError, AttributeError):
            title = record.kind
        lines.append(
            NudgeLine(record.time_s, record.kind, record.severity, title, record.acknowledged_s)
        )
    return lines


def load_day(
    store: AlertStore, wearer: str, day: date, zone: tzinfo | None, sitting_limit_s: float = 1800.0
) -> DayHistory:
    """One stored day with its nudges (an empty day when nothing was kept)."""
    start_s, end_s = day_bounds(day, zone)
    stored = store.day_history(wearer, day.isoformat())
    if stored is not None:
        history = DayHistory.from_document(wearer, stored)
    else:
        history = DayHistory(
            wearer=wearer,
            title=day.isoformat(),
            start_s=start_s,
            span_s=end_s - start_s,
            day=day,
            sitting_limit_s=sitting_limit_s,
        )
    return history.with_nudges(_nudge_lines(store, wearer, start_s, end_s))


def finish_day(
    store: AlertStore,
    day: DayHistory,
    zone: tzinfo | None,
    *,
    weekly_target_min: float = WEEKLY_TARGET_MIN,
) -> DailySummary:
    """The summary of a finished day (with its nudges and the week's walking), kept in store."""
    assert day.day is not None
    week = load_week(
        store,
        day.wearer,
        day.day,
        zone,
        weekly_target_min=weekly_target_min,
        sitting_limit_s=day.sitting_limit_s,
    )
    summary = summary_of(
        week.days[-1], week_walking_min=week.walking_min, weekly_target_min=weekly_target_min
    )
    store.set_daily_summary(day.wearer, day.day.isoformat(), summary.to_json())
    return summary


def load_week(
    store: AlertStore,
    wearer: str,
    last_day: date,
    zone: tzinfo | None,
    *,
    weekly_target_min: float = WEEKLY_TARGET_MIN,
    sitting_limit_s: float = 1800.0,
) -> WeekHistory:
    """The seven days ending with ``last_day``."""
    days = [
        load_day(store, wearer, last_day - timedelta(days=back), zone, sitting_limit_s)
        for back in range(6, -1, -1)
    ]
    return WeekHistory(wearer, days, weekly_target_min)
