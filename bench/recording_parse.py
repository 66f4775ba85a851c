"""Benchmark: parse a 24-hour 100 Hz six-axis recording CSV (8.64 M rows) with read_recording.

Usage: ``python -m bench.recording_parse [--hours 24] [--rate-hz 100] [--runs 3] [--keep]``.
Writes the file to /tmp (timing write_recording as well), then reads it in a fresh process
``--runs`` times and prints min/median/max seconds and the reading process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from devices.recording import Recording, read_recording, write_recording

START_S = 1_700_000_000.0


def synthetic_recording(hours: float, rate_hz: float, seed: int = 0) -> Recording:
    """Gravity on -y plus noise and slow sway, gyro noise: realistic digits, no physics."""
    n = round(hours * 3600.0 * rate_hz)
    rng = np.random.default_rng(seed)
    t_s = START_S + np.arange(n) / rate_hz
    acc_g = rng.normal(0.0, 0.05, (n, 3))
    acc_g[:, 1] -= 1.0
    gyro_dps = rng.normal(0.0, 8.0, (n, 3))
    return Recording(t_s=t_s, acc_g=acc_g, gyro_dps=gyro_dps)


def _peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss survives exec from a big parent)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _read_runs(path: Path, runs: int) -> None:
    times = []
    rows = 0
    for _ in range(runs):
        start = time.perf_counter()
        recording = read_recording(path)
        times.append(time.perf_counter() - start)
        rows = len(recording)
        del recording
    peak_mib = _peak_rss_mib()
    print(
        f"read_recording: {rows} rows, min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
        f"peak RSS of the reading process {peak_mib:.0f} MiB"
    )


def main() -> None:
    """Generate, write and time the parse."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate-hz", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", type=Path, default=Path("/tmp/backwatch-bench-24h.csv"))
    parser.add_argument("--keep", action="store_true", help="keep the file afterwards")
    parser.add_argument("--read-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_only:
        _read_runs(args.path, args.runs)
        return
    recording = synthetic_recording(args.hours, args.rate_hz)
    start = time.perf_counter()
    write_recording(args.path, recording)
    size_mb = args.path.stat().st_size / 1e6
    print(
        f"write_recording: {len(recording)} rows, {size_mb:.0f} MB in "
        f"{time.perf_counter() - start:.2f} s -> {args.path}"
    )
    del recording
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.recording_parse",
                "--read-only",
                "--path",
                str(args.path),
                "--runs",
                str(args.runs),
            ],
            check=True,
        )
    finally:
        if not args.keep:
            args.path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
