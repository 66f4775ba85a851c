"""backwatch settings: TOML file, then environment, then command-line flags, all validated."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_PATH = Path("/etc/backwatch/backwatch.toml")

# A name that becomes one MQTT topic segment: no '+', '#', '/' or anything else surprising.
TopicSegment = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_MOUNT_PATTERN = r"^\s*[+-]?[xyzXYZ]\s*,\s*[+-]?[xyzXYZ]\s*$"
_BASE_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}$")

SensorKindName = Literal[
    "simulated", "replay", "polar_h10", "polar_verity_sense", "thingy52", "diy"
]
BLUETOOTH_KINDS = frozenset({"polar_h10", "polar_verity_sense", "thingy52", "diy"})
_BLE_ADDRESS_PATTERN = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
_ADAPTER_PATTERN = r"^hci[0-9]{1,2}$"
# A systemd credential name: a plain file name in $CREDENTIALS_DIRECTORY.
_CREDENTIAL_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$"
PlacementName = Literal["trunk", "waist", "thigh"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(Exception):
    """Configuration that cannot be used; the message is one line naming the key at fault."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    """How to reach the MQTT broker and where to publish."""

    host: str = Field("localhost", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    base_topic: str = "backwatch"
    client_id: TopicSegment = "backwatch"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    password_credential: Annotated[str, StringConstraints(pattern=_CREDENTIAL_PATTERN)] | None = (
        "mqtt-password"  # noqa: S105 (the name of a systemd credential, not a password)
    )
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    discovery_prefix: TopicSegment = "homeassistant"
    protocol: Literal["5", "3.1.1"] = "5"

    @field_validator("base_topic")
    @classmethod
    def _check_base_topic(cls, value: str) -> str:
        if not _BASE_TOPIC_RE.match(value):
            raise ValueError(
                "must be 1-8 segments of [A-Za-z0-9_-] separated by '/', without '+' or '#'"
            )
        return value

    @model_validator(mode="after")
    def _check_credentials(self) -> MqttSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password or password_file, not both")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class SensorSettings(_Section):
    """One sensor worn by a wearer and where its samples come from."""

    id: TopicSegment
    kind: SensorKindName
    placement: PlacementName
    mount: Annotated[str, StringConstraints(pattern=_MOUNT_PATTERN)] | None = None
    scenario: str | None = None
    file: Path | None = None
    rate_hz: float = Field(50.0, ge=1.0, le=416.0)
    seed: int = 0
    address: Annotated[str, StringConstraints(pattern=_BLE_ADDRESS_PATTERN)] | None = None
    name: str | None = Field(None, min_length=1, max_length=64)
    adapter: Annotated[str, StringConstraints(pattern=_ADAPTER_PATTERN)] | None = None
    range_g: Literal[2, 4, 8, 16] = 8
    acquire_notify: bool = True

    @property
    def is_bluetooth(self) -> bool:
        """A real Bluetooth LE sensor (as opposed to simulated or replayed samples)."""
        return self.kind in BLUETOOTH_KINDS

    @model_validator(mode="after")
    def _check_source(self) -> SensorSettings:
        if self.kind == "simulated" and not self.scenario:
            raise ValueError("a simulated sensor needs 'scenario' (a built-in name or a file)")
        if self.kind == "replay" and self.file is None:
            raise ValueError("a replay sensor needs 'file' (a recording CSV)")
        if self.kind in {"simulated", "replay"} and not 25.0 <= self.rate_hz <= 200.0:
            raise ValueError("rate_hz of simulated sensors is 25-200 Hz")
        if not self.is_bluetooth and (self.address or self.name or self.adapter):
            raise ValueError("address, name and adapter are for Bluetooth sensors only")
        return self


class LiftTaskSettings(_Section):
    """A lifting task the wearer can declare by name (``declare_load {"task": ...}``).

    What is left out is assumed (documented NIOSH defaults) or measured by the trunk sensor
    (twist, lifts per minute); see docs/lifting-and-falls.md.
    """

    load_kg: float = Field(gt=0, le=200)
    horizontal_cm: float | None = Field(None, ge=0, le=200)
    vertical_cm: float | None = Field(None, ge=0, le=200)
    travel_cm: float | None = Field(None, ge=0, le=200)
    asymmetry_deg: float | None = Field(None, ge=0, le=180)
    coupling: Literal["good", "fair", "poor"] | None = None
    frequency_per_min: float | None = Field(None, gt=0, le=20)
    duration_h: float | None = Field(None, gt=0, le=8)


class WearerSettings(_Section):
    """A person wearing one or more sensors."""

    name: TopicSegment
    sensors: list[SensorSettings] = Field(min_length=1)
    tasks: dict[TopicSegment, LiftTaskSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_unique_sensors(self) -> WearerSettings:
        ids = [sensor.id for sensor in self.sensors]
        duplicates = sorted({sensor_id for sensor_id in ids if ids.count(sensor_id) > 1})
        if duplicates:
            raise ValueError(f"sensor ids must be unique per wearer, repeated: {duplicates}")
        placements = [sensor.placement for sensor in self.sensors]
        repeated = sorted({p for p in placements if placements.count(p) > 1})
        if repeated:
            raise ValueError(f"one sensor per placement, repeated: {repeated}")
        return self


class ThresholdSettings(_Section):
    """Guideline numbers the evaluation judges by (sources in docs/guidelines.md)."""

    sitting_limit_min: float = Field(30.0, gt=0, le=600)
    sitting_break_s: float = Field(60.0, ge=0, le=3600)
    still_sd_g: float = Field(0.1, gt=0, le=2)
    run_sd_g: float = Field(0.72, gt=0, le=5)
    thigh_sit_deg: float = Field(45.0, gt=0, lt=90)
    trunk_lying_deg: float = Field(45.0, gt=0, lt=90)
    waist_lying_deg: float = Field(65.0, gt=0, lt=90)
    neutral_flexion_deg: float = Field(20.0, gt=0, lt=90)
    awkward_flexion_deg: float = Field(60.0, gt=0, lt=120)
    hold_at_neutral_s: float = Field(240.0, gt=0, le=3600)
    hold_at_awkward_s: float = Field(60.0, gt=0, le=3600)
    side_bend_deg: float = Field(10.0, gt=0, lt=90)
    side_bend_hold_s: float = Field(60.0, gt=0, le=3600)
    sleep_min_lying_min: float = Field(60.0, gt=0, le=24 * 60)
    sleep_break_min: float = Field(15.0, gt=0, le=24 * 60)

    @model_validator(mode="after")
    def _check_order(self) -> ThresholdSettings:
        if self.run_sd_g <= self.still_sd_g:
            raise ValueError("run_sd_g must be greater than still_sd_g")
        if self.awkward_flexion_deg <= self.neutral_flexion_deg:
            raise ValueError("awkward_flexion_deg must be greater than neutral_flexion_deg")
        if self.hold_at_awkward_s > self.hold_at_neutral_s:
            raise ValueError("hold_at_awkward_s must not exceed hold_at_neutral_s")
        return self


_QUIET_HOURS_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")


BUILTIN_COOLDOWN_MIN: Mapping[str, float] = MappingProxyType({"lift_form": 5.0})
"""Cool-downs that differ from ``default_cooldown_min`` unless configured (lift coaching
should follow the lifts; the cool-down bundles the ones close together)."""


class PolicySettings(_Section):
    """How often nudges may come, and when not (urgent alerts always pass)."""

    default_cooldown_min: float = Field(20.0, ge=0, le=24 * 60)
    cooldown_min: dict[TopicSegment, Annotated[float, Field(ge=0, le=7 * 24 * 60)]] = Field(
        default_factory=lambda: dict(BUILTIN_COOLDOWN_MIN)
    )
    quiet_hours: str | None = "22:00-07:00"
    default_daily_cap: int | None = Field(8, ge=0, le=1000)
    daily_cap: dict[TopicSegment, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict
    )
    total_daily_cap: int | None = Field(20, ge=0, le=1000)
    dedup_window_h: float = Field(24.0, ge=0, le=7 * 24)
    escalation_interval_min: float = Field(5.0, gt=0, le=24 * 60)
    escalation_window_min: float = Field(60.0, ge=0, le=7 * 24 * 60)
    fall_ack_window_s: float = Field(60.0, gt=0, le=3600)
    tips: bool = True
    timezone: str | None = None
    retention_days: float = Field(90.0, gt=0, le=3650)

    @field_validator("cooldown_min")
    @classmethod
    def _with_builtin_cooldowns(cls, value: dict[str, float]) -> dict[str, float]:
        return {**BUILTIN_COOLDOWN_MIN, **value}

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet_hours(cls, value: str | None) -> str | None:
        if value is not None and value.lower() != "off" and not _QUIET_HOURS_RE.match(value):
            raise ValueError("must be HH:MM-HH:MM (local time, e.g. 22:00-07:00) or 'off'")
        return None if value is not None and value.lower() == "off" else value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError("must be an IANA time zone such as Europe/Berlin") from exc
        return value


class HomeAssistantSettings(_Section):
    """Home Assistant MQTT discovery."""

    discovery: bool = True


class SimulationSettings(_Section):
    """Clock of simulated and replayed sensors: start time and speed factor."""

    speed: float = Field(1.0, gt=0, le=10_000)
    start: AwareDatetime | None = None


class DaemonSettings(_Section):
    """How the daemon publishes its own state."""

    state_interval_s: float = Field(10.0, ge=0.1, le=3600)
    queue_blocks: int = Field(256, ge=4, le=100_000)


class Settings(BaseSettings):
    """Everything backwatch can be told; see config/backwatch.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix="BACKWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    log_level: LogLevel = "INFO"
    state_dir: Path = Path("/var/lib/backwatch")
    mqtt: MqttSettings = MqttSettings()
    wearers: list[WearerSettings] = Field(default_factory=list)
    thresholds: ThresholdSettings = ThresholdSettings()
    policy: PolicySettings = PolicySettings()
    simulation: SimulationSettings = SimulationSettings()
    daemon: DaemonSettings = DaemonSettings()
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_unique_wearers(self) -> Settings:
        names = [wearer.name for wearer in self.wearers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"wearer names must be unique, repeated: {duplicates}")
        return self


