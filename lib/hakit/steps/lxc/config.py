"""ocf:hakit:lxc's parameters, their kinds, and the record they become (``LxcConfig``).

Declared here rather than in the agent module because ocf:hakit:container declares some of
the same parameters, and agents do not import each other.  ``from_values`` is the one place
an action's values become a record; the steps take the record, never the values.
"""

from __future__ import annotations

from hakit.lean import frozen
from hakit.ocf.params import AbsolutePath, Duration, Name, Param, ParamType, Select, Signal

# Every action is a new process and parses every parameter: shlex is imported only where a
# health command is split (start-up cost: see docs/developing.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.params import Values

#: ``hakit.ocf.params.Name``'s default pattern, which ContainerName accepts without re.
NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
_NAME_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_NAME_CHARS = _NAME_FIRST + ".+-"


class ContainerName(Name):
    """A ``Name`` (NAME_PATTERN, up to 255 characters) accepted without re: every monitor
    parses ``name``, and importing re costs more than the monitor's work (start-up cost:
    see docs/developing.md)."""

    def __init__(self) -> None:
        super().__init__("a container name", NAME_PATTERN)

    def parse(self, raw: str) -> str:
        if 1 <= len(raw) <= 255 and raw[0] in _NAME_FIRST and not raw.strip(_NAME_CHARS):
            return raw
        return super().parse(raw)  # rejects it, with Name's reason


class CommandLine(ParamType[tuple[str, ...]]):
    """A command line split like a POSIX shell would (quotes, backslashes), but never run by
    one: the words become an argv."""

    def parse(self, raw: str) -> tuple[str, ...]:
        if "\n" in raw or "\0" in raw:
            raise ValueError("must be a single line")
        import shlex

        try:
            words = tuple(shlex.split(raw))
        except ValueError as exc:
            raise ValueError(f"is not a valid command line ({exc})") from None
        if not words:
            raise ValueError("must name a command")
        return words

    def hint(self) -> str:
        return ("Split into words like a shell would, but run without one; use "
                "sh -c '...' inside the container for pipes or redirections.")


NAME = Param("name", ContainerName(), "Container name",
             "The container's name, as in lxc-start -n.", required=True,
             unique_group="container")
LXCPATH = Param("lxcpath", AbsolutePath(), "LXC path",
                "The directory holding the container (lxc-start -P). With hakit's layout the "
                "container's own filesystem (from ocf:hakit:fs) is mounted at LXCPATH/NAME.",
                default="/var/lib/lxc", unique_group="container")
CONFIG = Param("config", AbsolutePath(), "Configuration file",
               "An explicit configuration file (lxc-start -f) instead of LXCPATH/NAME/config.")
LOG_FILE = Param("log_file", AbsolutePath(), "LXC log file",
                 "Where lxc-start logs (lxc-start -o). When not set: the container's own "
                 "lxc.log.file, else /var/log/lxc/NAME.log. Errors found there are quoted "
                 "in the exit reason of a failed start.", reloadable=True)
LOG_LEVEL = Param("log_level", Select("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR",
                                      "CRIT", "ALERT", "FATAL"),
                  "LXC log level", "lxc-start's log priority (lxc-start -l).",
                  default="NOTICE", reloadable=True)
START_TIMEOUT = Param("start_timeout", Duration(minimum=1), "Start timeout",
                      "How long start may take in all: lxc-start, RUNNING, wait_for_ip and "
                      "health_command. When not set, the start action's own timeout.",
                      reloadable=True)
STOP_TIMEOUT = Param("stop_timeout", Duration(), "Clean shutdown timeout",
                     "How long stop waits for a clean shutdown before it kills the container; "
                     "0 kills at once. When not set, all of the stop action's timeout but a "
                     "reserve for the kill.", reloadable=True)
SHUTDOWN_SIGNAL = Param("shutdown_signal", Signal(), "Shutdown signal",
                        "The signal that asks the container's init to shut down cleanly. When "
                        "not set, the container's lxc.signal.halt (LXC's default: SIGPWR).",
                        reloadable=True)
HEALTH_COMMAND = Param("health_command", CommandLine(), "Health command",
                       "A command run inside the container with lxc-attach (e.g. pidof nginx, "
                       "or curl -fsS http://localhost/). A monitor at depth 10 fails when it "
                       "exits non-zero, quoting its output; start waits until it succeeds.",
                       reloadable=True)
HEALTH_TIMEOUT = Param("health_timeout", Duration(minimum=0.1), "Health command timeout",
                       "How long one run of health_command may take.", default="10s",
                       reloadable=True)
WAIT_FOR_IP = Param("wait_for_ip", Select("no", "ipv4", "ipv6", "any"), "Wait for an address",
                    "Start returns only once the container has a global address of this "
                    "family (within the start timeout).", default="no", reloadable=True)

PARAMS: tuple[Param[object], ...] = (
    NAME, LXCPATH, CONFIG, LOG_FILE, LOG_LEVEL, START_TIMEOUT, STOP_TIMEOUT, SHUTDOWN_SIGNAL,
    HEALTH_COMMAND, HEALTH_TIMEOUT, WAIT_FOR_IP,
)


@frozen
class LxcConfig:
    """One container as the cluster configured it (ocf:hakit:lxc's parameters, parsed)."""

    name: str  # lxc-start -n
    lxcpath: str  # lxc-start -P: the directory holding the container
    config: Optional[str]  # lxc-start -f; None: LXCPATH/NAME/config
    log_file: Optional[str]  # lxc-start -o; None: lxc.log.file, else DEFAULT_LOG_DIR/NAME.log
    log_level: str  # lxc-start -l
    start_timeout: Optional[float]  # seconds for all of start; None: the action's timeout
    stop_timeout: Optional[float]  # seconds before the kill; None: all but the kill's reserve
    shutdown_signal: Optional[int]  # the halt signal; None: the container's lxc.signal.halt
    health_command: Optional[tuple[str, ...]]  # argv run by lxc-attach; None: no health check
    health_timeout: float  # seconds one run of health_command may take
    wait_for_ip: str  # "no", "ipv4", "ipv6" or "any": the address family start waits for


def from_values(values: Values) -> LxcConfig:
    """The record of an action's parsed values (no cross-parameter rule to check)."""
    halt = values.get(SHUTDOWN_SIGNAL)
    return LxcConfig(
        name=values[NAME],
        lxcpath=values[LXCPATH],
        config=values.get(CONFIG),
        log_file=values.get(LOG_FILE),
        log_level=values[LOG_LEVEL],
        start_timeout=values.get(START_TIMEOUT),
        stop_timeout=values.get(STOP_TIMEOUT),
        shutdown_signal=int(halt) if halt is not None else None,
        health_command=values.get(HEALTH_COMMAND),
        health_timeout=values[HEALTH_TIMEOUT],
        wait_for_ip=values[WAIT_FOR_IP],
    )
