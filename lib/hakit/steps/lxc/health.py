"""health_command: run inside the container with lxc-attach, once (monitor depth 10) or
until it succeeds (start)."""

from __future__ import annotations

from hakit.errors import ActionTimeout, GenericError
from hakit.os import containers
from hakit.steps.lxc.parsers import excerpt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.ocf.agent import Context
    from hakit.os.containers import Container
    from hakit.steps.lxc.config import LxcConfig


def run_health(cfg: LxcConfig, ctx: Context, ct: Container,
               deadline: Deadline) -> Optional[str]:
    """Run health_command once inside the container; None when healthy (or when there is
    no health_command), else why not."""
    argv = cfg.health_command
    if argv is None:
        return None
    shown = " ".join(argv)
    result = ctx.runner.run(
        ["lxc-attach", "-P", ct.lxcpath, "-n", ct.name, "--clear-env", "--", *argv],
        deadline, timeout=cfg.health_timeout, check=False, cwd="/")
    if result.ok:
        return None
    output = excerpt(result.stdout + "\n" + result.stderr)
    return (f"health command '{shown}' exited {result.returncode}"
            + (f": {output}" if output else " with no output"))


def await_health(cfg: LxcConfig, ctx: Context, ct: Container, deadline: Deadline) -> None:
    """Wait until health_command succeeds (nothing to wait for without one)."""
    if cfg.health_command is None:
        return
    last = ""

    def probe() -> Optional[bool]:
        nonlocal last
        if ct.state() != containers.RUNNING:
            raise GenericError(f"container {ct.name} stopped while waiting for it to be "
                               f"healthy" + (f" ({last})" if last else ""))
        try:
            why = run_health(cfg, ctx, ct, deadline)
        except ActionTimeout as exc:
            # The run the deadline cut short says less than the last one that finished.
            why = last or exc.reason
        if why is None:
            return True
        last = why
        return None

    try:
        # First checks close together: a service usually answers within a few tenths of a
        # second of init starting, and every poll interval spent waiting is failover time.
        deadline.poll(probe, f"waiting for container {ct.name} to be healthy", 0.05, 1.0)
    except ActionTimeout as exc:
        raise ActionTimeout(exc.reason + (f"; last check: {last}" if last else "")) from exc
