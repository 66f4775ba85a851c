"""``python -m devices.emulator --config FILE``: run an emulated BlueZ until interrupted.

Prints ``DBUS_SYSTEM_BUS_ADDRESS=…`` on stdout once ready; point bleak (or backwatch) at it
with that environment variable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from devices.emulator import emulated_bluez
from devices.emulator.config import EmulatorConfigError, load_config

log = logging.getLogger("devices.emulator")

EXIT_CONFIG = 78


async def _run(config_path: Path, directory: Path | None, address_file: Path | None) -> int:
    try:
        config = load_config(config_path)
    except EmulatorConfigError as exc:
        sys.stderr.write(f"emulator: {exc}\n")
        return EXIT_CONFIG
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with emulated_bluez(config.sensors, adapters=config.adapters, directory=directory) as emu:
        if address_file is not None:
            await asyncio.to_thread(
                address_file.write_text, emu.bus_address + "\n", encoding="utf-8"
            )
        sys.stdout.write(f"DBUS_SYSTEM_BUS_ADDRESS={emu.bus_address}\n")
        sys.stdout.flush()
        for sensor, adapter in config.sensors:
            log.info(
                "emulating %s %s (%s) on %s",
                sensor.model,
                sensor.identity.name,
                sensor.identity.address,
                adapter,
            )
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the emulator."""
    parser = argparse.ArgumentParser(
        prog="python -m devices.emulator", description="Emulated BlueZ with emulated sensors"
    )
    parser.add_argument("--config", type=Path, required=True, help="emulator TOML file")
    parser.add_argument("--directory", type=Path, help="where to put the bus socket")
    parser.add_argument("--address-file", type=Path, help="also write the bus address here")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_run(args.config, args.directory, args.address_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
