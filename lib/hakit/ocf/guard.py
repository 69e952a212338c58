"""An action whose I/O may block in the kernel, answered on time anyway.

A read, write, fsync, mount or unmount on a device whose backend is gone (krbd with its Ceph
cluster unreachable, a FUSE daemon stopped) waits in uninterruptible sleep.  Nothing inside
the process can bound that: not a timeout, not a thread, since a process only exits once
every one of its threads has, and a signal does not wake such a sleep.  Pacemaker would then
kill the agent at its timeout with no reason given, or wait for a stop that never returns.

So agents that touch such devices (``Agent.device_io``) run each action in a forked child,
whose output the parent relays.  The parent waits until halfway through the margin the
dispatcher keeps before Pacemaker's timeout (the child's own deadline ends at the start of
it); if the child has not exited by then, the parent kills it, without waiting, and answers
OCF_ERR_GENERIC with a reason itself.  The stuck child exits whenever the kernel lets go of
it, and init reaps it; Pacemaker gets a failure it can act on (recover, or fence the node).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

#: What a guarded action's parent answers when its child never finished.
HUNG = ("did not finish within its timeout: it is blocked in the kernel (a device whose "
        "storage or cluster does not answer?)")


class Child:
    """The forked child running the action, and the pipe carrying its stdout and stderr."""

    def __init__(self, pid: int, output: int) -> None:
        self.pid = pid
        self.output = output


def fork() -> Optional[Child]:
    """Fork; in the child (None), stdout and stderr now go to the parent through a pipe."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        return None
    os.close(write_end)
    return Child(pid, read_end)


def wait(child: Child, seconds: float) -> Optional[int]:
    """Relay the child's output until it exits; its exit code, or None when ``seconds``
    passed first (the child is then killed and left to the kernel)."""
    import select
    import time

    end = time.monotonic() + seconds
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([child.output], [], [], left)[0]:
                break
            chunk = os.read(child.output, 65536)
            if not chunk:  # the child closed its end: it is exiting
                _, status = os.waitpid(child.pid, 0)
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 1  # killed by a signal: a generic error
            _write_all(2, chunk)
    finally:
        os.close(child.output)
    import signal

    try:
        os.kill(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return None


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return  # our own caller stopped listening: nothing more can be said
