"""The only reasons a test may be skipped in `make test`: properties of the host this
project accepts.  Any other skip (not root, Ceph or QEMU or a Debian package missing...)
makes the run fail and names what is missing (tests/harness/skipguard.py), so that a run
cannot pass while quietly testing nothing.

`make deps` installs every package the tests need and `make test` runs as root, so today no
skip is accepted.  Add an entry only for what a CI machine cannot be asked to change, with
the reason it is acceptable; the skip's message must start with ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class AcceptedSkip:
    reason: str  # the start of the skip message (pytest.skip's text)
    why: str  # why a run on such a host still tests what matters


ACCEPTED: tuple[AcceptedSkip, ...] = ()


def accepted(message: str, entries: Optional[tuple[AcceptedSkip, ...]] = None) -> bool:
    """Whether a skip with this message is for an accepted host property (``ACCEPTED``
    unless ``entries`` are given)."""
    return any(message.startswith(entry.reason)
               for entry in (ACCEPTED if entries is None else entries))
