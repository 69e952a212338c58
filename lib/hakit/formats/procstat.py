"""``/proc/PID/stat``: the one parser of a process's state and start time.

A PID and its start time name one process for good (a PID reused later has another start
time), which is how hakit avoids signalling a stranger.  The command name (field 2) is in
parentheses and may itself hold spaces and parentheses, so fields are counted after its
last ``)`` (proc(5)).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional


def parse(text: str) -> tuple[str, int]:
    """(state, start time in clock ticks after boot); ValueError when malformed."""
    close = text.rfind(")")
    if close < 0:
        raise ValueError("no command name in stat")
    fields = text[close + 1:].split()
    if len(fields) < 20:
        raise ValueError("too few fields in stat")
    if not fields[19].isdigit():
        raise ValueError("start time is not a number")
    return fields[0], int(fields[19])


def starttime(pid: int) -> Optional[int]:
    """The start time of process ``pid``, or None once it is gone (or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            return parse(handle.read())[1]
    except (OSError, ValueError):
        return None
