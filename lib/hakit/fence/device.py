"""The seam between the generic driver and a protocol: a connected power controller."""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from typing import Callable, Protocol, runtime_checkable

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


@runtime_checkable
class DiagnosticDevice(PowerDevice, Protocol):
    """A power device that can also send the machine a diagnostic interrupt (NMI)."""

    def request_diag(self, deadline: Deadline) -> None:
        """Ask for a diagnostic interrupt (the kernel panics and dumps, kdump); returns once
        the device accepted it.  Nothing about the machine can verify that it happened."""
        ...


#: Opens a session for the action and closes it (logs out) on leaving, whatever happened.
Connector = Callable[[FenceContext], AbstractContextManager[PowerDevice]]
