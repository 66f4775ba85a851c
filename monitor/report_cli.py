"""``backwatch report``: a wearer's day or week from the daemon's history, as an HTML page."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.store import AlertStore, StoreError
from config.settings import Settings

EXIT_USAGE = 64  # EX_USAGE: a bad date, an unknown wearer
EXIT_NO_INPUT = 66  # EX_NOINPUT: no history for that day or week
EXIT_CANT_CREATE = 73  # EX_CANTCREAT: the page cannot be written
STORE_FILE = "alerts.sqlite3"


class ReportCommandError(Exception):
    """A one-line reason ``backwatch report`` cannot make its page, with its exit status."""

    def __init__(self, message: str, exit_code: int) -> None:
        """Keep the message and the exit status."""
        super().__init__(message)
        self.exit_code = exit_code


def parse_day(text: str, today: date) -> date:
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (raises ReportCommandError, exit 64)."""
    lowered = text.strip().lower()
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportCommandError(
            f"date {text!r} is not YYYY-MM-DD, today or yesterday", EXIT_USAGE
        ) from None


def _zone(settings: Settings) -> tzinfo | None:
    return ZoneInfo(settings.policy.timezone) if settings.policy.timezone else None


def make_report(settings: Settings, args: argparse.Namespace, today: date) -> tuple[Path, str]:
    """Build the page ``args`` ask for; returns where it goes and the HTML."""
    if args.day is not None and args.week is not None:
        raise ReportCommandError("give --day or --week, not both", EXIT_USAGE)
    week = args.week is not None
    chosen = parse_day(args.week if week else (args.day or "today"), today)
    path = settings.state_dir / STORE_FILE
    if not path.is_file():
        raise ReportCommandError(
            f"no history: {path} does not exist (has backwatch run with this state_dir?)",
            EXIT_NO_INPUT,
        )
    try:
        store = AlertStore.open_read_only(path)
    except StoreError as exc:
        raise ReportCommandError(f"cannot read the history: {exc}", EXIT_NO_INPUT) from exc
    try:
        with store:
            return _report_from(store, settings, args, chosen, week=week)
    except sqlite3.Error as exc:  # e.g. a store from before day histories were kept
        raise ReportCommandError(f"cannot read the history: {exc}", EXIT_NO_INPUT) from exc


def _report_from(
    store: AlertStore, settings: Settings, args: argparse.Namespace, chosen: date, *, week: bool
) -> tuple[Path, str]:
    """The page from an open store (see ``make_report``)."""
    from monitor.report import ReportContext, ReportError, render_day, render_week  # noqa: PLC0415
    from monitor.report_history import load_day, load_week  # noqa: PLC0415

    known = {w.name for w in settings.wearers} | set(store.history_wearers())
    if args.wearer not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ReportCommandError(f"unknown wearer {args.wearer!r} (known: {names})", EXIT_USAGE)
    zone = _zone(settings)
    limit_s = settings.thresholds.sitting_limit_min * 60.0
    history = load_week(store, args.wearer, chosen, zone, sitting_limit_s=limit_s)
    if not any(d.has_data for d in history.days) or (not week and not history.days[-1].has_data):
        span = f"the week ending {chosen}" if week else str(chosen)
        raise ReportCommandError(f"no history for {args.wearer} on {span}", EXIT_NO_INPUT)
    try:
        if week:
            page = render_week(history, ReportContext(timezone=zone))
        else:
            day = load_day(store, args.wearer, chosen, zone, limit_s)
            page = render_day(
                day, ReportContext(timezone=zone, week_walking_min=history.walking_min)
            )
    except ReportError as exc:
        raise ReportCommandError(str(exc), EXIT_NO_INPUT) from exc
    kind = "week" if week else "day"
    out = (
        args.out if args.out is not None else Path(f"backwatch-{args.wearer}-{kind}-{chosen}.html")
    )
    return out, page


def run_report(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``backwatch report``; problems are one line on stderr and an exit status."""
    try:
        out, page = make_report(settings, args, datetime.now().astimezone(_zone(settings)).date())
        try:
            out.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise ReportCommandError(
                f"cannot write {out}: {exc.strerror or exc}", EXIT_CANT_CREATE
            ) from exc
    except ReportCommandError as exc:
        sys.stderr.write(f"backwatch report: {exc}\n")
        return exc.exit_code
    sys.stdout.write(f"wrote {out}\n")
    return 0
