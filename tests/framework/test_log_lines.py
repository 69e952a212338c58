"""Every agent's log lines, written without the logging module, are the ones logging wrote.

``hakit.envelope.log.LazyLogger`` replaced, for the OCF agents, a ``logging.Logger`` with a
StreamHandler, two FileHandlers and a SysLogHandler, and for the fence agents one with a
StreamHandler and a debug_file handler; each destination is compared here with what those
handlers write for the same records, for any message (hypothesis).
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hakit.envelope import log as lazylog
from hakit.fence.log import make_logger

if TYPE_CHECKING:
    from collections.abc import Sequence

TAG = "hakit-vip(web-ip)"
SECRET = "s3cr3t-pw"


class MaskSecrets(logging.Filter):
    """The filter the agents' ``logging`` loggers had: secrets masked and the message made
    safe to write (``hakit.envelope.log.clean``)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "hakit_shown", False):
            return True  # already done by another handler's copy of this filter
        record.msg = lazylog.clean(record.getMessage(), self._secrets, record.levelno)
        record.args = None
        record.hakit_shown = True
        return True


def _reference(env: dict[str, str], stderr: io.StringIO, syslog_path: str) -> logging.Logger:
    """What the OCF agents built with ``logging`` before, with the same masking filter."""
    debug = lazylog.debug_enabled(env)
    logger = logging.Logger(TAG, logging.DEBUG)
    masked = MaskSecrets([SECRET])
    stamp = logging.Formatter(f"%(asctime)s {TAG}[%(process)d]: %(levelname)s: %(message)s",
                              "%b %d %H:%M:%S")

    def add(handler: logging.Handler, level: int, fmt: logging.Formatter) -> None:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        handler.addFilter(masked)
        logger.addHandler(handler)

    add(logging.StreamHandler(stderr), logging.DEBUG if debug else logging.INFO,
        logging.Formatter(f"{TAG}: %(levelname)s: %(message)s"))
    add(logging.FileHandler(env["HA_LOGFILE"], encoding="utf-8"),
        logging.DEBUG if debug else logging.INFO, stamp)
    add(logging.FileHandler(env["HA_DEBUGLOG"], encoding="utf-8"), logging.DEBUG, stamp)
    add(logging.handlers.SysLogHandler(syslog_path, logging.handlers.SysLogHandler.LOG_LOCAL3),
        logging.DEBUG if debug else logging.INFO,
        logging.Formatter(f"{TAG}[%(process)d]: %(levelname)s: %(message)s"))
    return logger


def _write(logger: logging.Logger, message: str) -> None:
    logger.debug("debug: %s", message)
    logger.info("added %s with %s", message, SECRET)
    logger.warning("%s", message * 30)  # beyond the 1000-character cut below DEBUG
    try:
        raise ValueError(message)
    except ValueError:
        logger.exception("crashed: %s", message)


def _lines(tmp: Path, kind: str, debug: bool, message: str,
           monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str, list[bytes]]:
    path = tmp / f"{kind}.sock"
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    env = {"HA_LOGFILE": str(tmp / f"{kind}.log"), "HA_DEBUGLOG": str(tmp / f"{kind}.debug"),
           "HA_LOGFACILITY": "local3", "HA_debug": "1" if debug else "0"}
    for name in ("HA_LOGFILE", "HA_DEBUGLOG"):
        Path(env[name]).write_text("")
    stderr = io.StringIO()
    try:
        if kind == "logging":
            logger = _reference(env, stderr, str(path))
        else:
            monkeypatch.setattr(lazylog, "SYSLOG_SOCKET", str(path))
            logger = lazylog.for_resource_agent(TAG, env, [SECRET], stderr)
        _write(logger, message)
        if kind == "logging":
            for handler in logger.handlers:
                handler.close()
        server.settimeout(0.2)
        datagrams = []
        try:
            while True:
                datagrams.append(server.recv(1 << 16))
        except OSError:
            pass
    finally:
        server.close()
    return (stderr.getvalue(), Path(env["HA_LOGFILE"]).read_text(),
            Path(env["HA_DEBUGLOG"]).read_text(), datagrams)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60), st.booleans())
