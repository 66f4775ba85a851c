"""Reports: the numbers on the page are the history's, the recorder keeps what the evaluator
decided, ``backwatch report`` and ``analyze --report`` write pages, errors are one line."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.store import AlertStore
from alerts.summary import DailySummary, Focus, choose_focus, morning_wording
from devices.mount import Mount
from devices.recording import write_recording
from devices.samples import Placement, SampleBlock
from devices.scenario import Activity as StepActivity
from devices.scenario import Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.activity import Activity
from monitor.analyze import analyze_sensors
from monitor.cli import main
from monitor.evaluation import EvaluationThresholds, SensorSetup, WearerEvaluator
from monitor.report import ReportContext, day_summary, render_day, render_week
from monitor.report_history import HistoryRecorder, day_bounds, load_day, load_week
from monitor.report_model import DayHistory, from_analysis
from monitor.report_sample import write_sample_week
from tests.json_schema import errors, load_schema

ZONE = ZoneInfo("Europe/Berlin")
LAST_DAY = date(2026, 11, 20)
WEARER = "ana"
MOUNT = "-y,+z"


def metrics(page: str) -> dict[str, str]:
    """Every ``data-metric`` value on a page."""
    return dict(re.findall(r'data-metric="([a-z_]+)">([^<]*)<', page))


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory whose store holds the sample week of ``ana``."""
    folder = tmp_path_factory.mktemp("state")
    with AlertStore.open(folder / "alerts.sqlite3") as store:
        write_sample_week(store, WEARER, LAST_DAY, ZONE)
    (folder / "backwatch.toml").write_text(
        f'state_dir = "{folder}"\n[policy]\ntimezone = "Europe/Berlin"\n', encoding="utf-8"
    )
    return folder


def _report(state_dir: Path, *args: str) -> int:
    return main(["report", "--config", str(state_dir / "backwatch.toml"), *args])


