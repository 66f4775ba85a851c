"""The broker password: from a file or a systemd credential, never a flag, never logged."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from config.settings import ConfigError, MqttSettings, Settings, mqtt_password
from monitor.broker import PrivateMosquitto
from monitor.cli import build_parser
from monitor.daemon import mqtt_connection
from tests.harness import SensorSpec, run_daemon_collecting, write_config

SECRET = "correct horse battery staple"


def _secret(mqtt: MqttSettings, credentials_dir: Path | None) -> str | None:
    found = mqtt_password(mqtt, None if credentials_dir is None else str(credentials_dir))
    return None if found is None else found.get_secret_value()


def test_password_comes_from_setting_file_or_credential_in_that_order(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text(SECRET + "\n", encoding="utf-8")
    password_file = tmp_path / "password"
    password_file.write_text("from the file\n", encoding="utf-8")
    assert _secret(MqttSettings(), credentials) == SECRET
    assert _secret(MqttSettings(), None) is None  # not started by systemd
    assert _secret(MqttSettings(password_credential=None), credentials) is None
    assert _secret(MqttSettings(password_file=password_file), credentials) == "from the file"
    assert _secret(MqttSettings.model_validate({"password": "x"}), credentials) == "x"
    (credentials / "mqtt-password").write_text("", encoding="utf-8")
    assert _secret(MqttSettings(), credentials) is None  # the installed empty file
    with pytest.raises(ConfigError, match=r"^mqtt.password_file = '.*missing': cannot be read"):
        _secret(MqttSettings(password_file=tmp_path / "missing"), None)


def test_no_command_line_flag_takes_a_password() -> None:
    parser = build_parser()
    options: list[str] = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for subparser in action.choices.values():  # type: ignore[union-attr]
            options += [o for a in subparser._actions for o in a.option_strings]
    assert "--config" in options
    assert not [o for o in options if "pass" in o or "secret" in o or "cred" in o]


@pytest.mark.parametrize(
    ("host", "tls", "warnings"),
    [("broker.example.lan", False, 1), ("127.0.0.1", False, 0), ("localhost", False, 0)],
)
def test_one_warning_when_a_password_would_cross_the_network_in_clear(
    host: str, tls: bool, warnings: int, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.model_validate({"mqtt": {"host": host, "tls": tls, "password": SECRET}})
    with caplog.at_level(logging.DEBUG):
        connection = mqtt_connection(settings, environ={})
    assert connection.password_text() == SECRET
    assert SECRET not in repr(connection)
    found = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(found) == warnings
    if warnings:
        assert found[0] == (
            "the MQTT password would travel to broker.example.lan without TLS; set mqtt.tls = true"
        )


def test_unloadable_tls_files_are_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings.model_validate({"mqtt": {"tls": True, "ca_file": str(tmp_path / "ca")}})
    with pytest.raises(ConfigError, match=r"^mqtt: mqtt TLS files could not be loaded"):
        mqtt_connection(settings, environ={})


def test_a_debug_run_with_a_credential_never_logs_the_password(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text(SECRET + "\n", encoding="utf-8")
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic="credentials",
        scenario="short",
        sensors=(SensorSpec("chest", "trunk"),),
        speed=120.0,
    )
    result = asyncio.run(
        run_daemon_collecting(
            config,
            host=mosquitto.host,
            port=mosquitto.port,
            topics=["credentials/status"],
            env={"CREDENTIALS_DIRECTORY": str(credentials), "BACKWATCH_MQTT__USERNAME": "bw"},
        )
    )
    assert result.returncode == 0, result.log
    assert "DEBUG" in result.log
    assert "connected to MQTT broker" in result.log
    assert "online" in result.texts("credentials/status")
    assert SECRET not in result.log
    assert "correct horse" not in result.log
    broker_log = mosquitto.log_path.read_text(encoding="utf-8")
    assert "u'bw'" in broker_log  # the broker saw the user (and so the credential was sent)
