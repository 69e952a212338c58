"""ocf:hakit:rbd — map a Ceph RBD image on the node that runs the service, exclusively.

start checks the image's exclusive lock: a lock held by another client is taken over (the
holder blocklisted first, then its lock broken) only when ``break_lock`` allows it; then the
image is mapped (krbd, nbd, or rbd-fuse + loop) and exposed as ``/dev/hakit/POOL/IMAGE``.
The parameters and the ``RbdConfig`` record are in hakit.steps.rbd.config, what each
action does in hakit.steps.rbd.actions.
"""

from __future__ import annotations

from hakit.ocf.agent import Action, Agent, always, configured
from hakit.steps.rbd import actions, config

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from hakit.ocf.agent import Context
    from hakit.ocf.params import Values


def validate(values: Values) -> None:
    """validate-all depth 0 (and every action): the record's cross-parameter checks."""
    config.from_values(values)


def check_environment(ctx: Context) -> None:
    """validate-all depth 10, before start, and reload-agent: this host can map it.

    At reload: the mapping keeps its own Ceph session, so new access values (conf, user,
    keyring, monitors) and lock policy apply from the next action that connects (monitor
    depth 10, start); checking them on this host now, as start would, makes a keyring path
    that is wrong here fail the reload rather than a later monitor.
    """
    actions.check_host(config.from_values(ctx.params), ctx)


AGENT = Agent(
    name="rbd",
    version="1.0",
    shortdesc="Maps a Ceph RBD image exclusively",
    longdesc=(
        "Maps a Ceph RBD image on this node (kernel rbd, rbd-nbd, or rbd-fuse with a loop "
        "device) and exposes it as /dev/hakit/POOL[/NAMESPACE]/IMAGE for ocf:hakit:fs. A "
        "read-write mapping holds the image's exclusive lock; a lock held by another client "
        "is taken over only as break_lock allows, always blocklisting the old holder before "
        "breaking its lock so it can no longer write. monitor depth 0 checks the mapping "
        "and reads the device without contacting Ceph; depth 10 also checks that this "
        "node's client still holds the lock and is not blocklisted."
    ),
    params=config.PARAMS,
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=10, depth=0),
        Action("monitor", 30, interval=60, depth=10),
    ),
    start=configured(config.from_values, actions.start),
    stop=configured(config.from_values, actions.stop),
    monitor=configured(config.from_values, actions.monitor),
    validate=validate,
    check_environment=check_environment,
    reload_agent=check_environment,
    exclusive=True,
    device_io=always,
)
