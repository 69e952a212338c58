"""Logging the way ClusterLabs agents do: HA_LOGFILE, HA_DEBUGLOG, syslog, HA_debug.

Each agent run builds its own logger (never registered globally); every line names the
resource instance, and secrets are masked before anything is written.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys

from hakit import shown
from hakit.ocf.environment import debug_enabled
from hakit.os.runner import mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Optional, TextIO

class MaskSecrets(logging.Filter):
    """Replaces secret strings in every record's final message, and makes the message safe
    to write (``hakit.shown.log_text``: no control characters, continuation lines
    indented, at most ``LOG_LIMIT`` characters below DEBUG), whatever input it quotes."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "hakit_shown", False):
            return True  # already done by another handler's copy of this filter
        message = record.getMessage()
        if self._secrets:
            message = mask(message, self._secrets)
        limit = shown.LOG_LIMIT if record.levelno > logging.DEBUG else 0
        record.msg = shown.log_text(message, limit)
        record.args = None
        record.hakit_shown = True
        return True


def make_logger(
    tag: str,
    ha_env: Mapping[str, str],
    secrets: Sequence[str] = (),
    stderr: Optional[TextIO] = None,
) -> logging.Logger:
    """A logger for one agent run.

    ``tag`` is shown in every line (``hakit-vip(web-ip)``).  Lines go to stderr, which
    pacemaker-execd records, to HA_LOGFILE, and to syslog when HA_LOGFACILITY names a
    facility; debug lines only with HA_debug=1, or to HA_DEBUGLOG.
    """
    debug = debug_enabled(ha_env)
    logger = logging.Logger(tag, logging.DEBUG)
    secret_filter = MaskSecrets(secrets)
    stamp = logging.Formatter(f"%(asctime)s {tag}[%(process)d]: %(levelname)s: %(message)s",
                              "%b %d %H:%M:%S")

    def add(handler: logging.Handler, level: int, fmt: logging.Formatter) -> None:
        handler.setLevel(level)
        handler.setFormatter(fmt)
        handler.addFilter(secret_filter)
        logger.addHandler(handler)

    add(logging.StreamHandler(stderr or sys.stderr), logging.DEBUG if debug else logging.INFO,
        logging.Formatter(f"{tag}: %(levelname)s: %(message)s"))
    for var, level in (("HA_LOGFILE", logging.DEBUG if debug else logging.INFO),
                       ("HA_DEBUGLOG", logging.DEBUG)):
        path = ha_env.get(var, "")
        if path and path != "/dev/null":
            try:
                add(logging.FileHandler(path, encoding="utf-8"), level, stamp)
            except OSError:
                pass  # an unwritable log file must not fail the action
    facility = ha_env.get("HA_LOGFACILITY", "").lower()
    facilities = logging.handlers.SysLogHandler.facility_names
    if facility in facilities:
        try:
            handler = logging.handlers.SysLogHandler("/dev/log", facilities[facility])
            add(handler, logging.DEBUG if debug else logging.INFO,
                logging.Formatter(f"{tag}[%(process)d]: %(levelname)s: %(message)s"))
        except OSError:
            pass  # no syslog socket (containers, tests): stderr still has it
    return logger
