"""A simulated week of the delivery policy on a fake clock, with a restart in the middle.

The wearer sits 08:00-12:00 and 13:00-17:00 on workdays (an observation at every 30 minutes
of a bout, as monitor.sitting emits them), walks 20 minutes a day, reports a back cramp on
Tuesday at 20:00, snoozes everything on Thursday 09:00-11:00, reports red flags on Wednesday
23:30 (acknowledged at 23:47) and on Saturday 03:00 (never acknowledged). The policy runs
with the recommended rules in UTC: quiet 22:00-07:00, 8 nudges of a kind and 20 in all per
day, escalation every 5 minutes for an hour, the default tips and relief plan. The daemon is
restarted on Wednesday at 10:30 (a new store object on the same file).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from alerts.catalogue import default_catalogue
from alerts.events import EventType, Observation
from alerts.guidance import GUIDANCE, GuidanceId, Symptom
from alerts.nudge import Nudge, NudgeKind, Severity
from alerts.policy import (
    Acknowledged,
    DeliveryPolicy,
    HoldReason,
    PolicyRules,
    ReliefPlanStarted,
    ReliefStatus,
    SnoozeSet,
    SymptomsReported,
)
from alerts.store import AlertStore
from tests.fakes import FakeClock

MONDAY = datetime(2024, 4, 29, tzinfo=UTC)
WEEK_MIN = 7 * 24 * 60
COOLDOWN_S = 1200.0
WEARER = "alex"


@dataclass(frozen=True, slots=True)
class Sent:
    """One nudge of the week and where it came from."""

    at: datetime
    source: str
    nudge: Nudge


@dataclass(slots=True)
class Notes:
    """What the week's requests returned."""

    snooze: SnoozeSet | None = None
    cramp: ReliefPlanStarted | None = None
    cramp_again: ReliefPlanStarted | None = None
    first_red_flag: Nudge | None = None
    same_report: SymptomsReported | None = None
    ack: Acknowledged | None = None
    replay: tuple[Nudge | None, HoldReason | None] | None = None
    relief_after: ReliefStatus | None = None


def title_of(guidance: GuidanceId) -> str:
    return GUIDANCE[guidance].title


def sitting_observations(moment: datetime) -> list[Observation]:
    """The evaluation's observations at this minute (workdays, every 30 min of a bout)."""
    if moment.weekday() >= 5:
        return []
    found = []
    for bout_start_h in (8, 13):
        bout_start = moment.replace(hour=bout_start_h, minute=0)
        elapsed_s = (moment - bout_start).total_seconds()
        if 1800 <= elapsed_s <= 3.5 * 3600 and elapsed_s % 1800 == 0:
            found.append(
                Observation(
                    WEARER,
                    EventType.SITTING_BOUT,
                    bout_start.timestamp(),
                    moment.timestamp(),
                    {"bout_s": elapsed_s, "limit_s": 1800.0},
                )
            )
    return found


def make_policy(path: Path, clock: FakeClock, counter: itertools.count[int]) -> DeliveryPolicy:
    return DeliveryPolicy(
        default_catalogue(),
        clock,
        cooldown_s={},
        default_cooldown_s=COOLDOWN_S,
        new_id=lambda: f"n{next(counter):05d}",
        rules=PolicyRules.recommended(timezone=UTC),
        store=AlertStore.open(path),
    )


