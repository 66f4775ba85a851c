"""Validate activity detection on the SisFall waist recordings (``python -m bench.validate``).

Each SisFall file (200 Hz, one belt-worn device; raw counts) is converted in memory: the
ADXL345 columns to g (32 g / 8192 counts) and the ITG3200 gyroscope to deg/s
(4000 / 65536). It is analysed with placement ``waist`` and mount ``-y,+z`` (-y up, +z
forward, read off the data: see the data's README) through the same path as
``backwatch analyze``. Labels are per file, so the checks are per trial:

- D07-D10 (sit down in a chair, pause, stand up): exactly one sitting segment, lasting
  ``SIT_MIN_S``-``SIT_MAX_S`` (the seated pause plus the movements into and out of the
  chair, in a 12 s file). Target: 95 % of trials.
- D01-D04 (100 s walking or jogging): at least 95 % of the time walking or running and no
  sitting segment. Target: 95 % of trials.
- D12-D14 (lying down): a lying segment. Target: 95 % of trials.

Other codes are listed for information (share of time per activity).

Lifts and falls (every D and F trial, same conversion and mount), per trial:

- Falls: a trial F01-F15 is detected when at least one fall is found in it (sensitivity); a
  trial D01-D19 is a false alarm when any is (specificity). D11 (collapsing into a chair),
  D18 (stumbling) and D19 (jumping) are the hard negatives and listed on their own.
  Targets: both at least 97 %.
- Lifts: D15 (bending at the knees) must give exactly one lift, a squat; D16 (bending
  without bending the knees) exactly one, a stoop. Targets: technique right in at least
  95 % of trials, and exactly one lift in every trial. Lifts found in other D codes
  (sitting down and standing up looks like a squat to a waist sensor) are counted for
  information.

Every rate is also printed per subject. :func:`motion_events` is the boundary between the
data and the detectors: it runs them directly over a whole file today; once the evaluator
emits ``lift`` and ``fall`` observations it should take them from :func:`analyze_sensors`
instead (the rest of this module does not change).

The data are never copied into the project; without them this prints "no data" and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alerts.events import EventType
from devices.mount import Mount
from devices.recording import Recording
from devices.samples import Placement
from monitor.activity import Activity, Segment
from monitor.analyze import analyze_sensors
from monitor.evaluation import EvaluationThresholds, SensorSetup

RATE_HZ = 200.0
ADXL345_G_PER_COUNT = 32.0 / 8192.0
ITG3200_DPS_PER_COUNT = 4000.0 / 65536.0
MOUNT = "-y,+z"
SIT_MIN_S = 3.0
SIT_MAX_S = 11.0
WALK_SHARE = 0.95
TARGET = 0.95
SIT_CODES = ("D07", "D08", "D09", "D10")
WALK_CODES = ("D01", "D02", "D03", "D04")
LIE_CODES = ("D12", "D13", "D14")


def default_data_dir() -> Path:
    """``../shared/data/sisfall`` relative to the repository."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sisfall"


def read_sisfall(path: Path) -> Recording:
    """One SisFall trial as a recording in g and deg/s (file seconds from 0)."""
    text = path.read_text(encoding="ascii", errors="replace").replace(";", "")
    rows = [line for line in text.splitlines() if line.strip()]
    values = np.array([[float(v) for v in row.split(",")] for row in rows], dtype=np.float64)
    acc = values[:, 0:3] * ADXL345_G_PER_COUNT
    gyro = values[:, 3:6] * ITG3200_DPS_PER_COUNT
    t = np.arange(values.shape[0]) / RATE_HZ
    return Recording(t_s=t, acc_g=acc, gyro_dps=gyro)


