"""The guidance catalogue: every message fits a nudge and its schema, with honest wording."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest

from alerts.catalogue import Catalogue, FallCheckTemplate, LiftFormTemplate, Wording
from alerts.events import EventType, Observation
from alerts.guidance import (
    DEFAULT_RELIEF_PLAN,
    DEFAULT_TIPS,
    GUIDANCE,
    RED_FLAG_SYMPTOMS,
    SYMPTOM_TEXT,
    GuidanceId,
    ReliefGroup,
    ReliefPlan,
    ReliefStep,
    Symptom,
    TipSchedule,
    red_flag_wording,
    weekly_activity_wording,
)
from alerts.nudge import Nudge, NudgeKind, Severity
from tests.json_schema import errors, load_schema

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
DIAGNOSIS_WORDS = (
    "you have a ",
    "you have an ",
    "diagnos",
    "you suffer",
    "cauda equina",
    "sciatica",
)


def as_nudge(wording: Wording) -> Nudge:
    return Nudge(
        id="0123456789abcdef0123456789abcdef",
        time=NOW,
        wearer="alex",
        kind=wording.kind,
        severity=wording.severity,
        title=wording.title,
        message=wording.message,
        guideline=wording.guideline,
        evidence=dict(wording.evidence),
        event_start_s=1.0,
        event_end_s=1.0,
    )


def every_wording() -> list[Wording]:
    found = [entry.wording() for entry in GUIDANCE.values()]
    found += [red_flag_wording([symptom]) for symptom in RED_FLAG_SYMPTOMS]
    found.append(red_flag_wording(list(Symptom)))
    found += [weekly_activity_wording(minutes) for minutes in (0.0, 95.4, 149.9, 150.0, 900.0)]
    observation = Observation("alex", EventType.SITTING_BOUT, 0.0, 3.0, {"peak_flexion_deg": 72.4})
    found.append(LiftFormTemplate().render(observation))
    found.append(FallCheckTemplate().render(observation))
    return found


def test_every_message_is_a_valid_nudge_payload() -> None:
    schema = load_schema("nudge")
    for wording in every_wording():
        nudge = as_nudge(wording)  # raises for a title, text or guideline too long
        assert errors(json.loads(nudge.to_json()), schema) == [], wording.title


def test_every_guidance_id_has_an_entry_and_a_source() -> None:
    assert set(GUIDANCE) == set(GuidanceId)
    for guidance_id, entry in GUIDANCE.items():
        assert entry.id is guidance_id
        assert entry.guideline.strip()
        assert entry.text.endswith((".", "!", "?")), guidance_id


def test_wording_never_diagnoses() -> None:
    for wording in every_wording():
        text = f"{wording.title} {wording.message}".lower()
        for word in DIAGNOSIS_WORDS:
            assert word not in text, (word, wording.title)


def test_red_flags_are_urgent_and_name_what_was_reported() -> None:
    wording = red_flag_wording([Symptom.BLADDER_BOWEL_CONTROL, Symptom.LEG_NUMBNESS])
    assert (wording.kind, wording.severity) == (NudgeKind.RED_FLAG, Severity.URGENT)
    assert wording.message.startswith(
        "You reported numbness in a leg and loss of bladder or bowel control."
    )
    assert "emergency" in wording.message
    assert dict(wording.evidence) == {"symptom_count": 2.0}
    many = red_flag_wording(list(Symptom))
    assert "and 6 other warning signs" in many.message
    assert dict(many.evidence) == {"symptom_count": 8.0}


def test_red_flag_wording_needs_a_red_flag() -> None:
    with pytest.raises(ValueError, match="red-flag"):
        red_flag_wording([Symptom.STIFFNESS, Symptom.PAIN_NOT_IMPROVING])


def test_the_red_flag_list_is_the_documented_one() -> None:
    assert {SYMPTOM_TEXT[s] for s in RED_FLAG_SYMPTOMS} == {
        "numbness in a leg",
        "tingling in a leg",
        "weakness in a leg",
        "numbness around the buttocks or genitals",
        "loss of bladder or bowel control",
        "fever or chills",
        "unexplained weight loss",
        "severe pain after a fall",
    }


def test_weekly_activity_counts_the_walked_minutes() -> None:
    short = weekly_activity_wording(95.6)
    assert short.message.startswith("You walked about 95 minutes in the last 7 days; 55 more")
    assert dict(short.evidence) == {"walking_week_min": 95.6, "target_week_min": 150.0}
    done = weekly_activity_wording(151.0)
    assert "target met" in done.message


def test_the_relief_plan_is_cold_then_heat_then_a_check_in() -> None:
    plan = DEFAULT_RELIEF_PLAN
    first = [step.guidance for step in plan.steps if step.offset_s == 0]
    assert first == [GuidanceId.RELIEF_PLAN, GuidanceId.RELIEF_KNEE_TO_CHEST]
    assert plan.cold_phase_s == 48 * 3600.0
    cold = [s.offset_s for s in plan.steps if "cold" in s.guidance.value]
    heat = [s.offset_s for s in plan.steps if "heat" in s.guidance.value]
    assert max(cold) < 48 * 3600.0 <= min(heat)
    assert plan.steps[-1].guidance is GuidanceId.RELIEF_CHECK_IN
    assert plan.duration_s == 72 * 3600.0
    assert {s.guidance for s in plan.steps} >= {
        GuidanceId.RELIEF_CHILDS_POSE,
        GuidanceId.RELIEF_FLUIDS,
        GuidanceId.RELIEF_PAIN_RELIEF,
    }
    assert all(GUIDANCE[s.guidance].kind is NudgeKind.RELIEF for s in plan.steps)


def test_relief_steps_are_checked_and_sorted() -> None:
    with pytest.raises(ValueError, match="not relief guidance"):
        ReliefStep(0.0, GuidanceId.HYDRATION, ReliefGroup.FLUIDS)
    with pytest.raises(ValueError, match="offset_s"):
        ReliefStep(-1.0, GuidanceId.RELIEF_COLD, ReliefGroup.TEMPERATURE)
    with pytest.raises(ValueError, match="at least one"):
        ReliefPlan(())
    plan = ReliefPlan(
        (
            ReliefStep(60.0, GuidanceId.RELIEF_COLD, ReliefGroup.TEMPERATURE),
            ReliefStep(0.0, GuidanceId.RELIEF_PLAN, ReliefGroup.OVERVIEW),
        )
    )
    assert [s.offset_s for s in plan.steps] == [0.0, 60.0]
    assert plan.cold_phase_s is None


def test_tip_schedules() -> None:
    assert {tip.guidance for tip in DEFAULT_TIPS} == {
        GuidanceId.SITTING_SETUP,
        GuidanceId.LIFT_TECHNIQUE,
        GuidanceId.HYDRATION,
        GuidanceId.STRETCHING,
        GuidanceId.WEEKLY_ACTIVITY,
        GuidanceId.CORE_WORK,
        GuidanceId.SLEEP_POSITION,
        GuidanceId.MORNING_SUMMARY,
    }
    assert len({tip.key for tip in DEFAULT_TIPS}) == len(DEFAULT_TIPS)
    assert TipSchedule(GuidanceId.HYDRATION, time(10, 0)).key == "hydration@10:00"
    with pytest.raises(ValueError, match="weekdays"):
        TipSchedule(GuidanceId.HYDRATION, time(10, 0), frozenset({7}))
    with pytest.raises(ValueError, match="local"):
        TipSchedule(GuidanceId.HYDRATION, time(10, 0, tzinfo=UTC))


def test_lift_template_names_angle_and_index() -> None:
    observation = Observation(
        "alex", EventType.SITTING_BOUT, 0.0, 2.0, {"peak_flexion_deg": 71.6, "lifting_index": 1.42}
    )
    wording = LiftFormTemplate().render(observation)
    assert wording.kind is NudgeKind.LIFT_FORM
    assert wording.severity is Severity.ADVICE
    assert wording.message.startswith(
        "That lift was done with your back bent about 72 degrees and a lifting index of 1.4."
    )
    heavy = Observation("alex", EventType.SITTING_BOUT, 0.0, 2.0, {"lifting_index": 3.2})
    assert LiftFormTemplate().render(heavy).severity is Severity.WARNING


def test_fall_check_is_urgent_and_keeps_finite_evidence() -> None:
    observation = Observation(
        "alex", EventType.SITTING_BOUT, 0.0, 1.0, {"peak_g": 3.4, "angle_change_deg": float("nan")}
    )
    wording = FallCheckTemplate().render(observation)
    assert (wording.kind, wording.severity) == (NudgeKind.FALL_CHECK, Severity.URGENT)
    assert dict(wording.evidence) == {"peak_g": 3.4}
    assert "I'm OK" in wording.message


def test_the_shipped_catalogue_words_lifts_and_falls() -> None:
    catalogue = Catalogue()
    fall = catalogue.render(Observation("alex", EventType.FALL, 0.0, 1.0, {"peak_g": 3.1}))
    assert (fall.kind, fall.severity) == (NudgeKind.FALL_CHECK, Severity.URGENT)
    lift = catalogue.render(
        Observation("alex", EventType.LIFT, 0.0, 2.0, {"peak_flexion_deg": 65.0})
    )
    assert (lift.kind, lift.severity) == (NudgeKind.LIFT_FORM, Severity.ADVICE)