def run_week(tmp_path: Path) -> tuple[list[Sent], Notes]:
    clock = FakeClock(MONDAY)
    counter = itertools.count(1)
    db = tmp_path / "alerts.sqlite3"
    policy = make_policy(db, clock, counter)
    sent: list[Sent] = []
    notes = Notes()
    for minute in range(WEEK_MIN):
        now = MONDAY + timedelta(minutes=minute)
        assert clock.now() == now
        day, hm = now.weekday(), (now.hour, now.minute)
        if (day, hm) == (3, (9, 0)):
            notes.snooze = policy.snooze(WEARER, None, 2 * 3600.0)
        if (day, hm) == (1, (20, 0)):
            started = policy.report_cramp(WEARER)
            notes.cramp = started
            sent += [Sent(now, "cramp", n) for n in started.nudges]
            again = policy.report_cramp(WEARER)  # a double tap moments later
            notes.cramp_again = again
        if (day, hm) == (2, (23, 30)):
            report = policy.report_symptoms(
                WEARER, [Symptom.BLADDER_BOWEL_CONTROL, Symptom.LEG_NUMBNESS]
            )
            assert report.nudge is not None
            notes.first_red_flag = report.nudge
            sent.append(Sent(now, "symptoms", report.nudge))
            notes.same_report = policy.report_symptoms(
                WEARER, [Symptom.LEG_NUMBNESS, Symptom.BLADDER_BOWEL_CONTROL]
            )
        if (day, hm) == (2, (23, 47)):
            repeat = [s.nudge for s in sent if s.source == "due" and s.nudge.kind == "red_flag"]
            notes.ack = policy.acknowledge(WEARER, repeat[-1].id)
        if (day, hm) == (5, (3, 0)):
            report = policy.report_symptoms(WEARER, [Symptom.FEVER_CHILLS])
            assert report.nudge is not None
            sent.append(Sent(now, "symptoms", report.nudge))
        for observation in sitting_observations(now):
            nudge, reason = policy.decide_with_reason(observation)
            if nudge is not None:
                sent.append(Sent(now, "obs", nudge))
            else:
                assert reason is not None
        if (day, hm) == (2, (10, 30)):
            # Restart: a new store object on the same file, a new policy; the evaluation
            # replays the observation it had just reported.
            policy.store.close()
            policy = make_policy(db, clock, counter)
            replayed = sitting_observations(now)
            assert len(replayed) == 1
            notes.replay = policy.decide_with_reason(replayed[0])
        sent += [Sent(now, "due", n) for n in policy.due([WEARER])]
        if hm == (18, 0):
            policy.record_walking(WEARER, 20 * 60.0)
        clock.advance(60.0)
    notes.relief_after = policy.relief_status(WEARER)
    policy.store.close()
    return sent, notes


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def test_a_simulated_week(tmp_path: Path) -> None:
    sent, notes = run_week(tmp_path)
    counted = [s for s in sent if s.source == "obs" or _is_tip(s.nudge)]

    # Nothing but urgent alerts and already-running plans' first steps in quiet hours.
    for item in sent:
        if item.nudge.severity is not Severity.URGENT:
            assert time(7) <= item.at.time() < time(22), item

    # Daily caps (8 per kind, 20 in all) and the cool-down between nudges of a kind.
    per_day_kind = Counter((s.at.date(), s.nudge.kind) for s in counted)
    assert max(per_day_kind.values()) <= 8
    assert max(Counter(s.at.date() for s in counted).values()) <= 20
    for kind in NudgeKind:
        times = [s.at for s in counted if s.nudge.kind is kind]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(gap >= COOLDOWN_S for gap in gaps), kind

    # Sitting: the cap binds on every workday; Thursday's snooze holds 09:00-11:00.
    sitting = [s.at for s in sent if s.source == "obs"]
    for day in range(5):
        day_times = [t for t in sitting if t.date() == at(day, 0).date()]
        assert len(day_times) == 8, day
    thursday = [t.time() for t in sitting if t.date() == at(3, 0).date()]
    assert thursday == [
        time(8, 30),
        time(11, 0),
        time(11, 30),
        time(13, 30),
        time(14, 0),
        time(14, 30),
        time(15, 0),
        time(15, 30),
    ]
    assert notes.snooze is not None
    assert notes.snooze.until == at(3, 11)

    # The restart forgot nothing: the replayed observation is a duplicate, the 10:00 tip of
    # Wednesday was not sent again.
    assert notes.replay == (None, HoldReason.DUPLICATE)
    hydration = [s.at for s in sent if s.nudge.kind is NudgeKind.HYDRATION]
    expected_hydration = [
        at(day, hour) for day in range(7) for hour in (10, 13, 16) if (day, hour) != (3, 10)
    ]
    assert hydration == expected_hydration

    # Tips on their days: core work Mon/Wed/Fri 18:00, stretching on workdays (Thursday's
    # at 11:30, after the snooze), the weekly activity tip with the walked minutes.
    core = [s.at for s in sent if s.nudge.title == title_of(GuidanceId.CORE_WORK)]
    assert core == [at(0, 18), at(2, 18), at(4, 18)]
    stretching = [s.at for s in sent if s.nudge.title == title_of(GuidanceId.STRETCHING)]
    assert stretching == [at(day, 11, 30) for day in range(5)]
    weekly = [s for s in sent if s.nudge.kind is NudgeKind.ACTIVITY]
    assert [s.at for s in weekly] == [at(2, 17), at(6, 17)]
    assert [s.nudge.evidence["walking_week_min"] for s in weekly] == [40.0, 120.0]
    assert "about 40 minutes" in weekly[0].nudge.message
    sleep = [s.at for s in sent if s.nudge.kind is NudgeKind.SLEEP_POSITION]
    assert sleep == [at(6, 21)]
    # Monday's chair tip came at 09:30 right after a sitting nudge: held by the cool-down.
    assert not [s for s in sent if s.nudge.title == title_of(GuidanceId.SITTING_SETUP)]
    # Thursday's lifting tip fell in the snooze.
    assert not [s for s in sent if s.nudge.title == title_of(GuidanceId.LIFT_TECHNIQUE)]

    # The relief plan: first steps at once, night reminders wait for 07:00 and collapse.
    relief = [(s.at, s.nudge.title) for s in sent if s.nudge.kind is NudgeKind.RELIEF]
    assert relief == [
        (at(1, 20), title_of(GuidanceId.RELIEF_PLAN)),
        (at(1, 20), title_of(GuidanceId.RELIEF_KNEE_TO_CHEST)),
        (at(1, 20, 2), title_of(GuidanceId.RELIEF_COLD)),
        (at(1, 20, 10), title_of(GuidanceId.RELIEF_CHILDS_POSE)),
        (at(1, 20, 15), title_of(GuidanceId.RELIEF_FLUIDS)),
        (at(1, 20, 20), title_of(GuidanceId.RELIEF_PAIN_RELIEF)),
        (at(2, 7), title_of(GuidanceId.RELIEF_COLD_REMINDER)),
        (at(2, 20), title_of(GuidanceId.RELIEF_COLD_REMINDER)),
        (at(3, 7), title_of(GuidanceId.RELIEF_COLD_REMINDER)),
        (at(3, 20), title_of(GuidanceId.RELIEF_HEAT)),
        (at(4, 7), title_of(GuidanceId.RELIEF_HEAT_REMINDER)),
        (at(4, 20), title_of(GuidanceId.RELIEF_CHECK_IN)),
    ]
    assert notes.cramp is not None
    assert notes.cramp_again is not None
    assert notes.cramp_again.repeated
    assert notes.cramp_again.nudges == ()
    assert notes.cramp_again.plan_id == notes.cramp.plan_id
    assert notes.relief_after is None  # the plan finished with the check-in

    # Red flags: sent at once in quiet hours, repeated every 5 minutes until acknowledged.
    red = [s for s in sent if s.nudge.kind is NudgeKind.RED_FLAG]
    wednesday = [s.at for s in red if s.at.date() == at(2, 0).date()]
    assert wednesday == [at(2, 23, 30), at(2, 23, 35), at(2, 23, 40), at(2, 23, 45)]
    assert notes.same_report is not None
    assert notes.first_red_flag is not None
    assert notes.same_report.nudge is None
    assert notes.same_report.open_alert_id == notes.first_red_flag.id
    assert notes.ack is not None
    assert notes.ack.stopped_escalation
    assert notes.ack.root_id == notes.first_red_flag.id
    saturday = [s for s in red if s.at.date() == at(5, 0).date()]
    assert [s.at for s in saturday] == [at(5, 3, 5 * k) for k in range(12)]
    assert [s.nudge.evidence.get("repeat", 0.0) for s in saturday] == [float(k) for k in range(12)]
    assert len({s.nudge.id for s in sent}) == len(sent)


def _is_tip(nudge: Nudge) -> bool:
    tip_titles = {
        title_of(g)
        for g in (
            GuidanceId.SITTING_SETUP,
            GuidanceId.LIFT_TECHNIQUE,
            GuidanceId.HYDRATION,
            GuidanceId.STRETCHING,
            GuidanceId.WEEKLY_ACTIVITY,
            GuidanceId.CORE_WORK,
            GuidanceId.SLEEP_POSITION,
        )
    }
    return nudge.title in tip_titles