@dataclass(frozen=True, slots=True)
class TrialResult:
    """One trial's activity code, file and segments."""

    code: str
    path: Path
    duration_s: float
    segments: tuple[Segment, ...]

    def share(self, *activities: Activity) -> float:
        """Share of the trial's time in the given activities."""
        total = sum(s.duration_s for s in self.segments if s.activity in activities)
        return total / self.duration_s if self.duration_s > 0 else 0.0

    def count(self, activity: Activity) -> int:
        """Number of segments of an activity."""
        return sum(1 for s in self.segments if s.activity is activity)

    def passes(self) -> bool | None:
        """Whether the trial meets its check (None for codes without one)."""
        if self.code in SIT_CODES:
            sits = [s for s in self.segments if s.activity is Activity.SITTING]
            return len(sits) == 1 and SIT_MIN_S <= sits[0].duration_s <= SIT_MAX_S
        if self.code in WALK_CODES:
            moving = self.share(Activity.WALKING, Activity.RUNNING)
            return moving >= WALK_SHARE and self.count(Activity.SITTING) == 0
        if self.code in LIE_CODES:
            return self.count(Activity.LYING) > 0
        return None


def analyze_trial(path: Path, thresholds: EvaluationThresholds) -> TrialResult:
    """Analyse one SisFall file as a waist sensor with the data's mount."""
    recording = read_sisfall(path)
    setup = SensorSetup("waist", Placement.WAIST, Mount.parse(MOUNT))
    result = analyze_sensors({setup: recording}, thresholds)
    return TrialResult(path.name[:3], path, result.duration_s, result.segments)


def run(data_dir: Path, thresholds: EvaluationThresholds, verbose: bool) -> list[TrialResult]:
    """Analyse every ADL trial (D codes) under ``data_dir``."""
    results = []
    for path in sorted(data_dir.glob("*/D*.txt")):
        trial = analyze_trial(path, thresholds)
        results.append(trial)
        if verbose:
            segs = " ".join(
                f"{s.activity.value[:5]}[{s.start_s:.1f}-{s.end_s:.1f}]" for s in trial.segments
            )
            mark = {True: "ok  ", False: "FAIL", None: "    "}[trial.passes()]
            print(f"{mark} {path.parent.name}/{path.name}: {segs}")
    return results


