"""The seam between the generic driver and a protocol: a connected power controller."""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from typing import Callable, Protocol

from hakit.deadline import Deadline
from hakit.fence.context import FenceContext


class PowerState(enum.Enum):
    ON = "on"
    OFF = "off"

    @property
    def label(self) -> str:
        return self.value.upper()


class PowerDevice(Protocol):
    """A logged-in session with one device controlling one machine's power.

    Each method makes one request, bounded by the device's per-request timeout and by
    ``deadline``, and raises ``hakit.fence.errors`` (never the binding's own errors).
    """

    def get_power(self, deadline: Deadline) -> PowerState:
        """The power state the device reports now."""
        ...

    def request_power(self, state: PowerState, deadline: Deadline) -> None:
        """Ask for ``state``; returns once the device accepted the request."""
        ...

    def request_cycle(self, deadline: Deadline) -> None:
        """Ask for a hard power cycle (off, then on) as one request."""
        ...


#: Opens a session for the action and closes it (logs out) on leaving, whatever happened.
Connector = Callable[[FenceContext], AbstractContextManager[PowerDevice]]
