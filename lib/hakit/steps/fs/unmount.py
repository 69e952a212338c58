"""ocf:hakit:fs's stop: unmount the filesystem and everything below it; when it stays busy,
signal only the processes that really hold it (found through /proc by mount id), TERM then
KILL, within the action's deadline."""

from __future__ import annotations

import os

from hakit.errors import ActionTimeout, GenericError
from hakit.os import blockdev, mountinfo, mounting
from hakit.os.blockdev import Device
from hakit.steps.fs.mounted import mount_point, our_mounts

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import logging
    import signal
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.steps.fs.config import FsConfig


def _tree(cfg: FsConfig) -> list[mountinfo.MountEntry]:
    """Our mounts on the directory and everything mounted below them, parents first."""
    entries = mountinfo.read()
    tree: list[mountinfo.MountEntry] = []
    for ours in our_mounts(cfg, entries):
        if ours not in tree:
            tree.append(ours)
            tree.extend(e for e in mountinfo.descendants(entries, ours.mount_id)
                        if e not in tree)
    return tree


def _unmount_all(tree: list[mountinfo.MountEntry]) -> list[mountinfo.MountEntry]:
    """Unmount children before parents; return the mounts that were busy."""
    busy = []
    for entry in reversed(tree):
        try:
            mounting.umount(entry.mount_point)
        except mounting.MountBusy:
            busy.append(entry)
    return busy


def _signal_holders(cfg: FsConfig, log: logging.Logger, tree: list[mountinfo.MountEntry],
                    sig: signal.Signals) -> list[str]:
    """Send ``sig`` to every process holding a mount of ``tree``; describe them."""
    from hakit.os import holders  # only stop needs it

    mounts = [(os.makedev(e.major, e.minor), e.mount_id) for e in tree]
    # force_unmount=true also counts references through other mounts of our own
    # filesystem (tree[0]'s device), never of a submount's, which may be a bind of /.
    wider = [mounts[0][0]] if cfg.unmount.force == "true" else []
    protected = holders.protected_pids()
    named = []
    for holder in holders.find_holders(mounts, wider):
        if holder.pid in protected:
            log.error("not signalling %s: it is this agent or one of its callers", holder)
            continue
        if holders.start_time(holder.pid) != holder.start_time:
            continue  # it exited (and the PID may already be someone else's)
        named.append(str(holder))
        log.warning("sending %s to %s", sig.name, holder)
        try:
            os.kill(holder.pid, sig)
        except ProcessLookupError:
            pass
    return named


def _unmounted_within(cfg: FsConfig, deadline: Deadline, seconds: float) -> bool:
    """Retry the unmount for up to ``seconds`` while signalled holders exit."""
    def attempt() -> Optional[bool]:
        tree = _tree(cfg)
        if tree:
            _unmount_all(tree)
        return True if not _tree(cfg) else None
    try:
        return deadline.within(seconds).poll(attempt, "unmounting", interval=0.02,
                                             max_interval=0.2)
    except ActionTimeout:
        return False


def stop(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    """Unmount, escalating through ``cfg.unmount``'s signals; fail (so that Pacemaker
    escalates to fencing) only when the mount is still busy at the deadline."""
    directory = mount_point(cfg)
    tree = _tree(cfg)
    if not tree:
        ctx.log.info("%s is not mounted", directory)
        return None
    ours = Device(tree[0].source, os.makedev(tree[0].major, tree[0].minor))
    force = cfg.unmount.force
    signals = cfg.unmount.signals
    last = signals[-1] if signals else None
    delay = cfg.unmount.delay
    held_by: list[str] = []
    while True:
        _unmount_all(tree)
        tree = _tree(cfg)
        if not tree:
            break
        if ctx.deadline.remaining() <= 0.2:
            if held_by:
                why = f", held by {'; '.join(held_by)}"
            elif force == "false":
                why = " (force_unmount=false)"
            else:
                why = (" and no process to signal holds it (the agent's caller, a loop "
                       "device or swap file on it, an NFS export?)")
            raise GenericError(f"cannot unmount {directory}: still busy{why}")
        # Escalate through the signals; once they are used up keep resending the last one
        # (a holder in uninterruptible I/O dies when the I/O ends) until the deadline,
        # then fail, so that Pacemaker escalates (fencing).
        sig = signals.pop(0) if signals else last
        found = _signal_holders(cfg, ctx.log, tree, sig) if sig is not None else []
        held_by = found or held_by
        if _unmounted_within(cfg, ctx.deadline, delay if found else min(delay, 0.5)):
            break
        tree = _tree(cfg)
    ctx.log.info("unmounted %s", directory)
    if blockdev.kernel_has_mounted(ours):
        # Another mount of the same filesystem (a bind mount, or a copy in another mount
        # namespace) keeps the device in use; the layer below (rbd unmap) will see it.
        ctx.log.warning("the filesystem of %s is still mounted elsewhere on this node",
                        ours.path)
    return None
