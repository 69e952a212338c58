"""A fix for a lost wake-up in pyghmi's I/O wait (python3-pyghmi 1.5.x).

pyghmi runs one I/O thread that reads every answer and queues it on its session; a caller
waiting for an answer registers an event (``session._io_wait``) that the thread sets when
a packet from that BMC arrives.  The caller registers *after* sending, so when the BMC
answers within a millisecond (it usually does) the thread may read the answer before the
event exists.  The caller then sleeps until pyghmi's retransmit timer (0.5-1 s,
randomised) although its answer is already queued: about one fence_hakit run in five lost
0.5-1 s this way, time a failover spends with the service down (see BENCHMARKS.md).

``install`` replaces the module's ``_io_wait`` with one that registers first and then
checks whether an answer is already queued, so the wake-up can no longer be missed: a
packet read before the check is seen by the check, one read after it finds the event.
Only the two waits that take their answer from a queue are short-cut (``awaitresponse``'s,
and ``_poller``'s, which has no address); the per-session command wait keeps pyghmi's
behaviour, as it does not consume the queue and would otherwise spin.
"""

from __future__ import annotations

import threading
from typing import Any, Optional


def _answer_queued(mod: Any, myaddr: Optional[Any]) -> bool:
    if myaddr is None:
        return bool(mod.sessionqueue)
    handlers = mod.Session.bmc_handlers.get(myaddr, {})
    return any(getattr(sess, "pktqueue", None) for sess in list(handlers.values()))


def install(mod: Any) -> None:
    """Replace ``mod._io_wait`` (``mod``: ``pyghmi.ipmi.private.session``); idempotent.

    Left alone when the module does not look like the one this was written against.
    """
    original = getattr(mod, "_io_wait", None)
    needed = ("ioqueue", "iosockets", "sessionqueue", "selectdeadline", "myself", "Session",
              "_monotonic_time")
    if original is None or getattr(original, "hakit_fixed", False) or not all(
            hasattr(mod, name) for name in needed):
        return

    def io_wait(timeout: float, myaddr: Optional[Any] = None,
                evq: Optional[Any] = None) -> None:
        evt = threading.Event()
        if evq is not None:
            evq.append(evt)
        deadline = timeout + mod._monotonic_time()  # pyghmi's clock, as selectdeadline
        mod.ioqueue.append((deadline, evt, myaddr))
        if evq is None and _answer_queued(mod, myaddr):
            return  # read by the I/O thread before our event was queued
        if deadline < mod.selectdeadline:  # wake the I/O thread so it takes our deadline
            sock = mod.iosockets[0]
            sock.sendto(b"\x01", (mod.myself, sock.getsockname()[1]))
        evt.wait()

    io_wait.hakit_fixed = True  # type: ignore[attr-defined]
    mod._io_wait = io_wait
