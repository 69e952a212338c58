"""ocf:hakit:lvs — an LVS (IPVS) director as a promotable clone that keeps connections.

Every instance holds the whole IPVS table (virtual services and their healthy real servers)
and a sync daemon: the promoted one the master, which multicasts each connection it
forwards, the unpromoted one the backup, which learns them.  So whichever director the
virtual IP (ocf:hakit:vip, colocated with the promoted instance) lands on already knows the
established connections, after a failover and after the failback too: a recovered director
becomes promotable (its promotion score is set) only once its backup has listened for
``sync_warmup``, and a promote that comes sooner waits that long, saying so.

Real servers are health-checked by each instance's recurring monitor (TCP, HTTP(S),
command; interval, timeout, rise, fall), in parallel and bounded by the monitor's deadline.

This module declares the agent; the work is in ``hakit.steps.lvs`` (``config``: the
parameters and ``LvsConfig``; ``actions``: what each action does) over ``hakit.os.ipvs``
(the kernel's table and sync daemons over generic netlink).
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, configured
from hakit.steps.lvs import actions, config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hakit.ocf.agent import Context
    from hakit.ocf.params import Values


def validate(values: Values) -> None:
    """Cross-parameter checks (validate-all depth 0, and every action)."""
    config.from_values(values)


def check_environment(ctx: Context) -> None:
    """This host: the sync interface exists, forwarding is on where NAT needs it."""
    actions.check_environment(config.from_values(ctx.params), ctx)


AGENT = Agent(
    name="lvs",
    version="0.1.0",
    shortdesc="LVS (IPVS) director pair whose connections survive failover and failback",
    longdesc=(
        "Run as a promotable clone on two directors. Every instance holds the IPVS virtual "
        "services and their healthy real servers and runs an IPVS sync daemon: the promoted "
        "one the master, the unpromoted one the backup, so the standby knows every "
        "established connection. Colocate the virtual IP (ocf:hakit:vip) with the promoted "
        "instance. A recovered director becomes promotable only after listening for "
        "sync_warmup, so failing back keeps connections too. Real servers are health-checked "
        "(tcp, http, https, command; interval, timeout, rise, fall) by each recurring "
        "monitor, in parallel; a failed one is quiesced or removed and a sorry server serves "
        "when none is healthy. stop removes only this resource's services and daemons."),
    params=config.PARAMS,
    actions=(
        Action("start", 30),
        Action("stop", 30),
        Action("promote", 30),
        Action("demote", 20),
        Action("monitor", 20, interval=5, role="Promoted"),
        Action("monitor", 20, interval=6, role="Unpromoted"),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    validate=validate,
    check_environment=check_environment,
    reload_agent=configured(config.from_values, actions.reload),
    extra=(("promote", configured(config.from_values, actions.promote)),
           ("demote", configured(config.from_values, actions.demote))),
)