def table(results: Sequence[TrialResult]) -> str:
    """The per-code summary table."""
    by_code: dict[str, list[TrialResult]] = defaultdict(list)
    for r in results:
        by_code[r.code].append(r)
    acts = (
        Activity.SITTING,
        Activity.STANDING,
        Activity.WALKING,
        Activity.RUNNING,
        Activity.LYING,
        Activity.UNKNOWN,
    )
    head = f"{'code':4} {'trials':>6} {'pass':>7}  " + " ".join(f"{a.value[:5]:>6}" for a in acts)
    lines = [head, "-" * len(head)]
    for code in sorted(by_code):
        trials = by_code[code]
        checks = [t.passes() for t in trials]
        graded = [c for c in checks if c is not None]
        rate = f"{100 * sum(graded) / len(graded):6.1f}%" if graded else "      -"
        shares = " ".join(
            f"{100 * float(np.mean([t.share(a) for t in trials])):5.1f}%" for a in acts
        )
        lines.append(f"{code:4} {len(trials):6d} {rate}  {shares}")
    lines.append("")
    for name, codes in (
        ("sit D07-D10", SIT_CODES),
        ("walk D01-D04", WALK_CODES),
        ("lie D12-D14", LIE_CODES),
    ):
        passed = [bool(t.passes()) for t in results if t.code in codes]
        if passed:
            share = sum(passed) / len(passed)
            verdict = "meets" if share >= TARGET else "BELOW"
            lines.append(
                f"{name:13} {100 * share:5.1f}% of {len(passed)} trials "
                f"({verdict} the {100 * TARGET:.0f}% target)"
            )
    lines.append(
        f"(sit: one sitting segment of {SIT_MIN_S:g}-{SIT_MAX_S:g} s; walk: >= "
        f"{100 * WALK_SHARE:.0f}% walking/running and no sitting; lie: a lying segment; "
        "columns: mean share of time per activity)"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- lifts and falls

MOTION_TARGET = 0.97
TECHNIQUE_TARGET = 0.95
HARD_NEGATIVES = ("D11", "D18", "D19")
SQUAT_CODE = "D15"
STOOP_CODE = "D16"


@dataclass(frozen=True, slots=True)
class MotionEvents:
    """What lift and fall detection found in one recording.

    ``lifts``: technique of each lift (``squat``, ``stoop``, ``mixed``); ``falls``: impact
    time of each fall (s, file time). Both are what ``lift`` and ``fall`` observations carry.
    """

    lifts: tuple[str, ...]
    falls: tuple[float, ...]


def motion_events(recording: Recording, setup: SensorSetup) -> MotionEvents:
    """Lifts and falls in one recording of a trunk or waist sensor with a declared mount.

    Runs the recording through :func:`analyze_sensors` (the daemon's evaluator) and reads
    its ``lift`` (``technique`` label) and ``fall`` (impact time) observations.
    """
    if setup.mount is None:
        raise ValueError("motion validation needs a declared mount")
    result = analyze_sensors({setup: recording})
    return MotionEvents(
        lifts=tuple(
            o.labels.get("technique", "") for o in result.observations if o.type is EventType.LIFT
        ),
        falls=tuple(o.start_s for o in result.observations if o.type is EventType.FALL),
    )


@dataclass(frozen=True, slots=True)
class MotionTrial:
    """One trial's code, subject and detected lifts and falls."""

    code: str
    subject: str
    path: Path
    events: MotionEvents

    @property
    def is_fall(self) -> bool:
        """Whether the trial is a fall (F codes)."""
        return self.code.startswith("F")

    @property
    def fall_found(self) -> bool:
        """Whether any fall was detected."""
        return bool(self.events.falls)

    @property
    def one_lift(self) -> bool:
        """Whether exactly one lift was detected."""
        return len(self.events.lifts) == 1

    @property
    def technique_right(self) -> bool | None:
        """D15/D16: one lift of the expected technique; None for other codes."""
        expected = {SQUAT_CODE: "squat", STOOP_CODE: "stoop"}.get(self.code)
        if expected is None:
            return None
        return self.events.lifts == (expected,)


def run_motion(data_dir: Path, verbose: bool) -> list[MotionTrial]:
    """Lifts and falls in every trial (D and F codes) under ``data_dir``."""
    setup = SensorSetup("waist", Placement.WAIST, Mount.parse(MOUNT))
    trials = []
    for path in sorted(data_dir.glob("*/[DF]*.txt")):
        events = motion_events(read_sisfall(path), setup)
        trial = MotionTrial(path.name[:3], path.parent.name, path, events)
        trials.append(trial)
        if verbose:
            falls = " ".join(f"{t:.1f}" for t in events.falls)
            print(f"{path.parent.name}/{path.name}: lifts {list(events.lifts)} falls [{falls}]")
    return trials


def _rate(hits: int, total: int) -> str:
    return f"{100.0 * hits / total:5.1f}% ({hits}/{total})" if total else "    - (0/0)"


def _verdict(hits: int, total: int, target: float) -> str:
    if not total:
        return ""
    return "meets" if hits / total >= target else "BELOW"


def motion_table(trials: Sequence[MotionTrial]) -> str:
    """Fall sensitivity and specificity, lift counts and technique accuracy, per subject."""
    subjects = sorted({t.subject for t in trials})
    columns = ["all", *subjects]

    def pick(subject: str) -> list[MotionTrial]:
        return [t for t in trials if subject in ("all", t.subject)]

    def row(name: str, counts: dict[str, tuple[int, int]]) -> str:
        cells = " ".join(f"{_rate(*counts[c]):>18}" for c in columns)
        return f"{name:30} {cells}"

    def count(subject: str, keep: str, hit: str) -> tuple[int, int]:
        chosen = [t for t in pick(subject) if _matches(t, keep)]
        return sum(1 for t in chosen if _hit(t, hit)), len(chosen)

    head = f"{'':30} " + " ".join(f"{c:>18}" for c in columns)
    lines = ["Falls and lifts (waist, mount " + MOUNT + ")", head, "-" * len(head)]
    specs = [
        ("fall sensitivity F01-F15", "F", "fall"),
        ("fall specificity D01-D19", "D", "no_fall"),
        ("  D11 collapse into a chair", "D11", "no_fall"),
        ("  D18 stumble", "D18", "no_fall"),
        ("  D19 jump", "D19", "no_fall"),
        ("  D12-D14 lying down", "D12,D13,D14", "no_fall"),
        ("D15 -> squat", SQUAT_CODE, "technique"),
        ("D16 -> stoop", STOOP_CODE, "technique"),
        ("D15+D16 technique", f"{SQUAT_CODE},{STOOP_CODE}", "technique"),
        ("D15+D16 exactly one lift", f"{SQUAT_CODE},{STOOP_CODE}", "one_lift"),
        ("other D: trials with a lift", "D-other", "any_lift"),
    ]
    table_counts = {}
    for name, keep, hit in specs:
        counts = {c: count(c, keep, hit) for c in columns}
        table_counts[name] = counts["all"]
        lines.append(row(name, counts))
    lines.append("")
    for name, target in (
        ("fall sensitivity F01-F15", MOTION_TARGET),
        ("fall specificity D01-D19", MOTION_TARGET),
        ("D15+D16 technique", TECHNIQUE_TARGET),
        ("D15+D16 exactly one lift", 1.0),
    ):
        hits, total = table_counts[name]
        lines.append(
            f"{name:30} {_rate(hits, total)}  {_verdict(hits, total, target)} the "
            f"{100 * target:.0f}% target"
        )
    missed = [f"{t.subject}/{t.path.name}" for t in trials if t.is_fall and not t.fall_found]
    alarms = [f"{t.subject}/{t.path.name}" for t in trials if not t.is_fall and t.fall_found]
    wrong = [
        f"{t.subject}/{t.path.name} {list(t.events.lifts)}"
        for t in trials
        if t.technique_right is False
    ]
    lines.append(f"missed falls: {', '.join(missed) or 'none'}")
    lines.append(f"false alarms: {', '.join(alarms) or 'none'}")
    lines.append(f"wrong lifts (D15/D16): {', '.join(wrong) or 'none'}")
    by_code: dict[str, int] = defaultdict(int)
    for t in trials:
        if not t.is_fall and t.code not in (SQUAT_CODE, STOOP_CODE):
            by_code[t.code] += len(t.events.lifts)
    other = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items()) if n)
    lines.append(f"lifts found in other D codes: {other or 'none'}")
    return "\n".join(lines)