class _MappingSource(PydanticBaseSettingsSource):
    """A settings source over an already-parsed mapping (the TOML file)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values come from __call__."""
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        """The whole mapping."""
        return self._data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path}: not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from exc


def _key_of(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def _allowed_keys(location: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at the parent of ``location`` (for unknown-key messages)."""
    model: Any = Settings
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if model is None:
            return []
    return sorted(getattr(model, "model_fields", {}))


def describe_validation_error(exc: ValidationError, origin: str) -> str:
    """One line naming the key, the value and what is allowed, for the first error."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    location = tuple(part for part in first["loc"] if part != "__root__")
    key = _key_of(location)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(location))
        return f"{key}: unknown key in {origin} (allowed here: {allowed}){more}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{key}: required key is missing in {origin}{more}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"{key}{shown}: {message} ({origin}){more}"


def load_settings(
    config_path: Path | None, cli_overrides: dict[str, Any] | None = None
) -> Settings:
    """Resolve settings: the TOML file, then BACKWATCH_* environment, then CLI flags.

    ``config_path`` None means the default file when it exists, else defaults only.
    Raises ConfigError with a one-line message.
    """
    if config_path is None and DEFAULT_CONFIG_PATH.is_file():
        config_path = DEFAULT_CONFIG_PATH
    file_data = _read_toml(config_path) if config_path is not None else {}
    origin = f"config file {config_path}" if config_path is not None else "settings"

    class _ResolvedSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _MappingSource(settings_cls, file_data))

    try:
        resolved = _ResolvedSettings(**(cli_overrides or {}))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin)) from exc
    return Settings.model_validate(resolved.model_dump())


