"""A fix for a lost wake-up in pyghmi's I/O wait (python3-pyghmi 1.5.x).

pyghmi runs one I/O thread that reads every answer and queues it on its session; a caller
waiting for an answer registers an event (``session._io_wait``) that the thread sets when
a packet from that BMC arrives.  The caller registers *after* sending, so when the BMC
answers within a millisecond (it usually does) the thread may read the answer before the
event exists.  The caller then sleeps until pyghmi's retransmit timer (0.5-1 s,
randomised) although its answer is already queued: about one fence_hakit run in five lost
0.5-1 s this way, time a failover spends with the service down (see BENCHMARKS.md).

``apply`` replaces the module's ``_io_wait`` with one that registers first and then
checks whether an answer is already queued, so the wake-up can no longer be missed: a
packet read before the check is seen by the check, one read after it finds the event.
Only the two waits that take their answer from a queue are short-cut (``awaitresponse``'s,
and ``_poller``'s, which has no address); the per-session command wait keeps pyghmi's
behaviour, as it does not consume the queue and would otherwise spin.

This replaces a private function, which pyghmi may change in any release, so ``install``
applies it only to the exact ``session.py`` it was written and tested against (its
SHA-256 in ``REVIEWED``).  Any other version runs unpatched, and says so loudly: a warning
on every run (``ipmi.open_bmc``), and a failing test (tests/fence/test_pyghmi_wait.py),
which is the cue to review the new code and add its digest, or drop the fix.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Optional

#: SHA-256 of pyghmi/ipmi/private/session.py versions whose ``_io_wait``, ``_poller``,
#: ``_io_graball``, I/O worker and ``Session.awaitresponse``/``_cmdwait`` were reviewed
#: for this fix.
REVIEWED = {
    "d717c64b6d400bfc7f37f11b1a7a98bf999841cf87b6476ca103565431748112": "1.5.34 (Debian 12)",
}


def _answer_queued(mod: Any, myaddr: Optional[Any]) -> bool:
    if myaddr is None:
        return bool(mod.sessionqueue)
    handlers = mod.Session.bmc_handlers.get(myaddr, {})
    return any(getattr(sess, "pktqueue", None) for sess in list(handlers.values()))


def source_digest(mod: Any) -> str:
    """The SHA-256 of the module's source file (``mod.__file__``)."""
    with open(mod.__file__, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def install(mod: Any) -> Optional[str]:
    """Apply the fix to ``mod`` (``pyghmi.ipmi.private.session``) if it is a reviewed
    version; None when applied (now or before), else why it was not."""
    if getattr(getattr(mod, "_io_wait", None), "hakit_fixed", False):
        return None
    try:
        digest = source_digest(mod)
    except (AttributeError, TypeError, OSError) as exc:
        return f"cannot read pyghmi's session module to check its version: {exc}"
    if digest not in REVIEWED:
        return (f"pyghmi's session module is not a version reviewed for hakit's lost-wake-up "
                f"fix (sha256 {digest[:16]}..., reviewed: "
                f"{', '.join(REVIEWED.values())})")
    apply(mod)
    return None


def apply(mod: Any) -> None:
    """Replace ``mod._io_wait``, unconditionally but idempotently (``install`` checks)."""
    if getattr(getattr(mod, "_io_wait", None), "hakit_fixed", False):
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