def _matches(trial: MotionTrial, keep: str) -> bool:
    if keep == "F":
        return trial.is_fall
    if keep == "D":
        return not trial.is_fall
    if keep == "D-other":
        return not trial.is_fall and trial.code not in (SQUAT_CODE, STOOP_CODE)
    return trial.code in keep.split(",")


def _hit(trial: MotionTrial, hit: str) -> bool:
    if hit == "fall":
        return trial.fall_found
    if hit == "no_fall":
        return not trial.fall_found
    if hit == "technique":
        return bool(trial.technique_right)
    if hit == "one_lift":
        return trial.one_lift
    return bool(trial.events.lifts)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the tables (or "no data")."""
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="SisFall folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every trial")
    parser.add_argument(
        "--part",
        choices=("all", "activity", "motion"),
        default="all",
        help="activity table, lift and fall table, or both",
    )
    args = parser.parse_args(argv)
    data_dir: Path = args.data
    if not data_dir.is_dir() or not any(data_dir.glob("*/D*.txt")):
        print(f"no data at {data_dir}")
        return 0
    if args.part in ("all", "activity"):
        results = run(data_dir, EvaluationThresholds(), args.verbose)
        print(table(results))
    if args.part in ("all", "motion"):
        if args.part == "all":
            print()
        print(motion_table(run_motion(data_dir, args.verbose)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
