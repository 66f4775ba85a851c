"""scripts/install.sh --dry-run: the plan for a Pi; a configuration is kept; nothing changes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness import REPO

SCRIPT = REPO / "scripts" / "install.sh"


def _dry_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BACKWATCH_PREFIX": str(root / "opt"),
        "BACKWATCH_CONFIG_DIR": str(root / "etc"),
        "BACKWATCH_UNIT_DIR": str(root / "units"),
    }
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _planned(output: str) -> list[str]:
    return [line.removeprefix("would run: ") for line in output.splitlines() if "would run" in line]


def test_dry_run_plans_venv_config_and_enabled_unit_and_touches_nothing(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    plan = _planned(result.stdout)
    pip = f"{tmp_path}/opt/venv/bin/python -m pip install --quiet --disable-pip-version-check"
    assert f"{pip} --upgrade {REPO}" in plan
    example = REPO / "config" / "backwatch.example.toml"
    config_copy = f"install -m 0640 -o root -g backwatch {example} {tmp_path}/etc/backwatch.toml"
    assert config_copy in plan
    assert f"install -m 0600 -o root -g root /dev/null {tmp_path}/etc/mqtt-password" in plan
    assert plan[-2:] == ["systemctl daemon-reload", "systemctl enable backwatch.service"]
    if subprocess.run(["id", "-u", "backwatch"], capture_output=True, check=False).returncode:
        assert any(p.startswith("useradd --system --user-group --groups bluetooth") for p in plan)
    assert list(tmp_path.iterdir()) == []  # a dry run changes nothing


def test_an_existing_configuration_is_kept(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "backwatch.toml").write_text("# mine\n", encoding="utf-8")
    (tmp_path / "etc" / "mqtt-password").write_text("secret\n", encoding="utf-8")
    result = _dry_run(tmp_path, "--dry-run", "--start")
    assert result.returncode == 0, result.stderr
    plan = _planned(result.stdout)
    assert not [p for p in plan if p.endswith(("/etc/backwatch.toml", "/etc/mqtt-password"))]
    assert f"install: keeping {tmp_path}/etc/backwatch.toml" in result.stdout
    assert plan[-1] == "systemctl restart backwatch.service"
    assert (tmp_path / "etc" / "backwatch.toml").read_text(encoding="utf-8") == "# mine\n"


def test_an_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "--dry-run", "--everything")
    assert result.returncode == 64
    assert "unknown option --everything" in result.stderr
