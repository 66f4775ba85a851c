"""Measuring other processes: wall, CPU and peak memory of a command, CPU and RSS of a live pid.

:func:`timed_run` runs a command under ``/usr/bin/time -v`` (GNU time), which reports the
child's own peak resident set: a child forked from this (large) process would otherwise
inherit the parent's high-water mark in ``ru_maxrss``. :func:`cpu_seconds` and
:func:`rss_mb` read ``/proc/<pid>`` (no psutil), for the daemon while it runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")
_ELAPSED = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_USER = re.compile(r"User time \(seconds\): ([\d.]+)")
_SYSTEM = re.compile(r"System time \(seconds\): ([\d.]+)")


class MeasureError(RuntimeError):
    """A measured command failed or did not report its figures."""


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    """What one run of a command cost, and what it printed."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    stdout: str


def parse_gnu_time(report: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) from ``time -v`` output."""
    elapsed = _ELAPSED.search(report)
    rss = _RSS.search(report)
    user = _USER.search(report)
    system = _SYSTEM.search(report)
    if elapsed is None or rss is None or user is None or system is None:
        raise MeasureError(f"no figures in /usr/bin/time output:\n{report[-2000:]}")
    hours, minutes, seconds = elapsed.groups()
    wall_s = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    cpu_s = float(user.group(1)) + float(system.group(1))
    return wall_s, cpu_s, int(rss.group(1)) * 1024 / 1e6


def timed_run(
    command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> ProcessFigures:
    """Run ``command`` under GNU time; its figures and stdout (raises if it fails)."""
    if not GNU_TIME.exists():
        raise MeasureError("/usr/bin/time is missing (Debian package `time`)")
    report_path = Path(f"/tmp/backwatch-bench-time-{os.getpid()}.txt")
    done = subprocess.run(
        [str(GNU_TIME), "-v", "-o", str(report_path), *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=None if env is None else dict(env),
    )
    report = report_path.read_text(encoding="utf-8") if report_path.exists() else ""
    report_path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise MeasureError(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}\n{report}"
        )
    wall_s, cpu_s, peak_mb = parse_gnu_time(report)
    return ProcessFigures(wall_s, cpu_s, peak_mb, done.stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (``/proc/<pid>/stat``)."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory (VmRSS, VmHWM) of a live process, MB."""
    values = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def machine_description() -> str:
    """CPU model, cores, memory, Python and numpy versions: one line."""
    import platform  # noqa: PLC0415 (only here)

    import numpy as np  # noqa: PLC0415

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return (
        f"{model}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
