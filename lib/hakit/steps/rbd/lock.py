"""The image's exclusive lock: when start may take it over from another client
(blocklisting the holder, then breaking its lock), whose node a holder is on, and the
depth-10 check that this node's client still holds it.
"""

from __future__ import annotations

import os

from hakit.errors import ConfigError, GenericError
from hakit.os import ceph
from hakit.steps.rbd.layout import save_client, saved_client

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.os.ceph import ImageSpec
    from hakit.steps.rbd.config import RbdConfig
    from hakit.steps.rbd.layout import Layout

#: Environment variable naming cluster nodes to treat as gone (comma-separated) for
#: break_lock=auto, instead of asking Pacemaker (tests, and nodes where crm_mon cannot reach
#: the CIB).
NODES_GONE_OVERRIDE = "HAKIT_NODES_GONE"

#: The object (``NAME.IMAGE_ID``, beside the image) where start records which node's client
#: took the lock ("NODE ADDR"), so a later takeover can tell whose node a live holder is on.
LOCK_HOLDER_NOTE = "hakit_lock_holder"


# ----- whose node a lock holder is on, and whether it is gone ---------------------------
def this_node(ctx: Context) -> str:
    """This node's name as Pacemaker knows it (CRM_meta_on_node), else the host name."""
    return ctx.env.meta.get("on_node") or os.uname().nodename


def parse_lock_holder(text: Optional[str]) -> Optional[tuple[str, str]]:
    """(node, client address) from the LOCK_HOLDER_NOTE text, None if malformed."""
    parts = (text or "").split()
    return (parts[0], parts[1]) if len(parts) == 2 else None


def parse_gone_nodes(xml_text: str) -> Optional[set[str]]:
    """Nodes ``crm_mon --output-as=xml`` shows offline and clean (fenced or shut down).

    None when the output is not crm_mon's (no cluster to ask).
    """
    import xml.etree.ElementTree as ET

    try:
        # The output of Pacemaker's own tool on this node, not untrusted input.
        root = ET.fromstring(xml_text)  # noqa: S314
    except ET.ParseError:
        return None
    nodes = root.find("nodes")
    if nodes is None:
        return None
    return {node.get("name", "") for node in nodes.iter("node")
            if node.get("online") == "false" and node.get("unclean") == "false"}


def nodes_gone(ctx: Context, environ: Optional[Mapping[str, str]] = None) -> set[str]:
    """Cluster nodes confirmed gone; empty when the cluster cannot be asked."""
    env = os.environ if environ is None else environ
    override = env.get(NODES_GONE_OVERRIDE)
    if override is not None:
        return {n for n in override.replace(",", " ").split() if n}
    if ctx.runner.which("crm_mon") is None:
        return set()
    result = ctx.runner.run(["crm_mon", "--one-shot", "--output-as=xml", "--include=nodes"],
                            ctx.deadline, timeout=10, check=False)
    return parse_gone_nodes(result.stdout) or set()


# ----- start: the lock policy -----------------------------------------------------------
def require_lock_feature(cfg: RbdConfig, ctx: Context, cluster: ceph.Cluster) -> bool:
    """Whether the image has exclusive-lock; ConfigError when it has not (unless allowed)."""
    spec = cfg.spec
    if cluster.has_exclusive_lock(spec):
        return True
    if cfg.allow_no_exclusive_lock:
        ctx.log.warning("%s has no exclusive-lock feature: nothing stops a second writer "
                        "(allow_no_exclusive_lock=true)", spec)
        return False
    raise ConfigError(f"image {spec} lacks the exclusive-lock feature, so nothing stops two "
                      f"nodes writing it; run 'rbd feature enable {spec} exclusive-lock' "
                      "(or set allow_no_exclusive_lock=true)")


def take_over_locks(cfg: RbdConfig, ctx: Context, cluster: ceph.Cluster) -> None:
    """Refuse, or blocklist and break, a lock another client holds (per break_lock)."""
    spec = cfg.spec
    owners = cluster.lock_owners(spec)
    if not owners:
        return
    policy = cfg.break_lock
    holders = ", ".join(owners)
    if policy == "never":
        raise GenericError(f"image {spec} is locked by client {holders} and break_lock=never")
    if policy == "auto":
        # librbd's own rule: a lock owner without a watch on the image is dead (its
        # session expired), and breaking its lock after blocklisting it is what any librbd
        # writer would do.  A live holder is taken over only from a node the cluster says
        # is gone: blocklisting it then makes sure it cannot write even if it comes back.
        watching = {w.address for w in cluster.watchers(spec)}
        alive = [owner for owner in owners if owner in watching]
        if alive:
            check_holders_gone(ctx, spec, alive,
                               parse_lock_holder(cluster.read_note(spec, LOCK_HOLDER_NOTE)))
        else:
            ctx.log.warning("lock owner(s) %s of %s no longer watch the image: dead",
                            holders, spec)
    expire = cfg.blocklist_expire
    for owner in owners:
        ctx.log.warning("breaking the lock of %s held by %s (blocklisted for %ds)", spec,
                        owner, int(expire))
        cluster.break_lock(spec, owner, expire)


def check_holders_gone(ctx: Context, spec: ImageSpec, alive: list[str],
                       recorded: Optional[tuple[str, str]]) -> None:
    """GenericError unless every live holder was mapped by hakit on a node that is gone."""
    gone = None
    for owner in alive:
        node = recorded[0] if recorded is not None and recorded[1] == owner else None
        if node is None:
            raise GenericError(f"image {spec} is locked by client {owner}, still connected, "
                               "on no node hakit knows; break_lock=auto refuses")
        if gone is None:
            gone = nodes_gone(ctx)
        if node not in gone or node == this_node(ctx):
            raise GenericError(f"image {spec} is locked by client {owner} on node {node}, "
                               "still connected and not confirmed gone by the cluster; "
                               "break_lock=auto refuses")
        ctx.log.warning("lock owner %s of %s is on node %s, which the cluster reports gone",
                        owner, spec, node)


def record_owner(cfg: RbdConfig, ctx: Context, layout: Layout) -> None:
    """Remember which client holds the lock for this mapping: here for monitor depth 10,
    and beside the image (with this node's name) for a later takeover."""
    spec = cfg.spec
    with ceph.connect(cfg.access, ctx.deadline) as cluster:
        owners = cluster.lock_owners(spec)
        if len(owners) == 1:
            cluster.write_note(spec, LOCK_HOLDER_NOTE, f"{this_node(ctx)} {owners[0]}")
    if len(owners) == 1:
        save_client(layout, spec, owners[0])
    else:
        ctx.log.warning("after mapping %s, lock owners are %s", spec, owners or "none")


# ----- monitor depth 10 -----------------------------------------------------------------
def check_lock(cfg: RbdConfig, ctx: Context, layout: Layout) -> None:
    """Depth 10: this node's client still holds the lock and is not blocklisted."""
    spec = cfg.spec
    mine = saved_client(layout, spec)
    with ceph.connect(cfg.access, ctx.deadline) as cluster:
        owners = cluster.lock_owners(spec)
        if mine is None:
            if owners:
                raise GenericError(f"{spec} is mapped here but its lock is held by "
                                   f"{', '.join(owners)}")
            return
        if cluster.is_blocklisted(mine):
            raise GenericError(f"this node's client {mine} for {spec} is blocklisted")
    if owners and mine not in owners:
        raise GenericError(f"the lock of {spec} moved to {', '.join(owners)}; this node's "
                           f"client {mine} lost it")
