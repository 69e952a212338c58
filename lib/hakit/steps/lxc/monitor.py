"""Monitor a container: liblxc's state at depth 0 (no program runs), health_command at 10.

liblxc says STOPPED whether the cluster stopped the container or it died on its own; the
start marker tells which (rc 7 or rc 1), and finds an init that outlived LXC's monitor.
"""

from __future__ import annotations

from hakit.errors import ExitCode, GenericError, NotRunningError
from hakit.os import containers
from hakit.steps.lxc import host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.steps.lxc.config import LxcConfig


def monitor(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    found = host.open_for_state(cfg, ctx)
    if found is None:
        return _monitor_stopped(cfg, ctx, cfg.name, unusable=True)
    ct = found
    state = ct.state()
    if state in (containers.RUNNING, containers.THAWED):
        if ctx.check_level >= 10 and cfg.health_command is not None:
            # Depth 10 only: the depth-0 monitor (every 30 s) does not import it.
            from hakit.steps.lxc.health import run_health
            why = run_health(cfg, ctx, ct, ctx.deadline)
            if why is not None:
                raise GenericError(f"container {ct.name} is unhealthy: {why}")
        return None
    if state == containers.STOPPED:
        return _monitor_stopped(cfg, ctx, ct.name)
    raise GenericError(f"container {ct.name} is {state}")


def _monitor_stopped(cfg: LxcConfig, ctx: Context, name: str,
                     unusable: bool = False) -> Optional[ExitCode]:
    """A container LXC reports STOPPED (or cannot be asked about: ``unusable`` lxcpath):
    cleanly stopped, or failed (the marker says)."""
    record = host.marker(cfg).read()
    if record is None:
        if ctx.is_probe:
            # The expected answer of a probe on every node but one: said at debug level
            # only, since an INFO line costs the logging import (9 ms of CPU, a third
            # of the probe: start-up cost, see docs/developing.md).
            ctx.log.debug("container %s is stopped", name)
            return ExitCode.NOT_RUNNING
        raise NotRunningError(f"container {name} is stopped")
    # Only a container stopped behind the cluster's back gets here: not every probe.
    from hakit.steps.lxc.orphan import orphaned_init
    orphan = orphaned_init(record)
    if orphan is not None:
        if unusable:
            raise GenericError(f"container {name} still runs (init PID {orphan}) but "
                               f"parameter 'lxcpath' ({cfg.lxcpath}) is no longer "
                               "a directory LXC can use")
        raise GenericError(f"container {name} has lost its LXC monitor process; its "
                           f"init (PID {orphan}) still runs")
    pid = record.get("init_pid")
    raise GenericError(f"container {name} stopped, but not by the cluster"
                       + (f" (its init, PID {pid}, is gone)" if pid else ""))
