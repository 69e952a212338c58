"""A fence agent's logger: the envelope's (``hakit.envelope.log``) with fence-agents' lines.

Errors always reach stderr as ``LEVEL: message`` (pacemaker-fenced logs the agent's
stderr); info only without ``quiet``; debug only with ``verbose``.  ``debug_file`` gets
everything, stamped as the ``logging`` module stamps (``2026-12-04 07:42:11,123``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Optional, TextIO

from hakit.envelope.log import DEBUG, ERROR, INFO, LazyLogger, file_writer, stream_writer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hakit.envelope.log import Writer


def make_logger(name: str, stderr: TextIO, secrets: Sequence[str], *, verbose: bool,
                quiet: bool, debug_file: Optional[str]) -> LazyLogger:
    """A logger for this run; ``secrets`` is shared: what is added to it later is masked too.

    The debug file is opened at once, so that a refused one is reported even when nothing
    else is logged; ``LazyLogger.close`` closes it.
    """
    level = DEBUG if verbose else (ERROR if quiet else INFO)
    outputs: list[tuple[int, Writer]] = [(level, stream_writer(stderr))]
    logger = LazyLogger(lambda: outputs, DEBUG, secrets)
    if debug_file:
        try:
            handle = _open_private(debug_file)
        except OSError as exc:
            logger.warning("cannot open debug_file %s: %s", debug_file, exc.strerror)
        else:
            outputs.append((DEBUG, file_writer(handle, name, _asctime)))
            logger.close_with(handle.close)
    return logger


def _asctime() -> str:
    """The time as ``logging.Formatter`` writes ``%(asctime)s``."""
    now = time.time()
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))},{int((now % 1) * 1000):03d}"


def _open_private(path: str) -> TextIO:
    """Open for appending a file only its owner can read: it holds protocol traces.

    Created 0600, and a file that already exists is narrowed to 0600 (it is about to
    receive them); a symbolic link is refused (O_NOFOLLOW), as the agent runs as root and
    the path may be in a directory others can write.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                 | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
