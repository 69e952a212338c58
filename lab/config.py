"""The files a lab node boots from: corosync.conf and the seed CIB (pure text builders)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Optional

from lab.layout import LabNode

#: Without this, every controller waits the default 20 s for a DC before electing itself,
#: so a fresh cluster takes ~23 s to form; a few seconds is plenty on one machine.
DC_DEADTIME = "3s"


def corosync_conf(cluster_name: str, nodes: Sequence[LabNode],
                  totem: Optional[Mapping[str, str]] = None) -> str:
    """corosync.conf for knet with crypto, one ``key: value`` per line.

    corosync's parser rejects ``node { ring0_addr: ... }`` on one line, so every brace and
    key gets its own line.  Logging goes to the node's private /var/log/corosync only, never
    to the host's syslog.  ``uidgid`` lets the Pacemaker daemons running as hacluster use
    corosync's IPC (corosync otherwise admits root only).  ``totem`` adds totem options
    (the fast profile's ``token`` and ``consensus``).
    """
    lines = [
        "totem {",
        "    version: 2",
        f"    cluster_name: {cluster_name}",
        "    transport: knet",
        "    crypto_cipher: aes256",
        "    crypto_hash: sha256",
        *(f"    {key}: {value}" for key, value in (totem or {}).items()),
        "}",
        "nodelist {",
    ]
    for node in nodes:
        lines += [
            "    node {",
            f"        ring0_addr: {node.address.ip}",
            f"        name: {node.name}",
            f"        nodeid: {node.nodeid}",
            "    }",
        ]
    lines += [
        "}",
        "quorum {",
        "    provider: corosync_votequorum",
        "}",
        "uidgid {",
        "    uid: hacluster",
        "    gid: haclient",
        "}",
        "logging {",
        "    to_logfile: yes",
        "    logfile: /var/log/corosync/corosync.log",
        "    to_syslog: no",
        "    to_stderr: no",
        "    timestamp: on",
        "}",
    ]
    return "\n".join(lines) + "\n"


def seed_cib(empty_cib: str, properties: Mapping[str, str]) -> str:
    """``empty_cib`` (``cibadmin --empty``) with ``properties`` as cluster options.

    Pacemaker reads /var/lib/pacemaker/cib/cib.xml at start; a missing cib.xml.sig only
    draws a warning, so a seeded file needs no digest.
    """
    root = ET.fromstring(empty_cib)  # noqa: S314 - a local Pacemaker tool's output
    crm_config = root.find("configuration/crm_config")
    if crm_config is None:
        raise ValueError("the empty CIB has no configuration/crm_config")
    options = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    for name, value in properties.items():
        ET.SubElement(options, "nvpair", id=f"cib-bootstrap-options-{name}", name=name,
                      value=value)
    return ET.tostring(root, encoding="unicode") + "\n"
