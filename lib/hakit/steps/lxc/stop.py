"""Stop a container: a clean shutdown, bounded, then the kill; and an orphaned init.

Stop never fails on bad configuration (OCF; Pacemaker fences after a failed stop): an
lxcpath LXC cannot use, or a configuration file that is broken or gone, still leaves the
start marker and liblxc's state by name to stop from.
"""

from __future__ import annotations

from hakit.errors import GenericError, HakitError
from hakit.os import containers
from hakit.steps.lxc import host
from hakit.steps.lxc.orphan import kill_orphan, orphaned_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.os.containers import Container
    from hakit.steps.lxc.config import LxcConfig
    from hakit.steps.lxc.marker import StartMarker

#: Keep this much of stop's time for the kill after an ignored clean shutdown.
KILL_RESERVE_MAX = 5.0


def stop(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    marker = host.marker(cfg)
    if not host.lxcpath_usable(cfg, ctx):
        _stopped(ctx, marker, cfg.name)
        return None
    halt_signal: Optional[int] = None
    try:
        ct = host.open_container(cfg)
        halt_signal = host.halt_signal(cfg, ct)
    except HakitError as exc:
        # The configuration only supplies the halt signal, also kept in the marker at
        # start: a broken or vanished file must not keep stop (which never fails on bad
        # configuration) from working.
        ctx.log.warning("stopping without the configuration file: %s", exc.reason)
        ct = host.open_container(cfg, with_config=False)
        halt_signal = (marker.read() or {}).get("halt_signal") or host.halt_signal(cfg, ct)
    deadline = ctx.deadline
    state = ct.state()
    if state == containers.STOPPED:
        _stopped(ctx, marker, ct.name)
        return None
    if state not in (containers.FROZEN, containers.FREEZING):
        _shut_down(cfg, ctx, ct, deadline, halt_signal)
    if ct.state() != containers.STOPPED:
        ctx.log.warning("container %s did not shut down cleanly; killing it", ct.name)
        if not ct.kill() and ct.state() != containers.STOPPED:
            raise GenericError(f"LXC could not kill container {ct.name}")
        deadline.poll(lambda: True if ct.state() == containers.STOPPED else None,
                      f"waiting for container {ct.name} to die after the kill", 0.02, 0.25)
    marker.remove()
    ctx.log.info("container %s stopped", ct.name)
    return None


def _stopped(ctx: Context, marker: StartMarker, name: str) -> None:
    """Stop of a container LXC reports STOPPED: kill an init that outlived its LXC
    monitor (the marker identifies it), then forget the start."""
    record = marker.read()
    orphan = orphaned_init(record) if record else None
    if record and orphan is not None:
        kill_orphan(ctx, orphan, record["init_start"], name)
    marker.remove()
    ctx.log.info("container %s is already stopped", name)


def _shut_down(cfg: LxcConfig, ctx: Context, ct: Container, deadline: Deadline,
               halt_signal: Optional[int]) -> None:
    """Ask init to shut down and wait, bounded by stop_timeout and the kill reserve.

    The halt signal is sent again after 1, 3, 7... seconds: the init of a PID namespace
    drops signals it has no handler for yet (pid_namespaces(7)), so one sent right after
    start can be lost, and waiting out the whole timeout for it would only delay the kill.
    An init already shutting down ignores the repeats.
    """
    left = deadline.remaining()
    budget = left - min(KILL_RESERVE_MAX, left / 4)
    if cfg.stop_timeout is not None:
        budget = min(budget, cfg.stop_timeout)
    if budget < 1:  # liblxc waits in whole seconds; too little time to bother
        return
    if halt_signal is not None:
        ct.set_halt_signal(halt_signal)
    ctx.log.info("shutting container %s down (waiting up to %ds)", ct.name, int(budget))
    window = deadline.within(budget)
    step = 1
    while True:
        wait = min(step, int(window.remaining()))
        if wait < 1:
            return
        if ct.shutdown(wait) or ct.state() == containers.STOPPED:
            return
        step *= 2
        ctx.log.info("container %s is still %s; sending the halt signal again", ct.name,
                     ct.state())
