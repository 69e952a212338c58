"""The per-node address map of fabric fencing: ``node1:198.18.0.11,198.18.0.12;node2:...``.

Written like Pacemaker's ``pcmk_host_map`` (``;`` or whitespace between nodes, ``:`` or
``=`` after the node name), with a comma-separated list of addresses per node because a
node may reach Ceph's public network through more than one address.  A pure parser: the
agent checks the result, nothing here contacts anything.
"""

from __future__ import annotations

import ipaddress
import re

from hakit import shown
from hakit.errors import ParamError

#: A Pacemaker node name (uname or corosync name): no separators of the map itself.
_NODE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,252}")
_ENTRIES = re.compile(r"[;\s]+")



def parse_node_map(text: str, param: str) -> dict[str, tuple[str, ...]]:
    """Node name -> its addresses in canonical text form, in the order written.

    ParamError naming ``param`` for anything that is not such a map: an entry without a
    node or without addresses, a bad address, a node listed twice, or an address that
    belongs to two nodes (blocklisting one node would fence the other too).
    """
    nodes: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for entry in _ENTRIES.split(text.strip()):
        if not entry:
            continue
        name, sep, addresses = entry.partition(":")
        if not sep or "," in name or "=" in name:
            name, sep, addresses = entry.partition("=")
        if not sep:
            raise ParamError(param, f"entry {shown.value(entry)} is not NODE:ADDRESS[,ADDRESS...]")
        if not _NODE.fullmatch(name):
            raise ParamError(param, f"{shown.value(name)} is not a node name")
        if name in nodes:
            raise ParamError(param, f"node '{name}' is listed twice")
        found: list[str] = []
        for item in addresses.split(","):
            raw = item.strip().strip("[]")
            try:
                addr = str(ipaddress.ip_address(raw))
            except ValueError:
                raise ParamError(param, f"{shown.value(raw)} (node '{name}') is not an IP "
                                        "address") from None
            if addr in owner and owner[addr] != name:
                raise ParamError(param, f"address {addr} is given for both '{owner[addr]}' "
                                        f"and '{name}'")
            owner[addr] = name
            if addr not in found:
                found.append(addr)
        nodes[name] = tuple(found)
    if not nodes:
        raise ParamError(param, "is empty; give NODE:ADDRESS[,ADDRESS...] for every node")
    return nodes


def host_entity(address: str) -> str:
    """The blocklist entry that covers every client on ``address``: ``IP:0/0``.

    On Ceph 16.2 (Pacific) an entry with port 0 and nonce 0 matches any client on that IP:
    ``OSDMap::is_blocklisted`` retries the lookup with port and nonce zeroed (tested
    against the running cluster in tests/fence/test_fence_hakit_ceph.py).
    """
    return f"[{address}]:0/0" if ":" in address else f"{address}:0/0"
