"""Time a whole ``backwatch analyze`` run on 24 h of one 100 Hz six-axis sensor, as a subprocess.

Usage: ``python -m bench.analyze_run [--hours 24] [--runs 3] [--keep]``. Writes the day of
``bench.evaluation_speed.synthetic_day`` (trunk sensor, postures, walking, lying; 8.64 M
rows) as a recording CSV in /tmp, then runs, ``--runs`` times::

    /usr/bin/time -v taskset -c 0 python -m monitor analyze --placement trunk --mount +z,+x FILE

(one core; parsing, evaluation and the JSON line together) and prints min/median/max of the
wall time and of the peak resident memory that ``/usr/bin/time`` reports for the child.
Targets: at most 15 s and 500 MB.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.evaluation_speed import synthetic_day
from devices.recording import write_recording

TARGET_S = 15.0
TARGET_MB = 500.0
_ELAPSED = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def analyze_command(path: Path) -> list[str]:
    """The measured command line (one core, the module entry point of ``backwatch``)."""
    return [
        "/usr/bin/time",
        "-v",
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "monitor",
        "analyze",
        "--placement",
        "trunk",
        "--mount",
        "+z,+x",
        str(path),
    ]


def run_once(path: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one run, and its JSON line."""
    done = subprocess.run(analyze_command(path), capture_output=True, text=True, check=True)
    stats = done.stderr
    elapsed = _ELAPSED.search(stats)
    rss = _RSS.search(stats)
    if elapsed is None or rss is None:
        raise RuntimeError(f"no timing in /usr/bin/time output:\n{stats}")
    hours, minutes, seconds = elapsed.groups()
    wall_s = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return wall_s, int(rss.group(1)) * 1024 / 1e6, done.stdout


def main(argv: list[str] | None = None) -> int:
    """Write the file, run analyze on it, print the numbers."""
    parser = argparse.ArgumentParser(prog="python -m bench.analyze_run")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the CSV file")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.gettempdir()) / f"backwatch-bench-{args.hours:g}h.csv"
    if not tmp.exists():
        start = time.perf_counter()
        write_recording(tmp, synthetic_day(int(args.hours * 3600)))
        took_s = time.perf_counter() - start
        print(f"wrote {tmp} ({tmp.stat().st_size / 1e6:.0f} MB) in {took_s:.1f} s")
    print("command: " + " ".join(analyze_command(tmp)))
    walls, peaks = [], []
    line = ""
    for _ in range(args.runs):
        wall_s, peak_mb, line = run_once(tmp)
        walls.append(wall_s)
        peaks.append(peak_mb)
    scaled = TARGET_S * args.hours / 24.0
    print(
        f"wall    min {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s  "
        f"max {max(walls):6.2f} s  (target {scaled:.1f} s)"
    )
    print(
        f"peak RSS min {min(peaks):5.0f} MB median {statistics.median(peaks):5.0f} MB "
        f"max {max(peaks):5.0f} MB (target {TARGET_MB:.0f} MB)"
    )
    print(f"output: {len(line):,} characters of JSON")
    if not args.keep:
        tmp.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
