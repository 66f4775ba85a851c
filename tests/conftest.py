"""Shared pytest fixtures: real parts (a private Mosquitto broker) started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.broker import PrivateMosquitto


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[PrivateMosquitto]:
    """A real mosquitto on a free loopback port for the whole session (do not stop it)."""
    with PrivateMosquitto() as broker:
        yield broker