@example("\n", False)  # an exception message ending in a newline (found by a CI run)
def test_lines_are_what_logging_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      message: str, debug: bool) -> None:
    theirs = _lines(tmp_path, "logging", debug, message, monkeypatch)
    ours = _lines(tmp_path, "lazylog", debug, message, monkeypatch)
    # The files carry a timestamp to the second: equal unless the second turned between.
    assert ours[0] == theirs[0]
    assert ours[3] == theirs[3]
    for mine, reference in zip(ours[1:3], theirs[1:3]):
        assert [line[16:] for line in mine.splitlines()] == [
            line[16:] for line in reference.splitlines()]
    assert SECRET not in "".join(ours[:3])


def test_nothing_is_opened_until_a_line_is_written(tmp_path: Path) -> None:
    log = tmp_path / "ha.log"
    logger = lazylog.for_resource_agent(TAG, {"HA_LOGFILE": str(log)}, [], io.StringIO())
    logger.debug("below the level: dropped at once")
    assert not log.exists()
    logger.info("now")
    assert log.read_text().endswith(f"{TAG}[{os.getpid()}]: INFO: now\n")


def test_an_unwritable_destination_does_not_fail_the_action(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No log directory, no syslog socket (as in a container): stderr still gets the line.
    monkeypatch.setattr(lazylog, "SYSLOG_SOCKET", str(tmp_path / "no-syslog"))
    err = io.StringIO()
    logger = lazylog.for_resource_agent(
        TAG, {"HA_LOGFILE": str(tmp_path / "missing" / "ha.log"), "HA_LOGFACILITY": "daemon"},
        [], err)
    logger.error("still %s", "written")
    assert err.getvalue() == f"{TAG}: ERROR: still written\n"


# -- the fence agents' lines --------------------------------------------------------------

FENCE = "fence_hakit"


def _fence_reference(stderr: io.StringIO, secrets: Sequence[str], *, verbose: bool,
                     quiet: bool, debug_file: str) -> logging.Logger:
    """What hakit.fence.log.make_logger built with ``logging`` before (a debug file that opens)."""
    logger = logging.Logger(FENCE, logging.DEBUG)
    masked = MaskSecrets(secrets)
    handler: logging.Handler = logging.StreamHandler(stderr)
    handler.setLevel(logging.DEBUG if verbose else (logging.ERROR if quiet else logging.INFO))
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(masked)
    logger.addHandler(handler)
    handler = logging.FileHandler(debug_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s {FENCE}[%(process)d]: %(levelname)s: %(message)s"))
    handler.addFilter(masked)
    logger.addHandler(handler)
    return logger


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60), st.booleans(),
       st.booleans())
def test_fence_lines_are_what_logging_wrote(tmp_path: Path, message: str, verbose: bool,
                                            quiet: bool) -> None:
    written = []
    for kind in ("logging", "envelope"):
        debug = tmp_path / f"{kind}.debug"
        debug.write_text("")
        stderr = io.StringIO()
        if kind == "logging":
            logger = _fence_reference(stderr, [SECRET], verbose=verbose, quiet=quiet,
                                      debug_file=str(debug))
        else:
            logger = make_logger(FENCE, stderr, [SECRET], verbose=verbose, quiet=quiet,
                                 debug_file=str(debug))
        _write(logger, message)
        for handler in logger.handlers if kind == "logging" else ():
            handler.close()
        if kind == "envelope":
            logger.close()
        written.append((stderr.getvalue(), debug.read_text()))
    theirs, ours = written
    assert ours[0] == theirs[0]
    # Each line stamped as "2026-12-04 07:42:11,123 "; the times themselves differ.
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?=fence_hakit\[)", re.M)
    assert len(stamp.findall(ours[1])) == len(stamp.findall(theirs[1])) > 0
    assert stamp.sub("", ours[1]) == stamp.sub("", theirs[1])
    assert SECRET not in ours[0] + ours[1]


def test_a_refused_debug_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "target")
    err = io.StringIO()
    logger = make_logger(FENCE, err, [], verbose=False, quiet=False,
                         debug_file=str(tmp_path / "link"))
    assert err.getvalue().startswith(f"WARNING: cannot open debug_file {tmp_path}/link: ")
    logger.close()
