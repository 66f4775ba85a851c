"""The ``backwatch`` command line: run, demo, analyze, simulate, scenarios, check-config, forget."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import ConfigError, Settings, load_settings, masked_settings

EXIT_OK = 0
EXIT_USAGE = 64  # EX_USAGE
EXIT_DATA = 65  # EX_DATAERR: a recording or scenario that cannot be read
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: no Bluetooth adapter or service
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with EX_USAGE."""

    def error(self, message: str) -> Any:
        """Print one line naming what is wrong and exit 64."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML settings file (default /etc/backwatch/backwatch.toml when present)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--mqtt-host", help="broker host name or address")
    parser.add_argument("--mqtt-port", help="broker port")
    parser.add_argument("--base-topic", help="MQTT base topic (default backwatch)")
    parser.add_argument("--state-dir", help="directory for backwatch's own data")
    parser.add_argument("--speed", help="speed factor of simulated and replayed sensors")


def _cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flags given on the command line, shaped like the settings (they win over all else)."""
    overrides: dict[str, Any] = {}
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    mqtt = {
        key: value
        for key, value in (
            ("host", args.mqtt_host),
            ("port", args.mqtt_port),
            ("base_topic", args.base_topic),
        )
        if value is not None
    }
    if mqtt:
        overrides["mqtt"] = mqtt
    if args.speed is not None:
        overrides["simulation"] = {"speed": args.speed}
    return overrides


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(
        prog="backwatch",
        description="Back-care nudges from body-worn motion sensors, published over MQTT.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run the daemon")
    _add_settings_flags(run)
    run.add_argument(
        "--until-sources-end",
        action="store_true",
        help="stop once every simulated or replayed source has ended and all is delivered",
    )

    check = commands.add_parser("check-config", help="print the resolved settings, secrets masked")
    _add_settings_flags(check)

    demo = commands.add_parser("demo", help="a simulated day through a private broker, in ~1 min")
    demo.add_argument("--speed", type=float, default=None, help="simulation speed factor")
    demo.add_argument("--scenario", default="demo-day", help="built-in scenario or TOML file")

    analyze = commands.add_parser("analyze", help="analyse recording CSV files (JSON Lines out)")
    analyze.add_argument("files", nargs="*", type=Path, metavar="FILE")
    analyze.add_argument(
        "--placement",
        choices=["trunk", "waist", "thigh"],
        default="trunk",
        help="where the sensor of each FILE was worn (default trunk)",
    )
    analyze.add_argument(
        "--mount", help="sensor axes pointing up and forward when upright, e.g. -y,+z"
    )
    analyze.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="PLACEMENT=FILE",
        help="several sensors of one wearer (repeat); gives one JSON object for them all",
    )
    analyze.add_argument(
        "--sensor-mount",
        action="append",
        default=[],
        metavar="PLACEMENT=UP,FWD",
        help="mount of one --sensor (repeat)",
    )
    analyze.add_argument("--config", type=Path, help="settings file for thresholds")
    analyze.add_argument(
        "--report", type=Path, metavar="FILE.html", help="also write an HTML report of the input"
    )

    report = commands.add_parser(
        "report", help="an HTML report of a wearer's day or week from the daemon's history"
    )
    _add_settings_flags(report)
    report.add_argument("--wearer", required=True, help="the wearer's name")
    when = report.add_mutually_exclusive_group()
    when.add_argument(
        "--day", metavar="DATE", help="YYYY-MM-DD, today or yesterday (default today)"
    )
    when.add_argument("--week", metavar="DATE", help="the seven days ending with DATE")
    report.add_argument("--out", type=Path, metavar="FILE.html", help="where to write the page")

    simulate = commands.add_parser(
        "simulate", help="write a simulated wearer's recording CSV (for trying analyze)"
    )
    simulate.add_argument("--scenario", default="demo-day", help="built-in scenario or TOML file")
    simulate.add_argument("--placement", choices=["trunk", "waist", "thigh"], default="trunk")
    simulate.add_argument("--mount", help="sensor axes pointing up and forward, e.g. -y,+z")
    simulate.add_argument("--rate-hz", type=float, default=50.0)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--out", type=Path, required=True, help="CSV file to write")

    calibrate = commands.add_parser(
        "calibrate",
        help="ask the running daemon to calibrate a wearer's sensors (stand upright first)",
    )
    _add_settings_flags(calibrate)
    calibrate.add_argument("--wearer", required=True, help="the wearer's name")
    calibrate.add_argument("--sensor", help="one sensor id (default: all of the wearer's)")
    calibrate.add_argument("--timeout-s", type=float, default=10.0, help="wait this long")

    forget = commands.add_parser(
        "forget", help="erase everything kept about a wearer from the state directory"
    )
    _add_settings_flags(forget)
    forget.add_argument("--wearer", required=True, help="the wearer's name")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    commands.add_parser("scenarios", help="list the built-in simulated scenarios")

    scan = commands.add_parser("scan", help="list nearby supported Bluetooth LE sensors")
    scan.add_argument("--timeout-s", type=float, default=8.0, help="how long to listen")
    scan.add_argument("--adapter", help="Bluetooth adapter such as hci1 (default: the first)")
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(code: int, message: str) -> int:
    print(f"backwatch: {message}", file=sys.stderr)
    return code


