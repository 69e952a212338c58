"""ocf:hakit:fs — check and mount an ext4 or XFS filesystem on a block device; stop always
unmounts.

start waits (bounded) for the device, reads its superblock directly, refuses a filesystem
another node holds (MMP, ext4), runs e2fsck when the superblock says it was not cleanly
unmounted or has errors (XFS: see ``hakit.steps.fs.check.xfs_check``), and mounts with
mount(2).  stop unmounts submounts first; when the mount is busy it signals only the
processes that really hold it (found through /proc by mount id), TERM then KILL, within the
action's deadline.  The steps live in ``hakit.steps.fs``; this module declares the agent.
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, Context, configured
from hakit.ocf.params import Values
from hakit.steps.fs import actions, config, monitor


def _validate(values: Values) -> None:
    """validate-all depth 0 (and every action's parse): the checks across parameters."""
    config.from_values(values)


def _check_host(ctx: Context) -> None:
    """validate-all depth 10 and before start: this host can run the instance."""
    actions.check_host(config.from_values(ctx.params), ctx)


def _touches_device(action: str, check_level: int) -> bool:
    """Everything but the depth-0 monitor (the mount table only) does I/O on the device."""
    return action != "monitor" or check_level >= 10


AGENT = Agent(
    name="fs",
    version="0.1.0",
    shortdesc="ext4 or XFS filesystem on a block device",
    longdesc="Checks (e2fsck per the superblock; XFS: see fsck) and mounts an ext4 or XFS "
             "filesystem on a block device, refusing an ext4 one another node holds when mmp "
             "is set. Monitor depth 0 "
             "checks the mount table, 10 reads from the device, 20 writes, fsyncs and reads "
             "back a status file (" + monitor.STATUS_FILE + "). Stop always unmounts, "
             "signalling only the processes that really hold the mount.",
    params=config.PARAMS,
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=20),
        Action("monitor", 30, interval=60, depth=10),
        Action("monitor", 40, interval=120, depth=20),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    validate=_validate,
    check_environment=_check_host,
    reload_agent=configured(config.from_values, actions.reload),
    exclusive=True,
    device_io=_touches_device,
)
