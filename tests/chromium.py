"""Headless Chromium (Debian's ``chromium`` package) for the report tests and docs screenshots."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--enable-logging=stderr",
    "--v=0",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing leaves the machine
)
_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR|VERBOSE\d):CONSOLE[:(]\d+\)?\] (.*)")


class ChromiumMissingError(RuntimeError):
    """Debian's chromium is not installed (``scripts/bootstrap.sh`` installs it)."""


@dataclass(frozen=True, slots=True)
class Rendering:
    """What one headless run saw: the page's console messages and its network requests.

    ``requests``: URLs the page itself asked the network for (from Chromium's net log:
    requests whose network isolation key is the ``file://`` page; the browser's own
    background requests are not the page's).
    """

    console: list[str]
    requests: list[str]
    log: str


def chromium_binary() -> str:
    """The chromium executable."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise ChromiumMissingError("chromium is not installed: run scripts/bootstrap.sh")


def _run(page: Path, *extra: str, timeout_s: float = 60.0) -> tuple[str, Rendering]:
    with tempfile.TemporaryDirectory(prefix="backwatch-chromium-") as profile:
        net_log = Path(profile) / "net-log.json"
        done = subprocess.run(
            [
                chromium_binary(),
                *_FLAGS,
                f"--user-data-dir={profile}/profile",
                f"--log-net-log={net_log}",
                *extra,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
        requests = _page_requests(net_log)
    console = [m.group(1) for m in _CONSOLE.finditer(done.stderr)]
    return done.stdout, Rendering(console, requests, done.stderr)


def _page_requests(net_log: Path) -> list[str]:
    try:
        events = json.loads(net_log.read_text(encoding="utf-8")).get("events", [])
    except (OSError, ValueError):
        # Chromium may leave the log without its closing bracket when it exits at once.
        text = net_log.read_text(encoding="utf-8").rstrip().rstrip(",")
        events = json.loads(text + "]}").get("events", [])
    urls = set()
    for event in events:
        params = event.get("params") or {}
        key = str(params.get("network_isolation_key", ""))
        if "url" in params and key.startswith("file://"):
            urls.add(str(params["url"]))
    return sorted(urls)


def screenshot(page: Path, png: Path, width: int, height: int) -> Rendering:
    """Render ``page`` at ``width`` x ``height`` CSS pixels into ``png``."""
    _, rendering = _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot: {rendering.log[-2000:]}")
    return rendering


def dump_dom(page: Path) -> tuple[str, Rendering]:
    """The DOM after loading ``page`` (serialised), and what the run logged."""
    return _run(page, "--dump-dom")