def _load(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, _cli_overrides(args))


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args)
    from monitor.clock import ScaledClock  # noqa: PLC0415
    from monitor.daemon import build_pipelines, build_policy, mqtt_connection  # noqa: PLC0415

    clock = ScaledClock.real()
    build_pipelines(settings, start_s=clock.now_s())
    build_policy(settings, clock)
    mqtt_connection(settings)
    print(json.dumps(masked_settings(settings), indent=2))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args)
    _setup_logging(settings.log_level)
    from monitor.clock import ScaledClock  # noqa: PLC0415
    from monitor.daemon import run_daemon  # noqa: PLC0415

    start = settings.simulation.start or datetime.now(tz=UTC)
    clock = ScaledClock(start_s=start.timestamp(), speed=settings.simulation.speed)
    asyncio.run(run_daemon(settings, clock, until_sources_end=args.until_sources_end))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo  # noqa: PLC0415

    return asyncio.run(run_demo(scenario=args.scenario, speed=args.speed))


def _cmd_analyze(args: argparse.Namespace) -> int:
    from monitor.analyze_cli import run_analyze  # noqa: PLC0415

    return run_analyze(args, sys.stdout)


def _cmd_report(args: argparse.Namespace) -> int:
    from monitor.report_cli import run_report  # noqa: PLC0415

    return run_report(_load(args), args)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from devices.mount import Mount  # noqa: PLC0415
    from devices.recording import write_recording  # noqa: PLC0415
    from devices.samples import Placement  # noqa: PLC0415
    from devices.scenario import load_scenario  # noqa: PLC0415
    from devices.simulated import SimulatedSensor  # noqa: PLC0415

    sensor = SimulatedSensor(
        scenario=load_scenario(args.scenario),
        placement=Placement(args.placement),
        sensor_id=args.placement,
        rate_hz=args.rate_hz,
        mount=Mount.parse(args.mount) if args.mount else Mount.identity(),
        seed=args.seed,
    )
    write_recording(args.out, sensor.recording())
    print(f"wrote {args.out} ({sensor.duration_s / 60:.1f} min at {args.rate_hz:g} Hz)")
    return EXIT_OK


def _cmd_scenarios(_args: argparse.Namespace) -> int:
    from devices.scenario import list_builtin_scenarios, load_scenario  # noqa: PLC0415

    for name in list_builtin_scenarios():
        scenario = load_scenario(name)
        print(f"{name:16} {scenario.duration_s / 60:6.1f} min  {len(scenario.steps)} steps")
    return EXIT_OK


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from monitor.remote import RemoteCommandError, send_command  # noqa: PLC0415

    settings = _load(args)
    payload = {} if args.sensor is None else {"sensor": args.sensor}
    print(f"Stand upright and still; asking backwatch to calibrate {args.wearer}'s sensors...")
    try:
        reply = asyncio.run(
            send_command(settings, args.wearer, "calibrate", payload, timeout_s=args.timeout_s)
        )
    except RemoteCommandError as exc:
        return _fail(EXIT_UNAVAILABLE, str(exc))
    if not reply.get("ok"):
        error = reply.get("error") or {}
        return _fail(1, f"calibrate refused: {error.get('reason', error)}")
    sensors = ", ".join(reply.get("result", {}).get("sensors", []))
    print(f"Calibrated: {sensors}")
    return EXIT_OK


