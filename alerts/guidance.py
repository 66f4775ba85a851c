"""Guidance that is not worded from one observation: prevention tips, the relief plan, red flags.

Everything here is general guidance in our own words with the source it rests on; it points
to a professional and never diagnoses. Observation-driven wording (a sitting bout, a slouch)
lives in ``alerts.catalogue``; this module holds the rest, as plain data:

- ``GUIDANCE``: every fixed message by ``GuidanceId`` (kind, severity, title, text, guideline,
  evidence numbers);
- ``weekly_activity_wording``, ``red_flag_wording``: messages that carry numbers or a list;
- ``DEFAULT_RELIEF_PLAN``: the timed plan after a reported back cramp;
- ``DEFAULT_TIPS``: when prevention tips are due (local wall time);

Wording for observations (sitting, slouch, lifts, falls, ...) lives in ``alerts.catalogue``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from types import MappingProxyType

from alerts.catalogue import Wording
from alerts.nudge import MESSAGE_MAX_CHARS, NudgeKind, Severity
from alerts.summary import DailySummary, morning_wording

HOUR_S = 3600.0
MINUTE_S = 60.0
WEEKLY_ACTIVITY_TARGET_MIN = 150.0
"""WHO 2020: at least 150 minutes of moderate activity a week (walking counts)."""


class GuidanceId(StrEnum):
    """Every fixed message backwatch can send that is not worded from one observation."""

    SITTING_SETUP = "sitting_setup"
    LIFT_TECHNIQUE = "lift_technique"
    CORE_WORK = "core_work"
    WEEKLY_ACTIVITY = "weekly_activity"
    STRETCHING = "stretching"
    HYDRATION = "hydration"
    SLEEP_POSITION = "sleep_position"
    RELIEF_PLAN = "relief_plan"
    RELIEF_KNEE_TO_CHEST = "relief_knee_to_chest"
    RELIEF_CHILDS_POSE = "relief_childs_pose"
    RELIEF_COLD = "relief_cold"
    RELIEF_COLD_REMINDER = "relief_cold_reminder"
    RELIEF_HEAT = "relief_heat"
    RELIEF_HEAT_REMINDER = "relief_heat_reminder"
    RELIEF_FLUIDS = "relief_fluids"
    RELIEF_PAIN_RELIEF = "relief_pain_relief"
    RELIEF_CHECK_IN = "relief_check_in"
    NOT_IMPROVING = "not_improving"
    RED_FLAG = "red_flag"
    MORNING_SUMMARY = "morning_summary"


@dataclass(frozen=True, slots=True)
class Guidance:
    """One fixed message: what it is about, how much it matters, what it says and why."""

    id: GuidanceId
    kind: NudgeKind
    severity: Severity
    title: str
    text: str
    guideline: str
    evidence: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def wording(self) -> Wording:
        """This message as catalogue wording (the policy stamps id, wearer and time)."""
        return Wording(
            kind=self.kind,
            severity=self.severity,
            title=self.title,
            message=self.text,
            guideline=self.guideline,
            evidence=MappingProxyType(dict(self.evidence)),
        )


_NICE_NG59 = "NICE NG59 (2016, updated 2020), low back pain and sciatica in over 16s"
_RED_FLAG_GUIDELINE = (
    f"{_NICE_NG59}: red-flag symptoms need urgent medical assessment. "
    "backwatch cannot assess them; a clinician can."
)


def _numbers(**values: float) -> Mapping[str, float]:
    return MappingProxyType({key: float(value) for key, value in values.items()})


def _entries(*entries: Guidance) -> Mapping[GuidanceId, Guidance]:
    return MappingProxyType({entry.id: entry for entry in entries})


GUIDANCE: Mapping[GuidanceId, Guidance] = _entries(
    Guidance(
        GuidanceId.SITTING_SETUP,
        NudgeKind.SITTING,
        Severity.INFO,
        "Set up your chair",
        "Sit right back so your lower back is supported; a small cushion or rolled towel "
        "helps if the chair has no lumbar support. Feet flat, knees a little lower than "
        "your hips, screen at eye level.",
        "Common workstation advice (e.g. UK HSE display screen equipment guidance); "
        "general information, not a personal assessment",
    ),
    Guidance(
        GuidanceId.LIFT_TECHNIQUE,
        NudgeKind.LIFT_FORM,
        Severity.INFO,
        "Lift with your legs",
        "Get close to the load, feet apart, then bend your hips and knees rather than your "
        "back. Keep the load against your body at waist height and let your legs do the "
        "work. Turn with your feet instead of twisting.",
        "UK HSE INDG143 (manual handling at work); NIOSH 94-110 lifting equation "
        "(load constant 23 kg, less when the load is far from the body)",
        _numbers(load_constant_kg=23.0),
    ),
    Guidance(
        GuidanceId.CORE_WORK,
        NudgeKind.EXERCISE,
        Severity.INFO,
        "Core work today",
        "Today is on your core plan: a forearm plank, 3 holds of 20 to 30 seconds, and the "
        "bird-dog, 2 slow sets of 8 per side. Keep breathing and stop if it hurts; a "
        "physiotherapist can adapt the plan to you.",
        "WHO 2020 guidelines (Bull et al., BJSM 54:1451): muscle-strengthening activity on "
        "2 or more days a week",
        _numbers(plank_holds=3, plank_hold_s=30, bird_dog_reps_per_side=8, sessions_per_week=3),
    ),
    Guidance(
        GuidanceId.WEEKLY_ACTIVITY,
        NudgeKind.ACTIVITY,
        Severity.INFO,
        "Your week in motion",
        "Aim for at least 150 minutes of moderate activity a week; brisk walking and "
        "swimming both count, and the walking you do with the sensor on is counted for you.",
        "WHO 2020 guidelines (Bull et al., BJSM 54:1451): 150-300 min of moderate "
        "activity a week for adults",
        _numbers(target_week_min=WEEKLY_ACTIVITY_TARGET_MIN),
    ),
    Guidance(
        GuidanceId.STRETCHING,
        NudgeKind.EXERCISE,
        Severity.INFO,
        "Time to stretch",
        "Take five minutes for gentle stretches: knee to chest, cat-cow and a hip-flexor "
        "stretch, each held 20 to 30 seconds without bouncing. Move slowly and stop if "
        "anything hurts.",
        f"{_NICE_NG59}: consider exercise, including stretching and strengthening, "
        "to manage low back pain",
        _numbers(hold_s=30, minutes=5),
    ),
    Guidance(
        GuidanceId.HYDRATION,
        NudgeKind.HYDRATION,
        Severity.INFO,
        "Have a glass of water",
        "Spread your drinks over the day. Most adults need about 2 litres (women) to "
        "2.5 litres (men) of water a day, food included; more when it is hot or you sweat.",
        "EFSA 2010 dietary reference values for water: adequate intake 2.0 L/day for "
        "women and 2.5 L/day for men, from drinks and food",
        _numbers(women_l_per_day=2.0, men_l_per_day=2.5),
    ),
    Guidance(
        GuidanceId.SLEEP_POSITION,
        NudgeKind.SLEEP_POSITION,
        Severity.INFO,
        "A kinder night for your back",
        "On your side, put a pillow between your knees; on your back, put one under your "
        "knees. Either keeps your spine in a more neutral line. A medium-firm mattress suits "
        "many people with back pain.",
        "Common self-care advice; Kovacs et al. 2003 (Lancet 362:1599): medium-firm "
        "mattresses did better than firm ones for chronic low back pain",
    ),
    Guidance(
        GuidanceId.MORNING_SUMMARY,
        NudgeKind.SUMMARY,
        Severity.INFO,
        "Yesterday for your back",
        "Yesterday's back report is ready: backwatch report --day yesterday.",
        "backwatch's daily summary against the sitting (ADA 2016), trunk posture (ISO 11226, "
        "Hoogendoorn 2000), lifting (NIOSH 94-110) and activity (WHO 2020) guidelines",
    ),
    Guidance(
        GuidanceId.RELIEF_PLAN,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "Back cramp: your relief plan",
        "Sorry about your back. backwatch will guide you: gentle stretches now, cold for "
        "the first 48 hours, then moist heat, and a check-in after 3 days. If the pain is "
        "severe, spreads down a leg or comes with numbness or weakness, seek care now.",
        f"{_NICE_NG59}: reassurance, staying active and self-management; "
        "general guidance, not a diagnosis",
        _numbers(cold_phase_h=48, check_in_after_d=3),
    ),
    Guidance(
        GuidanceId.RELIEF_KNEE_TO_CHEST,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "Stretch: knee to chest",
        "Lie on your back with knees bent. Slowly draw one knee toward your chest with both "
        "hands and hold 20 to 30 seconds, breathing slowly. Lower it, then the other knee. "
        "Three times each side. Go gently and stop if the pain gets sharper.",
        f"{_NICE_NG59}: stay active and exercise; general stretching advice, "
        "not a personal programme",
        _numbers(hold_s=30, repeats_per_side=3),
    ),
    Guidance(
        GuidanceId.RELIEF_CHILDS_POSE,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "Stretch: supported child's pose",
        "Kneel on a soft surface, knees apart. Sit back toward your heels only as far as is "
        "comfortable (a cushion on your heels helps), walk your hands forward and rest your "
        "chest on a pillow. Breathe slowly for 20 to 30 seconds, rise slowly. Three times.",
        f"{_NICE_NG59}: stay active and exercise; general stretching advice, "
        "not a personal programme",
        _numbers(hold_s=30, repeats=3),
    ),
    Guidance(
        GuidanceId.RELIEF_COLD,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "Cold pack, first 48 hours",
        "For the first 48 hours, cool the sore area with a cold pack or frozen peas wrapped "
        "in a thin towel, 15 to 20 minutes at a time, every 2 to 3 hours while awake. Never "
        "put ice straight on the skin.",
        "Common self-care advice; the evidence for cold on back pain is limited "
        "(Cochrane review of superficial heat or cold, French et al. 2006)",
        _numbers(cold_min=20, cold_phase_h=48),
    ),
    Guidance(
        GuidanceId.RELIEF_COLD_REMINDER,
        NudgeKind.RELIEF,
        Severity.INFO,
        "Cold pack reminder",
        "Time for another 15 to 20 minutes of cold on the sore area, wrapped in a thin "
        "towel. Keep moving gently in between.",
        "Common self-care advice; the evidence for cold on back pain is limited "
        "(Cochrane review of superficial heat or cold, French et al. 2006)",
        _numbers(cold_min=20),
    ),
    Guidance(
        GuidanceId.RELIEF_HEAT,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "Switch to moist heat",
        "48 hours have passed: switch from cold to moist heat, such as a warm damp towel, a "
        "heat wrap or a warm shower, 15 to 20 minutes at a time. Check your skin often and "
        "never fall asleep on a heating pad.",
        "Cochrane review (French et al. 2006): heat wraps eased acute low back pain in "
        "the short term (moderate evidence)",
        _numbers(heat_min=20, cold_phase_h=48),
    ),
    Guidance(
        GuidanceId.RELIEF_HEAT_REMINDER,
        NudgeKind.RELIEF,
        Severity.INFO,
        "Moist heat reminder",
        "Time for another 15 to 20 minutes of moist heat on the sore area. Check your skin "
        "and keep moving gently in between.",
        "Cochrane review (French et al. 2006): heat wraps eased acute low back pain in "
        "the short term (moderate evidence)",
        _numbers(heat_min=20),
    ),
    Guidance(
        GuidanceId.RELIEF_FLUIDS,
        NudgeKind.RELIEF,
        Severity.INFO,
        "Drink, and mind your minerals",
        "Drink water through the day. Foods with potassium, magnesium and calcium "
        "(bananas, leafy greens, nuts, yoghurt) or an oral rehydration drink help after "
        "heavy sweating. Evidence that this eases back cramps is weak; for most people it "
        "does no harm.",
        "General hydration advice (EFSA 2010: 2.0-2.5 L water a day); evidence for "
        "electrolytes against muscle cramps is limited",
        _numbers(women_l_per_day=2.0, men_l_per_day=2.5),
    ),
    Guidance(
        GuidanceId.RELIEF_PAIN_RELIEF,
        NudgeKind.RELIEF,
        Severity.INFO,
        "About pain relief",
        "If you take an over-the-counter pain reliever, follow the label for dose and how "
        "many days. Ask a pharmacist first if you take other medicines, are pregnant, or "
        "have stomach, kidney, liver or heart problems. General information only.",
        f"{_NICE_NG59}: if needed, an oral NSAID at the lowest effective dose for the "
        "shortest time; always follow the product label",
    ),
    Guidance(
        GuidanceId.RELIEF_CHECK_IN,
        NudgeKind.RELIEF,
        Severity.ADVICE,
        "How is your back?",
        "It has been 3 days since you reported a back cramp. If it is not clearly better, "
        "or it is getting worse, book a doctor or physiotherapist. Numbness, weakness or "
        "trouble with bladder or bowel: seek care now.",
        f"{_NICE_NG59}: reassess pain that does not improve; red flags need urgent assessment",
        _numbers(days_since_report=3),
    ),
    Guidance(
        GuidanceId.NOT_IMPROVING,
        NudgeKind.RELIEF,
        Severity.WARNING,
        "Get your back checked",
        "Back pain that has not improved after a few days, or keeps getting worse, should "
        "be checked by a doctor or physiotherapist. Please book an appointment soon.",
        f"{_NICE_NG59}: reassess people whose pain does not improve",
    ),
    Guidance(
        GuidanceId.RED_FLAG,
        NudgeKind.RED_FLAG,
        Severity.URGENT,
        "Seek medical care now",
        "You reported a warning sign. Call your local emergency number or go to an "
        "emergency department now.",
        _RED_FLAG_GUIDELINE,
    ),
)
"""Every fixed message, by id."""


class Symptom(StrEnum):
    """What a wearer can report with ``report_symptoms``."""

    LEG_NUMBNESS = "leg_numbness"
    LEG_TINGLING = "leg_tingling"
    LEG_WEAKNESS = "leg_weakness"
    SADDLE_NUMBNESS = "saddle_numbness"
    BLADDER_BOWEL_CONTROL = "bladder_bowel_control"
    FEVER_CHILLS = "fever_chills"
    UNEXPLAINED_WEIGHT_LOSS = "unexplained_weight_loss"
    SEVERE_PAIN_AFTER_FALL = "severe_pain_after_fall"
    PAIN_NOT_IMPROVING = "pain_not_improving"
    STIFFNESS = "stiffness"
    MILD_PAIN = "mild_pain"


SYMPTOM_TEXT: Mapping[Symptom, str] = MappingProxyType(
    {
        Symptom.LEG_NUMBNESS: "numbness in a leg",
        Symptom.LEG_TINGLING: "tingling in a leg",
        Symptom.LEG_WEAKNESS: "weakness in a leg",
        Symptom.SADDLE_NUMBNESS: "numbness around the buttocks or genitals",
        Symptom.BLADDER_BOWEL_CONTROL: "loss of bladder or bowel control",
        Symptom.FEVER_CHILLS: "fever or chills",
        Symptom.UNEXPLAINED_WEIGHT_LOSS: "unexplained weight loss",
        Symptom.SEVERE_PAIN_AFTER_FALL: "severe pain after a fall",
        Symptom.PAIN_NOT_IMPROVING: "pain that is not improving",
        Symptom.STIFFNESS: "stiffness",
        Symptom.MILD_PAIN: "mild pain",
    }
)
"""How each symptom reads in a sentence."""

RED_FLAG_SYMPTOMS: frozenset[Symptom] = frozenset(
    {
        Symptom.LEG_NUMBNESS,
        Symptom.LEG_TINGLING,
        Symptom.LEG_WEAKNESS,
        Symptom.SADDLE_NUMBNESS,
        Symptom.BLADDER_BOWEL_CONTROL,
        Symptom.FEVER_CHILLS,
        Symptom.UNEXPLAINED_WEIGHT_LOSS,
        Symptom.SEVERE_PAIN_AFTER_FALL,
    }
)
"""Symptoms that turn a report into an urgent "seek care now" alert."""

_NAMED_SYMPTOMS_MAX = 3


def ordered_symptoms(symptoms: Iterable[Symptom]) -> list[Symptom]:
    """The symptoms without repeats, in the order ``Symptom`` declares them."""
    chosen = set(symptoms)
    return [symptom for symptom in Symptom if symptom in chosen]


def _listed(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def red_flag_wording(symptoms: Iterable[Symptom]) -> Wording:
    """The urgent "seek care now" alert for red-flag symptoms (at least one required)."""
    red = [symptom for symptom in ordered_symptoms(symptoms) if symptom in RED_FLAG_SYMPTOMS]
    if not red:
        raise ValueError("red_flag_wording needs at least one red-flag symptom")
    phrases = [SYMPTOM_TEXT[symptom] for symptom in red]
    if len(phrases) > _NAMED_SYMPTOMS_MAX:
        rest = len(phrases) - (_NAMED_SYMPTOMS_MAX - 1)
        phrases = [*phrases[: _NAMED_SYMPTOMS_MAX - 1], f"{rest} other warning signs"]
    entry = GUIDANCE[GuidanceId.RED_FLAG]
    message = (
        f"You reported {_listed(phrases)}. With back pain this can be a sign of a serious "
        "problem. Call your local emergency number or go to an emergency department now; "
        "do not wait for it to pass. Tap acknowledge once you have seen this."
    )
    return Wording(
        kind=entry.kind,
        severity=entry.severity,
        title=entry.title,
        message=message,
        guideline=entry.guideline,
        evidence=_numbers(symptom_count=len(red)),
    )


FALL_ALERT_TITLE = "No answer after a possible fall"


def fall_alert_wording(fell_at: str, unanswered_s: float, repeat: int) -> Wording:
    """The urgent alert when a fall check went unanswered (the red-flag path).

    ``fell_at`` is the local clock time of the fall check (``"14:05"``), ``unanswered_s``
    how long it has waited, ``repeat`` 1 for the first alert and counting up.
    """
    waited_min = max(1, round(unanswered_s / 60.0))
    waited = "1 minute" if waited_min == 1 else f"{waited_min} minutes"
    message = (
        f"A possible fall at {fell_at} has had no answer for {waited}. If you are with them, "
        "check on them now. Severe pain, being unable to get up, or numbness or weakness "
        "after a fall need urgent assessment: call your local emergency number. "
        "Tap I'm OK or acknowledge once someone has checked."
    )
    return Wording(
        kind=NudgeKind.RED_FLAG,
        severity=Severity.URGENT,
        title=FALL_ALERT_TITLE,
        message=message,
        guideline=(
            f"{_NICE_NG59}: severe pain after a fall (trauma) needs urgent assessment. "
            "backwatch saw a possible fall, not an injury."
        ),
        evidence=_numbers(unanswered_s=unanswered_s, repeat=repeat),
    )


def morning_summary_wording(summary: DailySummary) -> Wording:
    """The morning nudge: yesterday's highlights (``summary``) and one thing to work on."""
    entry = GUIDANCE[GuidanceId.MORNING_SUMMARY]
    title, message = morning_wording(summary)
    evidence = {
        "sitting_min": summary.sitting_min,
        "long_sitting_bouts": float(summary.long_sitting_bouts),
        "steps": float(summary.steps),
        "lifts": float(summary.lifts),
        "risky_lifts": float(summary.risky_lifts),
        "walking_week_min": summary.week_walking_min,
    }
    if summary.flexion_over_60_share is not None:
        evidence["flexion_over_60_share"] = summary.flexion_over_60_share
    return Wording(
        kind=entry.kind,
        severity=entry.severity,
        title=title,
        message=message[:MESSAGE_MAX_CHARS],
        guideline=entry.guideline,
        evidence=_numbers(**evidence),
    )


