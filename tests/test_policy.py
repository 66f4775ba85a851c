"""Delivery policy: cool-downs per wearer and per kind on an injected (fake) wall clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from alerts.catalogue import Catalogue, Wording, default_catalogue
from alerts.events import EventType, Observation
from alerts.nudge import NudgeKind, Severity
from alerts.policy import DeliveryPolicy, new_nudge_id
from tests.fakes import FakeClock

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SITTING_COOLDOWN_S = 1800.0


def sitting(wearer: str = "alex", bout_s: float = 1860.0, start_s: float = 100.0) -> Observation:
    return Observation(
        wearer=wearer,
        type=EventType.SITTING_BOUT,
        start_s=start_s,
        end_s=start_s + bout_s,
        evidence={"bout_s": bout_s, "limit_s": 1800.0},
    )


def make_policy(
    clock: FakeClock, catalogue: Catalogue | None = None, default_cooldown_s: float = 600.0
) -> DeliveryPolicy:
    counter = itertools.count(1)
    return DeliveryPolicy(
        catalogue=catalogue if catalogue is not None else default_catalogue(),
        clock=clock,
        cooldown_s={NudgeKind.SITTING: SITTING_COOLDOWN_S},
        default_cooldown_s=default_cooldown_s,
        new_id=lambda: f"n{next(counter)}",
    )


def test_first_observation_becomes_a_nudge_stamped_by_the_clock() -> None:
    clock = FakeClock(START)
    nudge = make_policy(clock).decide(sitting(bout_s=1860.0, start_s=100.0))
    assert nudge is not None
    assert nudge.id == "n1"
    assert nudge.time == START
    assert nudge.wearer == "alex"
    assert nudge.kind is NudgeKind.SITTING
    assert nudge.severity is Severity.ADVICE
    assert (nudge.event_start_s, nudge.event_end_s) == (100.0, 1960.0)
    assert "31 minutes" in nudge.message
    assert dict(nudge.evidence) == {"bout_min": 31.0, "limit_min": 30.0, "break_min": 3.0}


def test_cooldown_holds_until_exactly_its_end() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    assert policy.decide(sitting(bout_s=1860.0)) is not None
    clock.advance(SITTING_COOLDOWN_S - 0.001)
    assert policy.decide(sitting(bout_s=3659.0)) is None
    clock.advance(0.001)  # now exactly cooldown after the first nudge
    second = policy.decide(sitting(bout_s=3660.0))
    assert second is not None
    assert second.id == "n2"
    assert second.time == START.replace(minute=30)


def test_suppressed_observations_do_not_restart_the_cooldown() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    assert policy.decide(sitting(bout_s=1860.0)) is not None
    for step in (1, 2):
        clock.advance(600.0)
        assert policy.decide(sitting(bout_s=1860.0 + 600.0 * step)) is None
    clock.advance(600.0)
    assert clock.now() == START.replace(minute=30)
    assert policy.decide(sitting(bout_s=3660.0)) is not None


def test_cooldown_is_per_wearer() -> None:
    clock = FakeClock(START)
    policy = make_policy(clock)
    first = policy.decide(sitting("alex"))
    other = policy.decide(sitting("sam"))
    assert first is not None
    assert other is not None
    assert other.wearer == "sam"
    assert policy.decide(sitting("alex")) is None
    assert policy.decide(sitting("sam")) is None


@dataclass(frozen=True, slots=True)
class _PostureOrSitting:
    """Test entry: a bout with ``flexion_deg`` evidence is worded as a slouch nudge."""

    def render(self, observation: Observation) -> Wording:
        kind = NudgeKind.SLOUCH if "flexion_deg" in observation.evidence else NudgeKind.SITTING
        return Wording(kind, Severity.ADVICE, "t", "m", "g", {})


def test_cooldown_is_per_kind_and_unlisted_kinds_use_the_default() -> None:
    clock = FakeClock(START)
    policy = make_policy(
        clock, Catalogue({EventType.SITTING_BOUT: _PostureOrSitting()}), default_cooldown_s=600.0
    )
    slouch = Observation("alex", EventType.SITTING_BOUT, 0.0, 1.0, {"flexion_deg": 35.0})
    sit = sitting()
    assert policy.cooldown_for(NudgeKind.SLOUCH) == 600.0
    assert policy.cooldown_for(NudgeKind.SITTING) == SITTING_COOLDOWN_S
    sit_nudge = policy.decide(sit)
    slouch_nudge = policy.decide(slouch)
    assert sit_nudge is not None
    assert slouch_nudge is not None
    assert (sit_nudge.kind, slouch_nudge.kind) == (NudgeKind.SITTING, NudgeKind.SLOUCH)
    clock.advance(600.0)
    # Each observation is new (a later end): repeats of one observation are duplicates.
    again = policy.decide(
        Observation("alex", EventType.SITTING_BOUT, 0.0, 601.0, {"flexion_deg": 35.0})
    )
    assert again is not None
    assert again.kind is NudgeKind.SLOUCH
    assert policy.decide(sitting(bout_s=2460.0)) is None


def test_same_inputs_give_the_same_nudges() -> None:
    def run() -> list[str]:
        clock = FakeClock(START)
        policy = make_policy(clock)
        out = []
        for wearer in ("alex", "sam", "alex", "sam"):
            nudge = policy.decide(sitting(wearer))
            out.append("-" if nudge is None else nudge.to_json())
            clock.advance(1000.0)
        return out

    assert run() == run()


def test_default_ids_are_unique_uuid4_hex() -> None:
    ids = {new_nudge_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize("bad_s", [-1.0, float("nan"), float("inf")])
def test_bad_cooldowns_are_refused_with_the_field(bad_s: float) -> None:
    with pytest.raises(ValueError, match=r"cooldown_s\[sitting\]"):
        DeliveryPolicy(default_catalogue(), FakeClock(), {NudgeKind.SITTING: bad_s}, 60.0)
    with pytest.raises(ValueError, match="default_cooldown_s"):
        DeliveryPolicy(default_catalogue(), FakeClock(), {}, bad_s)


def test_a_naive_clock_is_refused() -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2024, 5, 1, 9, 0)  # naive on purpose

    policy = DeliveryPolicy(default_catalogue(), NaiveClock(), {}, 60.0)
    with pytest.raises(ValueError, match="timezone-naive"):
        policy.decide(sitting())
