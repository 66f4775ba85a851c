"""A private Mosquitto broker on a free loopback port, for the demo and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
FALLBACK_PATHS = (Path("/usr/sbin/mosquitto"), Path("/usr/local/sbin/mosquitto"))
INSTALL_HINT = "install it with: sudo apt-get install mosquitto"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_POLL_S = 0.02
_LOG_TAIL_CHARS = 2000


class BrokerError(RuntimeError):
    """The private broker could not be found, started or stopped."""


def find_mosquitto(
    search_path: str | None = None, fallbacks: Sequence[Path] = FALLBACK_PATHS
) -> Path:
    """The ``mosquitto`` executable on ``search_path`` (default $PATH) or a fallback path."""
    found = shutil.which("mosquitto", path=search_path)
    if found is not None:
        return Path(found)
    for candidate in fallbacks:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError(f"mosquitto not found on PATH or in /usr/sbin; {INSTALL_HINT}")


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateMosquitto:
    """A real ``mosquitto`` process on 127.0.0.1 with a generated config in a temp directory.

    Anonymous access, logging to ``log_path``. ``persistence`` (off by default) keeps
    retained messages, persistent sessions and their queued messages across ``restart``.
    The port stays the same for the life of the object, so clients can reconnect to it.
    Use as ``with PrivateMosquitto() as broker:`` or ``async with``.
    """

    def __init__(
        self,
        *,
        executable: str | Path | None = None,
        port: int | None = None,
        persistence: bool = False,
    ) -> None:
        """Choose the executable (default: found on PATH), port (default: a free one)."""
        self._executable = Path(executable) if executable is not None else None
        self._requested_port = port
        self._persistence = persistence
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """The loopback address the broker listens on."""
        return HOST

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (fixed once started)."""
        if self._port is None:
            raise BrokerError("broker not started")
        return self._port

    @property
    def log_path(self) -> Path:
        """Mosquitto's own log file."""
        return self._workdir() / "mosquitto.log"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker (again, on the same port) and wait until it accepts connections."""
        if self.running:
            return
        executable = self._resolve_executable()
        workdir = self._workdir()
        if self._port is None:
            self._port = self._requested_port or free_loopback_port()
        config_path = workdir / "mosquitto.conf"
        config_path.write_text(self._config_text(workdir), encoding="utf-8")
        stderr_path = workdir / "mosquitto.stderr"
        with stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
                [str(executable), "-c", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts_connections(self._port):
            if self._process.poll() is not None:
                self._process = None
                raise BrokerError(
                    f"mosquitto exited while starting on port {self._port}: {self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"mosquitto did not accept connections on port {self._port} "
                    f"within {START_TIMEOUT_S} s: {self._log_tail()}"
                )
            time.sleep(_POLL_S)
        logger.debug("private mosquitto listening on %s:%d", HOST, self._port)

    def stop(self) -> None:
        """Stop the broker process (SIGTERM, then SIGKILL); keeps the port and directory."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen broker cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
        logger.debug("private mosquitto on port %s stopped", self._port)

    def kill(self) -> None:
        """Crash the broker (SIGKILL): nothing is saved, clients see their sockets reset."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def freeze(self) -> None:
        """Hang the broker (SIGSTOP): connections stay open but nothing is answered."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen broker (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None or self._process.poll() is not None:
            raise BrokerError("broker not running")
        self._process.send_signal(signum)

    def restart(self) -> None:
        """Stop and start again on the same port (an outage as clients see it)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its temp directory."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the broker and clean up."""
        self.close()

    async def __aenter__(self) -> Self:
        """Start the broker without blocking the event loop."""
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the broker and clean up without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def _resolve_executable(self) -> Path:
        if self._executable is None:
            self._executable = find_mosquitto()
        elif not (self._executable.is_file() and os.access(self._executable, os.X_OK)):
            raise BrokerError(f"mosquitto not found at {self._executable}; {INSTALL_HINT}")
        return self._executable

    def _workdir(self) -> Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="backwatch-mosquitto-")
        return Path(self._dir.name)

    def _config_text(self, workdir: Path) -> str:
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            f"log_dest file {workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp true",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to its own user and lose access to workdir.
            lines.append("user root")
        if self._persistence:
            lines += ["persistence true", f"persistence_location {workdir}/"]
        else:
            lines.append("persistence false")
        return "\n".join(lines) + "\n"

    def _log_tail(self) -> str:
        texts = []
        for path in (self._workdir() / "mosquitto.stderr", self.log_path):
            with contextlib.suppress(OSError):
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        return " | ".join(text.strip() for text in texts if text.strip())[-_LOG_TAIL_CHARS:]
