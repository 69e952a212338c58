"""ocf:hakit:vip — a floating IPv4/IPv6 address, added only when no other host holds it.

start refuses an address another host answers for (IPv4: RFC 5227 ARP probes before
adding; IPv6: the kernel's DAD, failing on ``dadfailed``), then announces it (gratuitous
ARP / unsolicited NA) so neighbours switch at once.  monitor is one netlink address dump
and one link lookup.  stop removes exactly the configured address and nothing else.

The parameters and the record they parse into are in ``hakit.steps.vip.config``, the
steps in ``hakit.steps.vip``; this module declares the agent.
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, configured
from hakit.steps.vip import actions, config, resolve

TYPE_CHECKING = False  # typing stays out of monitor's imports (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from hakit.ocf.agent import Context
    from hakit.ocf.params import Values


def validate(values: Values) -> None:
    """Cross-parameter checks (validate-all depth 0): those of building the record."""
    config.from_values(values)


def check_environment(ctx: Context) -> None:
    """Checks of this host (validate-all depth 10, and before start)."""
    resolve.check_environment(config.from_values(ctx.params), ctx)


AGENT = Agent(
    name="vip",
    version="0.1.0",
    shortdesc="Floating IPv4/IPv6 address with duplicate-address detection",
    longdesc=(
        "Adds a virtual IP address to an interface, after making sure no other host on the "
        "link answers for it (ARP probes for IPv4, the kernel's DAD for IPv6), and announces "
        "it with gratuitous ARP or unsolicited neighbour advertisements so clients follow at "
        "once. Uses netlink, not the ip command. monitor checks the address is present, not "
        "tentative or dadfailed, and (with check_link) that its link is up. stop removes "
        "exactly this address."),
    params=config.PARAMS,
    actions=(
        Action("start", 20),
        Action("stop", 20),
        Action("monitor", 20, interval=10),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    validate=validate,
    check_environment=check_environment,
)
