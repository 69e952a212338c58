"""Where a lab's pieces live: namespace names, addresses and paths (pure, no side effects)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Interface, IPv6Network
from pathlib import Path

#: Every lab address comes from the benchmarking range (RFC 2544), never a routable one.
LAB_RANGE = IPv4Network("198.18.0.0/15")
DEFAULT_NAME = "hakit"
DEFAULT_STATE_DIR = Path("/run/hakit-lab")
DEFAULT_SUBNET = IPv4Network("198.18.42.0/24")
#: IPv6 addresses come from the unique-local range; namespaces keep labs apart.
SUBNET6 = IPv6Network("fd00:6861:6b69:42::/64")
MANIFEST = "lab.json"
BRIDGE = "br0"
#: The bridge's own MAC, set explicitly (locally administered): a bridge without one takes
#: its lowest port's, so a partition (a port leaving) could change it, and every node's
#: ARP entry for the hub (Ceph, the BMCs) would point nowhere until it expired.
BRIDGE_MAC = "02:68:6b:00:00:01"
NODE_IF = "eth0"

#: Host directories each node sees replaced by its own copy, and the Pacemaker state
#: subdirectories that must be owned by hacluster:haclient, mode 750.
NODE_BINDS = (
    ("etc-corosync", "/etc/corosync"),
    ("var-lib-corosync", "/var/lib/corosync"),
    ("var-lib-pacemaker", "/var/lib/pacemaker"),
    ("log-corosync", "/var/log/corosync"),
    ("log-pacemaker", "/var/log/pacemaker"),
)
PACEMAKER_SUBDIRS = ("cib", "pengine", "blackbox", "cores")

_NAME = re.compile(r"[a-z][a-z0-9]{0,7}\Z")


@dataclass(frozen=True)
class LabNode:
    """One cluster node."""

    name: str  # node (and host) name inside the cluster: n1, n2, ...
    nodeid: int  # corosync nodeid, 1-based
    netns: str  # its network namespace
    port: str  # its veth end on the hub bridge
    address: IPv4Interface  # its eth0 address
    address6: IPv6Interface  # its eth0 IPv6 address, in SUBNET6
    dir: Path  # its private state (bind-mount sources, pidfiles, daemon output)

    def source(self, key: str) -> Path:
        """The lab directory bind-mounted over one of NODE_BINDS' targets."""
        return self.dir / key

    def pidfile(self, what: str) -> Path:
        return self.dir / f"{what}.pid"


@dataclass(frozen=True)
class LabLayout:
    """A whole lab, derived from its name, state directory, subnet and node count."""

    name: str  # prefix of every namespace name
    state_dir: Path  # everything on disk; removed by down
    subnet: IPv4Network
    hub_netns: str
    hub_address: IPv4Interface  # on the hub bridge (clients, Ceph later)
    hub_address6: IPv6Interface
    nodes: tuple[LabNode, ...]

    @property
    def manifest(self) -> Path:
        return self.state_dir / MANIFEST

    def node(self, name: str) -> LabNode:
        """The node called ``name``; KeyError names the known ones."""
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise KeyError(f"no node '{name}' in lab '{self.name}' (nodes: {known})")

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "subnet": str(self.subnet),
                           "nodes": len(self.nodes)})


def make_layout(
    name: str = DEFAULT_NAME,
    state_dir: Path = DEFAULT_STATE_DIR,
    subnet: IPv4Network = DEFAULT_SUBNET,
    node_count: int = 3,
) -> LabLayout:
    """Build a layout; ValueError when a name or address would leave the lab's bounds."""
    if not _NAME.match(name):
        raise ValueError(f"lab name '{name}' must be 1-8 lowercase letters/digits, "
                         "starting with a letter")
    if not subnet.subnet_of(LAB_RANGE):
        raise ValueError(f"subnet {subnet} is outside {LAB_RANGE}")
    if not 1 <= node_count <= 16 or subnet.num_addresses < node_count + 16:
        raise ValueError(f"{node_count} nodes do not fit in {subnet}")
    base = subnet.network_address
    nodes = tuple(
        LabNode(
            name=f"n{i}",
            nodeid=i,
            netns=f"{name}-n{i}",
            port=f"p-n{i}",
            address=IPv4Interface(f"{IPv4Address(int(base) + 10 + i)}/{subnet.prefixlen}"),
            address6=_v6(10 + i),
            dir=state_dir / "nodes" / f"n{i}",
        )
        for i in range(1, node_count + 1)
    )
    return LabLayout(
        name=name,
        state_dir=state_dir,
        subnet=subnet,
        hub_netns=f"{name}-hub",
        hub_address=IPv4Interface(f"{IPv4Address(int(base) + 1)}/{subnet.prefixlen}"),
        hub_address6=_v6(1),
        nodes=nodes,
    )


def _v6(host: int) -> IPv6Interface:
    return IPv6Interface(f"{SUBNET6[host]}/{SUBNET6.prefixlen}")


def layout_from_manifest(state_dir: Path) -> LabLayout:
    """The layout recorded by ``up`` in ``state_dir``; OSError/ValueError when unreadable."""
    data = json.loads((state_dir / MANIFEST).read_text())
    return make_layout(str(data["name"]), state_dir, IPv4Network(str(data["subnet"])),
                       int(data["nodes"]))
