"""The agent run's logger, OCF or fence: the lines ClusterLabs agents write, without ``logging``.

Every action is a fresh process, and importing ``logging`` with ``logging.handlers`` costs
about 15 ms of CPU (it pulls in ``threading``, ``socket``, ``pickle`` and ``traceback``),
a third of an IPaddr2 start; start and stop always write a line (start-up cost: see
BENCHMARKS.md).  ``LazyLogger`` writes the same lines itself.  A resource agent's
(``for_resource_agent``) go to stderr, which
pacemaker-execd records (``TAG: LEVEL: message``), to HA_LOGFILE and HA_DEBUGLOG
(``Mon DD HH:MM:SS TAG[PID]: LEVEL: message``) and, when HA_LOGFACILITY names a facility,
to syslog through ``/dev/log`` (``<PRI>TAG[PID]: LEVEL: message``); debug lines only with
HA_debug=1, or to HA_DEBUGLOG.  Nothing is opened until a line has to be written, so a
monitor that finds everything in order opens nothing.  Secrets are masked and every
message made safe to write (``hakit.shown.log_text``) before it goes anywhere.

A fence agent's destinations (stderr as ``LEVEL: message``, ``debug_file``) are chosen by
its adapter, ``hakit.fence.log``, from the writers here.
"""

from __future__ import annotations

import os
import sys
import time

from hakit import shown
from hakit.os.runner import mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from logging import Logger as _LoggerType
    from typing import Any, Optional, TextIO

    #: write(level, message): one destination.
    Writer = Callable[[int, str], None]
    #: (lowest level written, writer), made on the first line written.
    Outputs = Callable[[], list[tuple[int, Writer]]]
else:
    _LoggerType = object

#: logging's level numbers and names.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR",
               CRITICAL: "CRITICAL"}
