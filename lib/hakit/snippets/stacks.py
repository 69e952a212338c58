"""Turn checked inputs into configurations: the container stack, fencing, placement, the
VIP in front of load balancers.

Ids: a container NAME gives NAME-rbd, NAME-fs, NAME-lxc, NAME-vip in group NAME-stack (or, with
shape "composite", the single ocf:hakit:container resource NAME-stack); a node
N gives the fencing device fence-N (and fence-N-redfish).

Timeouts are the worst case of each action, not its usual time, because a timed-out stop
means fencing (on-fail=fence is Pacemaker's default for stop when stonith is enabled) and a
timed-out start counts as a failure (docs/admin-guide.md, "Timeouts" explains each).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Union

from hakit.snippets.inputs import Image, IPInterface
from hakit.snippets.model import (
    Clone,
    Colocation,
    Config,
    FencingLevel,
    Group,
    Item,
    Location,
    Op,
    Order,
    Primitive,
    Property,
)

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

# rbd: map + exclusive lock. Breaking a dead holder's lock blocklists it first, which waits
# for the monitors; a slow or recovering Ceph cluster stretches both map and unmap. Depth 0
# checks the mapping and reads the device; depth 10 also asks Ceph that this node still
# holds the lock and is not blocklisted, so it gets a Ceph-sized timeout.
RBD_OPS = (Op("start", "0", "90s"), Op("stop", "0", "90s"),
           Op("monitor", "10s", "30s"), Op("monitor", "60s", "60s", depth=10))
# fs: a forced or needed e2fsck of a large ext4 image dominates start; stop may have to kill
# the mount's holders and wait for dirty pages to reach Ceph. Depth 20 (which includes depth
# 10's device read and superblock check) writes, fsyncs and reads back a file, so a hung
# Ceph cluster shows up as a failure; it runs every two minutes.
FS_OPS = (Op("start", "0", "300s"), Op("stop", "0", "120s"),
          Op("monitor", "20s", "40s"), Op("monitor", "120s", "60s", depth=20))
# lxc: a container's own shutdown (systemd inside) can take a minute before the agent kills
# it; start waits for the container to be RUNNING. Depth 10 runs health_command.
LXC_OPS = (Op("start", "0", "120s"), Op("stop", "0", "180s"),
           Op("monitor", "30s", "30s"), Op("monitor", "60s", "60s", depth=10))
LXC_OPS_NO_HEALTH = LXC_OPS[:3]
# vip: IPv4 conflict detection (RFC 5227: up to ~9 s of probes) or IPv6 DAD, then
# gratuitous ARP / unsolicited NA; the monitor only reads netlink.
VIP_OPS = (Op("start", "0", "30s"), Op("stop", "0", "30s"), Op("monitor", "10s", "20s"))
# container (the composite, one resource per container): start and stop do every layer's
# work in turn, so their timeouts are the sums of the four primitives' (90+300+120+30 and
# 90+120+180+30). Depth 0 checks all layers cheaply every 10 s; depth 10 adds the Ceph lock
# check and health_command; depth 20 also the fs write check (each deeper one includes the
# shallower, so they are on separate intervals).
CONTAINER_OPS = (Op("start", "0", "540s"), Op("stop", "0", "420s"),
                 Op("monitor", "10s", "30s"), Op("monitor", "60s", "90s", depth=10),
                 Op("monitor", "120s", "90s", depth=20))
# fence devices: the monitor asks the BMC for power status over the LAN (IPMI retries).
FENCE_OPS = (Op("monitor", "60s", "60s"),)

# Stickiness 100 per member (a running 4-member group sums to 400) outweighs the preferred
# location (100): a stack that failed over stays put when its node returns, no second
# outage; move it back deliberately. Three failures on one node move the stack away; the
# fail count expires after 10 minutes so the node becomes eligible again.
STACK_META = (("resource-stickiness", "100"), ("migration-threshold", "3"),
              ("failure-timeout", "10min"))
PREFER_SCORE = "100"
# The composite is one resource: its stickiness alone must outweigh the preferred location,
# as the group's four members' (400) do.
COMPOSITE_META = (("resource-stickiness", "200"), ("migration-threshold", "3"),
                  ("failure-timeout", "10min"))


@dataclass(frozen=True)
class StackSpec:
    """One container's stack."""

    name: str
    image: Image
    ip: Optional[IPInterface] = None
    nic: Optional[str] = None
    health_command: Optional[str] = None
    fstype: str = "ext4"
    ceph_user: Optional[str] = None
    cephconf: Optional[str] = None
    keyring: Optional[str] = None
    shape: str = "group"  # "group" of four primitives, or one ocf:hakit:container
    device_type: str = "krbd"  # ocf:hakit:rbd's default; fuse where no rbd module exists
    extra_meta: tuple[tuple[str, str], ...] = ()  # e.g. REQUIRES_UNFENCING