def weekly_activity_wording(
    walking_week_min: float, target_week_min: float = WEEKLY_ACTIVITY_TARGET_MIN
) -> Wording:
    """The weekly activity tip with the walking minutes the sensor counted in the last 7 days."""
    walked = max(0, math.floor(walking_week_min))
    target = max(1, math.ceil(target_week_min))
    entry = GUIDANCE[GuidanceId.WEEKLY_ACTIVITY]
    if walked >= target:
        progress = f"You walked about {walked} minutes in the last 7 days: target met, well done."
    else:
        progress = (
            f"You walked about {walked} minutes in the last 7 days; "
            f"{target - walked} more would reach {target}."
        )
    message = (
        f"{progress} Aim for at least {target} minutes of moderate activity a week; "
        "brisk walking and swimming both count."
    )
    return Wording(
        kind=entry.kind,
        severity=entry.severity,
        title=entry.title,
        message=message,
        guideline=entry.guideline,
        evidence=_numbers(walking_week_min=round(walking_week_min, 1), target_week_min=target),
    )


class ReliefGroup(StrEnum):
    """Steps of one group replace each other: when several are due at once, the last is sent."""

    OVERVIEW = "overview"
    STRETCH = "stretch"
    TEMPERATURE = "temperature"
    FLUIDS = "fluids"
    PAIN_RELIEF = "pain_relief"
    CHECK_IN = "check_in"


