"""Deadlines: every wait and every outside call in an action takes its remaining time."""

from __future__ import annotations

import time

from hakit.errors import ActionTimeout

#: typing.TYPE_CHECKING without importing typing (start-up cost: see BENCHMARKS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, TypeVar

    T = TypeVar("T")


def process_age() -> float:
    """Seconds since this process was started (0 when /proc cannot tell).

    Pacemaker's timeout for an action runs from the fork of the agent, not from the moment
    the agent gets round to reading it: interpreter start-up counts.
    """
    import os  # already loaded by the interpreter; named here for clarity

    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError):
        return 0.0


class Deadline:
    """A point on the monotonic clock by which the current action must finish."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + max(0.0, seconds)

    @property
    def end(self) -> float:
        """The monotonic time at which the deadline passes."""
        return self._end

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, doing: str) -> None:
        """Raise ActionTimeout naming what was being done when the deadline has passed."""
        if self.expired():
            raise ActionTimeout(f"timed out {doing}")

    def within(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, but never later than this one."""
        child = Deadline(0.0, self._clock)
        child._end = min(self._end, self._clock() + max(0.0, seconds))
        return child

    def timeout(self, cap: Optional[float] = None) -> float:
        """The remaining time, optionally capped, as a timeout for one outside call."""
        left = self.remaining()
        return left if cap is None else min(left, cap)

    def sleep(self, seconds: float) -> None:
        """Sleep at most ``seconds``, and never past the deadline."""
        time.sleep(min(seconds, self.remaining()))

    def poll(
        self,
        probe: Callable[[], Optional[T]],
        doing: str,
        interval: float = 0.1,
        max_interval: float = 1.0,
    ) -> T:
        """Call ``probe`` until it returns something other than None, backing off gently.

        Raises ActionTimeout naming ``doing`` when the deadline passes first.
        """
        delay = interval
        while True:
            result = probe()
            if result is not None:
                return result
            if self.remaining() <= 0.0:
                raise ActionTimeout(f"timed out {doing}")
            self.sleep(delay)
            delay = min(delay * 1.5, max_interval)
