"""BlueZ AcquireNotify sockets read in bursts, each notification stamped by the kernel on arrival.

bleak can subscribe through ``AcquireNotify`` too, but it wakes the event loop once per
notification: for a Thingy:52 that is 100 wakes a second per sensor, and the wakes, not the
decoding, were most of the daemon's CPU time (docs/performance.md). Here the socket's reader
drains every queued notification at once and then sleeps as long as its owner says it can
(a Thingy session holds samples until a block is full anyway), so a sensor costs a few wakes
per block. Sample times stay honest: the kernel stamps each packet as it arrives
(``SO_TIMESTAMPNS_NEW``), and the owner aligns clocks with those stamps, not with the time
the burst was read.

BlueZ hands the socket to the D-Bus connection that asked and ends it when that connection
leaves the bus, so :func:`acquired_notifications` keeps a connection of its own open for as
long as the socket is in use. Closing the socket (or losing the link) ends the notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bleak.backends.bluezdbus import defs
from bleak.backends.bluezdbus.utils import get_dbus_authenticator
from bleak.backends.characteristic import BleakGATTCharacteristic
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusFastError

log = logging.getLogger(__name__)

_SO_TIMESTAMPNS_NEW = 64
"""linux/asm-generic/socket.h (x86, arm, arm64): a 64-bit ``struct __kernel_timespec``."""
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)
_MAX_PACKET_BYTES = 1024
"""Larger than any ATT value (the ATT MTU is at most 517 bytes)."""
_NS_PER_S = 1e9
_ACQUIRE_TIMEOUT_S = 5.0
"""Longest wait for the system bus and BlueZ's answer before falling back to StartNotify."""


class NotifySocketError(Exception):
    """BlueZ did not hand out a notification socket (the message says why)."""


@dataclass(frozen=True, slots=True)
class NotifyBurst:
    """Notifications read in one go, oldest first, with their kernel arrival stamps."""

    packets: list[bytes]
    arrived_wall_s: list[float]
    """Wall-clock (Unix) arrival time of each packet; the read time where unstamped."""


BurstHandler = Callable[[NotifyBurst], float]
"""Takes a burst; returns how long (wall seconds) the reader may sleep before the next."""


def _bluez_object(char: BleakGATTCharacteristic) -> tuple[str, dict[str, object]] | None:
    """The characteristic's D-Bus object path and properties (bleak's BlueZ backend)."""
    match char.obj:
        case (str() as path, dict() as properties):
            return path, properties
        case _:
            return None


def offers_acquire_notify(char: BleakGATTCharacteristic) -> bool:
    """Whether BlueZ offers ``AcquireNotify`` for ``char`` (it has ``NotifyAcquired``)."""
    found = _bluez_object(char)
    return found is not None and "NotifyAcquired" in found[1]