@dataclass(frozen=True, slots=True)
class ReliefStep:
    """One timed message of the relief plan, ``offset_s`` after the cramp was reported."""

    offset_s: float
    guidance: GuidanceId
    group: ReliefGroup

    def __post_init__(self) -> None:
        """Offsets are finite and not negative; the message exists and is relief guidance."""
        if not math.isfinite(self.offset_s) or self.offset_s < 0:
            raise ValueError(f"relief step offset_s must be >= 0, got {self.offset_s!r}")
        if GUIDANCE[self.guidance].kind is not NudgeKind.RELIEF:
            raise ValueError(f"relief step {self.guidance.value!r} is not relief guidance")


@dataclass(frozen=True, slots=True)
class ReliefPlan:
    """The timed plan after a reported back cramp; steps at offset 0 go out at once."""

    steps: tuple[ReliefStep, ...]

    def __post_init__(self) -> None:
        """Keep the steps in time order (stable for equal offsets); at least one step."""
        if not self.steps:
            raise ValueError("a relief plan needs at least one step")
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda step: step.offset_s)))

    @property
    def duration_s(self) -> float:
        """From the report to the last step."""
        return self.steps[-1].offset_s

    @property
    def cold_phase_s(self) -> float | None:
        """When heat replaces cold (the first heat step), None if the plan has none."""
        heat = [s.offset_s for s in self.steps if s.guidance is GuidanceId.RELIEF_HEAT]
        return heat[0] if heat else None