def _cmd_forget(args: argparse.Namespace) -> int:
    from alerts.topics import TopicError, Topics  # noqa: PLC0415
    from monitor.forget import ForgetError, forget_wearer  # noqa: PLC0415

    settings = _load(args)
    state_dir = settings.state_dir
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail(EXIT_USAGE, "forget: add --yes to erase without a question")
        answer = input(f"Erase everything kept about {args.wearer} in {state_dir}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print("Nothing erased.")
            return EXIT_OK
    try:
        erasure = forget_wearer(state_dir, args.wearer, Topics(settings.mqtt.base_topic))
    except TopicError as exc:
        return _fail(EXIT_USAGE, f"forget: {exc}")
    except ForgetError as exc:
        return _fail(EXIT_UNAVAILABLE, f"forget: {exc}")
    for line in erasure.lines():
        print(line)
    return EXIT_OK


_PLACEMENT_HINT = {
    "polar_h10": ("chest", "trunk"),
    "polar_verity_sense": ("chest", "trunk"),
    "thingy52": ("thigh", "thigh"),
    "diy": ("back", "trunk"),
}


def _cmd_scan(args: argparse.Namespace) -> int:
    from devices.ble import BleSourceError, scan  # noqa: PLC0415

    try:
        found = asyncio.run(scan(timeout_s=args.timeout_s, adapter=args.adapter))
    except BleSourceError as exc:
        return _fail(EXIT_UNAVAILABLE, f"cannot scan: {exc}")
    if not found:
        print(
            f"No supported sensors heard in {args.timeout_s:g} s. Is the sensor awake "
            "(Polar H10: wet the strap and put it on) and not connected to a phone?"
        )
        return EXIT_OK
    print(f"{'kind':20} {'name':24} {'address':18} RSSI")
    for sensor in found:
        rssi = "?" if sensor.rssi_dbm is None else f"{sensor.rssi_dbm} dBm"
        print(f"{sensor.model.value:20} {(sensor.name or '-'):24} {sensor.address:18} {rssi}")
    print("\nPaste into the [[wearers]] table of your configuration (set placement and mount):")
    for sensor in found:
        sensor_id, placement = _PLACEMENT_HINT.get(sensor.model.value, ("sensor", "trunk"))
        lines = [
            "[[wearers.sensors]]",
            f'id = "{sensor_id}"',
            f'kind = "{sensor.model.value}"',
            f'placement = "{placement}"',
            f'address = "{sensor.address}"',
        ]
        if sensor.adapter:
            lines.append(f'adapter = "{sensor.adapter}"')
        print("\n" + "\n".join(lines))
    return EXIT_OK


_COMMANDS = {
    "run": _cmd_run,
    "check-config": _cmd_check_config,
    "demo": _cmd_demo,
    "analyze": _cmd_analyze,
    "report": _cmd_report,
    "simulate": _cmd_simulate,
    "scenarios": _cmd_scenarios,
    "scan": _cmd_scan,
    "calibrate": _cmd_calibrate,
    "forget": _cmd_forget,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``backwatch`` console script; returns the exit status."""
    from devices.mount import MountError  # noqa: PLC0415
    from devices.recording import RecordingError  # noqa: PLC0415
    from devices.scenario import ScenarioError  # noqa: PLC0415

    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        return _fail(EXIT_CONFIG, f"configuration error: {exc}")
    except (RecordingError, ScenarioError, MountError) as exc:
        return _fail(EXIT_DATA, str(exc))
    except KeyboardInterrupt:
        return 130
