"""Secrets masked in loggers built on the ``logging`` module (the fence agents').

The OCF agents' logger (``hakit.ocf.lazylog``) writes its lines without ``logging``; this
filter gives a ``logging`` logger the same masking and cleaning (``lazylog.clean``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hakit.ocf.lazylog import clean


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
        record.msg = clean(record.getMessage(), self._secrets, record.levelno)
        record.args = None
        record.hakit_shown = True
        return True
