"""The daemon keeps the day history and publishes the daily summary when a local day ends."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.broker import PrivateMosquitto
from monitor.cli import main
from tests.harness import SensorSpec, run_daemon_collecting, write_config
from tests.json_schema import errors, load_schema

# 08:00 UTC is 22:00 in Kiritimati (UTC+14): the simulated evening crosses local midnight.
SCENARIO = """
name = "evening"
[[step]]
activity = "standing"
duration_min = 5
[[step]]
activity = "walking"
duration_min = 10
[[step]]
activity = "sitting"
duration_min = 40
[[step]]
activity = "walking"
duration_min = 10
[[step]]
activity = "standing"
duration_min = 5
[[step]]
activity = "sitting"
duration_min = 60
[[step]]
activity = "walking"
duration_min = 20
"""


def test_a_day_that_ends_is_summarised_retained_and_reportable(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    import asyncio  # noqa: PLC0415

    scenario = tmp_path / "evening.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic="rep",
        scenario=str(scenario),
        sensors=[SensorSpec("chest", "trunk"), SensorSpec("leg", "thigh")],
        speed=900.0,
        extra='[policy]\ntimezone = "Pacific/Kiritimati"\n',
    )
    result = asyncio.run(
        run_daemon_collecting(
            config, host=mosquitto.host, port=mosquitto.port, topics=["rep/sam/summary"]
        )
    )
    assert result.returncode == 0, result.log[-3000:]
    summaries = result.payloads("/summary")
    assert len(summaries) == 1, result.log[-3000:]
    summary = summaries[0]
    assert errors(summary, load_schema("summary")) == []
    assert summary["day"] == "2026-11-25"
    # Two sits, 40 and 60 minutes, begin that evening; 40 + 50 minutes of them before midnight.
    assert summary["long_sitting_bouts"] == 2
    assert 58.0 <= summary["longest_sitting_min"] <= 62.0
    assert 86.0 <= summary["sitting_min"] <= 94.0
    assert 18.0 <= summary["walking_min"] <= 22.0
    assert summary["steps"] > 1500
    assert summary["focus"] == "sitting"
    # The same day as a page, from the store the daemon kept.
    out = tmp_path / "day.html"
    assert (
        main(
            [
                "report",
                "--config",
                str(config),
                "--wearer",
                "sam",
                "--day",
                "2026-11-25",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    page = out.read_text(encoding="utf-8")
    values = dict(re.findall(r'data-metric="([a-z_]+)">([^<]*)<', page))
    assert values["sitting_h"] == f"{summary['sitting_min'] / 60:.1f}"
    assert values["long_sitting_bouts"] == "2"
    assert values["steps"] == f"{summary['steps']:,}"
    # The next day has its start recorded too (the sit and the walk after midnight).
    after = tmp_path / "next.html"
    assert (
        main(
            [
                "report",
                "--config",
                str(config),
                "--wearer",
                "sam",
                "--day",
                "2026-11-26",
                "--out",
                str(after),
            ]
        )
        == 0
    )
