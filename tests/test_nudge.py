"""Nudge JSON shape (checked against alerts/schemas/nudge.schema.json), round trip, wording.

The payload on ``<base>/<wearer>/nudge`` is one compact JSON object, keys in this order:
``{"id": "<uuid4 hex>", "time": "2024-05-01T09:31:00Z", "wearer": "alex", "kind": "sitting",
"severity": "advice", "title": "Time to stand up", "message": "You have been sitting for 31
minutes. ...", "guideline": "ADA 2016 / Dunstan 2012 ...", "evidence": {"bout_min": 31.0,
"limit_min": 30.0, "break_min": 3.0}, "event_start_s": 1714554000.0, "event_end_s": ...}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from alerts.catalogue import (
    Catalogue,
    MissingTemplateError,
    SittingTemplate,
    default_catalogue,
    minutes_text,
)
from alerts.events import EventType, Observation
from alerts.nudge import Nudge, NudgeKind, Severity
from tests.json_schema import errors, load_schema

START_S = 1_714_554_000.0
KEY_ORDER = [
    "id",
    "time",
    "wearer",
    "kind",
    "severity",
    "title",
    "message",
    "guideline",
    "evidence",
    "event_start_s",
    "event_end_s",
]


def sitting(bout_s: float, **evidence: float) -> Observation:
    return Observation(
        wearer="alex",
        type=EventType.SITTING_BOUT,
        start_s=START_S,
        end_s=START_S + bout_s,
        evidence={"bout_s": bout_s, "limit_s": 1800.0, **evidence},
    )


def sample_nudge(**changes: Any) -> Nudge:
    wording = default_catalogue().render(sitting(1860.0))
    fields: dict[str, Any] = {
        "id": "0123456789abcdef0123456789abcdef",
        "time": datetime(2024, 5, 1, 9, 31, tzinfo=UTC),
        "wearer": "alex",
        "kind": wording.kind,
        "severity": wording.severity,
        "title": wording.title,
        "message": wording.message,
        "guideline": wording.guideline,
        "evidence": dict(wording.evidence),
        "event_start_s": START_S,
        "event_end_s": START_S + 1860.0,
    }
    fields.update(changes)
    return Nudge(**fields)


def test_json_matches_schema_with_stable_compact_key_order() -> None:
    text = sample_nudge().to_json()
    document = json.loads(text)
    assert errors(document, load_schema("nudge")) == []
    assert list(document) == KEY_ORDER
    assert text == json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    assert document["time"] == "2024-05-01T09:31:00Z"
    assert document["kind"] == "sitting"
    assert document["severity"] == "advice"
    assert document["evidence"] == {"bout_min": 31.0, "limit_min": 30.0, "break_min": 3.0}


def test_round_trip_is_exact() -> None:
    nudge = sample_nudge(time=datetime(2024, 5, 1, 9, 31, 5, 250_000, tzinfo=UTC))
    again = Nudge.from_json(nudge.to_json())
    assert again == nudge
    assert again.to_json() == nudge.to_json()
    assert json.loads(nudge.to_json())["time"] == "2024-05-01T09:31:05.250000Z"


def test_time_in_another_zone_is_written_in_utc() -> None:
    local = datetime(2024, 5, 1, 11, 31, tzinfo=timezone(timedelta(hours=2)))
    assert json.loads(sample_nudge(time=local).to_json())["time"] == "2024-05-01T09:31:00Z"


def test_schema_enums_list_every_kind_and_severity() -> None:
    properties = load_schema("nudge")["properties"]
    assert properties["kind"]["enum"] == [kind.value for kind in NudgeKind]
    assert properties["severity"]["enum"] == [severity.value for severity in Severity]


def _without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != key}


BAD_DOCUMENTS: dict[str, Any] = {
    "missing id": lambda d: _without(d, "id"),
    "extra field": lambda d: {**d, "colour": "red"},
    "unknown severity": lambda d: {**d, "severity": "panic"},
    "unknown kind": lambda d: {**d, "kind": "diagnosis"},
    "time without zone": lambda d: {**d, "time": "2024-05-01T09:31:00"},
    "wearer with slash": lambda d: {**d, "wearer": "alex/bob"},
    "empty title": lambda d: {**d, "title": ""},
    "title too long": lambda d: {**d, "title": "x" * 65},
    "evidence not a number": lambda d: {**d, "evidence": {"bout_min": "31"}},
    "evidence key with capitals": lambda d: {**d, "evidence": {"BoutMin": 31.0}},
    "start as string": lambda d: {**d, "event_start_s": "0"},
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_schema_and_model_both_refuse_a_bad_document(case: str) -> None:
    bad = BAD_DOCUMENTS[case](json.loads(sample_nudge().to_json()))
    assert errors(bad, load_schema("nudge")) != []
    with pytest.raises(ValidationError):
        Nudge.from_json(json.dumps(bad))


def test_model_refuses_naive_time_non_finite_evidence_and_reversed_span() -> None:
    with pytest.raises(ValidationError, match="timezone-naive"):
        sample_nudge(time=datetime(2024, 5, 1, 9, 31))  # naive on purpose
    with pytest.raises(ValidationError, match="finite"):
        sample_nudge(evidence={"bout_min": float("nan")})
    with pytest.raises(ValidationError, match="before event_start_s"):
        sample_nudge(event_start_s=10.0, event_end_s=9.0)


def test_nudge_is_immutable() -> None:
    nudge = sample_nudge()
    with pytest.raises(ValidationError):
        nudge.title = "changed"  # type: ignore[misc]


def test_sitting_wording_names_the_bout_minutes_and_the_break() -> None:
    wording = default_catalogue().render(sitting(1860.0))
    assert wording.kind is NudgeKind.SITTING
    assert wording.severity is Severity.ADVICE
    assert wording.title == "Time to stand up"
    assert wording.message == (
        "You have been sitting for 31 minutes. Stand up and move for at least 3 minutes"
        " \N{EM DASH} a short walk is ideal."
    )
    assert "Dunstan 2012" in wording.guideline
    assert "30 min" in wording.guideline
    assert dict(wording.evidence) == {"bout_min": 31.0, "limit_min": 30.0, "break_min": 3.0}


def test_sitting_minutes_are_rounded_down_and_hours_spelled_out() -> None:
    catalogue = default_catalogue()
    assert "sitting for 30 minutes." in catalogue.render(sitting(1859.9)).message
    assert "sitting for 1 hour 35 minutes." in catalogue.render(sitting(5700.0)).message
    assert dict(catalogue.render(sitting(1859.9)).evidence)["bout_min"] == 31.0


def test_sitting_break_comes_from_evidence_or_the_strict_default() -> None:
    assert "at least 2 minutes" in default_catalogue().render(sitting(1860, break_s=120)).message
    strict = default_catalogue(sitting_break_s=120.0)
    assert "at least 2 minutes" in strict.render(sitting(1860.0)).message


def test_sitting_without_bout_evidence_uses_the_observation_span() -> None:
    observation = Observation("alex", EventType.SITTING_BOUT, START_S, START_S + 2400.0)
    wording = SittingTemplate().render(observation)
    assert "sitting for 40 minutes." in wording.message
    assert dict(wording.evidence) == {"bout_min": 40.0, "break_min": 3.0}


def test_minutes_text() -> None:
    assert [minutes_text(m) for m in (0, 1, 2, 60, 61, 125)] == [
        "0 minutes",
        "1 minute",
        "2 minutes",
        "1 hour",
        "1 hour 1 minute",
        "2 hours 5 minutes",
    ]


def test_every_observation_type_has_wording() -> None:
    assert Catalogue().event_types == frozenset(EventType)


def test_missing_entry_names_the_type() -> None:
    with pytest.raises(MissingTemplateError, match="sitting_bout"):
        Catalogue({}).render(sitting(1860.0))
