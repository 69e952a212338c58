"""Pure checks of what an admin passes to ``hakit-snippet``.

Each function takes the raw text and returns a typed value or raises ``ValueError`` with a
message that says what is wrong and what is expected; the CLI shows it and exits 2.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Union

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]

# A container name is used as the LXC name, in /var/lib/lxc/NAME and as the prefix of every
# resource id, so it must be a valid XML ID (Pacemaker ids are xsd:ID) and a safe path part.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,47}")
# Node names are host names (RFC 1123 labels, dots allowed); Pacemaker compares them to
# `crm_node -n`, which is the uname or corosync's ring0 name.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NODE = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# Ceph pool and image names: no '/', '@' (snapshot separator) or spaces.
_CEPH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_IFNAME = re.compile(r"[A-Za-z0-9_.:-]{1,15}")
# BMC (IPMI, Redfish) user names: what fence_hakit passes on, without characters a shell,
# crmsh or the fence agents' name=value stdin protocol would read as syntax.
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}")


@dataclass(frozen=True)
class Image:
    """An RBD image as pool/image."""

    pool: str
    image: str

    def __str__(self) -> str:
        return f"{self.pool}/{self.image}"


def name(raw: str) -> str:
    """A container (and resource-id prefix) name."""
    if not _NAME.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a valid name: use a letter, then up to 47 letters, "
                         "digits, '-' or '_'")
    return raw


def node(raw: str) -> str:
    """A cluster node name."""
    if len(raw) > 253 or not _NODE.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a valid node name: use a host name "
                         "(letters, digits, '-', dot-separated labels)")
    return raw


def node_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list of distinct node names."""
    nodes = tuple(node(part.strip()) for part in raw.split(","))
    duplicates = sorted({n for n in nodes if nodes.count(n) > 1})
    if duplicates:
        raise ValueError(f"node {duplicates[0]!r} is listed twice")
    return nodes


def name_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list of distinct container names."""
    names = tuple(name(part.strip()) for part in raw.split(","))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"name {duplicates[0]!r} is listed twice")
    return names


def image(raw: str) -> Image:
    """An RBD image written as POOL/IMAGE."""
    parts = raw.split("/")
    if len(parts) != 2 or not all(_CEPH.fullmatch(p) for p in parts):
        raise ValueError(f"{raw!r} is not an RBD image: write POOL/IMAGE, each part made of "
                         "letters, digits, '_', '.' or '-'")
    return Image(parts[0], parts[1])


def interface(raw: str) -> IPInterface:
    """A floating address with its prefix length, e.g. 198.18.0.10/24 or fd00::10/64."""
    if "/" not in raw:
        raise ValueError(f"{raw!r} has no prefix length: write ADDRESS/PREFIX, "
                         "e.g. 198.18.0.10/24")
    try:
        value = ipaddress.ip_interface(raw)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is not an IPv4 or IPv6 address with a prefix length") \
            from exc
    address = value.ip
    if (address.is_multicast or address.is_unspecified or address.is_loopback
            or address.is_link_local or address.is_reserved):
        raise ValueError(f"{raw!r} cannot be a floating service address "
                         "(multicast, unspecified, loopback, link-local or reserved)")
    network = value.network
    if (isinstance(value, ipaddress.IPv4Interface) and network.prefixlen < 31
            and address in (network.network_address, network.broadcast_address)):
        raise ValueError(f"{raw!r} is the network or broadcast address of {network}")
    return value


def _address(text: str, node_part: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address without an IPv6 scope id (``%eth0``): a scope names an interface of
    one node, meaningless on the others, and its text is free-form (it could carry the
    separators of fence_hakit_ceph's node map)."""
    if "%" in text:
        raise ValueError(f"{text!r} (for node {node_part!r}) has an IPv6 scope id; give a "
                         "routable address, not a link-local one")
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} (for node {node_part!r}) is not an IP address") from exc


def node_address(raw: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """NODE=ADDRESS, e.g. n1=198.18.1.1 (a node and its BMC)."""
    node_part, sep, addr_part = raw.partition("=")
    if not sep:
        raise ValueError(f"{raw!r} is not NODE=ADDRESS, e.g. n1=198.18.1.1")
    address = _address(addr_part, node_part)
    return node(node_part), address


def name_image(raw: str) -> tuple[str, Image]:
    """NAME=POOL/IMAGE, e.g. lb1=rbd/lb1 (a container and its image)."""
    name_part, sep, image_part = raw.partition("=")
    if not sep:
        raise ValueError(f"{raw!r} is not NAME=POOL/IMAGE, e.g. lb1=rbd/lb1")
    return name(name_part), image(image_part)


def name_node(raw: str) -> tuple[str, str]:
    """NAME=NODE, e.g. web=n1 (a container and its preferred node)."""
    name_part, sep, node_part = raw.partition("=")
    if not sep:
        raise ValueError(f"{raw!r} is not NAME=NODE, e.g. web=n1")
    return name(name_part), node(node_part)


def nic(raw: str) -> str:
    """A network interface name (at most 15 characters, Linux's IFNAMSIZ - 1)."""
    if not _IFNAME.fullmatch(raw) or raw in (".", ".."):
        raise ValueError(f"{raw!r} is not a network interface name")
    return raw


def absolute_path(raw: str) -> str:
    """An absolute path without spaces or control characters."""
    if not raw.startswith("/") or any(c.isspace() or ord(c) < 32 for c in raw):
        raise ValueError(f"{raw!r} is not an absolute path without spaces")
    return raw


def command_line(raw: str) -> str:
    """A single-line command run by an agent (e.g. lxc's health_command)."""
    if not raw.strip() or any(ord(c) < 32 for c in raw):
        raise ValueError("the command must be one non-empty line")
    if '"' in raw or "\\" in raw:
        # crmsh's parser and the pcs script's quoting both stay simple without these.
        raise ValueError("the command must not contain '\"' or '\\'; put it in a script")
    return raw


def ceph_user(raw: str) -> str:
    """A cephx user without the 'client.' prefix."""
    if not _CEPH.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a cephx user name")
    return raw


def node_addresses(raw: str) -> tuple[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address,
                                                  ...]]:
    """NODE=ADDRESS[,ADDRESS...], e.g. n1=198.18.0.11,198.18.0.12 (a node's addresses on
    the Ceph public network, for fence_hakit_ceph)."""
    node_part, sep, addr_part = raw.partition("=")
    if not sep or not addr_part:
        raise ValueError(f"{raw!r} is not NODE=ADDRESS[,ADDRESS...], e.g. "
                         "n1=198.18.0.11,198.18.0.12")
    addresses = [_address(text, node_part) for text in addr_part.split(",")]
    return node(node_part), tuple(addresses)


def bmc_user(raw: str) -> str:
    """A BMC login name (IPMI, Redfish)."""
    if not _USER.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a BMC user name: use up to 64 letters, digits, "
                         "'_', '.', '@', '+' or '-', starting with a letter, digit or '_'")
    return raw
