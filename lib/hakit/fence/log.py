"""Logging for one fence-agent run: stderr (verbose for debug), debug_file, masked secrets."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Optional, TextIO

from hakit.ocf.log import MaskSecrets


def make_logger(name: str, stderr: TextIO, secrets: Sequence[str], *, verbose: bool,
                quiet: bool, debug_file: Optional[str]) -> logging.Logger:
    """A logger for this run, never registered globally.

    Errors always reach stderr (pacemaker-fenced logs the agent's stderr); info only
    without ``quiet``; debug only with ``verbose``.  ``debug_file`` gets everything, with
    timestamps.  ``secrets`` is shared: what is added to it later is masked too.
    """
    logger = logging.Logger(name, logging.DEBUG)
    mask = MaskSecrets(secrets)
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.INFO)
    handler: logging.Handler = logging.StreamHandler(stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(mask)
    logger.addHandler(handler)
    if debug_file:
        try:
            handler = _PrivateFileHandler(debug_file)
        except OSError as exc:
            logger.warning("cannot open debug_file %s: %s", debug_file, exc.strerror)
        else:
            handler.setLevel(logging.DEBUG)
            handler.setFormatter(logging.Formatter(
                f"%(asctime)s {name}[%(process)d]: %(levelname)s: %(message)s"))
            handler.addFilter(mask)
            logger.addHandler(handler)
    return logger


class _PrivateFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Appends to a file only its owner can read: it holds protocol traces.

    Created 0600, and a file that already exists is narrowed to 0600 (it is about to
    receive them); a symbolic link is refused (O_NOFOLLOW), as the agent runs as root and
    the path may be in a directory others can write.
    """

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            stream = os.fdopen(fd, "a", encoding="utf-8")
        except BaseException:
            os.close(fd)
            raise
        super().__init__(stream)

    def close(self) -> None:
        try:
            self.flush()
            self.stream.close()
        finally:
            super().close()


def close(logger: logging.Logger) -> None:
    """Flush and close the run's handlers (the debug file)."""
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
