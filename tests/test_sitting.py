"""Sitting bouts: short interruptions absorbed, breaks end a bout, nudges at the limit."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.events import EventType
from monitor.activity import ACTIVITIES, Activity, run_lengths
from monitor.sitting import SittingBout, SittingTracker

S, T, W, L, U = (
    Activity.SITTING,
    Activity.STANDING,
    Activity.WALKING,
    Activity.LYING,
    Activity.UNKNOWN,
)


def _feed(tracker: SittingTracker, start_s: float, runs: list[tuple[Activity, int]]) -> list[float]:
    """Consume runs; return the end_s of every observation."""
    return [o.end_s for o in tracker.consume(start_s, runs)]


def test_nudge_at_exactly_the_limit_and_again_at_each_multiple() -> None:
    tracker = SittingTracker("ann", limit_s=1800.0, break_s=60.0)
    fired = tracker.consume(1000.0, [(T, 10), (S, 3700)])
    assert [o.end_s for o in fired] == [1010.0 + 1800.0, 1010.0 + 3600.0]
    first = fired[0]
    assert first.wearer == "ann"
    assert first.type is EventType.SITTING_BOUT
    assert first.start_s == 1010.0
    assert dict(first.evidence) == {"bout_s": 1800.0, "limit_s": 1800.0}
    assert dict(fired[1].evidence)["bout_s"] == 3600.0
    assert tracker.ongoing_bout_s == 3700.0


def test_one_second_short_of_the_limit_fires_nothing() -> None:
    tracker = SittingTracker("ann", limit_s=1800.0)
    assert _feed(tracker, 0.0, [(S, 1799)]) == []
    assert _feed(tracker, 1799.0, [(S, 1)]) == [1800.0]


def test_short_interruptions_are_absorbed_into_the_bout() -> None:
    tracker = SittingTracker("ann", limit_s=1800.0, break_s=60.0)
    runs = [(S, 600), (W, 45), (S, 600), (T, 59), (U, 0), (S, 600)]
    fired = _feed(tracker, 0.0, runs)
    # The bout started at 0 and its clock kept running through the 45 s and 59 s breaks.
    assert fired == [1800.0]
    tracker.finish()
    assert tracker.bouts == [SittingBout(0.0, 600 + 45 + 600 + 59 + 600.0, 1)]


def test_a_break_of_sixty_seconds_upright_ends_the_bout() -> None:
    tracker = SittingTracker("ann", limit_s=1800.0, break_s=60.0)
    fired = _feed(tracker, 0.0, [(S, 1200), (W, 60), (S, 1200)])
    assert fired == []  # neither bout reached 30 minutes
    assert tracker.bouts == [SittingBout(0.0, 1200.0, 0)]
    assert tracker.current == SittingBout(1260.0, 2460.0, 0)


def test_limit_reached_during_an_interruption_fires_when_sitting_resumes() -> None:
    tracker = SittingTracker("ann", limit_s=100.0, break_s=60.0)
    fired = _feed(tracker, 0.0, [(S, 90), (T, 30), (S, 10)])
    assert fired == [120.0]
    assert tracker.ongoing_bout_s == 130.0


def test_lying_continues_a_bout_but_does_not_start_one() -> None:
    tracker = SittingTracker("ann", limit_s=100.0, break_s=60.0)
    assert _feed(tracker, 0.0, [(L, 500)]) == []
    assert tracker.current is None
    assert _feed(tracker, 500.0, [(S, 50), (L, 60)]) == [600.0]
    assert tracker.sitting_total_s == 50.0


def test_a_long_stretch_without_data_ends_the_bout() -> None:
    tracker = SittingTracker("ann", limit_s=100.0, break_s=60.0)
    _feed(tracker, 0.0, [(S, 50), (U, 60), (S, 70)])
    assert tracker.bouts == [SittingBout(0.0, 50.0, 0)]
    assert tracker.ongoing_bout_s == 70.0


def test_runs_cut_anywhere_give_the_same_observations() -> None:
    rng = np.random.default_rng(4)
    codes = np.repeat(rng.choice([0, 1, 1, 1, 2, 3, 5], 400), rng.integers(1, 200, 400))
    whole = SittingTracker("ann", limit_s=900.0, break_s=60.0)
    expected = [(o.start_s, o.end_s) for o in whole.consume(0.0, run_lengths(codes))]
    whole.finish()
    assert expected  # the random day has prolonged bouts
    cut = SittingTracker("ann", limit_s=900.0, break_s=60.0)
    got = []
    edges = np.sort(rng.choice(np.arange(1, codes.shape[0]), 300, replace=False))
    start = 0
    for part in np.split(codes, edges):
        got += [(o.start_s, o.end_s) for o in cut.consume(float(start), run_lengths(part))]
        start += part.shape[0]
    cut.finish()
    assert got == expected
    assert cut.bouts == whole.bouts
    assert cut.sitting_total_s == whole.sitting_total_s == float(np.sum(codes == 1))
    assert ACTIVITIES[1] is Activity.SITTING


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        SittingTracker("ann", limit_s=0.0)
