"""systemd's notify protocol: READY, STATUS, WATCHDOG and STOPPING over $NOTIFY_SOCKET.

A service started with ``Type=notify`` gets ``NOTIFY_SOCKET`` (a unix datagram socket; a
leading ``@`` means Linux's abstract namespace). With ``WatchdogSec=`` systemd also sets
``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, the process meant to ping) and restarts the
service when no ``WATCHDOG=1`` arrives within that time; we ping at half of it.

Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing, so callers never check.
Sending never raises: a lost notification is logged at DEBUG, the daemon goes on.
No dependency beyond the standard library (the protocol is one datagram per message).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)

_USEC_PER_S = 1_000_000.0
_MAX_STATUS_CHARS = 200


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """Where notifications go and how often the watchdog wants a ping (None: no watchdog)."""

    address: str | None
    watchdog_interval_s: float | None

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, pid: int | None = None
    ) -> NotifyTarget:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (default: this process's).

        The watchdog counts only when WATCHDOG_PID is absent or names ``pid``; the interval
        is half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.
        """
        env = os.environ if environ is None else environ
        own_pid = os.getpid() if pid is None else pid
        address = env.get("NOTIFY_SOCKET") or None
        interval_s = None
        usec_text = env.get("WATCHDOG_USEC", "")
        pid_text = env.get("WATCHDOG_PID", "")
        ours = not pid_text or (pid_text.isdigit() and int(pid_text) == own_pid)
        if address is not None and usec_text.isdigit() and int(usec_text) > 0 and ours:
            interval_s = int(usec_text) / _USEC_PER_S / 2.0
        return cls(address, interval_s)


def _socket_address(address: str) -> str | bytes:
    """An ``@name`` address is in the abstract namespace: a leading NUL byte instead."""
    if address.startswith("@"):
        return b"\0" + address[1:].encode("utf-8")
    return address


class SystemdNotifier:
    """Sends notify messages to systemd; a no-op without a NOTIFY_SOCKET."""

    __slots__ = ("_address", "_failed", "_socket", "target")

    def __init__(self, target: NotifyTarget) -> None:
        """Open the datagram socket when there is somewhere to send to."""
        self.target = target
        self._address = None if target.address is None else _socket_address(target.address)
        self._socket: socket.socket | None = None
        self._failed = False
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.settimeout(0.0)  # never block the event loop

    @classmethod
    def from_environment(cls) -> SystemdNotifier:
        """The notifier this process's environment asks for."""
        return cls(NotifyTarget.from_environment())

    @property
    def enabled(self) -> bool:
        """Whether systemd listens (NOTIFY_SOCKET was set)."""
        return self._socket is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1 (half of WatchdogSec), or None without a watchdog."""
        return self.target.watchdog_interval_s

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; whether it went out."""
        if self._socket is None or self._address is None or not assignments:
            return False
        message = "\n".join(assignments).encode("utf-8")
        try:
            self._socket.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:
                logger.debug("systemd notification not delivered: %s", exc)
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str) -> bool:
        """Start-up is complete (READY=1) with a status line."""
        return self.notify("READY=1", _status(status))

    def status(self, text: str) -> bool:
        """A one-line status shown by ``systemctl status``."""
        return self.notify(_status(text))

    def watchdog(self) -> bool:
        """Still alive (WATCHDOG=1)."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> bool:
        """Shutdown has begun (STOPPING=1)."""
        return self.notify("STOPPING=1", _status(status))

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Self:
        """Use as a context manager that closes the socket."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the socket."""
        self.close()


def _status(text: str) -> str:
    """``STATUS=`` with the text on one line, shortened to what ``systemctl status`` shows."""
    line = " ".join(text.split())
    if len(line) > _MAX_STATUS_CHARS:
        line = line[: _MAX_STATUS_CHARS - 3] + "..."
    return f"STATUS={line}"