#: syslog severities (RFC 5424) by level, as logging.handlers.SysLogHandler maps them.
SYSLOG_SEVERITY = {DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2}
#: The facilities HA_LOGFACILITY may name (logging.handlers.SysLogHandler.facility_names).
SYSLOG_FACILITIES = {
    "auth": 4, "authpriv": 10, "console": 14, "cron": 9, "daemon": 3, "ftp": 11, "kern": 0,
    "lpr": 6, "mail": 2, "news": 7, "ntp": 12, "security": 13, "solaris-cron": 15,
    "syslog": 5, "user": 1, "uucp": 8, "local0": 16, "local1": 17, "local2": 18,
    "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}
SYSLOG_SOCKET = "/dev/log"


def clean(message: str, secrets: Sequence[str], level: int) -> str:
    """A message as it may be written: secrets masked, control characters escaped,
    continuation lines indented, at most ``shown.LOG_LIMIT`` characters below DEBUG."""
    return shown.log_text(mask(message, secrets), shown.LOG_LIMIT if level > DEBUG else 0)


class LazyLogger(_LoggerType):
    """The run's logger, with the level methods of a ``logging.Logger`` (``msg % args``,
    ``exc_info``); type checkers see a ``logging.Logger`` subclass, so it goes wherever
    one is expected (``hakit.os.runner`` takes either).

    ``outputs`` makes the destinations when the first line at or above ``lowest`` is
    written; ``secrets`` is shared, what is added to it later is masked too.
    """

    def __init__(self, outputs: Outputs, lowest: int, secrets: Sequence[str] = ()) -> None:
        self._make_outputs = outputs
        self._lowest = lowest
        self._secrets = secrets
        self._outputs: Optional[list[tuple[int, Writer]]] = None
        self._closers: list[Callable[[], None]] = []

    def isEnabledFor(self, level: int) -> bool:
        return level >= self._lowest

    def log(self, level: int, msg: object, *args: object, exc_info: Any = None,
            **_kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        message = clean(text, self._secrets, level)
        if exc_info:
            message += "\n" + _traceback(exc_info)
        for lowest, write in self._open():
            if level >= lowest:
                try:
                    write(level, message)
                except (OSError, ValueError):
                    pass  # a log destination that fails must not fail the action

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(DEBUG, msg, *args, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(INFO, msg, *args, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(WARNING, msg, *args, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        self.log(ERROR, msg, *args, exc_info=exc_info, **kwargs)

    def critical(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.log(CRITICAL, msg, *args, **kwargs)

    def _open(self) -> list[tuple[int, Writer]]:
        if self._outputs is None:
            self._outputs = self._make_outputs()
        return self._outputs

    def close(self) -> None:
        """Close the files opened for the run (``close_with``)."""
        for closer in self._closers:
            try:
                closer()
            except (OSError, ValueError):
                pass
        self._closers = []

    def close_with(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)


def for_resource_agent(tag: str, ha_env: Mapping[str, str], secrets: Sequence[str] = (),
                       stderr: Optional[TextIO] = None) -> LazyLogger:
    """A resource agent's logger, as ocf-shellfuncs' ``ocf_log`` writes: ``tag`` is shown
    in every line (``hakit-vip(web-ip)``); destinations from the ``HA_*`` variables."""

    def outputs() -> list[tuple[int, Writer]]:
        base = DEBUG if debug_enabled(ha_env) else INFO
        made = [(base, stream_writer(stderr or sys.stderr, f"{tag}: "))]
        for var, lowest in (("HA_LOGFILE", base), ("HA_DEBUGLOG", DEBUG)):
            path = ha_env.get(var, "")
            if path and path != "/dev/null":
                try:
                    made.append((lowest, _file_writer(path, tag)))
                except OSError:
                    pass  # an unwritable log file must not fail the action
        facility = SYSLOG_FACILITIES.get(ha_env.get("HA_LOGFACILITY", "").lower())
        if facility is not None:
            try:
                made.append((base, _syslog_writer(facility, tag)))
            except OSError:
                pass  # no syslog socket (containers, tests): stderr still has it
        return made
    return LazyLogger(outputs, DEBUG if _debug_written(ha_env) else INFO, secrets)


def debug_enabled(ha_env: Mapping[str, str]) -> bool:
    """HA_debug as ocf-shellfuncs reads it: debug lines also go to stderr and HA_LOGFILE."""
    return ha_env.get("HA_debug", "0") not in ("", "0", "false", "no")


def _stamped(tag: str, level: int, message: str) -> str:
    return f"{tag}[{os.getpid()}]: {LEVEL_NAMES[level]}: {message}"


def _file_writer(path: str, tag: str) -> Writer:
    handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    return file_writer(handle, tag, lambda: time.strftime("%b %d %H:%M:%S", time.localtime()))


def file_writer(handle: TextIO, tag: str, stamp: Callable[[], str]) -> Writer:
    """Lines ``STAMP TAG[PID]: LEVEL: message`` appended to ``handle``, flushed each."""

    def write(level: int, message: str) -> None:
        handle.write(f"{stamp()} {_stamped(tag, level, message)}\n")
        handle.flush()
    return write


def stream_writer(stream: TextIO, prefix: str = "") -> Writer:
    """Lines ``PREFIXLEVEL: message`` on ``stream`` (stderr), flushed each."""

    def write(level: int, message: str) -> None:
        stream.write(f"{prefix}{LEVEL_NAMES[level]}: {message}\n")
        stream.flush()
    return write


def _syslog_writer(facility: int, tag: str) -> Writer:
    """Datagrams to /dev/log (a stream socket where that is what it is), NUL-terminated."""
    import _socket  # only when HA_LOGFACILITY is set

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(SYSLOG_SOCKET)
    except OSError:
        sock.close()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.connect(SYSLOG_SOCKET)
        except OSError:
            sock.close()
            raise

    def write(level: int, message: str) -> None:
        priority = facility << 3 | SYSLOG_SEVERITY[level]
        sock.sendall(f"<{priority}>{_stamped(tag, level, message)}\0".encode())
    return write


def _traceback(exc_info: Any) -> str:
    import traceback  # only after a crash

    if not isinstance(exc_info, tuple):
        exc_info = sys.exc_info() if exc_info is True else (
            type(exc_info), exc_info, exc_info.__traceback__)
    text = "".join(traceback.format_exception(*exc_info))
    # One newline off, as logging.Formatter.formatException does: an exception whose
    # message ends in newlines keeps the rest, so the lines stay the ones logging wrote.
    return text[:-1] if text.endswith("\n") else text


def _debug_written(ha_env: Mapping[str, str]) -> bool:
    """Whether any destination takes debug lines."""
    return debug_enabled(ha_env) or ha_env.get("HA_DEBUGLOG", "") not in ("", "/dev/null")
