"""The errors a sensor protocol raises: undecodable bytes and refused commands."""

from __future__ import annotations


class DecodeError(ValueError):
    """Bytes from a sensor that do not decode; the message says which field is at fault."""


class CommandRefusedError(RuntimeError):
    """A sensor answered a command with an error status (for example a PMD control point)."""

    def __init__(self, message: str, status: int) -> None:
        """Keep the sensor's numeric status next to the readable message."""
        super().__init__(message)
        self.status = status
