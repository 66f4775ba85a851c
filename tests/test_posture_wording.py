"""Wording of the posture and sleep observations: numbers, advice, and a valid nudge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from alerts.catalogue import default_catalogue, span_text
from alerts.events import EventType, Observation
from alerts.nudge import MESSAGE_MAX_CHARS, Nudge, NudgeKind, Severity
from tests.json_schema import errors, load_schema

START_S = 1_714_554_000.0


def _observation(kind: EventType, span_s: float, **evidence: float) -> Observation:
    return Observation("alex", kind, START_S, START_S + span_s, evidence)


def _nudge(observation: Observation) -> Nudge:
    wording = default_catalogue().render(observation)
    return Nudge(
        id="0123456789abcdef0123456789abcdef",
        time=datetime(2024, 5, 1, 9, 31, tzinfo=UTC),
        wearer=observation.wearer,
        kind=wording.kind,
        severity=wording.severity,
        title=wording.title,
        message=wording.message,
        guideline=wording.guideline,
        evidence=dict(wording.evidence),
        event_start_s=observation.start_s,
        event_end_s=observation.end_s,
    )


def test_span_text() -> None:
    assert span_text(1.0) == "1 second"
    assert span_text(45.4) == "45 seconds"
    assert span_text(186.0) == "3 minutes"
    assert span_text(3 * 3600 + 20 * 60) == "3 hours 20 minutes"


def test_slouch_names_angle_and_time_and_advises_support_and_knees() -> None:
    obs = _observation(EventType.SLOUCH, 190.0, hold_s=186.0, flexion_deg=32.4, limit_s=185.0)
    wording = default_catalogue().render(obs)
    assert wording.kind is NudgeKind.SLOUCH
    assert wording.severity is Severity.ADVICE
    assert "about 32\N{DEGREE SIGN} for 3 minutes" in wording.message
    assert "lumbar support" in wording.message
    assert "knees a little lower than your hips" in wording.message
    assert "ISO 11226" in wording.guideline
    assert wording.evidence == {"hold_min": 3.1, "flexion_deg": 32.4, "limit_min": 3.1}


def test_side_bend_says_which_side() -> None:
    right = default_catalogue().render(
        _observation(EventType.SIDE_BEND, 60.0, hold_s=60.0, lateral_deg=14.2)
    )
    left = default_catalogue().render(
        _observation(EventType.SIDE_BEND, 75.0, hold_s=75.0, lateral_deg=-12.0)
    )
    assert "about 14\N{DEGREE SIGN} to your right for 60 seconds" in right.message
    assert "about 12\N{DEGREE SIGN} to your left for 75 seconds" in left.message
    assert right.kind is NudgeKind.SLOUCH
    assert "10\N{DEGREE SIGN}" in right.guideline
    assert left.evidence == {"hold_min": 1.2, "lateral_deg": -12.0}


@pytest.mark.parametrize(
    ("seconds", "advice", "first"),
    [
        ({"supine_s": 3000.0, "left_s": 400.0, "right_s": 200.0}, "under your knees", "back"),
        ({"supine_s": 900.0, "left_s": 1500.0, "right_s": 1200.0}, "between your knees", "side"),
        ({"prone_s": 2500.0, "supine_s": 1100.0}, "try your side", "front"),
    ],
)
def test_sleep_summary_advises_for_the_main_position(
    seconds: dict[str, float], advice: str, first: str
) -> None:
    lying_s = sum(seconds.values())
    obs = _observation(EventType.SLEEP_POSITION, lying_s, lying_s=lying_s, **seconds)
    wording = default_catalogue().render(obs)
    assert wording.kind is NudgeKind.SLEEP_POSITION
    assert advice in wording.message
    assert wording.message.startswith("Of 1 hour lying down you spent ")
    assert f"% on your {first}" in wording.message.split(",")[0]
    assert "Kukwa" in wording.guideline
    assert sum(v for k, v in wording.evidence.items() if k.endswith("_pct")) == pytest.approx(
        100.0, abs=0.2
    )


def test_sleep_summary_gives_left_and_right_shares() -> None:
    obs = _observation(
        EventType.SLEEP_POSITION,
        7200.0,
        lying_s=7200.0,
        left_s=3600.0,
        right_s=1800.0,
        supine_s=1800.0,
    )
    message = default_catalogue().render(obs).message
    assert "75 % on your side (left 50 %, right 25 %), 25 % on your back" in message
    assert "front" not in message.split(".")[0]


@pytest.mark.parametrize(
    "observation",
    [
        _observation(EventType.SLOUCH, 100.0, hold_s=100.0, flexion_deg=55.0, limit_s=82.5),
        _observation(EventType.SIDE_BEND, 100.0, hold_s=100.0, lateral_deg=11.0),
        _observation(
            EventType.SLEEP_POSITION,
            30000.0,
            lying_s=30000.0,
            supine_s=10000.0,
            prone_s=5000.0,
            left_s=8000.0,
            right_s=7000.0,
        ),
        _observation(EventType.SLOUCH, 100.0),
        _observation(EventType.SIDE_BEND, 100.0),
        _observation(EventType.SLEEP_POSITION, 100.0),
    ],
)
def test_every_posture_wording_makes_a_valid_nudge(observation: Observation) -> None:
    nudge = _nudge(observation)
    assert len(nudge.message) <= MESSAGE_MAX_CHARS
    assert errors(json.loads(nudge.to_json()), load_schema("nudge")) == []
