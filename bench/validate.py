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

Other codes are listed for information (share of time per activity). The data are never
copied into the project; without them this prints "no data" and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the table (or "no data")."""
    parser = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__)
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="SisFall folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every trial")
    args = parser.parse_args(argv)
    data_dir: Path = args.data
    if not data_dir.is_dir() or not any(data_dir.glob("*/D*.txt")):
        print(f"no data at {data_dir}")
        return 0
    results = run(data_dir, EvaluationThresholds(), args.verbose)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
