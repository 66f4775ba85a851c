"""The soak in short: two simulated hours, four sensors at 100 Hz, a broker restart, no loss.

The full day runs in the benchmarks (``python -m bench.soak``), which also judges memory
growth; two hours are too short for a robust memory figure, so this test checks delivery.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.soak import report, run_soak


def test_two_simulated_hours_with_a_broker_restart_lose_no_nudge(tmp_path: Path) -> None:
    result = asyncio.run(
        run_soak(tmp_path, hours=2, speed=300, restart_every_h=1, outage_s=3, base="soak-short")
    )
    log = (tmp_path / "daemon.log").read_text(encoding="utf-8")[-3000:]
    assert result.returncode == 0, log
    assert result.broker_restarts == 1
    # Two wearers sit through desk bouts in these hours: sitting and slouch nudges.
    assert result.outbox_nudges >= 4, (report(result), log)
    assert result.lost_ids == [], report(result)
    assert result.received_nudges == result.outbox_nudges
    hours = [hour for hour, _ in result.memory_mb]
    assert hours[0] >= 1
    assert hours == sorted(set(hours))
    assert all(mb > 0 for _, mb in result.memory_mb)
