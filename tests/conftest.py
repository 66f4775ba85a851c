"""Shared pytest fixtures: real parts (a private Mosquitto broker) started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from monitor.broker import PrivateMosquitto

# Property tests explore new examples on a developer's machine; CI replays a fixed,
# derandomised set so that a run is reproducible. Neither has a per-example deadline:
# timing is measured in bench/, never asserted in tests.
settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[PrivateMosquitto]:
    """A real mosquitto on a free loopback port for the whole session (do not stop it)."""
    with PrivateMosquitto() as broker:
        yield broker
