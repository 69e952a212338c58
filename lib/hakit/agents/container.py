"""ocf:hakit:container — one resource per container: RBD map, ext4 mount, LXC, optional VIP.

Each layer runs the steps of the kind that owns it (rbd, fs, lxc, vip in hakit.steps), on
the record ``hakit.steps.container.config`` composes from this agent's parameters, so
mapping, fsck/mount, unmount-with-holders, container start/stop and the VIP have one
implementation, and one deadline (this action's) covers every step.
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, always, configured
from hakit.steps.container import actions, config

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from hakit.ocf.agent import Context
    from hakit.ocf.params import Values


def validate(values: Values) -> None:
    config.from_values(values)


def check_environment(ctx: Context) -> None:
    actions.check_environment(config.from_values(ctx.params), ctx)


AGENT = Agent(
    name="container",
    version="0.1.0",
    shortdesc="An LXC container on a Ceph RBD image, as one resource",
    longdesc=(
        "One resource per container: maps the container's RBD image (as ocf:hakit:rbd), "
        "checks and mounts its ext4 filesystem at LXCPATH/NAME (as ocf:hakit:fs), starts the "
        "container (as ocf:hakit:lxc) and optionally adds a VIP (as ocf:hakit:vip), all "
        "within the start timeout, using those agents' own code. When a step fails, the "
        "steps begun are stopped in reverse and the exit reason names the failed step. stop "
        "runs the steps in reverse; it fails, naming the step, when one cannot complete "
        "(Pacemaker then fences). monitor depth 0 checks every layer cheaply (mapping, "
        "mount, container state, address) and names the failing layer; depth 10 adds the "
        "RBD lock check, the device read and health_command; depth 20 the write check."),
    params=config.PARAMS,
    actions=(
        Action("start", 240),
        Action("stop", 240),
        Action("monitor", 30, interval=10, depth=0),
        Action("monitor", 60, interval=60, depth=10),
        Action("monitor", 60, interval=120, depth=20),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    validate=validate,
    check_environment=check_environment,
    reload_agent=configured(config.from_values, actions.reload),
    exclusive=True,
    device_io=always,
)
