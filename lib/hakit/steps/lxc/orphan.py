"""An init that outlived LXC's monitor process: found from the start marker, killed.

LXC 5 does not kill the container when its monitor process (``[lxc monitor]``) dies;
liblxc then finds no command socket and says STOPPED while the container's processes still
use its filesystem.  The PID and starttime the start marker keeps identify that init.
"""

from __future__ import annotations

import os

from hakit.formats import procstat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context


def orphaned_init(record: dict[str, int]) -> Optional[int]:
    """The PID of the container's init if it still runs although LXC reports STOPPED."""
    pid, start = record.get("init_pid"), record.get("init_start")
    if not pid or start is None:
        return None
    return pid if procstat.starttime(pid) == start else None


def kill_orphan(ctx: Context, pid: int, start: int, name: str) -> None:
    """SIGKILL the orphaned init through a pidfd (no PID-reuse race) and wait for it.

    Killing a PID namespace's init kills every process in it (pid_namespaces(7)).
    """
    # Only stop needs these (a monitor is a new process every few seconds: start-up cost,
    # see docs/developing.md).
    import contextlib
    import signal

    ctx.log.warning("container %s: LXC's monitor is gone but its init (PID %d) still "
                    "runs; killing it", name, pid)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if procstat.starttime(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    ctx.deadline.poll(lambda: True if procstat.starttime(pid) != start else None,
                      f"waiting for the orphaned init (PID {pid}) of {name} to die",
                      0.02, 0.25)