RELIEF_REMINDERS: frozenset[GuidanceId] = frozenset(
    {GuidanceId.RELIEF_COLD_REMINDER, GuidanceId.RELIEF_HEAT_REMINDER}
)
"""Steps that repeat an earlier instruction; an unsent instruction goes before them."""


def _every(
    guidance: GuidanceId, group: ReliefGroup, offsets_h: Iterable[float]
) -> list[ReliefStep]:
    return [ReliefStep(hours * HOUR_S, guidance, group) for hours in offsets_h]


DEFAULT_RELIEF_PLAN = ReliefPlan(
    (
        ReliefStep(0.0, GuidanceId.RELIEF_PLAN, ReliefGroup.OVERVIEW),
        ReliefStep(0.0, GuidanceId.RELIEF_KNEE_TO_CHEST, ReliefGroup.STRETCH),
        ReliefStep(2 * MINUTE_S, GuidanceId.RELIEF_COLD, ReliefGroup.TEMPERATURE),
        ReliefStep(10 * MINUTE_S, GuidanceId.RELIEF_CHILDS_POSE, ReliefGroup.STRETCH),
        ReliefStep(15 * MINUTE_S, GuidanceId.RELIEF_FLUIDS, ReliefGroup.FLUIDS),
        ReliefStep(20 * MINUTE_S, GuidanceId.RELIEF_PAIN_RELIEF, ReliefGroup.PAIN_RELIEF),
        *_every(
            GuidanceId.RELIEF_COLD_REMINDER,
            ReliefGroup.TEMPERATURE,
            (3, 6, 9, 24, 27, 30, 33),
        ),
        ReliefStep(48 * HOUR_S, GuidanceId.RELIEF_HEAT, ReliefGroup.TEMPERATURE),
        *_every(GuidanceId.RELIEF_HEAT_REMINDER, ReliefGroup.TEMPERATURE, (51, 54, 57)),
        ReliefStep(72 * HOUR_S, GuidanceId.RELIEF_CHECK_IN, ReliefGroup.CHECK_IN),
    )
)
"""Stretches now, cold for 48 h (reminders while awake), then moist heat, a check-in at 3 days."""


MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
EVERY_DAY = frozenset(range(7))
WORKDAYS = frozenset(range(MONDAY, SATURDAY))


@dataclass(frozen=True, slots=True)
class TipSchedule:
    """A prevention tip due at a local time of day on some weekdays (0 = Monday)."""

    guidance: GuidanceId
    at: time
    weekdays: frozenset[int] = EVERY_DAY

    def __post_init__(self) -> None:
        """Weekdays are 0..6, at least one; the time carries no zone (it is local)."""
        if not self.weekdays or not self.weekdays <= EVERY_DAY:
            raise ValueError(f"tip weekdays must be a non-empty subset of 0..6: {self.weekdays}")
        if self.at.tzinfo is not None:
            raise ValueError("tip times are local wall times without a zone")

    @property
    def key(self) -> str:
        """Stable name of this schedule entry, e.g. ``hydration@10:00``."""
        return f"{self.guidance.value}@{self.at.strftime('%H:%M')}"


DEFAULT_TIPS: tuple[TipSchedule, ...] = (
    TipSchedule(GuidanceId.SITTING_SETUP, time(9, 30), frozenset({MONDAY})),
    TipSchedule(GuidanceId.LIFT_TECHNIQUE, time(9, 30), frozenset({THURSDAY})),
    TipSchedule(GuidanceId.HYDRATION, time(10, 0)),
    TipSchedule(GuidanceId.HYDRATION, time(13, 0)),
    TipSchedule(GuidanceId.HYDRATION, time(16, 0)),
    TipSchedule(GuidanceId.STRETCHING, time(11, 30), WORKDAYS),
    TipSchedule(GuidanceId.WEEKLY_ACTIVITY, time(17, 0), frozenset({WEDNESDAY, SUNDAY})),
    TipSchedule(GuidanceId.CORE_WORK, time(18, 0), frozenset({MONDAY, WEDNESDAY, FRIDAY})),
    TipSchedule(GuidanceId.SLEEP_POSITION, time(21, 0), frozenset({SUNDAY})),
    TipSchedule(GuidanceId.MORNING_SUMMARY, time(8, 0)),
)
"""When prevention tips are due; the delivery policy still applies (snooze, quiet hours, caps)."""