def device_path(image: Image) -> str:
    """Where ocf:hakit:rbd exposes the mapped image."""
    return f"/dev/hakit/{image.pool}/{image.image}"


def vip(rsc_id: str, ip: IPInterface, nic: Optional[str]) -> Primitive:
    """An ocf:hakit:vip primitive."""
    params = [("ip", str(ip.ip)), ("cidr_netmask", str(ip.network.prefixlen))]
    if nic:
        params.append(("nic", nic))
    return Primitive(rsc_id, "ocf:hakit:vip", tuple(params), VIP_OPS)


def _non_default(spec: StackSpec) -> Optional[str]:
    """device_type only when it is not the agent's default, so configurations stay short."""
    return spec.device_type if spec.device_type != "krbd" else None


def stack_group(spec: StackSpec, meta: tuple[tuple[str, str], ...] = STACK_META) -> Group:
    """rbd -> fs -> lxc (-> vip) as one group."""
    rbd_params: list[tuple[str, str]] = [("pool", spec.image.pool), ("image", spec.image.image)]
    for key, value in (("user", spec.ceph_user), ("cephconf", spec.cephconf),
                       ("keyring", spec.keyring), ("device_type", _non_default(spec))):
        if value:
            rbd_params.append((key, value))
    members = [
        Primitive(f"{spec.name}-rbd", "ocf:hakit:rbd", tuple(rbd_params), RBD_OPS),
        # create_directory: the mount point is derived from the name, so no node needs it
        # made by hand first (the composite does the same).
        Primitive(f"{spec.name}-fs", "ocf:hakit:fs",
                  (("device", device_path(spec.image)),
                   ("directory", f"/var/lib/lxc/{spec.name}"), ("fstype", spec.fstype),
                   ("create_directory", "true")),
                  FS_OPS),
    ]
    lxc_params: list[tuple[str, str]] = [("name", spec.name)]
    if spec.health_command:
        lxc_params.append(("health_command", spec.health_command))
    members.append(Primitive(f"{spec.name}-lxc", "ocf:hakit:lxc", tuple(lxc_params),
                             LXC_OPS if spec.health_command else LXC_OPS_NO_HEALTH))
    if spec.ip is not None:
        members.append(vip(f"{spec.name}-vip", spec.ip, spec.nic))
    return Group(f"{spec.name}-stack", tuple(members), meta,
                 comment=f"container {spec.name}: Ceph image {spec.image}, "
                         "mapped, mounted, started" + (", reachable" if spec.ip else "")
                         + ", in this order")


def composite(spec: StackSpec, meta: tuple[tuple[str, str], ...] = COMPOSITE_META) -> Primitive:
    """The whole stack as one ocf:hakit:container resource, with the id the group would have
    (NAME-stack), so placement and load-balancer constraints apply to either shape."""
    params: list[tuple[str, str]] = [("name", spec.name), ("pool", spec.image.pool)]
    if spec.image.image != spec.name:
        params.append(("image", spec.image.image))
    for key, value in (("user", spec.ceph_user), ("cephconf", spec.cephconf),
                       ("keyring", spec.keyring), ("device_type", _non_default(spec)),
                       ("health_command", spec.health_command)):
        if value:
            params.append((key, value))
    if spec.ip is not None:
        params += [("ip", str(spec.ip.ip)), ("cidr_netmask", str(spec.ip.network.prefixlen))]
        if spec.nic:
            params.append(("nic", spec.nic))
    return Primitive(f"{spec.name}-stack", "ocf:hakit:container", tuple(params),
                     CONTAINER_OPS, meta=meta,
                     comment=f"container {spec.name}: Ceph image {spec.image}, mapped, "
                             "mounted, started" + (", reachable" if spec.ip else "")
                             + ", as one resource")


def stack_resource(spec: StackSpec, meta: Optional[tuple[tuple[str, str], ...]] = None,
                   ) -> Union[Group, Primitive]:
    """The container's stack in the shape asked for."""
    if spec.shape == "composite":
        return composite(spec, (meta or COMPOSITE_META) + spec.extra_meta)
    return stack_group(spec, (meta or STACK_META) + spec.extra_meta)


def prefer(name: str, node: str) -> Location:
    """Run NAME's stack on NODE when it can (one preferred node per container: the id does
    not name the node, so a later preference replaces an earlier one)."""
    return Location(f"{name}-preferred-node", f"{name}-stack", node, PREFER_SCORE,
                    comment=f"{name} runs on {node} when it can", replace=True)


