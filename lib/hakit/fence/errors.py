"""Why a fence action failed: distinct errors, each an ``hakit.errors.GenericError``.

The fence-agent API knows only "failed" (rc 1), so the distinction matters for the admin
reading the message, not for the exit code (``hakit.envelope.settle`` logs it;
``hakit.fence.dispatch.exit_code`` makes every failure 1).
"""

from __future__ import annotations

from hakit.errors import GenericError


class FenceError(GenericError):
    """A fence action did not succeed."""


class AuthFailed(FenceError):
    """The device answered and refused the credentials (user, password, Kg, privilege)."""


class DeviceUnreachable(FenceError):
    """The device did not answer at all within the time allowed."""


class StateUnknown(FenceError):
    """The device answered but could not tell the power state."""


class StateUnchanged(FenceError):
    """The device accepted the request but never reported the requested state in time."""


class InsecureTransport(FenceError):
    """The device offers only a protocol or cipher suite the configuration refuses."""
