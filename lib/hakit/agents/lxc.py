"""ocf:hakit:lxc — start, stop and monitor an LXC container whose rootfs is on shared storage.

State, shutdown and kill use python3-lxc (``hakit.os.containers``); starting uses ``lxc-start``
and the health check ``lxc-attach``, both through the runner so the action's deadline bounds
them.  A start marker (``hakit.steps.lxc.marker``) tells a container that died on its own
(rc 1) from one the cluster stopped (rc 7).  The parameters and their record are in
``hakit.steps.lxc.config``, what each action does in the package's step modules.
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, configured
from hakit.steps.lxc import actions, config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hakit.ocf.agent import Context


def _check_environment(ctx: Context) -> None:
    """Before start and at validate-all depth 10: programs, lxcpath, config and rootfs."""
    actions.check_environment(config.from_values(ctx.params), ctx)


AGENT = Agent(
    name="lxc",
    version="0.1.0",
    shortdesc="Manages an LXC container",
    longdesc=(
        "Starts, stops and monitors an LXC container, typically one whose rootfs lives on "
        "shared storage mounted by ocf:hakit:fs at LXCPATH/NAME. start checks that the "
        "configuration and rootfs exist, runs lxc-start and waits until the container is "
        "RUNNING and, optionally, has an address and passes health_command. stop asks for a "
        "clean shutdown (sending the halt signal again after 1, 3, 7... s), waits a bounded "
        "time, then kills; it also kills a container whose LXC monitor process died. "
        "monitor (depth 0) asks liblxc for the state without running any program; depth 10 "
        "also runs health_command. "
        "A container that stopped without the cluster stopping it is reported as failed, "
        "not as stopped. No cgroup is mounted or touched: cgroup v1, hybrid and v2-only "
        "hosts work alike. migrate_to/migrate_from are not supported: Pacemaker moves the "
        "container by stopping and starting it."),
    params=config.PARAMS,
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=30),
        Action("monitor", 30, interval=60, depth=10),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    check_environment=_check_environment,
    reload_agent=configured(config.from_values, actions.reload),
)