def stack(spec: StackSpec, preferred: str) -> Config:
    """A container's stack and its preferred node."""
    return Config(f"hakit stack for container {spec.name}",
                  (stack_resource(spec), prefer(spec.name, preferred)))


def fencing(bmcs: tuple[tuple[str, IPAddress], ...], username: str, password_script: str,
            redfish: tuple[tuple[str, IPAddress], ...] = ()) -> Config:
    """One fence_hakit device per node, kept off the node it fences; optional Redfish level 2."""
    items: list[Item] = []
    redfish_of = dict(redfish)
    for node, address in bmcs:
        device = f"fence-{node}"
        items.append(Primitive(
            device, "stonith:fence_hakit",
            (("ip", str(address)), ("username", username),
             ("password_script", password_script), ("lanplus", "1"),
             ("pcmk_host_list", node)),
            FENCE_OPS, comment=f"powers {node} off through its BMC (IPMI)"))
        # A node never fences itself: a device running there would die with it.
        items.append(Location(f"{device}-avoids-{node}", device, node, "-INFINITY"))
        if node in redfish_of:
            items.append(Primitive(
                f"{device}-redfish", "stonith:fence_hakit_redfish",
                (("ip", str(redfish_of[node])), ("username", username),
                 ("password_script", password_script),
                 # Redfish is HTTPS and the certificate is verified: BMCs usually have
                 # self-signed ones, so the CA (or ssl_fingerprint) must be given.
                 ("ssl_ca_file", REDFISH_CA_FILE), ("pcmk_host_list", node)),
                FENCE_OPS, comment=f"second way to power {node} off (Redfish; put the "
                                   f"BMCs' CA in {REDFISH_CA_FILE})"))
            items.append(Location(f"{device}-redfish-avoids-{node}", f"{device}-redfish",
                                  node, "-INFINITY"))
    for node, _ in bmcs:
        if node in redfish_of:
            items.append(FencingLevel(node, 1, (f"fence-{node}",)))
            items.append(FencingLevel(node, 2, (f"fence-{node}-redfish",)))
    items.append(Property("stonith-enabled", "true"))
    return Config("hakit fencing: one fence_hakit device per node", tuple(items))


#: Where the fencing snippet expects the CA that signs the BMCs' Redfish certificates.
REDFISH_CA_FILE = "/etc/hakit/bmc-ca.pem"

def anti_affinity(first: str, second: str) -> Colocation:
    """The two containers' stacks never share a node (second is placed away from first)."""
    return Colocation(f"{first}-apart-from-{second}", f"{second}-stack", f"{first}-stack",
                      "-INFINITY", comment=f"{first} and {second} never share a node")


def placement(nodes: tuple[str, ...], prefers: tuple[tuple[str, str], ...],
              apart: tuple[tuple[str, str], ...], spread: tuple[str, ...]) -> Config:
    """Preferred nodes, anti-affinity pairs, and containers spread round-robin over nodes."""
    items: list[Item] = [prefer(name, node) for name, node in prefers]
    items += [prefer(name, nodes[i % len(nodes)]) for i, name in enumerate(spread)]
    items += [anti_affinity(a, b) for a, b in apart]
    return Config("hakit placement constraints (the stacks must exist already)", tuple(items))


#: Cluster options for many containers per node, chosen from the lab's failover at scale
#: (BENCHMARKS.md, "Failover at scale").  load-threshold=0% turns off Pacemaker's CPU-load
#: throttling: with the default 80%, a node whose load average exceeds 1.6 per core
#: (reached with a few dozen containers' monitors, and by any failover) reports "high
#: load", and the DC then runs one action per node and at most active-nodes/2 actions in
#: the whole cluster, so a node's containers are restarted one at a time.  Without it,
#: node-action-limit (default twice the cores) still bounds each node's parallel actions.
CLUSTER_OPTIONS = (("load-threshold", "0%"),)


def cluster_options() -> Config:
    """The cluster properties hakit recommends for many containers."""
    return Config("hakit cluster options for many containers per node",
                  tuple(Property(name, value) for name, value in CLUSTER_OPTIONS),
                  ("load-threshold=0%: no CPU-load throttling of recovery; each node still "
                   "runs at most node-action-limit actions at once (default: twice its "
                   "cores)",))


