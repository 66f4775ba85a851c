"""Delivery policy rules one at a time: quiet hours, snooze, acknowledgement, escalation, plans."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.catalogue import Catalogue, FallCheckTemplate, default_catalogue
from alerts.clock import SystemClock
from alerts.events import EventType, Observation
from alerts.guidance import (
    GUIDANCE,
    GuidanceId,
    Symptom,
    TipSchedule,
)
from alerts.mqtt import MqttConnection, MqttPublisher
from alerts.nudge import Nudge, NudgeKind, Severity
from alerts.policy import (
    DUE_POLL_S,
    DeliveryPolicy,
    HoldReason,
    PolicyInputError,
    PolicyRules,
    QuietHours,
    ReliefPhase,
    UnknownNudgeError,
)
from alerts.service import serve_timers
from alerts.topics import Topics
from tests.fakes import FakeClock

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)  # a Wednesday


def make_policy(
    clock: FakeClock, rules: PolicyRules | None = None, catalogue: Catalogue | None = None
) -> DeliveryPolicy:
    counter = itertools.count(1)
    return DeliveryPolicy(
        catalogue if catalogue is not None else default_catalogue(),
        clock,
        {NudgeKind.SITTING: 1800.0},
        600.0,
        new_id=lambda: f"n{next(counter)}",
        rules=rules if rules is not None else PolicyRules(timezone=UTC),
    )


def sitting(end_s: float, wearer: str = "alex") -> Observation:
    return Observation(wearer, EventType.SITTING_BOUT, 0.0, end_s, {"bout_s": end_s})


def test_quiet_hours_window() -> None:
    night = QuietHours(time(22, 0), time(7, 0))
    assert night.contains(time(22, 0))
    assert night.contains(time(3, 0))
    assert not night.contains(time(7, 0))
    assert not night.contains(time(12, 0))
    lunch = QuietHours(time(12, 0), time(13, 0))
    assert lunch.contains(time(12, 30))
    assert not lunch.contains(time(13, 0))
    assert not QuietHours(time(8, 0), time(8, 0)).contains(time(8, 0))
    assert night.text() == "22:00-07:00"
    assert QuietHours.from_minutes(night.start_min, night.end_min) == night


def test_quiet_hours_follow_the_local_zone_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    rules = PolicyRules(quiet_hours=QuietHours(time(22), time(7)), timezone=berlin)
    winter = FakeClock(datetime(2024, 1, 15, 20, 30, tzinfo=UTC))  # 21:30 CET
    assert make_policy(winter, rules).decide(sitting(1900.0)) is not None
    summer = FakeClock(datetime(2024, 7, 15, 20, 30, tzinfo=UTC))  # 22:30 CEST
    assert make_policy(summer, rules).decide_with_reason(sitting(1900.0)) == (
        None,
        HoldReason.QUIET_HOURS,
    )


def test_wearer_quiet_hours_override_the_default() -> None:
    clock = FakeClock(START)  # 09:00
    policy = make_policy(
        clock, PolicyRules(quiet_hours=QuietHours(time(22), time(7)), timezone=UTC)
    )
    policy.set_quiet_hours("alex", QuietHours(time(8, 30), time(9, 30)))
    assert policy.quiet_hours_of("alex") == QuietHours(time(8, 30), time(9, 30))
    assert policy.decide_with_reason(sitting(1900.0))[1] is HoldReason.QUIET_HOURS
    assert policy.decide(sitting(1900.0, "sam")) is not None  # others keep the default
    policy.set_quiet_hours("alex", None)
    assert policy.quiet_hours_of("alex") is None
    assert policy.decide(sitting(1901.0)) is not None


def test_snooze_one_kind_or_all_and_end_it() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    snoozed = policy.snooze("alex", NudgeKind.SITTING, 1800.0)
    assert snoozed.until == START + timedelta(minutes=30)
    assert policy.snoozes("alex") == {NudgeKind.SITTING: START + timedelta(minutes=30)}
    assert policy.decide_with_reason(sitting(1900.0))[1] is HoldReason.SNOOZED
    policy.snooze("alex", NudgeKind.SITTING, 0.0)
    assert policy.snoozes("alex") == {}
    assert policy.decide(sitting(1901.0)) is not None
    policy.snooze("alex", None, 600.0)
    clock.advance(1800.0)
    assert policy.decide(sitting(3700.0)) is not None  # the snooze of all ended at 09:10
    with pytest.raises(PolicyInputError, match="longer than the maximum"):
        policy.snooze("alex", None, 8 * 86400.0)
    with pytest.raises(PolicyInputError, match=">= 0"):
        policy.snooze("alex", None, float("nan"))


def fall_policy(clock: FakeClock, **overrides: float) -> DeliveryPolicy:
    """Every hold on (quiet all day, caps at zero, everything snoozed) and a fall catalogue."""
    falls = Catalogue({EventType.SITTING_BOUT: FallCheckTemplate()})
    rules = PolicyRules(
        quiet_hours=QuietHours(time(0), time(23, 59)),
        default_daily_cap=0,
        escalation_interval_s=overrides.get("escalation_interval_s", 120.0),
        escalation_window_s=900.0,
        fall_ack_window_s=overrides.get("fall_ack_window_s", 60.0),
        timezone=UTC,
    )
    policy = make_policy(clock, rules, falls)
    policy.snooze("alex", None, 3600.0)
    return policy


def test_an_unanswered_fall_check_becomes_a_red_flag_alert_repeated_until_answered() -> None:
    clock = FakeClock(START)
    policy = fall_policy(clock)
    first = policy.decide(sitting(10.0))
    assert first is not None
    assert (first.kind, first.severity, first.title) == (
        NudgeKind.FALL_CHECK,
        Severity.URGENT,
        "Did you fall?",
    )
    clock.advance(59.0)
    assert policy.due(["alex"]) == []
    assert policy.seconds_to_next_escalation() == pytest.approx(1.0)
    clock.advance(1.0)
    (alert,) = policy.due(["alex"])
    assert (alert.kind, alert.severity, alert.title) == (
        NudgeKind.RED_FLAG,
        Severity.URGENT,
        "No answer after a possible fall",
    )
    assert "at 09:00 has had no answer for 1 minute" in alert.message
    assert "urgent assessment" in alert.message
    assert (alert.evidence["unanswered_s"], alert.evidence["repeat"]) == (60.0, 1.0)
    assert alert.event_start_s == first.event_start_s
    # Repeated every escalation interval, past the general escalation window (900 s).
    repeats = []
    for _ in range(10):
        clock.advance(120.0)
        repeats += policy.due(["alex"])
    assert [n.evidence["repeat"] for n in repeats] == [float(r) for r in range(2, 12)]
    assert repeats[-1].evidence["unanswered_s"] == 60.0 + 10 * 120.0
    assert "no answer for 21 minutes" in repeats[-1].message
    # Acknowledging any nudge of the chain (here the latest alert) ends it.
    done = policy.acknowledge("alex", repeats[-1].id)
    assert (done.root_id, done.stopped_escalation) == (first.id, True)
    clock.advance(600.0)
    assert policy.due(["alex"]) == []
    assert policy.seconds_to_next_escalation() is None


def test_im_ok_within_the_window_means_no_alert() -> None:
    clock = FakeClock(START)
    policy = fall_policy(clock, fall_ack_window_s=90.0)
    first = policy.decide(sitting(10.0))
    assert first is not None
    clock.advance(60.0)
    assert policy.due(["alex"]) == []
    assert policy.im_ok("alex") == [first.id]
    clock.advance(3600.0)
    assert policy.due(["alex"]) == []
    assert policy.im_ok("alex") == []


def test_im_ok_after_the_alert_stops_it() -> None:
    clock = FakeClock(START)
    policy = fall_policy(clock)
    first = policy.decide(sitting(10.0))
    assert first is not None
    clock.advance(61.0)
    (alert,) = policy.due(["alex"])
    assert alert.kind is NudgeKind.RED_FLAG
    clock.advance(30.0)
    assert policy.im_ok("alex") == [first.id]
    clock.advance(1200.0)
    assert policy.due(["alex"]) == []


def test_serve_timers_sends_the_fall_alert_on_time_not_at_the_next_poll() -> None:
    clock = FakeClock(START)
    policy = fall_policy(clock, fall_ack_window_s=20.0)
    assert policy.decide(sitting(10.0)) is not None
    publisher = MqttPublisher(MqttConnection("127.0.0.1", 1), Topics())
    sent_at_s: list[float] = []

    async def sleep_s(duration_s: float) -> None:
        if publisher.pending_count and not sent_at_s:  # published just before this sleep
            sent_at_s.append((clock.now() - START).total_seconds())
        clock.advance(duration_s)
        if clock.now() - START > timedelta(seconds=60):
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    async def run() -> None:
        with pytest.raises(asyncio.CancelledError):
            await serve_timers(policy, publisher, ["alex"], sleep_s)

    asyncio.run(run())
    # Polls at 0 and 15 s; the alert falls due at 20 s and goes out then, not at 30 s.
    assert len(sent_at_s) == 1
    assert sent_at_s[0] < 21.0
    assert publisher.pending_count == 1


def test_escalation_gives_up_after_its_window_and_never_bursts() -> None:
    clock = FakeClock(START)
    policy = make_policy(
        clock, PolicyRules(escalation_interval_s=300.0, escalation_window_s=1800.0, timezone=UTC)
    )
    report = policy.report_symptoms("alex", [Symptom.LEG_WEAKNESS])
    assert report.nudge is not None
    clock.advance(1000.0)  # the daemon was busy: three intervals passed
    assert len(policy.due(["alex"])) == 1
    clock.advance(100.0)
    assert policy.due(["alex"]) == []  # next one 150 s after the late repeat, not at once
    clock.advance(50.0)
    assert len(policy.due(["alex"])) == 1
    clock.advance(3600.0)
    assert policy.due(["alex"]) == []  # the window is over
    acknowledged = policy.acknowledge("alex", report.nudge.id)
    assert not acknowledged.stopped_escalation


def test_acknowledging_unknown_or_other_wearers_nudges_fails() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    nudge = policy.decide(sitting(1900.0, "sam"))
    assert nudge is not None
    with pytest.raises(UnknownNudgeError, match="alex"):
        policy.acknowledge("alex", nudge.id)
    done = policy.acknowledge("sam", nudge.id)
    assert (done.stopped_escalation, done.already_acknowledged) == (False, False)
    assert policy.acknowledge("sam", nudge.id).already_acknowledged


def test_relief_steps_wait_for_a_snooze_and_collapse_per_group() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    started = policy.report_cramp("alex")
    assert [n.title for n in started.nudges] == [
        GUIDANCE[GuidanceId.RELIEF_PLAN].title,
        GUIDANCE[GuidanceId.RELIEF_KNEE_TO_CHEST].title,
    ]
    assert started.next_step == START + timedelta(minutes=2)
    policy.snooze("alex", NudgeKind.RELIEF, 3600.0)
    clock.advance(25 * 60.0)
    assert policy.due(["alex"]) == []
    clock.advance(35 * 60.0)  # 10:00, the snooze is over
    titles = [n.title for n in policy.due(["alex"])]
    assert titles == [
        GUIDANCE[GuidanceId.RELIEF_COLD].title,
        GUIDANCE[GuidanceId.RELIEF_CHILDS_POSE].title,
        GUIDANCE[GuidanceId.RELIEF_FLUIDS].title,
        GUIDANCE[GuidanceId.RELIEF_PAIN_RELIEF].title,
    ]


def test_a_new_cramp_report_replaces_the_plan_and_the_status_follows_it() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    first = policy.report_cramp("alex")
    status = policy.relief_status("alex")
    assert status is not None
    assert (status.plan_id, status.phase) == (first.plan_id, ReliefPhase.COLD)
    clock.advance(3600.0)
    second = policy.report_cramp("alex")
    assert second.replaced_plan
    assert not second.repeated
    assert second.plan_id != first.plan_id
    assert len(second.nudges) == 2
    clock.advance(49 * 3600.0)
    policy.due(["alex"])
    status = policy.relief_status("alex")
    assert status is not None
    assert status.phase is ReliefPhase.HEAT
    clock.advance(20 * 3600.0)
    policy.due(["alex"])
    status = policy.relief_status("alex")
    assert status is not None
    assert status.phase is ReliefPhase.CHECK_IN
    clock.advance(3 * 3600.0)
    assert [n.title for n in policy.due(["alex"])] == [GUIDANCE[GuidanceId.RELIEF_CHECK_IN].title]
    assert policy.relief_status("alex") is None


def test_tips_are_not_sent_late_or_twice() -> None:
    clock = FakeClock(datetime(2024, 5, 1, 8, 0, tzinfo=UTC))
    tips = (TipSchedule(GuidanceId.HYDRATION, time(10, 0)),)
    policy = make_policy(clock, PolicyRules(tips=tips, tip_grace_s=1800.0, timezone=UTC))
    assert policy.due(["alex"]) == []
    clock.advance(2 * 3600.0 + 600.0)  # 10:10
    assert [n.kind for n in policy.due(["alex"])] == [NudgeKind.HYDRATION]
    assert policy.due(["alex"]) == []
    clock.advance(86400.0 + 1800.0)  # 10:40 next day: 40 minutes late, past the grace
    assert policy.due(["alex"]) == []
    clock.advance(86400.0 - 40 * 60.0)  # 10:00 the day after
    assert len(policy.due(["alex"])) == 1


def test_the_total_daily_cap_counts_every_kind_and_resets_at_midnight() -> None:
    clock = FakeClock(datetime(2024, 5, 1, 8, 0, tzinfo=UTC))
    tips = (TipSchedule(GuidanceId.HYDRATION, time(8, 5)),)
    policy = make_policy(clock, PolicyRules(total_daily_cap=2, tips=tips, timezone=UTC))
    assert policy.decide(sitting(1900.0)) is not None
    clock.advance(1800.0)
    assert policy.decide(sitting(3700.0)) is not None
    clock.advance(1800.0)
    assert policy.decide_with_reason(sitting(5500.0))[1] is HoldReason.DAILY_CAP
    assert policy.due(["alex"]) == []  # the 08:05 tip was capped too
    clock.advance(16 * 3600.0)  # 01:00 next day
    assert policy.decide(sitting(99_000.0)) is not None


def test_symptom_reports_without_red_flags() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    calm = policy.report_symptoms("alex", [Symptom.STIFFNESS])
    assert (calm.red_flags, calm.nudge) == ((), None)
    slow = policy.report_symptoms("alex", [Symptom.PAIN_NOT_IMPROVING, Symptom.MILD_PAIN])
    assert slow.nudge is not None
    assert slow.nudge.severity is Severity.WARNING
    assert slow.nudge.title == GUIDANCE[GuidanceId.NOT_IMPROVING].title
    with pytest.raises(PolicyInputError, match="at least one"):
        policy.report_symptoms("alex", [])
    assert [kind for _t, kind, _d in policy.store.reports("alex")] == ["symptoms", "symptoms"]


def test_bad_rules_and_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="escalation_interval_s"):
        PolicyRules(escalation_interval_s=0.0)
    with pytest.raises(ValueError, match=r"daily_cap\[sitting\]"):
        PolicyRules(daily_cap={NudgeKind.SITTING: -1})
    with pytest.raises(ValueError, match="dedup_window_s"):
        PolicyRules(dedup_window_s=float("inf"))
    with pytest.raises(PolicyInputError, match="walking"):
        make_policy(FakeClock(START)).record_walking("alex", -1.0)


def test_a_cramp_at_night_gets_its_first_hour_and_the_full_cold_instruction_at_7() -> None:
    clock = FakeClock(datetime(2024, 5, 1, 23, 0, tzinfo=UTC))
    rules = PolicyRules(quiet_hours=QuietHours(time(22), time(7)), timezone=UTC)
    policy = make_policy(clock, rules)
    policy.report_cramp("alex")
    sent: list[tuple[datetime, str]] = []
    for _minute in range(9 * 60):
        clock.advance(60.0)
        sent += [(clock.now(), n.title) for n in policy.due(["alex"])]
    title = {g: GUIDANCE[g].title for g in GuidanceId}
    # The cold instruction at 23:02 is in the first hour: sent despite quiet hours; the 02:00
    # and 05:00 reminders wait for 07:00 and collapse into one; the 08:00 reminder comes too
    # soon after it and is skipped.
    assert sent == [
        (datetime(2024, 5, 1, 23, 2, tzinfo=UTC), title[GuidanceId.RELIEF_COLD]),
        (datetime(2024, 5, 1, 23, 10, tzinfo=UTC), title[GuidanceId.RELIEF_CHILDS_POSE]),
        (datetime(2024, 5, 1, 23, 15, tzinfo=UTC), title[GuidanceId.RELIEF_FLUIDS]),
        (datetime(2024, 5, 1, 23, 20, tzinfo=UTC), title[GuidanceId.RELIEF_PAIN_RELIEF]),
        (datetime(2024, 5, 2, 7, 0, tzinfo=UTC), title[GuidanceId.RELIEF_COLD_REMINDER]),
    ]


def test_an_unsent_instruction_goes_before_its_reminders() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    policy.report_cramp("alex")
    policy.snooze("alex", NudgeKind.RELIEF, 7 * 3600.0)  # cold and two reminders fall in it
    clock.advance(7 * 3600.0)
    titles = [n.title for n in policy.due(["alex"])]
    assert titles[0] == GUIDANCE[GuidanceId.RELIEF_COLD].title
    assert GUIDANCE[GuidanceId.RELIEF_COLD_REMINDER].title not in titles


def test_serve_timers_publishes_what_is_due_on_the_clock() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    policy.report_symptoms("alex", [Symptom.FEVER_CHILLS])  # urgent: repeats every 5 min
    publisher = MqttPublisher(MqttConnection("127.0.0.1", 1), Topics())
    sleeps: list[float] = []

    async def sleep_s(duration_s: float) -> None:
        sleeps.append(duration_s)
        clock.advance(duration_s)
        if len(sleeps) > 40:  # due() ran at 09:00, 09:00:15, ..., 09:10
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    async def run() -> None:
        with pytest.raises(asyncio.CancelledError):
            await serve_timers(policy, publisher, ["alex"], sleep_s)

    asyncio.run(run())
    assert set(sleeps) == {DUE_POLL_S}
    assert publisher.pending_count == 2  # repeats at 09:05 and 09:10


def risky_lift(end_s: float, risks: str, wearer: str = "alex") -> Observation:
    return Observation(
        wearer,
        EventType.LIFT,
        end_s - 4.0,
        end_s,
        {"peak_flexion_deg": 75.0},
        {"technique": "stoop", "risks": risks},
    )


def test_risky_lifts_held_by_the_cooldown_come_as_one_bundled_nudge() -> None:
    clock = FakeClock(START)
    policy = DeliveryPolicy(
        default_catalogue(),
        clock,
        {NudgeKind.LIFT_FORM: 300.0},
        600.0,
        rules=PolicyRules(timezone=UTC),
    )
    first = policy.decide(risky_lift(10.0, "stoop"))
    assert first is not None
    assert first.title == "Lift with your legs"
    held = []
    for k, risks in enumerate(["stoop", "deep_flexion,stoop", "twist", "stoop,twist"]):
        clock.advance(30.0)
        nudge, reason = policy.decide_with_reason(risky_lift(40.0 + 30 * k, risks))
        held.append(reason)
        assert nudge is None
    assert held == [HoldReason.COOLDOWN] * 4
    # A safe lift (no risks) is not coaching material and not bundled.
    assert policy.decide(risky_lift(200.0, "")) is None
    clock.advance(60.0)  # 09:03: the cool-down (5 min from 09:00) still holds the bundle
    assert policy.due(["alex"]) == []
    clock.advance(120.0)  # 09:05
    (bundle,) = policy.due(["alex"])
    assert (bundle.kind, bundle.title) == (NudgeKind.LIFT_FORM, "Several risky lifts")
    assert bundle.message.startswith(
        "Since 09:00, 4 more lifts were risky (3 bent at the back with straight legs, "
        "1 bent beyond 60 degrees, 2 twisted). Next time bend your hips and knees"
    )
    assert "turn with your feet, not your back" in bundle.message
    assert bundle.evidence == {
        "lift_count": 4.0,
        "stoop_count": 3.0,
        "deep_flexion_count": 1.0,
        "twist_count": 2.0,
    }
    # Sent once; it restarts the cool-down like any lift nudge.
    clock.advance(60.0)
    assert policy.due(["alex"]) == []
    assert policy.decide(risky_lift(500.0, "stoop")) is None


def test_held_lifts_go_stale_instead_of_coming_hours_later() -> None:
    clock = FakeClock(START)
    policy = DeliveryPolicy(
        default_catalogue(),
        clock,
        {NudgeKind.LIFT_FORM: 300.0},
        600.0,
        rules=PolicyRules(timezone=UTC, quiet_hours=QuietHours(time(9, 1), time(12, 0))),
    )
    assert policy.decide(risky_lift(10.0, "stoop")) is not None
    clock.advance(30.0)
    assert policy.decide_with_reason(risky_lift(40.0, "twist"))[1] is HoldReason.COOLDOWN
    clock.advance(3600.0)  # quiet hours hold the bundle for longer than it stays useful
    assert policy.due(["alex"]) == []
    clock.advance(3 * 3600.0)
    assert policy.due(["alex"]) == []


def test_the_fall_alert_follows_the_wall_clock_too() -> None:
    """The daemon's clock at speed 1 is the wall clock: the alert comes after real seconds."""
    policy = DeliveryPolicy(
        Catalogue({EventType.SITTING_BOUT: FallCheckTemplate()}),
        SystemClock(),
        {},
        600.0,
        rules=PolicyRules(fall_ack_window_s=0.3, escalation_interval_s=0.2, timezone=UTC),
    )
    check = policy.decide(sitting(10.0))
    assert check is not None
    publisher = MqttPublisher(MqttConnection("127.0.0.1", 1), Topics())

    async def run() -> None:
        async def sleep_s(duration_s: float) -> None:
            await asyncio.sleep(duration_s)

        timers = asyncio.create_task(serve_timers(policy, publisher, ["alex"], sleep_s))
        while publisher.pending_count < 2:  # the alert and its first repeat
            await asyncio.sleep(0.05)
        assert policy.im_ok("alex") == [check.id]
        timers.cancel()
        with pytest.raises(asyncio.CancelledError):
            await timers

    asyncio.run(asyncio.wait_for(run(), 30.0))
    chain = policy.store.nudges_of("alex")
    assert [n.kind for n in chain] == ["fall_check", "red_flag", "red_flag"]
    alert = Nudge.from_json(chain[1].payload)
    assert alert.evidence["unanswered_s"] >= 0.3
    assert (alert.time - check.time).total_seconds() >= 0.3
