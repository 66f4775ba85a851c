"""Settings: precedence, the example file, and one-line errors with exit status 78."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from config.settings import ConfigError, Settings, load_settings, masked_settings
from monitor.cli import EXIT_CONFIG, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "backwatch.example.toml"

MINIMAL = """
[mqtt]
host = "broker.local"
port = 1884
password = "hunter2"

[[wearers]]
name = "alex"
[[wearers.sensors]]
id = "chest"
kind = "simulated"
placement = "trunk"
scenario = "short"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "backwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, MINIMAL)
    assert load_settings(path).mqtt.port == 1884
    monkeypatch.setenv("BACKWATCH_MQTT__PORT", "1885")
    monkeypatch.setenv("BACKWATCH_MQTT__BASE_TOPIC", "home/backwatch")
    settings = load_settings(path)
    assert settings.mqtt.port == 1885
    assert settings.mqtt.host == "broker.local"  # untouched keys keep the file's value
    assert settings.mqtt.base_topic == "home/backwatch"
    settings = load_settings(path, {"mqtt": {"port": "1886"}})
    assert settings.mqtt.port == 1886
    assert settings.mqtt.base_topic == "home/backwatch"


def test_example_file_loads_and_documents_every_key() -> None:
    settings = load_settings(EXAMPLE)
    assert [w.name for w in settings.wearers] == ["alex"]
    text = EXAMPLE.read_text(encoding="utf-8")

    def keys_of(model: type[BaseModel], prefix: str) -> list[str]:
        found = []
        for name, info in model.model_fields.items():
            found.append(f"{prefix}{name}")
            annotation: Any = info.annotation
            args = getattr(annotation, "__args__", ())
            nested = [a for a in (annotation, *args) if isinstance(a, type)]
            for candidate in nested:
                if issubclass(candidate, BaseModel):
                    found += keys_of(candidate, f"{prefix}{name}.")
        return found

    for key in keys_of(Settings, ""):
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf} =" in text or f"[{key}]" in text or f"[[{key}]]" in text, key


def test_example_file_is_valid_toml_with_defaults_matching_the_code() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = Settings()
    assert data["mqtt"]["port"] == defaults.mqtt.port
    assert data["thresholds"]["sitting_limit_min"] == defaults.thresholds.sitting_limit_min
    assert data["thresholds"]["still_sd_g"] == defaults.thresholds.still_sd_g
    assert data["policy"]["default_cooldown_min"] == defaults.policy.default_cooldown_min


def test_secrets_are_masked(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, MINIMAL))
    shown = json.dumps(masked_settings(settings))
    assert "hunter2" not in shown
    assert "********" in shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[mqtt]\nport = 'abc'\n", "mqtt.port = 'abc'"),
        ("[mqtt]\nport = 70000\n", "mqtt.port = 70000"),
        ("[mqtt]\ncolour = 'red'\n", "mqtt.colour: unknown key"),
        ("[mqtt]\nbase_topic = 'a/+/b'\n", "mqtt.base_topic = 'a/+/b'"),
        (
            MINIMAL.replace('id = "chest"', 'id = "ch/est"'),
            "wearers.0.sensors.0.id = 'ch/est'",
        ),
        (MINIMAL.replace('scenario = "short"', ""), "wearers.0.sensors.0: a simulated sensor"),
        ("[thresholds]\nstill_sd_g = 1.0\nrun_sd_g = 0.5\n", "run_sd_g must be greater"),
        ("this is = not toml [", "not valid TOML"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_key_lists_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"allowed here: .*host.*port"):
        load_settings(_write(tmp_path, "[mqtt]\ncolour = 'red'\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[mqtt]\nport = 'abc'\n", "mqtt.port"),
        ("[mqtt]\ncolour = 'red'\n", "mqtt.colour"),
        (None, "not found"),
    ],
)
def test_cli_exits_78_with_one_line(tmp_path: Path, text: str | None, expected: str) -> None:
    path = _write(tmp_path, text) if text is not None else tmp_path / "missing.toml"
    result = _run_cli("check-config", "--config", str(path))
    assert result.returncode == EXIT_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert lines[0].startswith("backwatch: configuration error:")


def test_unknown_scenario_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, MINIMAL.replace('"short"', '"no-such-scenario"'))
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "wearers.alex.sensors.chest.scenario" in err


def test_check_config_prints_resolved_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, MINIMAL)
    assert main(["check-config", "--config", str(path), "--mqtt-port", "1999"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["mqtt"]["port"] == 1999
    assert shown["mqtt"]["password"] == "********"
    assert shown["wearers"][0]["sensors"][0]["scenario"] == "short"
