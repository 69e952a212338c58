"""The pyghmi lost-wake-up fix: register first, then return at once if the answer is queued."""

from __future__ import annotations

import collections
import shutil
import threading
import types
from pathlib import Path
from typing import Any

from pyghmi.ipmi.private import session as real_session

from hakit.fence import pyghmi_wait
from tests.fence.conftest import FENCE_HAKIT, run_fence
from tests.harness.bmc import IpmiSim
from tests.harness.ocf import LIB


class _Sock:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, where: Any) -> None:
        self.sent.append(data)

    def getsockname(self) -> tuple[str, int]:
        return ("::1", 1)


def _unfixed_module() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        ioqueue=collections.deque(), iosockets=[_Sock()], sessionqueue=collections.deque(),
        selectdeadline=10**9, myself="::1", Session=types.SimpleNamespace(bmc_handlers={}),
        _monotonic_time=lambda: 100.0, _io_wait=lambda *a, **k: None)


def _module(queued_for: Any = None) -> types.SimpleNamespace:
    sess = types.SimpleNamespace(pktqueue=collections.deque([b"answer"] if queued_for else []))
    handlers = {queued_for: {623: sess}} if queued_for else {}
    mod = types.SimpleNamespace(
        ioqueue=collections.deque(), iosockets=[_Sock()], sessionqueue=collections.deque(),
        selectdeadline=10**9, myself="::1", Session=types.SimpleNamespace(bmc_handlers=handlers),
        _monotonic_time=lambda: 100.0, _io_wait=lambda *a, **k: None)
    pyghmi_wait.apply(mod)
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


def test_apply_is_idempotent() -> None:
    mod = _module()
    fixed = mod._io_wait
    pyghmi_wait.apply(mod)
    assert mod._io_wait is fixed


def test_the_installed_pyghmi_is_a_reviewed_version() -> None:
    # Fails when python3-pyghmi changes: review its _io_wait, _poller, _io_graball, I/O
    # worker and Session.awaitresponse/_cmdwait against the fix, then add the new digest
    # to pyghmi_wait.REVIEWED (or drop the fix if pyghmi fixed the race itself).
    digest = pyghmi_wait.source_digest(real_session)
    assert digest in pyghmi_wait.REVIEWED, (
        f"python3-pyghmi changed (session.py sha256 {digest}): review hakit's lost-wake-up "
        "fix against it")
    assert all(hasattr(real_session, n) for n in ("ioqueue", "iosockets", "sessionqueue",
                                                   "selectdeadline", "myself", "Session",
                                                   "_monotonic_time", "_io_wait"))


def test_install_leaves_an_unreviewed_pyghmi_alone_and_says_why(tmp_path: Path) -> None:
    changed = tmp_path / "session.py"
    changed.write_bytes(Path(real_session.__file__).read_bytes() + b"# a new release\n")
    mod = _unfixed_module()
    mod.__file__ = str(changed)
    before = mod._io_wait
    problem = pyghmi_wait.install(mod)
    assert problem is not None and "not a version reviewed" in problem
    assert mod._io_wait is before
    mod.__file__ = real_session.__file__
    assert pyghmi_wait.install(mod) is None and mod._io_wait is not before


def test_an_unreviewed_pyghmi_warns_on_every_run_and_fences(sim: IpmiSim,
                                                           tmp_path: Path) -> None:
    # A changed pyghmi ahead of Debian's on the path, as after an upgrade.
    copy = tmp_path / "site" / "pyghmi"
    shutil.copytree(Path(real_session.__file__).parents[2], copy)
    with open(copy / "ipmi" / "private" / "session.py", "a") as source:
        source.write("# a new release\n")
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off"),
                       env={"PYTHONPATH": f"{tmp_path / 'site'}:{LIB}"})
    assert result.rc == 0, result.out
    assert "WARNING: pyghmi's session module is not a version reviewed" in result.stderr
    assert not sim.power
