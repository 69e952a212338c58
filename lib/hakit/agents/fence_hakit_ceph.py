"""stonith:fence_hakit_ceph: fabric fencing by the Ceph blocklist, for when the BMC is dead.

Every piece of shared state in a hakit cluster lives in Ceph, so a node whose clients are
all refused by the OSDs is harmless to it, like a node fenced by fence_scsi is to a SCSI
disk.  ``off`` blocklists each of the node's Ceph public-network addresses with the entry
that covers every client on that address (``IP:0/0``), then waits until every up OSD knows;
``on`` (unfencing, run automatically by Pacemaker as for fence_scsi) removes exactly those
entries.  The Ceph key is read by librados from the keyring file; it is never an option.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hakit import __version__
from hakit.errors import ConfigError, ParamError
from hakit.fence.agent import FABRIC_ACTIONS, FenceAgent
from hakit.fence.context import FenceContext
from hakit.fence.device import PowerDevice
from hakit.fence.nodemap import parse_node_map
from hakit.fence.options import LOGIN_TIMEOUT, NODENAME, PLUG, Integer, String, option
from hakit.ocf.params import Values

NODE_ADDRESSES = option(
    "node_addresses", String(max_length=16384), "Ceph public-network addresses of each node",
    metavar="map", long="node-addresses",
    longdesc="Required. NODE:ADDRESS[,ADDRESS...] entries separated by ';' (as "
             "pcmk_host_map), e.g. 'node1:198.18.0.11,198.18.0.12;node2:198.18.0.21'. Every "
             "address a node can reach Ceph from must be listed: a client on an address not "
             "listed is not fenced.")
CEPHCONF = option("cephconf", String(r"/.*", "an absolute path"), "Ceph configuration file",
                  default="/etc/ceph/ceph.conf", metavar="path")
CEPH_USER = option("user", String(r"[A-Za-z0-9_.-]{1,64}", "a cephx id"),
                   "Ceph user (cephx id without 'client.')", default="admin", metavar="id",
                   longdesc="Its mon caps need 'allow r, allow command \"osd blocklist\"' and "
                            "its osd caps 'allow r' (to ask each OSD for its map epoch).")
KEYRING = option("keyring", String(r"/.*", "an absolute path"),
                 "Keyring file holding the user's key", metavar="path",
                 longdesc="The key is read by librados from this file and never appears in "
                          "options, command lines or logs. Empty: the keyring named in "
                          "cephconf.")
MON_HOST = option("mon_host", String(r"[A-Za-z0-9_.:,;\[\]/ -]{1,1024}", "monitor addresses"),
                  "Monitor addresses (overrides cephconf's mon host)", metavar="addresses",
                  long="mon-host")
BLOCKLIST_EXPIRE = option(
    "blocklist_expire", Integer(60, 10 * 366 * 86400),
    "Seconds a blocklist entry lasts unless removed by unfencing", default="315360000",
    metavar="seconds", long="blocklist-expire",
    longdesc="A fenced node stays cut off until it is unfenced (on) or this expires; the "
             "default is ten years, so only unfencing lets it back.")


def node_map(params: Values) -> dict[str, tuple[str, ...]]:
    text = params.get(NODE_ADDRESSES)
    if not text:
        raise ParamError("node_addresses", "is required: NODE:ADDRESS[,ADDRESS...];...")
    return parse_node_map(text, "node_addresses")


def target(params: Values) -> tuple[str, tuple[str, ...]]:
    """The node to act on (plug, else nodename) and its addresses; ConfigError naming it."""
    node = params.get(PLUG) or params.get(NODENAME)
    if not node:
        raise ParamError("plug", "is required: the name of the node to fence")
    nodes = node_map(params)
    if node not in nodes:
        raise ConfigError(f"node '{node}' has no addresses in node_addresses (it lists "
                          f"{', '.join(sorted(nodes))}); add '{node}:ADDRESS'")
    return node, nodes[node]


def validate(params: Values) -> None:
    """The map must parse; a given plug must be in it."""
    node_map(params)
    if params.get(PLUG) or params.get(NODENAME):
        target(params)


def list_nodes(ctx: FenceContext) -> list[tuple[str, str]]:
    return [(node, " ".join(addrs)) for node, addrs in node_map(ctx.params).items()]


@contextlib.contextmanager
def connect(ctx: FenceContext) -> Iterator[PowerDevice]:
    """A Ceph client for this action, presenting the target node's blocklist entries."""
    from hakit.fence.ceph_blocklist import BlocklistDevice
    from hakit.os.ceph import Access
    from hakit.os.ceph import connect as ceph_connect

    params = ctx.params
    # monitor checks the device, which is the cluster (monitors, blocklist, OSD maps):
    # no node is needed.
    node, addresses = ("", ()) if ctx.action == "monitor" else target(params)
    access = Access(user=params[CEPH_USER], cephconf=params[CEPHCONF],
                    keyring=params.get(KEYRING) or None, mon_host=params.get(MON_HOST) or None)
    with ceph_connect(access, ctx.deadline, connect_within=params[LOGIN_TIMEOUT]) as cluster:
        yield BlocklistDevice(cluster, node, addresses, params[BLOCKLIST_EXPIRE], ctx.log)


AGENT = FenceAgent(
    name="fence_hakit_ceph",
    version=__version__,
    shortdesc="Fence agent for Ceph: cuts a node off by the OSD blocklist (hakit)",
    longdesc=("fence_hakit_ceph fences a node through its shared storage, the way "
              "fence_scsi does: off adds every Ceph public-network address of the node to "
              "the OSD blocklist (one IP:0/0 entry per address, which covers every client on "
              "that address) and succeeds once every up OSD has the new map, so no client of "
              "the node can read or write RADOS any more. on (unfencing, automatic and run "
              "on the node, as fence_scsi) removes exactly those entries. It does not stop "
              "the node: local disks and other networks stay reachable to it. Use it as a "
              "second fencing level after a BMC, or alone with requires=unfencing on the "
              "resources it protects."),
    vendor_url="https://docs.ceph.com/en/latest/rados/operations/control/",
    options=(NODE_ADDRESSES, CEPHCONF, CEPH_USER, KEYRING, MON_HOST, BLOCKLIST_EXPIRE),
    connect=connect,
    validate=validate,
    device_actions=FABRIC_ACTIONS,
    fabric=True,
    lister=list_nodes,
    synopsis="-n NODE --node-addresses NODE:ADDR[,ADDR...][;...] --user ID --keyring PATH",
)
