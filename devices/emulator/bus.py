"""A private dbus-daemon with its own configuration, so an emulated BlueZ needs no system bus."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

DBUS_DAEMON = "/usr/bin/dbus-daemon"
_START_TIMEOUT_S = 10.0

# A policy that lets every local client send, receive and own names: without "own" the
# name org.bluez cannot be claimed; without the default-context allows the handshake hangs.
_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">100000000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
"""


class BusStartError(RuntimeError):
    """The private dbus-daemon could not be started."""


def find_dbus_daemon() -> str:
    """The dbus-daemon executable: /usr/bin/dbus-daemon, else the first one on PATH."""
    if Path(DBUS_DAEMON).exists():
        return DBUS_DAEMON
    found = shutil.which("dbus-daemon")
    if found is None:
        raise BusStartError(
            "dbus-daemon is not installed (Debian package 'dbus-daemon'); "
            "the emulated BlueZ needs it for its private bus"
        )
    return found


@contextlib.asynccontextmanager
async def private_bus(directory: Path | None = None) -> AsyncIterator[str]:
    """Run a dbus-daemon on a socket in ``directory`` (a temporary one by default).

    Yields the bus address (``unix:path=…,guid=…``); stops the daemon on exit.
    """
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bw-dbus-")))
        socket = directory / "bus.socket"
        config = directory / "bus.conf"
        config.write_text(_CONFIG.format(socket=socket), encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            find_dbus_daemon(),
            f"--config-file={config}",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C or SIGTERM to our group must not kill it first
        )
        try:
            assert process.stdout is not None
            try:
                async with asyncio.timeout(_START_TIMEOUT_S):
                    line = await process.stdout.readline()
            except TimeoutError:
                raise BusStartError("dbus-daemon did not print its address in time") from None
            address = line.decode().strip()
            if not address:
                stderr = b""
                if process.stderr is not None:
                    stderr = await process.stderr.read()
                raise BusStartError(f"dbus-daemon failed to start: {stderr.decode().strip()}")
            log.debug("private dbus-daemon (pid %d) at %s", process.pid, address)
            yield address
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(5.0):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