def test_day_page_numbers_are_the_stored_history(state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    assert _report(state_dir, "--wearer", WEARER, "--day", str(LAST_DAY), "--out", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        day = load_day(store, WEARER, LAST_DAY, ZONE)
        week = load_week(store, WEARER, LAST_DAY, ZONE)
    # The expected numbers, from the history itself.
    sitting_h = day.seconds(Activity.SITTING) / 3600
    long_bouts = [b - a for a, b in day.sitting_bouts if b - a >= 1800.0]
    shares = day.flexion.shares()
    assert shares is not None
    risky = sum(1 for lift in day.lifts if lift.risks)
    acked = sum(1 for n in day.nudges if n.acknowledged_s is not None)
    assert long_bouts
    assert day.nudges
    got = metrics(page)
    assert got["sitting_h"] == f"{sitting_h:.1f}"
    assert got["long_sitting_bouts"] == str(len(long_bouts))
    assert got["longest_bout_min"] == f"{max(long_bouts) / 60:.0f}"
    assert got["awkward_pct"] == f"{100 * shares[2]:.1f} %"
    assert got["lifts"] == f"{len(day.lifts)} ({risky})"
    assert got["steps"] == f"{day.steps:,}"
    assert got["walking_min"] == f"{day.walking_min:.0f}"
    assert got["nudges"] == f"{len(day.nudges)} ({acked})"
    assert f"{week.walking_min:.0f} of 150 minutes in 7 days" in page
    # One row per nudge, in local time.
    assert page.count("<tr><td>") == len(day.nudges)
    first = day.nudges[0]
    assert f"<td>{_local_hm(first.time_s)}</td>" in page
    # Self-contained: every image inline, nothing fetched.
    assert day.lifts
    assert page.count('src="data:image/svg+xml;base64,') == 6
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page


def _local_hm(t_s: float) -> str:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.fromtimestamp(t_s, UTC).astimezone(ZONE).strftime("%H:%M")


def test_week_page_adds_up_the_days(state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "week.html"
    assert _report(state_dir, "--wearer", WEARER, "--week", str(LAST_DAY), "--out", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        week = load_week(store, WEARER, LAST_DAY, ZONE)
    got = metrics(page)
    assert got["days"] == "7"
    assert got["steps"] == f"{sum(d.steps for d in week.days):,}"
    assert got["walking_min"] == f"{week.walking_min:.0f}"
    assert got["lifts"] == (
        f"{sum(len(d.lifts) for d in week.days)} ({sum(d.risky_lifts for d in week.days)})"
    )
    assert got["long_sitting_bouts"] == str(sum(len(d.long_bouts) for d in week.days))
    assert got["focus"] in {f.value.replace("_", " ") for f in Focus}
    assert page.count('src="data:image/svg+xml;base64,') == 6


def test_report_errors_are_one_line_with_their_status(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.html")
    assert _report(state_dir, "--wearer", WEARER, "--day", "2026-13-01", "--out", out) == 64
    assert _report(state_dir, "--wearer", "bob", "--day", str(LAST_DAY), "--out", out) == 64
    before = str(LAST_DAY - timedelta(days=30))
    assert _report(state_dir, "--wearer", WEARER, "--day", before, "--out", out) == 66
    assert _report(state_dir, "--wearer", WEARER, "--week", before, "--out", out) == 66
    missing = str(tmp_path / "no" / "x.html")
    assert _report(state_dir, "--wearer", WEARER, "--day", str(LAST_DAY), "--out", missing) == 73
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "backwatch report: date '2026-13-01' is not YYYY-MM-DD, today or yesterday",
        "backwatch report: unknown wearer 'bob' (known: ana)",
        f"backwatch report: no history for ana on {before}",
        f"backwatch report: no history for ana on the week ending {before}",
        f"backwatch report: cannot write {missing}: No such file or directory",
    ]
    assert not Path(out).exists()


def test_daily_summary_fits_its_schema_and_picks_the_worst_guideline(state_dir: Path) -> None:
    with AlertStore.open(state_dir / "alerts.sqlite3") as store:
        week = load_week(store, WEARER, LAST_DAY, ZONE)
    day = week.days[-1]
    summary = day_summary(day, ReportContext(timezone=ZONE, week_walking_min=week.walking_min))
    payload = json.loads(summary.to_json())
    assert errors(payload, load_schema("summary")) == []
    assert payload["day"] == str(LAST_DAY)
    assert payload["steps"] == day.steps
    assert payload["long_sitting_bouts"] == len(day.long_bouts)
    assert DailySummary.from_json(summary.to_json()) == summary
    base = summary.model_copy(
        update={
            "lifts": 10,
            "risky_lifts": 1,
            "long_sitting_bouts": 0,
            "flexion_over_60_share": 0.01,
            "week_walking_min": 200.0,
        }
    )
    assert choose_focus(base) is Focus.KEEP_GOING
    assert choose_focus(base.model_copy(update={"risky_lifts": 6})) is Focus.LIFTING
    assert choose_focus(base.model_copy(update={"flexion_over_60_share": 0.09})) is Focus.BENDING
    assert choose_focus(base.model_copy(update={"long_sitting_bouts": 3})) is Focus.SITTING
    assert choose_focus(base.model_copy(update={"week_walking_min": 40.0})) is Focus.ACTIVITY
    title, message = morning_wording(base.model_copy(update={"focus": Focus.SITTING}))
    assert title == "Yesterday for your back"
    assert message.endswith(
        "Stand up and move for a few minutes before a sitting bout reaches its limit."
    )
    assert len(message) <= 400


SIT_OVER_MIDNIGHT = Scenario(
    "midnight",
    (
        ScenarioStep(StepActivity.STANDING, 60.0),
        ScenarioStep(StepActivity.WALKING, 240.0),
        ScenarioStep(StepActivity.SITTING, 2100.0, trunk_flexion_deg=10.0),
        ScenarioStep(StepActivity.STANDING, 60.0),
        ScenarioStep(StepActivity.WALKING, 120.0),
    ),
)


def test_recorder_keeps_what_the_evaluator_decided_across_midnight(tmp_path: Path) -> None:
    """43 minutes of trunk and thigh from 23:45 local, fed as the daemon feeds them; the
    daemon restarts halfway (a new evaluator and recorder carry on the stored day)."""
    start_s = day_bounds(LAST_DAY, ZONE)[1] - 15 * 60.0
    mount = Mount.parse(MOUNT)
    recordings = {
        placement: SimulatedSensor(
            SIT_OVER_MIDNIGHT,
            placement,
            placement.value,
            rate_hz=50.0,
            mount=mount,
            seed=2,
            start_s=start_s,
        ).recording()
        for placement in (Placement.TRUNK, Placement.THIGH)
    }
    setups = [SensorSetup(p.value, p, mount) for p in recordings]
    store = AlertStore.open(tmp_path / "alerts.sqlite3")

    def process() -> tuple[WearerEvaluator, HistoryRecorder]:
        evaluator = WearerEvaluator(WEARER, setups, EvaluationThresholds(), evaluate_every_s=30.0)
        recorder = HistoryRecorder(
            store, WEARER, timezone=ZONE, sitting_limit_s=1800.0, flush_every_s=60.0
        )
        return evaluator, recorder

    evaluator, recorder = process()
    earlier: list[WearerEvaluator] = []
    finished: list[DayHistory] = []
    n = len(recordings[Placement.TRUNK].t_s)
    step = 25  # half a second per block, as a radio delivers them
    for a in range(0, n, step):
        b = min(n, a + step)
        for placement, rec in recordings.items():
            block = SampleBlock(placement.value, rec.t_s[a:b], rec.acc_g[a:b], None)
            recorder.observe(evaluator.feed(block))
        if a % (30 * 50) == 0 or b == n:
            finished += recorder.update(evaluator, float(recordings[Placement.TRUNK].t_s[b - 1]))
        if a == 22 * 60 * 50:  # 00:07, inside the sit: the daemon stops and starts again
            recorder.update(evaluator, float(recordings[Placement.TRUNK].t_s[b - 1]), force=True)
            recorder.flush()
            earlier.append(evaluator)
            evaluator, recorder = process()
    recorder.observe(evaluator.finish())
    recorder.update(evaluator, float(recordings[Placement.TRUNK].t_s[-1]) + 1.0, force=True)
    recorder.flush()
    store.close()
    store = AlertStore.open(tmp_path / "alerts.sqlite3")
    days = [load_day(store, WEARER, LAST_DAY + timedelta(days=k), ZONE) for k in (0, 1)]
    store.close()
    # Seconds per activity: what the two evaluators decided, split at midnight.
    expected: dict[str, float] = {}
    for ev in (*earlier, evaluator):
        for seg in ev.segments:
            expected[seg.activity.value] = expected.get(seg.activity.value, 0.0) + seg.duration_s
    for name, seconds in expected.items():
        recorded = sum(d.activity_s.get(name, 0.0) for d in days)
        assert recorded == pytest.approx(seconds, abs=1.0), name
    assert sum(days[0].activity_s.values()) == pytest.approx(15 * 60.0, abs=1.0)
    assert expected["sitting"] > 30 * 60.0
    # The timeline: walking and the sit before midnight, the sit and a walk after it.
    assert days[0].minute_activity[-10:] == "SSSSSSSSSS"
    assert days[1].minute_activity[:29] == "S" * 25 + "TWW."
    assert set(days[1].minute_activity[30:]) == {"."}
    # Steps and trunk-posture seconds: the evaluators' totals, none lost or counted twice.
    assert days[0].steps + days[1].steps == sum(ev.steps for ev in (*earlier, evaluator)) > 200
    measured = sum(ev.exposure.measured_s for ev in (*earlier, evaluator))
    assert days[0].flexion.measured_s + days[1].flexion.measured_s == pytest.approx(measured)
    # The sit began on the first day; the restart cut its bout in two, the second part
    # starting with the new process on the new day.
    (first_a, first_b), (second_a, second_b) = (*days[0].sitting_bouts, *days[1].sitting_bouts)
    assert first_a == pytest.approx(start_s + 5 * 60.0, abs=5.0)
    assert second_a == pytest.approx(first_b, abs=10.0)
    assert second_b - first_a == pytest.approx(35 * 60.0, abs=10.0)
    assert not finished  # the new day is not DAY_GRACE_S old yet


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> dict[Placement, Path]:
    """14 minutes of a trunk and a thigh sensor: walking, a slouched sit, standing, walking."""
    scenario = Scenario(
        "report",
        (
            ScenarioStep(StepActivity.STANDING, 30.0),
            ScenarioStep(StepActivity.WALKING, 180.0),
            ScenarioStep(StepActivity.SITTING, 420.0, trunk_flexion_deg=35.0),
            ScenarioStep(StepActivity.STANDING, 60.0),
            ScenarioStep(StepActivity.WALKING, 150.0),
        ),
    )
    folder = tmp_path_factory.mktemp("rec")
    files = {}
    for placement in (Placement.TRUNK, Placement.THIGH):
        sensor = SimulatedSensor(
            scenario, placement, placement.value, rate_hz=50.0, mount=Mount.parse(MOUNT), seed=4
        )
        files[placement] = folder / f"{placement.value}.csv"
        write_recording(files[placement], sensor.recording())
    return files


def test_analyze_report_shows_the_recording(
    recording: dict[Placement, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec.html"
    args = ["analyze", "--report", str(out)]
    for placement, path in recording.items():
        args += ["--sensor", f"{placement}={path}", "--sensor-mount", f"{placement}={MOUNT}"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    summary = record["summary"]
    page = out.read_text(encoding="utf-8")
    got = metrics(page)
    assert got["steps"] == f"{summary['steps']:,}"
    assert got["sitting_h"] == f"{summary['sitting_s'] / 3600:.1f}"
    assert got["longest_bout_min"] == f"{max(summary['sitting_s'] / 60, 0):.0f}"
    walking_min = (summary["walking_s"] + summary["running_s"]) / 60
    assert got["walking_min"] == f"{walking_min:.0f}"
    assert summary["steps"] > 200
    assert 380 < summary["sitting_s"] < 460
    assert "<title>Back report: trunk.csv</title>" in page
    # Two inputs cannot make one page.
    trunk = str(recording[Placement.TRUNK])
    assert main(["analyze", trunk, trunk, "--report", str(out)]) == 64


def _svg_text(page: str) -> str:
    """The page with its images decoded (matplotlib writes text as paths: little to find)."""
    import base64  # noqa: PLC0415

    blobs = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page)
    return page + "".join(base64.b64decode(b).decode("utf-8") for b in blobs)


def test_history_of_a_recording_matches_the_analysis(recording: dict[Placement, Path]) -> None:
    from devices.recording import read_recording  # noqa: PLC0415

    sensors = {
        SensorSetup(p.value, p, Mount.parse(MOUNT)): read_recording(path)
        for p, path in recording.items()
    }
    result = analyze_sensors(sensors)
    history = from_analysis(result, title="trunk.csv")
    assert history.seconds(Activity.SITTING) == pytest.approx(result.activity_s(Activity.SITTING))
    assert history.steps == result.steps
    letters = history.minute_activity
    assert len(letters) == 14
    assert letters[1:3] == "WW"
    assert letters[5:10] == "SSSSS"  # the sit runs from minute 3.5 to 10.5
    assert letters[12:] == "WW"
    page = render_day(history)
    assert page.count("<figure>") == 4  # timeline, bouts, flexion, walking (no lifts, no sleep)


def test_week_page_needs_a_day_with_data() -> None:
    from monitor.report import ReportError  # noqa: PLC0415
    from monitor.report_model import WeekHistory  # noqa: PLC0415

    empty = DayHistory(WEARER, "2026-11-20", 0.0, 86400.0, day=LAST_DAY)
    with pytest.raises(ReportError, match="no history for ana"):
        render_week(WeekHistory(WEARER, [empty] * 7))


def test_day_histories_follow_the_retention_and_forget_wearer(tmp_path: Path) -> None:
    with AlertStore.open(tmp_path / "alerts.sqlite3") as store:
        days = write_sample_week(store, WEARER, LAST_DAY, ZONE)
        write_sample_week(store, "bo", LAST_DAY, ZONE)
        assert store.history_wearers() == ["ana", "bo"]
        store.set_daily_summary(WEARER, str(LAST_DAY), '{"x":1}')
        assert store.daily_summary(WEARER, str(LAST_DAY)) == '{"x":1}'
        assert store.daily_summary(WEARER, str(LAST_DAY - timedelta(days=1))) is None
        # Keep the last three days: the four before go, with their nudges.
        store.prune(days[4].start_s)
        kept = [d.day for d in load_week(store, WEARER, LAST_DAY, ZONE).days if d.has_data]
        assert kept == [d.day for d in days[4:]]
        store.forget_wearer(WEARER)
        assert store.history_wearers() == ["bo"]
        assert store.day_history(WEARER, str(LAST_DAY)) is None


def test_the_morning_nudge_tells_yesterday_and_one_thing_to_work_on(tmp_path: Path) -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from alerts.catalogue import Catalogue  # noqa: PLC0415
    from alerts.nudge import NudgeKind  # noqa: PLC0415
    from alerts.policy import DeliveryPolicy, PolicyRules  # noqa: PLC0415
    from monitor.report_history import finish_day  # noqa: PLC0415
    from tests.fakes import FakeClock  # noqa: PLC0415

    store = AlertStore.open(tmp_path / "alerts.sqlite3")
    days = write_sample_week(store, WEARER, LAST_DAY, ZONE)
    clock = FakeClock(datetime(2026, 11, 20, 6, 59, tzinfo=UTC))  # 07:59 in Berlin
    policy = DeliveryPolicy(
        Catalogue(),
        clock,
        cooldown_s={},
        default_cooldown_s=600.0,
        rules=PolicyRules.recommended(timezone=ZONE),
        store=store,
    )
    assert [n for n in policy.due([WEARER]) if n.kind is NudgeKind.SUMMARY] == []
    clock.advance(120.0)
    # No summary of the 19th was kept (the daemon kept none): no morning nudge.
    assert [n for n in policy.due([WEARER]) if n.kind is NudgeKind.SUMMARY] == []
    # The daemon summarises the 20th when it ends; the next morning's nudge tells it.
    summary = finish_day(store, days[-1], ZONE)
    clock.advance(86_400.0 - 120.0)
    assert [n for n in policy.due([WEARER]) if n.kind is NudgeKind.SUMMARY] == []
    clock.advance(120.0)
    (morning,) = [n for n in policy.due([WEARER]) if n.kind is NudgeKind.SUMMARY]
    assert morning.title == "Yesterday for your back"
    assert f"{summary.lifts} lifts, {summary.risky_lifts} risky" in morning.message
    assert summary.focus is Focus.LIFTING
    assert morning.message.endswith("turn with the feet rather than the back.")
    assert morning.evidence["steps"] == summary.steps
    assert errors(json.loads(morning.to_json()), load_schema("nudge")) == []
    store.close()


def test_report_only_reads_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store it cannot read is reported, never moved aside or changed (the daemon owns it)."""
    config = tmp_path / "backwatch.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n', encoding="utf-8")
    args = ["report", "--config", str(config), "--wearer", WEARER, "--out", str(tmp_path / "r")]
    assert main(args) == 66
    store_path = tmp_path / "alerts.sqlite3"
    store_path.write_bytes(b"not a database" * 100)
    assert main(args) == 66
    assert store_path.read_bytes() == b"not a database" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.sqlite3", "backwatch.toml"]
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        f"backwatch report: no history: {store_path} does not exist"
        " (has backwatch run with this state_dir?)"
    )
    assert err[1].startswith(
        f"backwatch report: cannot read the history: alert database {store_path}"
    )


def test_a_day_a_restart_kept_from_its_summary_is_summarised_at_the_next_start(
    tmp_path: Path,
) -> None:
    from monitor.report_history import finish_day  # noqa: PLC0415

    store = AlertStore.open(tmp_path / "alerts.sqlite3")
    days = write_sample_week(store, WEARER, LAST_DAY, ZONE)
    idle = WearerEvaluator(WEARER, [SensorSetup("trunk", Placement.TRUNK, Mount.parse(MOUNT))])
    morning_s = day_bounds(LAST_DAY + timedelta(days=1), ZONE)[0] + 10 * 3600.0

    def started() -> HistoryRecorder:
        return HistoryRecorder(store, WEARER, timezone=ZONE, sitting_limit_s=1800.0)

    recorder = started()
    (late,) = recorder.update(idle, morning_s)
    assert late.day == LAST_DAY
    assert late.steps == days[-1].steps
    assert recorder.update(idle, morning_s + 120.0) == []  # looked once
    finish_day(store, late, ZONE)
    assert started().update(idle, morning_s) == []  # summarised now
    store.close()
