"""The project's exceptions, each carrying the OCF exit code it stands for.

Boundary modules (subprocess, Ceph, netlink, LXC, IPMI) turn their bindings' errors into
these, ``raise ... from exc``; ``hakit.envelope.settle`` is the one place that turns
them into an exit code and a reason (the OCF and fence dispatchers say what those become).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from enum import IntEnum
else:  # enum's import costs more than a monitor's work: at run time the codes are plain
    IntEnum = object  # ints (ExitCode.NOT_RUNNING == 7); type checkers see an IntEnum


class ExitCode(IntEnum):
    """OCF 1.1 exit status codes (resource-agent-api.md, "Exit Status Codes")."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


class HakitError(Exception):
    """An expected failure: the message is the exit reason shown to the admin."""

    exit_code: ExitCode = ExitCode.ERR_GENERIC

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GenericError(HakitError):
    """The action did not succeed (rc 1)."""


class ActionTimeout(GenericError):
    """The action's deadline passed before the work was done (rc 1)."""


class ArgsError(HakitError):
    """Parameters invalid on this host, e.g. a device that does not exist here (rc 2)."""

    exit_code = ExitCode.ERR_ARGS


class UnimplementedError(HakitError):
    """The action is not supported (rc 3)."""

    exit_code = ExitCode.ERR_UNIMPLEMENTED


class PrivilegeError(HakitError):
    """The agent lacks a privilege it needs (rc 4)."""

    exit_code = ExitCode.ERR_PERM


class NotInstalledError(HakitError):
    """Software the action needs is missing on this host (rc 5)."""

    exit_code = ExitCode.ERR_INSTALLED


class ConfigError(HakitError):
    """The parameters are inherently invalid, wherever they run (rc 6)."""

    exit_code = ExitCode.ERR_CONFIGURED


class ParamError(ConfigError):
    """One parameter is invalid; the reason names it."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"parameter '{param}' {problem}")
        self.param = param
        self.problem = problem


class NotRunningError(HakitError):
    """The resource is cleanly stopped (rc 7); monitor raises it."""

    exit_code = ExitCode.NOT_RUNNING
