"""The OCF agents' log lines, written without the logging module, are the ones logging wrote.

``hakit.ocf.lazylog.LazyLogger`` replaced a ``logging.Logger`` with a StreamHandler, two
FileHandlers and a SysLogHandler; each destination is compared here with what those
handlers write for the same records, for any message (hypothesis).
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hakit.ocf import lazylog
from hakit.ocf.log import MaskSecrets

TAG = "hakit-vip(web-ip)"
SECRET = "s3cr3t-pw"


def _reference(env: dict[str, str], stderr: io.StringIO, syslog_path: str) -> logging.Logger:
    """What hakit.ocf.log.make_logger built, with the same masking filter."""
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
            logger = lazylog.LazyLogger(TAG, env, [SECRET], stderr)
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
    logger = lazylog.LazyLogger(TAG, {"HA_LOGFILE": str(log)}, [], io.StringIO())
    logger.debug("below the level: dropped at once")
    assert not log.exists()
    logger.info("now")
    assert log.read_text().endswith(f"{TAG}[{os.getpid()}]: INFO: now\n")


def test_an_unwritable_destination_does_not_fail_the_action(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No log directory, no syslog socket (as in a container): stderr still gets the line.
    monkeypatch.setattr(lazylog, "SYSLOG_SOCKET", str(tmp_path / "no-syslog"))
    err = io.StringIO()
    logger = lazylog.LazyLogger(TAG, {"HA_LOGFILE": str(tmp_path / "missing" / "ha.log"),
                                      "HA_LOGFACILITY": "daemon"}, [], err)
    logger.error("still %s", "written")
    assert err.getvalue() == f"{TAG}: ERROR: still written\n"