def load_balancer(name: str, ip: IPInterface, nic: Optional[str],
                  backends: tuple[StackSpec, StackSpec], nodes: tuple[str, ...]) -> Config:
    """Two load-balancer containers on different nodes and one VIP that follows a running one.

    The keepalived use case in Pacemaker terms: both containers run (anti-affine), each
    on its own preferred node; the VIP has an equal finite colocation with each, so it
    may sit with either and stickiness keeps it where it is. When its container stops
    or fails over, that colocation no longer holds and the VIP moves to the other one.
    A container whose health_command fails once (migration-threshold=1) leaves the node.
    """
    first, second = backends
    stickiness = "200" if first.shape == "composite" else "100"
    lb_meta = (("resource-stickiness", stickiness), ("migration-threshold", "1"),
               ("failure-timeout", "10min"))
    vip_id = f"{name}-vip"
    items: list[Item] = [
        stack_resource(first, lb_meta), stack_resource(second, lb_meta),
        Primitive(vip_id, "ocf:hakit:vip", vip(vip_id, ip, nic).params, VIP_OPS,
                  meta=(("resource-stickiness", "100"),),
                  comment="the service address, with whichever balancer runs"),
        prefer(first.name, nodes[0]), prefer(second.name, nodes[1 % len(nodes)]),
        anti_affinity(first.name, second.name),
        Colocation(f"{vip_id}-with-{first.name}", vip_id, f"{first.name}-stack", "1000",
                   comment="the VIP sits with either balancer (more than its stickiness)"),
        Colocation(f"{vip_id}-with-{second.name}", vip_id, f"{second.name}-stack", "1000"),
        # Optional: when a balancer and the VIP move in the same transition, the address
        # comes up after the container, never pointing at a node without a balancer.
        Order(f"{vip_id}-after-{first.name}", f"{first.name}-stack", vip_id, "Optional"),
        Order(f"{vip_id}-after-{second.name}", f"{second.name}-stack", vip_id, "Optional"),
    ]
    return Config(f"hakit load-balancer pair {first.name}/{second.name} behind {vip_id}",
                  tuple(items))


# lvs: start loads ip_vs, fills the table after one round of health checks (each bounded by
# its check timeout) and starts the backup sync daemon; promote may wait sync_warmup (5 s by
# default) for a recovered director to learn the connections.  The monitors run the health
# checks: one interval per role, as Pacemaker requires.
LVS_OPS = (Op("start", "0", "30s"), Op("stop", "0", "30s"), Op("promote", "0", "30s"),
           Op("demote", "0", "20s"), Op("monitor", "5s", "20s", role="Promoted"),
           Op("monitor", "6s", "20s", role="Unpromoted"))
LVS_CLONE_META = (("promotable", "true"), ("promoted-max", "1"), ("promoted-node-max", "1"),
                  ("clone-max", "2"), ("clone-node-max", "1"))


@dataclass(frozen=True)
class LvsSpec:
    """The director pair's settings for the lvs snippet."""

    name: str
    ip: IPInterface
    nic: Optional[str]
    sync_interface: str
    syncid: int
    services: Optional[str]  # the definition inline (services=), or
    config_file: Optional[str]  # a file on both directors (config_file=)
    directors: tuple[str, str]
    avoid: tuple[str, ...] = ()


def lvs(spec: LvsSpec) -> Config:
    """ocf:hakit:lvs as a promotable clone on the two directors, and the VIP with (and after)
    the promoted instance."""
    lvs_id, clone_id, vip_id = f"{spec.name}-lvs", f"{spec.name}-lvs-clone", f"{spec.name}-vip"
    params: list[tuple[str, str]] = []
    if spec.services is not None:
        params.append(("services", spec.services))
    if spec.config_file is not None:
        params.append(("config_file", spec.config_file))
    params += [("sync_interface", spec.sync_interface), ("syncid", str(spec.syncid))]
    primitive = Primitive(lvs_id, "ocf:hakit:lvs", tuple(params), LVS_OPS)
    items: list[Item] = [
        Clone(clone_id, primitive, LVS_CLONE_META,
              comment="both directors hold the IPVS table; the promoted one runs the master "
                      "sync daemon, the other learns every connection"),
        Primitive(vip_id, "ocf:hakit:vip", vip(vip_id, spec.ip, spec.nic).params, VIP_OPS,
                  comment="the service address, on the promoted director only"),
        Colocation(f"{vip_id}-with-promoted", vip_id, clone_id, "INFINITY",
                   with_role="Promoted",
                   comment="the VIP runs only where the director is promoted"),
        Order(f"{vip_id}-after-promote", clone_id, vip_id, "Mandatory",
              first_action="promote",
              comment="traffic arrives only once the master sync daemon runs"),
    ]
    items += [Location(f"{clone_id}-on-{node}", clone_id, node, "100")
              for node in spec.directors]
    items += [Location(f"{clone_id}-not-on-{node}", clone_id, node, "-INFINITY")
              for node in spec.avoid]
    return Config(f"hakit LVS director pair {spec.directors[0]}/{spec.directors[1]} behind "
                  f"{vip_id}", tuple(items), notes=(
                      "Real servers (direct routing): the VIP on lo, arp_ignore=1, "
                      "arp_announce=2 (docs/agents/lvs.md).",))
