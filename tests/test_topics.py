"""Topic tree: every topic's exact string, and segment validation naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alerts.topics import SEGMENT_MAX_CHARS, TopicError, Topics, check_segment


def test_every_topic_under_the_default_base() -> None:
    topics = Topics()
    assert topics.availability == "backwatch/status"
    assert topics.state("alex") == "backwatch/alex/state"
    assert topics.nudge("alex") == "backwatch/alex/nudge"
    assert topics.event("alex") == "backwatch/alex/event"
    assert topics.sensor_status("alex", "chest") == "backwatch/alex/sensor/chest/status"
    assert topics.command("alex", "snooze") == "backwatch/alex/cmd/snooze"
    assert topics.reply("alex", "snooze") == "backwatch/alex/reply/snooze"
    assert topics.command_filter == "backwatch/+/cmd/+"


def test_base_may_have_several_segments() -> None:
    topics = Topics("home/backwatch")
    assert topics.availability == "home/backwatch/status"
    assert topics.sensor_status("Sam_2", "thigh-L") == "home/backwatch/Sam_2/sensor/thigh-L/status"


@pytest.mark.parametrize(
    "segment", ["a", "Z", "0", "_", "-", "Alex_Smith-2", "x" * SEGMENT_MAX_CHARS]
)
def test_valid_segments_pass_unchanged(segment: str) -> None:
    assert check_segment(segment) == segment
    assert Topics().nudge(segment) == f"backwatch/{segment}/nudge"


INVALID = {
    "empty": ("", "empty"),
    "plus": ("a+b", "'+'"),
    "lone plus": ("+", "'+'"),
    "hash": ("#", "'#'"),
    "slash": ("alex/sam", "'/'"),
    "space": ("alex smith", "' '"),
    "accent": ("zoë", "'ë'"),
    "cjk": ("日本", "'日本'"),
    "emoji": ("back🙂", "'🙂'"),
    "newline": ("alex\n", "'\\n'"),
    "dot": ("a.b", "'.'"),
    "nul": ("a\x00b", "'\\x00'"),
    "too long": ("x" * (SEGMENT_MAX_CHARS + 1), "longer than 64"),
}

BUILDERS: dict[str, Callable[[str], str]] = {
    "wearer": lambda name: Topics().state(name),
    "sensor": lambda name: Topics().sensor_status("alex", name),
    "command": lambda name: Topics().reply("alex", name),
}


@pytest.mark.parametrize("role", sorted(BUILDERS))
@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_segment_is_refused_naming_it_and_its_role(case: str, role: str) -> None:
    segment, reason = INVALID[case]
    with pytest.raises(TopicError) as caught:
        BUILDERS[role](segment)
    assert caught.value.segment == segment
    assert caught.value.role == role
    message = str(caught.value)
    assert repr(segment) in message
    assert f"for {role}:" in message
    assert reason in message


@pytest.mark.parametrize("base", ["", "/backwatch", "backwatch/", "a//b", "a/+", "#", "a b", "é"])
def test_invalid_base_is_refused(base: str) -> None:
    with pytest.raises(TopicError, match="base topic"):
        Topics(base)


def test_topic_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid MQTT topic segment"):
        check_segment("a#b", "wearer")


def test_parse_command_reverses_command() -> None:
    topics = Topics("home/backwatch")
    assert topics.parse_command(topics.command("alex", "snooze")) == ("alex", "snooze")
    for foreign in (
        "home/backwatch/alex/reply/snooze",
        "home/backwatch/alex/cmd",
        "home/backwatch/alex/cmd/snooze/extra",
        "other/backwatch/alex/cmd/snooze",
        "home/backwatch/al ex/cmd/snooze",
        "home/backwatch//cmd/snooze",
    ):
        assert topics.parse_command(foreign) is None, foreign
