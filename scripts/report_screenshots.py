"""Regenerate docs/img/report-*.png: the day, week and recording reports in headless Chromium.

Run from the repository: .venv/bin/python scripts/report_screenshots.py
The day and week come from the sample week (monitor/report_sample.py) written into a
temporary state directory and read back by `backwatch report`; the recording report from
`backwatch analyze --report` on a simulated trunk + thigh recording.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alerts.store import AlertStore  # noqa: E402
from devices.mount import Mount  # noqa: E402
from devices.recording import write_recording  # noqa: E402
from devices.samples import Placement  # noqa: E402
from devices.scenario import load_scenario  # noqa: E402
from devices.simulated import SimulatedSensor  # noqa: E402
from monitor.cli import main  # noqa: E402
from monitor.report_sample import write_sample_week  # noqa: E402
from tests.chromium import screenshot  # noqa: E402

LAST_DAY = date(2026, 11, 20)
WIDTH = 1000
OUT_WIDTH = 800


def _shoot(page: Path, name: str, height: int) -> None:
    png = page.with_suffix(".png")
    rendering = screenshot(page, png, WIDTH, height)
    if rendering.console or rendering.requests:
        raise SystemExit(f"{name}: console {rendering.console}, requests {rendering.requests}")
    image = Image.open(png).convert("RGB")
    scaled = image.resize((OUT_WIDTH, round(image.height * OUT_WIDTH / image.width)))
    target = REPO / "docs" / "img" / f"report-{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    scaled.quantize(colors=128).save(target, optimize=True)
    print(f"wrote {target.relative_to(REPO)} ({target.stat().st_size // 1024} KiB)")


def run() -> None:
    """Write the three screenshots."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with AlertStore.open(work / "alerts.sqlite3") as store:
            write_sample_week(store, "ana", LAST_DAY, None)
        config = work / "backwatch.toml"
        config.write_text(f'state_dir = "{work}"\n', encoding="utf-8")
        day = work / "day.html"
        week = work / "week.html"
        common = ["report", "--config", str(config), "--wearer", "ana"]
        if main([*common, "--day", str(LAST_DAY), "--out", str(day)]) != 0:
            raise SystemExit("backwatch report --day failed")
        if main([*common, "--week", str(LAST_DAY), "--out", str(week)]) != 0:
            raise SystemExit("backwatch report --week failed")
        _shoot(day, "day", 2600)
        _shoot(week, "week", 2120)
        args = ["analyze", "--report", str(work / "recording.html")]
        for placement in (Placement.TRUNK, Placement.THIGH):
            sensor = SimulatedSensor(
                load_scenario("demo-day"),
                placement,
                placement.value,
                rate_hz=50.0,
                mount=Mount.parse("-y,+z"),
                seed=1,
            )
            path = work / f"{placement.value}.csv"
            write_recording(path, sensor.recording())
            args += ["--sensor", f"{placement}={path}", "--sensor-mount", f"{placement}=-y,+z"]
        with (work / "analysis.jsonl").open("w", encoding="utf-8") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                status = main(args)
            finally:
                sys.stdout = stdout
        if status != 0:
            raise SystemExit("backwatch analyze --report failed")
        _shoot(work / "recording.html", "recording", 2150)


if __name__ == "__main__":
    run()
