"""Delivery policy: which observations, tips, relief steps and reports become nudges, and when.

Rules, in the order they are checked for an observation or a prevention tip:

1. de-duplication: the same observation (wearer, type, start and end sample time) seen again
   within ``dedup_window_s`` is dropped;
2. urgent wording (a possible fall, a red flag) passes everything below and escalates: it is
   repeated every ``escalation_interval_s`` until acknowledged, for ``escalation_window_s``.
   A fall check is not repeated as it is: when nobody answers it within
   ``fall_ack_window_s``, it becomes an urgent red-flag alert ("no answer after a possible
   fall"), repeated every ``escalation_interval_s`` until someone acknowledges it (I'm OK,
   or acknowledge by any id of the chain), with no end and no hold;
3. snooze (one kind or all, for a duration);
4. quiet hours (local wall time; per wearer, or the default);
5. per-kind cool-down: after a nudge of kind K to wearer W at T, further K nudges to W are held
   while ``now - T < cooldown``; at exactly ``T + cooldown`` the next one goes out; held
   observations do not restart it;
6. daily caps per kind and in total (local day).

What the wearer asks for (a cramp report's first steps, a symptom report's answer) is never
held back. Later relief-plan steps honour snooze and quiet hours and wait for them to end;
when several steps of one group are due together only the last is sent. Everything the
policy must remember lives in the ``AlertStore``; decisions read the injected clock and do
no other I/O. Deterministic given the clock, the store's contents and ``new_id``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from itertools import groupby
from types import MappingProxyType

from alerts.catalogue import Catalogue, Wording, lift_bundle_wording, lift_risks
from alerts.clock import Clock, as_utc
from alerts.events import EventType, Observation
from alerts.guidance import (
    DEFAULT_RELIEF_PLAN,
    DEFAULT_TIPS,
    GUIDANCE,
    RED_FLAG_SYMPTOMS,
    RELIEF_REMINDERS,
    WEEKLY_ACTIVITY_TARGET_MIN,
    GuidanceId,
    ReliefPlan,
    Symptom,
    TipSchedule,
    fall_alert_wording,
    morning_summary_wording,
    ordered_symptoms,
    red_flag_wording,
    weekly_activity_wording,
)
from alerts.nudge import Nudge, NudgeKind, Severity
from alerts.store import (
    ALL_KINDS,
    AlertStore,
    NudgeOrigin,
    ReliefStepRecord,
    ReliefStepState,
)
from alerts.summary import DailySummary

DAY_S = 86_400.0
DUE_POLL_S = 15.0
"""How often (clock seconds) the daemon should call ``DeliveryPolicy.due``."""


def new_nudge_id() -> str:
    """A fresh random nudge id (uuid4, 32 lowercase hex digits)."""
    return uuid.uuid4().hex


def _checked_cooldown_s(name: str, value_s: float) -> float:
    if not math.isfinite(value_s) or value_s < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value_s!r}")
    return float(value_s)


class HoldReason(StrEnum):
    """Why a nudge was not sent."""

    DUPLICATE = "duplicate"
    SNOOZED = "snoozed"
    QUIET_HOURS = "quiet_hours"
    COOLDOWN = "cooldown"
    DAILY_CAP = "daily_cap"
    NOT_WORTH_A_NUDGE = "not_worth_a_nudge"


class PolicyInputError(ValueError):
    """A request the policy cannot carry out (bad duration, no symptoms); says why."""


class UnknownNudgeError(LookupError):
    """No nudge with this id was sent to this wearer."""

    def __init__(self, wearer: str, nudge_id: str) -> None:
        """Name the id and wearer."""
        super().__init__(f"no nudge {nudge_id!r} was sent to {wearer!r}")
        self.wearer = wearer
        self.nudge_id = nudge_id


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A local wall-time window; ``start`` after ``end`` spans midnight; equal means none."""

    start: time
    end: time

    def __post_init__(self) -> None:
        """Local times carry no zone."""
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall times without a zone")

    def contains(self, moment: time) -> bool:
        """Whether a local time of day falls inside (start included, end excluded)."""
        local = moment.replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    @property
    def start_min(self) -> int:
        """Start in minutes after midnight."""
        return self.start.hour * 60 + self.start.minute

    @property
    def end_min(self) -> int:
        """End in minutes after midnight."""
        return self.end.hour * 60 + self.end.minute

    @classmethod
    def from_minutes(cls, start_min: int, end_min: int) -> QuietHours:
        """From minutes after midnight (0..1439)."""
        return cls(time(*divmod(start_min, 60)), time(*divmod(end_min, 60)))

    def text(self) -> str:
        """``22:00-07:00``."""
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"


