"""The example Mosquitto set-up (config/mosquitto/) with TLS, passwords and the ACL, for real.

One broker runs the repository's backwatch.conf and backwatch.acl, with its paths and ports
moved into a temporary directory and a CA made here with the openssl CLI. backwatch connects
over TLS as it would on a Pi; phones and an observer use the plain loopback listener.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from alerts.mqtt import MqttConnection, MqttPublisher, MqttUnavailable
from alerts.topics import Topics
from config.settings import load_settings
from monitor.broker import PrivateMosquitto, free_loopback_port
from monitor.daemon import mqtt_connection
from tests.harness import REPO

EXAMPLES = REPO / "config" / "mosquitto"
PASSWORDS = {"backwatch": "bw-secret-1", "alex": "alex-pw-2", "bob": "bob-pw-3", "observer": "o-4"}


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        directory,
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2"),
        *("-subj", f"/CN=backwatch test {name}"),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )


def _make_leaf(directory: Path, name: str, ca: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n" + extensions,
        encoding="utf-8",
    )
    _openssl(
        directory,
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"),
    )
    _openssl(
        directory,
        *("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key"),
        *("-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext"),
    )


class ExampleMosquitto(PrivateMosquitto):
    """Mosquitto running the example configuration, its paths and ports made private."""

    def __init__(self, directory: Path) -> None:
        """Use the certificates, password file and ACL in ``directory``."""
        super().__init__()
        self.directory = directory
        self.plain_port = free_loopback_port()

    def _config_text(self, workdir: Path) -> str:
        d = self.directory
        text = (EXAMPLES / "backwatch.conf").read_text(encoding="utf-8")
        for old, new in (
            ("listener 8883\n", f"listener {self.port} 127.0.0.1\n"),
            ("listener 1883 127.0.0.1\n", f"listener {self.plain_port} 127.0.0.1\n"),
            ("/etc/mosquitto/certs/ca.crt", str(d / "ca.crt")),
            ("/etc/mosquitto/certs/server.crt", str(d / "server.crt")),
            ("/etc/mosquitto/certs/server.key", str(d / "server.key")),
            ("/etc/mosquitto/passwd", str(d / "passwd")),
            ("/etc/mosquitto/backwatch.acl", str(d / "backwatch.acl")),
        ):
            assert old in text, old
            text = text.replace(old, new)
        return text + f"log_dest file {workdir / 'mosquitto.log'}\nuser root\n"


@dataclass(frozen=True, slots=True)
class SecureBroker:
    """The running example broker and where its files are."""

    broker: ExampleMosquitto
    directory: Path


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """The example broker with a CA, a server certificate for `localhost` and four users."""
    directory = tmp_path_factory.mktemp("mosquitto-example")
    _make_ca(directory, "ca")
    _make_ca(directory, "other-ca")
    _make_leaf(directory, "server", "ca", "subjectAltName=DNS:localhost\n")
    _make_leaf(directory, "client", "ca", "extendedKeyUsage=clientAuth\n")
    passwd = directory / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    acl = (EXAMPLES / "backwatch.acl").read_text(encoding="utf-8")
    (directory / "backwatch.acl").write_text(
        acl + "\nuser observer\ntopic read #\n", encoding="utf-8"
    )
    (directory / "credentials").mkdir()
    (directory / "credentials" / "mqtt-password").write_text(
        PASSWORDS["backwatch"] + "\n", encoding="utf-8"
    )
    with ExampleMosquitto(directory) as broker:
        yield SecureBroker(broker, directory)


def _backwatch_connection(secure: SecureBroker, *, host: str, ca: str) -> MqttConnection:
    """The connection the daemon builds, as on a Pi: the password is a systemd credential."""
    d = secure.directory
    config = d / f"backwatch-{host}-{ca}.toml"
    config.write_text(
        f'[mqtt]\nhost = "{host}"\nport = {secure.broker.port}\nusername = "backwatch"\n'
        f'tls = true\nca_file = "{d / ca}.crt"\n'
        f'cert_file = "{d / "client.crt"}"\nkey_file = "{d / "client.key"}"\n',
        encoding="utf-8",
    )
    return mqtt_connection(load_settings(config), {"CREDENTIALS_DIRECTORY": str(d / "credentials")})


def _client(secure: SecureBroker, user: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        secure.broker.plain_port,
        identifier=f"test-{user}",
        username=user,
        password=PASSWORDS[user],
    )


async def _collect_until(client: aiomqtt.Client, last_topic: str) -> list[str]:
    """Topics received, up to and including ``last_topic`` (sent last, so all came before)."""
    seen: list[str] = []
    async with asyncio.timeout(20):
        async for message in client.messages:
            seen.append(f"{message.topic.value}={message.payload!r}")
            if message.topic.value == last_topic:
                return seen
    return seen


def test_backwatch_over_tls_stays_in_its_tree_and_phones_see_only_their_wearer(
    secure_broker: SecureBroker,
) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        connection = _backwatch_connection(secure_broker, host="localhost", ca="ca")
        topics = Topics("backwatch")
        async with (
            _client(secure_broker, "observer") as observer,
            _client(secure_broker, "alex") as alex,
        ):
            await observer.subscribe("#", qos=1)
            await alex.subscribe("backwatch/#", qos=1)
            async with MqttPublisher(connection, topics) as publisher:
                await publisher.wait_connected(10)
                publisher.publish("backwatch/bob/nudge", b"for bob")
                publisher.publish("elsewhere/x", b"outside the tree")
                publisher.publish("homeassistant/sensor/x/config", b"discovery")
                publisher.publish("backwatch/alex/nudge", b"for alex")
                await publisher.flush(10)
                seen_by_alex = await _collect_until(alex, "backwatch/alex/nudge")
                # Phones may command their own wearer only.
                await alex.publish("backwatch/bob/cmd/snooze", b"{}", qos=1)
                await alex.publish("backwatch/alex/cmd/snooze", b"{}", qos=1)
                seen_by_observer = await _collect_until(observer, "backwatch/alex/cmd/snooze")
        async with _client(secure_broker, "bob") as bob:
            await bob.subscribe("backwatch/#", qos=1)
            seen_by_bob = await _collect_until(bob, "backwatch/status")  # retained
        return seen_by_alex, seen_by_observer, seen_by_bob

    alex, observer, bob = asyncio.run(scenario())
    assert "backwatch/status=b'online'" in alex
    assert "backwatch/alex/nudge=b'for alex'" in alex
    assert not [t for t in alex if "bob" in t or "homeassistant" in t]
    assert "backwatch/bob/nudge=b'for bob'" in observer
    assert "homeassistant/sensor/x/config=b'discovery'" in observer
    assert "backwatch/alex/cmd/snooze=b'{}'" in observer
    assert not [t for t in observer if t.startswith("elsewhere/") or "bob/cmd" in t]
    assert bob == ["backwatch/status=b'offline'"]  # the retained last word, nothing of alex


@pytest.mark.parametrize(
    ("host", "ca", "reason"),
    [
        ("localhost", "other-ca", "certificate verify failed"),
        ("127.0.0.1", "ca", "IP address mismatch"),  # the certificate names only localhost
    ],
)
def test_a_broker_failing_verification_is_one_clear_warning(
    secure_broker: SecureBroker, host: str, ca: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection = _backwatch_connection(secure_broker, host=host, ca=ca)

    async def attempt() -> str:
        publisher = MqttPublisher(connection, Topics("backwatch"), backoff_initial_s=0.1)
        async with publisher:
            with pytest.raises(MqttUnavailable) as caught:
                await publisher.wait_connected(1.5)
        return str(caught.value)

    with caplog.at_level(logging.INFO, logger="alerts.mqtt"):
        message = asyncio.run(attempt())
    assert reason in message
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([w for w in warnings if reason in w]) == 1, warnings
