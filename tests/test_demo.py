"""The demo a new user runs first: it must end by itself, exit 0 and show the day's nudges."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO


def test_demo_day_runs_end_to_end_at_high_speed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--speed", "240"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "chest sensor connected" in out
    assert "thigh sensor connected" in out
    assert "Time to stand up" in out  # the 36-minute desk bout
    assert "Seek medical care now" in out  # the red-flag report
    assert "the wearer taps acknowledge" in out
    # The fall at the end: the check, no answer, the alert to the household, I'm OK.
    fall = out.index("Did you fall?")
    alert = out.index("No answer after a possible fall", fall)
    assert out.index("taps I'm OK", alert) > alert
    assert "Demo day over:" in out
