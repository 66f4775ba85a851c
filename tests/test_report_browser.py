"""Report pages in a real browser: headless Chromium renders them without errors or requests."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib.image import imread

from monitor.activity import Activity
from monitor.report import ACTIVITY_COLOURS, ReportContext, render_day, render_week
from monitor.report_model import WeekHistory
from monitor.report_sample import sample_day
from tests.chromium import dump_dom, screenshot

ZONE = ZoneInfo("Europe/Berlin")
LAST_DAY = date(2026, 11, 20)


def _pixels_of(png: Path, colour: str) -> int:
    """How many pixels of the screenshot have this colour (within 3 per channel)."""
    image = imread(png)[..., :3]
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.int16)
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int(np.all(np.abs(image.astype(np.int16) - rgb) <= 3, axis=-1).sum())


def test_day_and_week_pages_render_without_errors(tmp_path: Path) -> None:
    days = [
        sample_day("ana", LAST_DAY - timedelta(days=k), ZONE, 700 + k) for k in range(6, -1, -1)
    ]
    week = WeekHistory("ana", days)
    ctx = ReportContext(timezone=ZONE, week_walking_min=week.walking_min)
    pages = {
        "day": (render_day(days[-1], ctx), 3300),
        "week": (render_week(week, ReportContext(timezone=ZONE)), 2300),
    }
    for name, (html, height) in pages.items():
        page = tmp_path / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        png = tmp_path / f"{name}.png"
        rendering = screenshot(page, png, 1000, height)
        assert rendering.console == [], name
        assert rendering.requests == [], name
        # The plots were drawn: the sitting colour fills the timeline (day) or the bars (week).
        assert _pixels_of(png, ACTIVITY_COLOURS[Activity.SITTING]) > 5000, name
        assert _pixels_of(png, ACTIVITY_COLOURS[Activity.WALKING]) > 200, name
    dom, rendering = dump_dom(tmp_path / "day.html")
    assert rendering.requests == []
    assert dom.count("<figure>") == pages["day"][0].count("<figure>") >= 5
    assert 'data-metric="sitting_h"' in dom


def test_the_check_sees_console_errors_and_requests(tmp_path: Path) -> None:
    """The same check on a page that logs an error and fetches from the network fails."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        '<script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    rendering = screenshot(page, tmp_path / "bad.png", 400, 300)
    assert any("boom" in line for line in rendering.console)
    assert rendering.requests == ["http://127.0.0.1:9/x.png"]
