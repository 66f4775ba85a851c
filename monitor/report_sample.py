"""A made-up but plausible week of history for one wearer: the reports' docs and tests use it.

Deterministic for a seed: office mornings with long sitting bouts, an afternoon of lifting
on some days, evening walks on others, nights on the side or back. Nudges are written into
the store's nudge history as the daemon's policy would, some acknowledged.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta, tzinfo

from alerts.store import AlertStore, NudgeOrigin
from monitor.activity import Activity
from monitor.report_history import day_bounds
from monitor.report_model import (
    DayHistory,
    FlexionBands,
    LiftRecord,
    SleepRecord,
    minute_timeline,
)

_HOUR_S = 3600.0
_MIN_S = 60.0


def sample_day(wearer: str, day: date, zone: tzinfo | None, seed: int) -> DayHistory:
    """One plausible day (the ``seed`` picks its shape)."""
    rng = random.Random(seed)  # noqa: S311 (sample data)
    start_s, end_s = day_bounds(day, zone)
    segments: list[tuple[str, float, float]] = []
    t = start_s

    def add(activity: Activity, minutes: float) -> None:
        nonlocal t
        segments.append((activity.value, t, t + minutes * _MIN_S))
        t += minutes * _MIN_S

    wake_min = 6.5 * 60 + rng.randint(0, 60)
    add(Activity.LYING, wake_min)
    add(Activity.STANDING, 25 + rng.randint(0, 15))
    add(Activity.WALKING, 6 + rng.randint(0, 8))
    add(Activity.SITTING, 20)
    lifting_day = rng.random() < 0.5
    # The desk morning: bouts of 20 to 75 minutes with short breaks.
    while t < start_s + 12.5 * _HOUR_S:
        add(Activity.SITTING, rng.choice([12, 18, 22, 25, 28, 26, 34, 48]))
        add(Activity.STANDING, rng.randint(2, 6))
        if rng.random() < 0.3:
            add(Activity.WALKING, rng.randint(2, 5))
    lifts: list[LiftRecord] = []
    if lifting_day:
        end_lifting = t + 3 * _HOUR_S
        while t < end_lifting:
            add(Activity.STANDING, rng.randint(3, 9))
            technique = rng.choices(["squat", "stoop", "mixed"], weights=[5, 3, 2])[0]
            risks: tuple[str, ...] = ()
            if technique == "stoop":
                risks = ("stoop",) if rng.random() < 0.6 else ("stoop", "deep_flexion")
            elif rng.random() < 0.1:
                risks = ("twist",)
            peak = {"squat": 35.0, "stoop": 72.0, "mixed": 50.0}[technique] + rng.uniform(-8, 8)
            lifts.append(LiftRecord(t - 60.0, technique, risks, round(peak, 1)))
            add(Activity.WALKING, rng.choice([0.5, 1.0, 1.5]))
    else:
        while t < start_s + 17 * _HOUR_S:
            add(Activity.SITTING, rng.choice([15, 22, 28, 24, 33, 41]))
            add(Activity.STANDING, rng.randint(2, 5))
    if rng.random() < 0.45:
        add(Activity.WALKING, rng.randint(15, 35))
    add(Activity.STANDING, rng.randint(20, 40))
    add(Activity.SITTING, rng.randint(60, 120))
    add(Activity.LYING, max(0.0, (end_s - t) / _MIN_S))
    activity_s: dict[str, float] = {}
    for name, a, b in segments:
        activity_s[name] = activity_s.get(name, 0.0) + (b - a)
    bouts = tuple((a, b) for name, a, b in segments if name == Activity.SITTING.value)
    upright_s = sum(
        v for k, v in activity_s.items() if k not in {Activity.LYING.value, Activity.UNKNOWN.value}
    )
    awkward_share = (0.07 if lifting_day else 0.01) + rng.uniform(0.0, 0.02)
    moderate_share = 0.12 + rng.uniform(0.0, 0.08)
    flexion = FlexionBands(
        neutral_s=round(upright_s * (1 - awkward_share - moderate_share)),
        moderate_s=round(upright_s * moderate_share),
        awkward_s=round(upright_s * awkward_share),
    )
    walking_min = activity_s.get(Activity.WALKING.value, 0.0) / _MIN_S
    sleep_s = wake_min * _MIN_S
    side = rng.choice(["left", "right"])
    sleep = SleepRecord(
        start_s - 1.5 * _HOUR_S,
        start_s + sleep_s,
        {
            "supine": round(0.35 * (sleep_s + 1.5 * _HOUR_S)),
            "prone": round(0.05 * (sleep_s + 1.5 * _HOUR_S)),
            "left": round((0.45 if side == "left" else 0.15) * (sleep_s + 1.5 * _HOUR_S)),
            "right": round((0.15 if side == "left" else 0.45) * (sleep_s + 1.5 * _HOUR_S)),
            "unknown": 0.0,
        },
    )
    return DayHistory(
        wearer=wearer,
        title=day.isoformat(),
        start_s=start_s,
        span_s=end_s - start_s,
        day=day,
        minute_activity=minute_timeline(segments, start_s, end_s - start_s),
        activity_s=activity_s,
        sitting_bouts=bouts,
        flexion=flexion,
        lifts=tuple(lifts),
        steps=round(walking_min * 104 + rng.randint(0, 400)),
        sleep=(sleep,),
    )


def write_sample_week(
    store: AlertStore, wearer: str, last_day: date, zone: tzinfo | None, seed: int = 14
) -> list[DayHistory]:
    """Store seven sample days ending with ``last_day`` and their nudges; returns the days."""
    days = []
    for back in range(6, -1, -1):
        day = last_day - timedelta(days=back)
        history = sample_day(wearer, day, zone, seed * 100 + back)
        store.set_day_history(wearer, day.isoformat(), history.to_document(), history.start_s)
        rng = random.Random(seed * 1000 + back)  # noqa: S311 (sample data)
        for n, (a, b) in enumerate(history.long_bouts):
            _nudge(
                store,
                wearer,
                day,
                nudge_id=f"{wearer}-s{back}x{n}",
                kind="sitting",
                title="Time to stand up",
                time_s=a + history.sitting_limit_s,
                acknowledged_s=b if rng.random() < 0.6 else None,
            )
        for n, lift in enumerate(lift for lift in history.lifts if lift.risky):
            if n % 3 == 0:
                _nudge(
                    store,
                    wearer,
                    day,
                    nudge_id=f"{wearer}-l{back}x{n}",
                    kind="lift_form",
                    title="Bend the knees",
                    time_s=lift.time_s + 5.0,
                    acknowledged_s=lift.time_s + 120.0 if rng.random() < 0.5 else None,
                )
        days.append(history)
    return days


def _nudge(
    store: AlertStore,
    wearer: str,
    day: date,
    *,
    nudge_id: str,
    kind: str,
    title: str,
    time_s: float,
    acknowledged_s: float | None,
) -> None:
    store.record_nudge(
        nudge_id=nudge_id,
        wearer=wearer,
        kind=kind,
        severity="advice",
        origin=NudgeOrigin.OBSERVATION,
        time_s=time_s,
        day=day.isoformat(),
        payload=json.dumps({"title": title}),
    )
    if acknowledged_s is not None:
        store.acknowledge_chain(nudge_id, acknowledged_s)
