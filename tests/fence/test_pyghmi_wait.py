"""The pyghmi lost-wake-up fix: register first, then return at once if the answer is queued."""

from __future__ import annotations

import collections
import threading
import types
from typing import Any

from pyghmi.ipmi.private import session as real_session

from hakit.fence import pyghmi_wait


class _Sock:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, where: Any) -> None:
        self.sent.append(data)

    def getsockname(self) -> tuple[str, int]:
        return ("::1", 1)


def _module(queued_for: Any = None) -> types.SimpleNamespace:
    sess = types.SimpleNamespace(pktqueue=collections.deque([b"answer"] if queued_for else []))
    handlers = {queued_for: {623: sess}} if queued_for else {}
    mod = types.SimpleNamespace(
        ioqueue=collections.deque(), iosockets=[_Sock()], sessionqueue=collections.deque(),
        selectdeadline=10**9, myself="::1", Session=types.SimpleNamespace(bmc_handlers=handlers),
        _monotonic_time=lambda: 100.0, _io_wait=lambda *a, **k: None)
    pyghmi_wait.install(mod)
    return mod


def test_an_answer_already_queued_ends_the_wait_after_registering() -> None:
    mod = _module(queued_for=("10.0.0.1", 623))
    mod._io_wait(5.0, ("10.0.0.1", 623))  # would block forever if it waited
    assert len(mod.ioqueue) == 1  # registered first, so the I/O thread can still set it
    assert mod.iosockets[0].sent == []


def test_a_sessionless_wait_returns_when_any_session_has_work() -> None:
    mod = _module()
    mod.sessionqueue.append(object())
    mod._io_wait(5.0)
    assert len(mod.ioqueue) == 1


def test_otherwise_it_waits_for_the_io_thread_and_wakes_it() -> None:
    mod = _module()
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (mod._io_wait(1.0, ("10.0.0.2", 623)), done.set()))
    waiter.start()
    try:
        assert not done.wait(0.2)
        assert mod.iosockets[0].sent == [b"\x01"]  # its deadline is earlier than the select's
        _deadline, event, _addr = mod.ioqueue[0]
        event.set()  # what the I/O thread does when the answer arrives
        assert done.wait(2)
    finally:
        waiter.join(2)


def test_the_command_wait_keeps_pyghmis_behaviour() -> None:
    # _cmdwait passes evq and does not consume the packet queue: returning early would spin.
    mod = _module(queued_for=("10.0.0.1", 623))
    evq: list[threading.Event] = []
    waiter = threading.Thread(target=mod._io_wait, args=(1.0, ("10.0.0.1", 623), evq),
                              daemon=True)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()
    evq[0].set()
    waiter.join(2)


def test_install_is_idempotent_and_fits_the_installed_pyghmi() -> None:
    mod = _module()
    fixed = mod._io_wait
    pyghmi_wait.install(mod)
    assert mod._io_wait is fixed
    odd = types.SimpleNamespace(_io_wait=lambda: None)  # another pyghmi layout: left alone
    before = odd._io_wait
    pyghmi_wait.install(odd)
    assert odd._io_wait is before
    # The installed python3-pyghmi has every name the fix relies on.
    assert all(hasattr(real_session, n) for n in ("ioqueue", "iosockets", "sessionqueue",
                                                   "selectdeadline", "myself", "Session",
                                                   "_monotonic_time", "_io_wait"))
