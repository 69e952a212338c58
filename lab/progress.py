"""Progress lines: one per step, with the time since the command began and the step's own."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Callable, Optional, TextIO


class Progress:
    """Prints ``[  12.3s] what (0.45s)`` as each step finishes; silent without a stream."""

    def __init__(self, out: Optional[TextIO] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def note(self, text: str) -> None:
        if self._out is not None:
            self._out.write(f"[{self.elapsed():7.2f}s] {text}\n")
            self._out.flush()

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        began = self._clock()
        try:
            yield
        except BaseException:
            self.note(f"{what}: FAILED after {self._clock() - began:.2f}s")
            raise
        self.note(f"{what} ({self._clock() - began:.2f}s)")