def mqtt_password(mqtt: MqttSettings, credentials_dir: str | None) -> SecretStr | None:
    """The broker password: ``password``, else ``password_file``, else the systemd credential.

    ``credentials_dir`` is systemd's $CREDENTIALS_DIRECTORY (set for a unit with
    ``LoadCredential=``); the credential ``password_credential`` in it is used when it
    exists. An empty file or credential means no password; one trailing newline is not part
    of the password. A file that cannot be read is a ConfigError naming the key.
    """
    if mqtt.password is not None:
        return mqtt.password
    if mqtt.password_file is not None:
        return _read_secret(mqtt.password_file, "mqtt.password_file")
    if credentials_dir and mqtt.password_credential is not None:
        credential = Path(credentials_dir) / mqtt.password_credential
        if credential.is_file():
            return _read_secret(credential, "mqtt.password_credential")
    return None


def _read_secret(path: Path, key: str) -> SecretStr | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key} = '{path}': cannot be read ({exc})") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    return SecretStr(text) if text else None


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Settings as plain JSON-able data with every secret replaced by asterisks."""
    data = settings.model_dump(mode="json")
    if settings.mqtt.password is not None:
        data["mqtt"]["password"] = "********"  # noqa: S105 (the mask, not a password)
    return data


def simulation_start(settings: Settings, now: datetime) -> datetime:
    """When the simulated clock starts: the configured start or now."""
    return settings.simulation.start if settings.simulation.start is not None else now