class NotifySocketReader:
    """Reads one characteristic's notification socket in bursts on the running event loop."""

    def __init__(self, sock: socket.socket, on_burst: BurstHandler, label: str) -> None:
        """Read ``sock`` (non-blocking from now on); hand every burst to ``on_burst``."""
        self._sock = sock
        self._on_burst = on_burst
        self._label = label
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._reading = False
        self.closed = False
        sock.setblocking(False)  # noqa: FBT003 (the socket API)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS_NEW, 1)
            self.stamped = True
        except OSError:
            self.stamped = False  # an older kernel: packets are stamped when read
        self._arm()

    def _arm(self) -> None:
        if not self._reading:
            self._loop.add_reader(self._sock.fileno(), self._read)
            self._reading = True

    def _disarm(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._sock.fileno())
            self._reading = False

    def _read(self) -> None:
        """The socket is readable, or the pause is over: drain it, then wait or pause again."""
        self._timer = None
        burst, ended = self._drain()
        pause_s = 0.0
        if burst.packets:
            pause_s = self._on_burst(burst)
        if ended:
            log.info("%s: BlueZ closed the notification socket", self._label)
            self.close(drain=False)
        elif pause_s > 0.0:
            self._disarm()
            self._timer = self._loop.call_later(pause_s, self._read)
        else:
            self._arm()

    def _drain(self) -> tuple[NotifyBurst, bool]:
        """Everything queued now, and whether the other end has closed the socket."""
        packets: list[bytes] = []
        stamps: list[float] = []
        ended = False
        while True:
            try:
                data, ancillary, _flags, _address = self._sock.recvmsg(
                    _MAX_PACKET_BYTES, _ANCILLARY_BYTES
                )
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.warning("%s: notification socket failed: %s", self._label, exc)
                ended = True
                break
            if not data and self._hung_up():
                ended = True
                break
            packets.append(data)
            stamps.append(_stamp_s(ancillary))
        read_s = time.time()
        return NotifyBurst(packets, [s if s > 0.0 else read_s for s in stamps]), ended

    def _hung_up(self) -> bool:
        """An empty read is either an empty notification or the end: the poll tells."""
        poll = select.poll()
        poll.register(self._sock.fileno(), select.POLLHUP)
        return bool(poll.poll(0))

    def close(self, *, drain: bool = True) -> None:
        """Stop reading; with ``drain``, hand on what is still queued first. Idempotent."""
        if self.closed:
            return
        if drain:
            burst, _ended = self._drain()
            if burst.packets:
                self._on_burst(burst)
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._disarm()
        self._sock.close()


def _stamp_s(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS_NEW:
            seconds, nanoseconds = _TIMESPEC.unpack(data[: _TIMESPEC.size])
            return float(seconds) + float(nanoseconds) / _NS_PER_S
    return 0.0


@contextlib.asynccontextmanager
async def acquired_notifications(
    char: BleakGATTCharacteristic,
    on_burst: BurstHandler,
    label: str,
    timeout_s: float = _ACQUIRE_TIMEOUT_S,
) -> AsyncIterator[NotifySocketReader]:
    """Acquire ``char``'s notification socket from BlueZ and read it until the block ends.

    Raises :class:`NotifySocketError` when the system bus or BlueZ refuses, or does not
    answer within ``timeout_s``.
    """
    found = _bluez_object(char)
    if found is None:
        raise NotifySocketError(f"{char.uuid} is not a BlueZ characteristic")
    path = found[0]
    bus = MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True, auth=get_dbus_authenticator())
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await bus.connect()
                reply = await bus.call(
                    Message(
                        destination=defs.BLUEZ_SERVICE,
                        path=path,
                        interface=defs.GATT_CHARACTERISTIC_INTERFACE,
                        member="AcquireNotify",
                        signature="a{sv}",
                        body=[{}],
                    )
                )
        except TimeoutError as exc:
            why = f"no answer in {timeout_s:g} s"
            raise NotifySocketError(f"AcquireNotify on {path}: {why}") from exc
        except (DBusFastError, OSError, EOFError) as exc:
            raise NotifySocketError(f"AcquireNotify on {path}: {exc}") from exc
        if reply is None or reply.message_type is not MessageType.METHOD_RETURN:
            why = f"{reply.error_name}: {reply.body}" if reply is not None else "no reply"
            raise NotifySocketError(f"AcquireNotify on {path} refused ({why})")
        fds = list(reply.unix_fds)
        if not fds:
            raise NotifySocketError(f"AcquireNotify on {path} sent no socket")
        for extra in fds[1:]:
            os.close(extra)
        reader = NotifySocketReader(socket.socket(fileno=fds[0]), on_burst, label)
        # Should the bus drop first, BlueZ ends the socket too (end of file for the reader).
        bus_ended = asyncio.ensure_future(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
        bus_ended.add_done_callback(lambda done: _note_bus_end(done, label))
        try:
            yield reader
        finally:
            reader.close()
            bus_ended.cancel()
    finally:
        bus.disconnect()


def _note_bus_end(done: asyncio.Future[None], label: str) -> None:
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.debug("%s: the notification socket's D-Bus connection ended: %r", label, exc)