RECOMMENDED_QUIET_HOURS = QuietHours(time(22, 0), time(7, 0))
RECOMMENDED_DAILY_CAP = 8
RECOMMENDED_TOTAL_DAILY_CAP = 20


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """Everything beyond cool-downs; the defaults hold nothing back (see ``recommended``).

    ``timezone`` is the wearer's local zone for quiet hours, days and tips (None: the
    system's local zone).
    """

    quiet_hours: QuietHours | None = None
    daily_cap: Mapping[NudgeKind, int] = field(default_factory=lambda: MappingProxyType({}))
    default_daily_cap: int | None = None
    total_daily_cap: int | None = None
    dedup_window_s: float = DAY_S
    escalation_interval_s: float = 300.0
    escalation_window_s: float = 3600.0
    fall_ack_window_s: float = 60.0
    lift_bundle_max_age_s: float = 3600.0
    relief_plan: ReliefPlan = DEFAULT_RELIEF_PLAN
    relief_first_hour_s: float = 3600.0
    relief_reminder_gap_s: float = 2 * 3600.0
    cramp_repeat_window_s: float = 600.0
    tips: tuple[TipSchedule, ...] = ()
    tip_grace_s: float = 3600.0
    weekly_activity_target_min: float = WEEKLY_ACTIVITY_TARGET_MIN
    max_snooze_s: float = 7 * DAY_S
    timezone: tzinfo | None = None

    def __post_init__(self) -> None:
        """Refuse numbers that make no sense, naming the field."""
        for name in (
            "dedup_window_s",
            "escalation_window_s",
            "relief_first_hour_s",
            "relief_reminder_gap_s",
            "cramp_repeat_window_s",
            "lift_bundle_max_age_s",
            "tip_grace_s",
            "max_snooze_s",
        ):
            _checked_cooldown_s(name, getattr(self, name))
        for name in ("escalation_interval_s", "fall_ack_window_s"):
            value_s = getattr(self, name)
            if not math.isfinite(value_s) or value_s <= 0:
                raise ValueError(f"{name} must be a finite number of seconds > 0")
        caps: dict[str, int | None] = {
            f"daily_cap[{k.value}]": v for k, v in self.daily_cap.items()
        }
        caps["default_daily_cap"] = self.default_daily_cap
        caps["total_daily_cap"] = self.total_daily_cap
        for name, cap in caps.items():
            if cap is not None and cap < 0:
                raise ValueError(f"{name} must be >= 0, got {cap}")
        object.__setattr__(self, "daily_cap", MappingProxyType(dict(self.daily_cap)))

    @classmethod
    def recommended(cls, timezone: tzinfo | None = None) -> PolicyRules:
        """Quiet 22:00-07:00, at most 8 nudges of a kind and 20 in all a day, tips on."""
        return cls(
            quiet_hours=RECOMMENDED_QUIET_HOURS,
            default_daily_cap=RECOMMENDED_DAILY_CAP,
            total_daily_cap=RECOMMENDED_TOTAL_DAILY_CAP,
            tips=DEFAULT_TIPS,
            timezone=timezone,
        )


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The result of acknowledging a nudge."""

    nudge_id: str
    root_id: str
    stopped_escalation: bool
    already_acknowledged: bool


@dataclass(frozen=True, slots=True)
class SnoozeSet:
    """The result of a snooze: which kind (None: all) is held until when (None: cleared)."""

    kind: NudgeKind | None
    until: datetime | None


@dataclass(frozen=True, slots=True)
class ReliefPlanStarted:
    """The result of a cramp report: the plan, the nudges sent now, what comes next.

    ``repeated`` is true when a plan was started moments ago and this report joined it.
    """

    plan_id: str
    nudges: tuple[Nudge, ...]
    started: datetime
    next_step: datetime | None
    ends: datetime
    replaced_plan: bool
    repeated: bool


@dataclass(frozen=True, slots=True)
class SymptomsReported:
    """The result of a symptom report: red flags found and the nudge sent (if any).

    ``open_alert_id`` names an alert for the same red flags that is still waiting for
    acknowledgement (then no new one is sent).
    """

    symptoms: tuple[Symptom, ...]
    red_flags: tuple[Symptom, ...]
    nudge: Nudge | None
    open_alert_id: str | None


class ReliefPhase(StrEnum):
    """Where an active relief plan stands."""

    COLD = "cold"
    HEAT = "heat"
    CHECK_IN = "check_in"


@dataclass(frozen=True, slots=True)
class ReliefStatus:
    """An active relief plan as the retained state shows it."""

    plan_id: str
    started: datetime
    phase: ReliefPhase
    next_step: datetime | None
    ends: datetime


class DeliveryPolicy:
    """Turns observations, tips, relief steps and reports into nudges under the rules above."""

    __slots__ = (
        "_catalogue",
        "_clock",
        "_cooldown_s",
        "_default_cooldown_s",
        "_new_id",
        "_rules",
        "_store",
    )

    def __init__(
        self,
        catalogue: Catalogue,
        clock: Clock,
        cooldown_s: Mapping[NudgeKind, float],
        default_cooldown_s: float,
        new_id: Callable[[], str] = new_nudge_id,
        *,
        rules: PolicyRules | None = None,
        store: AlertStore | None = None,
    ) -> None:
        """Set wording, clock, cool-downs per kind (others get the default), rules and store.

        Without a store the state lives in memory (lost on exit).
        """
        self._catalogue = catalogue
        self._clock = clock
        self._cooldown_s: Mapping[NudgeKind, float] = MappingProxyType(
            {
                kind: _checked_cooldown_s(f"cooldown_s[{kind.value}]", value_s)
                for kind, value_s in cooldown_s.items()
            }
        )
        self._default_cooldown_s = _checked_cooldown_s("default_cooldown_s", default_cooldown_s)
        self._new_id = new_id
        self._rules = rules if rules is not None else PolicyRules()
        self._store = store if store is not None else AlertStore.in_memory()

    @property
    def rules(self) -> PolicyRules:
        """The rules in force."""
        return self._rules

    @property
    def store(self) -> AlertStore:
        """Where the policy keeps its state."""
        return self._store

    def cooldown_for(self, kind: NudgeKind) -> float:
        """The cool-down in seconds applied to nudges of this kind."""
        return self._cooldown_s.get(kind, self._default_cooldown_s)

    # -- observations -------------------------------------------------------------------------

    def decide(self, observation: Observation) -> Nudge | None:
        """The nudge to send for this observation, or None while it is held back.

        Raises ``MissingTemplateError`` when the catalogue has no wording for the type.
        """
        nudge, _reason = self.decide_with_reason(observation)
        return nudge

    def decide_with_reason(
        self, observation: Observation
    ) -> tuple[Nudge | None, HoldReason | None]:
        """Like ``decide``, also saying why nothing was sent."""
        wording = self._catalogue.render(observation)
        if not self._catalogue.wants_nudge(observation):
            return None, HoldReason.NOT_WORTH_A_NUDGE
        now = self._now()
        now_s = now.timestamp()
        wearer = observation.wearer
        key = f"obs:{observation.type.value}:{observation.start_s!r}:{observation.end_s!r}"
        with self._store.transaction():
            if self._store.seen(wearer, key, now_s - self._rules.dedup_window_s) is not None:
                return None, HoldReason.DUPLICATE
            if wording.severity is not Severity.URGENT:
                reason = self._held(wearer, wording.kind, now)
                if reason is HoldReason.COOLDOWN and observation.type is EventType.LIFT:
                    self._store.hold(wearer, wording.kind.value, now_s, lift_risks(observation))
                if reason is not None:
                    return None, reason
            nudge = self._issue(
                wearer,
                wording,
                now,
                NudgeOrigin.OBSERVATION,
                start_s=observation.start_s,
                end_s=observation.end_s,
            )
            self._store.remember(wearer, key, now_s, nudge.id)
        return nudge, None

    # -- timers -------------------------------------------------------------------------------

    def due(self, wearers: Iterable[str]) -> list[Nudge]:
        """Nudges whose time has come: escalation repeats, relief steps, prevention tips.

        Call it every ``DUE_POLL_S`` seconds of clock time (more often is harmless).
        """
        now = self._now()
        with self._store.transaction():
            nudges = self._due_escalations(now)
            nudges += self._due_lift_bundles(now)
            nudges += self._due_relief_steps(now)
            nudges += self._due_tips(now, wearers)
        return nudges

    def _due_escalations(self, now: datetime) -> list[Nudge]:
        now_s = now.timestamp()
        nudges = []
        for escalation in self._store.escalations():
            if escalation.next_s > now_s:
                break
            if escalation.until_s is not None and now_s >= escalation.until_s:
                self._store.reschedule_escalation(escalation.root_id, None, escalation.repeats)
                continue
            original = Nudge.from_json(escalation.payload)
            repeats = escalation.repeats + 1
            nudge = self._repeat(original, repeats, now)
            self._store.record_nudge(
                nudge_id=nudge.id,
                wearer=nudge.wearer,
                kind=nudge.kind.value,
                severity=nudge.severity.value,
                origin=NudgeOrigin.ESCALATION,
                time_s=now_s,
                day=self._day(now).isoformat(),
                payload=nudge.to_json(),
                root_id=escalation.root_id,
            )
            next_s = max(
                escalation.next_s + self._rules.escalation_interval_s,
                now_s + self._rules.escalation_interval_s / 2,
            )
            self._store.reschedule_escalation(escalation.root_id, next_s, repeats)
            nudges.append(nudge)
        return nudges

    def _due_lift_bundles(self, now: datetime) -> list[Nudge]:
        """One nudge for the risky lifts a cool-down held back, once it allows one."""
        now_s = now.timestamp()
        kind = NudgeKind.LIFT_FORM
        nudges = []
        for wearer, held in self._store.held(kind.value).items():
            fresh = [
                (time_s, risks)
                for time_s, risks in held
                if now_s - time_s < self._rules.lift_bundle_max_age_s
            ]
            if not fresh:
                self._store.clear_held(wearer, kind.value)
                continue
            if self._held(wearer, kind, now) is not None:
                continue
            since = self._local(_from_s(fresh[0][0])).strftime("%H:%M")
            wording = lift_bundle_wording([risks for _t, risks in fresh], since)
            nudges.append(
                self._issue(
                    wearer,
                    wording,
                    now,
                    NudgeOrigin.OBSERVATION,
                    start_s=fresh[0][0],
                    end_s=fresh[-1][0],
                )
            )
            self._store.clear_held(wearer, kind.value)
        return nudges

    def _repeat(self, original: Nudge, repeats: int, now: datetime) -> Nudge:
        """The next nudge of an escalating chain: the same words, or the unanswered-fall alert."""
        if original.kind is NudgeKind.FALL_CHECK:
            fell_at = self._local(original.time).strftime("%H:%M")
            unanswered_s = (now - original.time).total_seconds()
            alert = fall_alert_wording(fell_at, unanswered_s, repeats)
            title, message = alert.title, alert.message
            kind, severity, guideline = alert.kind, alert.severity, alert.guideline
            evidence = {**original.evidence, **alert.evidence}
        else:
            title, message = original.title, original.message
            kind, severity, guideline = original.kind, original.severity, original.guideline
            evidence = {**original.evidence, "repeat": float(repeats)}
        return Nudge(
            id=self._new_id(),
            time=now,
            wearer=original.wearer,
            kind=kind,
            severity=severity,
            title=title,
            message=message,
            guideline=guideline,
            evidence=evidence,
            event_start_s=original.event_start_s,
            event_end_s=original.event_end_s,
        )

    def seconds_to_next_escalation(self) -> float | None:
        """Clock seconds until the next escalation step is due (None: nothing escalating)."""
        escalations = self._store.escalations()
        if not escalations:
            return None
        return max(0.0, escalations[0].next_s - self._now().timestamp())

    def _due_relief_steps(self, now: datetime) -> list[Nudge]:
        return self._send_relief_steps(
            self._store.due_relief_steps(now.timestamp()), now, honour_holds=True
        )

    def _send_relief_steps(
        self, steps: list[ReliefStepRecord], now: datetime, *, honour_holds: bool
    ) -> list[Nudge]:
        """Send one due step per (plan, group), skip the others of the group.

        The one sent is the latest instruction not sent yet (cold, heat), else the latest
        reminder; a reminder less than ``relief_reminder_gap_s`` after the group's last
        message is skipped. Steps of the plan's first hour are part of the wearer's request:
        only a snooze holds them, not quiet hours.
        """
        ordered = sorted(steps, key=lambda s: (s.plan_id, s.group, s.step))
        choices = []
        for (_plan, _group), grouped in groupby(ordered, key=lambda s: (s.plan_id, s.group)):
            items = list(grouped)
            instructions = [s for s in items if GuidanceId(s.guidance) not in RELIEF_REMINDERS]
            chosen = instructions[-1] if instructions else items[-1]
            entry = GUIDANCE[GuidanceId(chosen.guidance)]
            if honour_holds and self._relief_held(chosen, entry.kind, now):
                continue
            if self._too_soon(chosen, now):
                for item in items:
                    self._store.mark_relief_step(item.plan_id, item.step, ReliefStepState.SKIPPED)
                continue
            choices.append((chosen, items))
        nudges = []
        for chosen, items in sorted(
            choices, key=lambda choice: (choice[0].plan_id, choice[0].step)
        ):
            for other in items:
                if other is not chosen:
                    self._store.mark_relief_step(other.plan_id, other.step, ReliefStepState.SKIPPED)
            wording = GUIDANCE[GuidanceId(chosen.guidance)].wording()
            nudge = self._issue(chosen.wearer, wording, now, NudgeOrigin.RELIEF)
            self._store.mark_relief_step(
                chosen.plan_id, chosen.step, ReliefStepState.SENT, nudge.id
            )
            nudges.append(nudge)
        return nudges

    def _too_soon(self, step: ReliefStepRecord, now: datetime) -> bool:
        """A reminder right after another message of its group (deferred ones catching up)."""
        if GuidanceId(step.guidance) not in RELIEF_REMINDERS:
            return False
        last_s = self._store.last_relief_sent_s(step.plan_id, step.group)
        return last_s is not None and now.timestamp() - last_s < self._rules.relief_reminder_gap_s

    def _relief_held(self, step: ReliefStepRecord, kind: NudgeKind, now: datetime) -> bool:
        reason = self._held_by_wearer(step.wearer, kind, now)
        if reason is HoldReason.QUIET_HOURS and step.offset_s <= self._rules.relief_first_hour_s:
            return False
        return reason is not None

    def _due_tips(self, now: datetime, wearers: Iterable[str]) -> list[Nudge]:
        now_s = now.timestamp()
        local_now = self._local(now)
        nudges = []
        for wearer in wearers:
            for tip in self._rules.tips:
                occurrence = self._latest_occurrence(tip, local_now)
                if occurrence is None:
                    continue
                occurrence_s = occurrence.timestamp()
                last_s = self._store.tip_last_s(wearer, tip.key)
                if last_s is not None and last_s >= occurrence_s:
                    continue
                self._store.set_tip_last(wearer, tip.key, occurrence_s)
                if now_s - occurrence_s > self._rules.tip_grace_s:
                    continue  # missed (daemon down): not sent late
                wording = self._tip_wording(wearer, tip.guidance, now)
                if wording is None or self._held(wearer, wording.kind, now) is not None:
                    continue
                nudges.append(self._issue(wearer, wording, now, NudgeOrigin.TIP))
        return nudges

    def _latest_occurrence(self, tip: TipSchedule, local_now: datetime) -> datetime | None:
        for days_back in range(8):
            day = local_now.date() - timedelta(days=days_back)
            if day.weekday() not in tip.weekdays:
                continue
            moment = self._local_moment(day, tip.at)
            if moment <= local_now:
                return moment
        return None

    def _tip_wording(self, wearer: str, guidance: GuidanceId, now: datetime) -> Wording | None:
        """The tip's words (None: nothing to say, e.g. no summary of yesterday)."""
        if guidance is GuidanceId.MORNING_SUMMARY:
            yesterday = (self._day(now) - timedelta(days=1)).isoformat()
            stored = self._store.daily_summary(wearer, yesterday)
            return (
                None if stored is None else morning_summary_wording(DailySummary.from_json(stored))
            )
        if guidance is GuidanceId.WEEKLY_ACTIVITY:
            today = self._day(now)
            days = [(today - timedelta(days=back)).isoformat() for back in range(7)]
            walked_min = self._store.walking_s(wearer, days) / 60.0
            return weekly_activity_wording(walked_min, self._rules.weekly_activity_target_min)
        return GUIDANCE[guidance].wording()

    # -- requests from the wearer -------------------------------------------------------------

    def acknowledge(self, wearer: str, nudge_id: str) -> Acknowledged:
        """Acknowledge a nudge by id; stops its escalation (any id of the chain works)."""
        now_s = self._now().timestamp()
        with self._store.transaction():
            record = self._store.find_nudge(wearer, nudge_id)
            if record is None:
                raise UnknownNudgeError(wearer, nudge_id)
            root = self._store.find_nudge(wearer, record.root_id)
            escalating = any(e.root_id == record.root_id for e in self._store.escalations(wearer))
            already = root is not None and root.acknowledged_s is not None
            self._store.acknowledge_chain(record.root_id, now_s)
        return Acknowledged(
            nudge_id=nudge_id,
            root_id=record.root_id,
            stopped_escalation=escalating,
            already_acknowledged=already,
        )

    def im_ok(self, wearer: str) -> list[str]:
        """The wearer says they are fine: acknowledge every open fall check; returns their ids."""
        now_s = self._now().timestamp()
        with self._store.transaction():
            open_checks = [
                e.root_id
                for e in self._store.escalations(wearer)
                if e.kind == NudgeKind.FALL_CHECK.value
            ]
            for root_id in open_checks:
                self._store.acknowledge_chain(root_id, now_s)
        return open_checks

    def snooze(self, wearer: str, kind: NudgeKind | None, duration_s: float) -> SnoozeSet:
        """Hold back one kind (None: all) for ``duration_s``; a zero duration ends snoozes."""
        if not math.isfinite(duration_s) or duration_s < 0:
            raise PolicyInputError(f"snooze duration must be >= 0 s, got {duration_s!r}")
        if duration_s > self._rules.max_snooze_s:
            raise PolicyInputError(
                f"snooze duration {duration_s:.0f} s is longer than the maximum "
                f"{self._rules.max_snooze_s:.0f} s"
            )
        key = ALL_KINDS if kind is None else kind.value
        if duration_s == 0:
            self._store.clear_snoozes(wearer, None if kind is None else key)
            return SnoozeSet(kind=kind, until=None)
        until = self._now() + timedelta(seconds=duration_s)
        self._store.set_snooze(wearer, key, until.timestamp())
        return SnoozeSet(kind=kind, until=until)

    def snoozes(self, wearer: str) -> dict[NudgeKind | None, datetime]:
        """Active snoozes of a wearer: kind (None: all) -> end."""
        active = self._store.snoozes(wearer, self._now().timestamp())
        return {
            (None if key == ALL_KINDS else NudgeKind(key)): _from_s(until_s)
            for key, until_s in active.items()
        }

    def set_quiet_hours(self, wearer: str, hours: QuietHours | None) -> None:
        """This wearer's quiet hours (None: none at all, overriding the default)."""
        if hours is None:
            self._store.set_quiet_hours(wearer, enabled=False, start_min=0, end_min=0)
        else:
            self._store.set_quiet_hours(
                wearer, enabled=True, start_min=hours.start_min, end_min=hours.end_min
            )

    def quiet_hours_of(self, wearer: str) -> QuietHours | None:
        """The quiet hours in force for this wearer (their own, else the default)."""
        own = self._store.quiet_hours(wearer)
        if own is None:
            return self._rules.quiet_hours
        enabled, start_min, end_min = own
        return QuietHours.from_minutes(start_min, end_min) if enabled else None

    def report_cramp(self, wearer: str) -> ReliefPlanStarted:
        """Start the relief plan (a new report replaces an active plan); send its first steps."""
        now = self._now()
        now_s = now.timestamp()
        plan = self._rules.relief_plan
        with self._store.transaction():
            active = self._store.active_relief_plan(wearer)
            if active is not None and now_s - active.start_s < self._rules.cramp_repeat_window_s:
                return ReliefPlanStarted(
                    plan_id=active.plan_id,
                    nudges=(),
                    started=_from_s(active.start_s),
                    next_step=None if active.next_due_s is None else _from_s(active.next_due_s),
                    ends=_from_s(active.last_due_s),
                    replaced_plan=False,
                    repeated=True,
                )
            replaced = self._store.cancel_relief_plans(wearer) > 0
            plan_id = self._new_id()
            self._store.start_relief_plan(
                plan_id,
                wearer,
                now_s,
                [(s.guidance.value, s.group.value, now_s + s.offset_s) for s in plan.steps],
            )
            self._store.record_report(wearer, now_s, "cramp", {"plan_id": plan_id})
            first = [s for s in self._store.relief_steps(plan_id) if s.due_s <= now_s]
            nudges = self._send_relief_steps(first, now, honour_holds=False)
            active = self._store.active_relief_plan(wearer)
        next_due_s = None if active is None else active.next_due_s
        return ReliefPlanStarted(
            plan_id=plan_id,
            nudges=tuple(nudges),
            started=now,
            next_step=None if next_due_s is None else _from_s(next_due_s),
            ends=now + timedelta(seconds=plan.duration_s),
            replaced_plan=replaced,
            repeated=False,
        )

    def relief_status(self, wearer: str) -> ReliefStatus | None:
        """The wearer's active relief plan, or None."""
        active = self._store.active_relief_plan(wearer)
        if active is None:
            return None
        elapsed_s = self._now().timestamp() - active.start_s
        cold_s = self._rules.relief_plan.cold_phase_s
        if cold_s is not None and elapsed_s < cold_s:
            phase = ReliefPhase.COLD
        elif active.next_due_s is not None and active.next_due_s < active.last_due_s:
            phase = ReliefPhase.HEAT
        else:
            phase = ReliefPhase.CHECK_IN
        return ReliefStatus(
            plan_id=active.plan_id,
            started=_from_s(active.start_s),
            phase=phase,
            next_step=None if active.next_due_s is None else _from_s(active.next_due_s),
            ends=_from_s(active.last_due_s),
        )

    def report_symptoms(self, wearer: str, symptoms: Collection[Symptom]) -> SymptomsReported:
        """Answer a symptom report: red flags -> urgent "seek care now", escalating."""
        ordered = tuple(ordered_symptoms(symptoms))
        if not ordered:
            raise PolicyInputError("report at least one symptom")
        red = tuple(s for s in ordered if s in RED_FLAG_SYMPTOMS)
        now = self._now()
        now_s = now.timestamp()
        with self._store.transaction():
            self._store.record_report(wearer, now_s, "symptoms", [s.value for s in ordered])
            if red:
                key = "red_flag:" + ",".join(s.value for s in red)
                previous = self._store.seen(wearer, key, now_s - self._rules.escalation_window_s)
                open_roots = {e.root_id for e in self._store.escalations(wearer)}
                if previous is not None and previous in open_roots:
                    return SymptomsReported(ordered, red, None, open_alert_id=previous)
                nudge = self._issue(wearer, red_flag_wording(red), now, NudgeOrigin.REQUEST)
                self._store.remember(wearer, key, now_s, nudge.id)
                return SymptomsReported(ordered, red, nudge, open_alert_id=None)
            if Symptom.PAIN_NOT_IMPROVING in ordered:
                wording = GUIDANCE[GuidanceId.NOT_IMPROVING].wording()
                nudge = self._issue(wearer, wording, now, NudgeOrigin.REQUEST)
                return SymptomsReported(ordered, red, nudge, open_alert_id=None)
        return SymptomsReported(ordered, red, None, open_alert_id=None)

    def record_walking(self, wearer: str, walking_today_s: float) -> None:
        """Today's walking time so far (for the weekly activity tip)."""
        if not math.isfinite(walking_today_s) or walking_today_s < 0:
            raise PolicyInputError(f"walking time must be >= 0 s, got {walking_today_s!r}")
        self._store.set_walking(wearer, self._day(self._now()).isoformat(), walking_today_s)

    # -- helpers ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return as_utc(self._clock.now())

    def _local(self, now: datetime) -> datetime:
        return now.astimezone(self._rules.timezone)

    def _local_moment(self, day: date, at: time) -> datetime:
        zone = self._rules.timezone
        if zone is None:
            return datetime.combine(day, at).astimezone()
        return datetime.combine(day, at, tzinfo=zone)

    def _day(self, now: datetime) -> date:
        return self._local(now).date()

    def _held_by_wearer(self, wearer: str, kind: NudgeKind, now: datetime) -> HoldReason | None:
        """Snooze and quiet hours: what the wearer chose."""
        if self._store.snoozed_until_s(wearer, kind.value, now.timestamp()) is not None:
            return HoldReason.SNOOZED
        hours = self.quiet_hours_of(wearer)
        if hours is not None and hours.contains(self._local(now).time()):
            return HoldReason.QUIET_HOURS
        return None

    def _held(self, wearer: str, kind: NudgeKind, now: datetime) -> HoldReason | None:
        """Every rule that can hold back an observation or a tip."""
        reason = self._held_by_wearer(wearer, kind, now)
        if reason is not None:
            return reason
        last_s = self._store.last_counted_nudge_s(wearer, kind.value)
        if last_s is not None and now.timestamp() - last_s < self.cooldown_for(kind):
            return HoldReason.COOLDOWN
        day = self._day(now).isoformat()
        cap = self._rules.daily_cap.get(kind, self._rules.default_daily_cap)
        if cap is not None and self._store.counted_nudges_on(wearer, day, kind.value) >= cap:
            return HoldReason.DAILY_CAP
        total = self._rules.total_daily_cap
        if total is not None and self._store.counted_nudges_on(wearer, day) >= total:
            return HoldReason.DAILY_CAP
        return None

    def _issue(
        self,
        wearer: str,
        wording: Wording,
        now: datetime,
        origin: NudgeOrigin,
        *,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> Nudge:
        """Make the nudge, remember it (urgent ones start escalating) and return it."""
        now_s = now.timestamp()
        nudge = Nudge(
            id=self._new_id(),
            time=now,
            wearer=wearer,
            kind=wording.kind,
            severity=wording.severity,
            title=wording.title,
            message=wording.message,
            guideline=wording.guideline,
            evidence=dict(wording.evidence),
            event_start_s=now_s if start_s is None else start_s,
            event_end_s=now_s if end_s is None else end_s,
        )
        until_s: float | None = now_s + self._rules.escalation_window_s
        next_s = now_s + self._rules.escalation_interval_s
        escalates = wording.severity is Severity.URGENT and self._rules.escalation_window_s > 0
        if wording.kind is NudgeKind.FALL_CHECK:
            # No answer within the window turns it into a red-flag alert, repeated until
            # someone answers (see the module docstring).
            escalates, until_s, next_s = True, None, now_s + self._rules.fall_ack_window_s
        self._store.record_nudge(
            nudge_id=nudge.id,
            wearer=wearer,
            kind=nudge.kind.value,
            severity=nudge.severity.value,
            origin=origin,
            time_s=now_s,
            day=self._day(now).isoformat(),
            payload=nudge.to_json(),
            escalate_until_s=until_s if escalates else None,
            next_escalation_s=next_s if escalates else None,
        )
        return nudge


def _from_s(seconds: float) -> datetime:
    """A UTC datetime from Unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)
