"""The outside view, from the lab's hub namespace: HTTP through the VIP, and who answers ARP.

A client in the hub is where the service's users are: it reaches the VIP over the bridge
only.  Which node serves it is read from the hub's neighbour table (the MAC it resolved
for the VIP) matched against each node's ``eth0`` (``ip -json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from ipaddress import IPv4Address
from typing import Optional

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab import network
from lab.layout import NODE_IF, LabLayout

#: The client, run by the system python3 in the hub (the host's busybox wget is not
#: reliable here); prints the body, fails on any HTTP error.
GET = ("import sys, urllib.request\n"
       "print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))"
       ".read().decode(), end='')")


def get(runner: Runner, layout: LabLayout, url: str, timeout: float = 2.0) -> Optional[str]:
    """The body at ``url``, fetched from the hub namespace; None when it fails."""
    res = runner.run(["ip", "netns", "exec", layout.hub_netns, "/usr/bin/python3", "-I",
                      "-c", GET, url, str(timeout)], Deadline(timeout + 5), check=False)
    return res.stdout if res.ok else None


def neighbour_mac(neigh_json: str) -> Optional[str]:
    """The link-layer address in ``ip -json neigh show ADDR`` output, if any (pure)."""
    try:
        entries = json.loads(neigh_json) if neigh_json.strip() else []
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("lladdr"), str):
            return str(entry["lladdr"]).lower()
    return None


def node_with_mac(mac: Optional[str], macs: Mapping[str, Optional[str]]) -> Optional[str]:
    """The node whose interface has ``mac`` (pure); None when none or ``mac`` is None."""
    if mac is None:
        return None
    found = [name for name, have in macs.items() if have is not None and have == mac.lower()]
    return found[0] if len(found) == 1 else None


def answering_node(runner: Runner, layout: LabLayout, ip: IPv4Address) -> Optional[str]:
    """The node whose eth0 MAC the hub has for ``ip`` (who answered its ARP), or None."""
    dl = Deadline(10)
    res = runner.run(["ip", "-n", layout.hub_netns, "-json", "neigh", "show", str(ip)], dl,
                     check=False)
    mac = neighbour_mac(res.stdout) if res.ok else None
    macs: dict[str, Optional[str]] = {}
    for n in layout.nodes:
        link = runner.run(["ip", "-n", n.netns, "-json", "link", "show", NODE_IF], dl,
                          check=False)
        macs[n.name] = network.link_mac(link.stdout) if link.ok else None
    return node_with_mac(mac, macs)
