"""The IPVS boundary: the kernel's virtual-server table and sync daemons over generic netlink.

The kernel's ``IPVS`` generic netlink family (include/uapi/linux/ip_vs.h) is spoken here on a
stdlib ``AF_NETLINK`` socket with ``struct``, as ``hakit.os.netlink`` does for rtnetlink:
Debian's pyroute2 (0.7.2) has no IPVS module, a hand-declared pyroute2 message set would cost
its import (about 110 ms of CPU) on every monitor, and ``ipvsadm`` offers only text output
to parse.  This module alone talks to the family, turns errno into ``hakit.errors`` and
reads and writes the per-namespace ``net.ipv4.vs`` sysctls that tune connection sync.

The family exists only once the ``ip_vs`` module is loaded; ``family_id`` reports a missing
module as NotInstalledError.  Every call acts in the calling process's network namespace.
"""

from __future__ import annotations

import _socket
import errno
import ipaddress
import os
import struct

from hakit.errors import GenericError, NotInstalledError
from hakit.lean import frozen
from hakit.os.netlink import attribute, parse_attributes, split_messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Optional, Union

    IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLA_F_NESTED = 0x8000

IPVS_GENL_NAME = b"IPVS"
IPVS_GENL_VERSION = 1
# enum ipvs_cmds
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
# IPVS_CMD_ATTR_*
ATTR_SERVICE = 1
ATTR_DEST = 2
ATTR_DAEMON = 3
# IPVS_SVC_ATTR_*
SVC_AF = 1
SVC_PROTOCOL = 2
SVC_ADDR = 3
SVC_PORT = 4
SVC_FWMARK = 5
SVC_SCHED_NAME = 6
SVC_FLAGS = 7
SVC_TIMEOUT = 8
SVC_NETMASK = 9
# IPVS_DEST_ATTR_*
DEST_ADDR = 1
DEST_PORT = 2
DEST_FWD_METHOD = 3
DEST_WEIGHT = 4
DEST_U_THRESH = 5
DEST_L_THRESH = 6
DEST_ACTIVE_CONNS = 7
DEST_INACT_CONNS = 8
DEST_ADDR_FAMILY = 11
# IPVS_DAEMON_ATTR_*
DAEMON_STATE = 1
DAEMON_MCAST_IFN = 2
DAEMON_SYNC_ID = 3
# IP_VS_STATE_*: a sync daemon's role
STATE_MASTER = 1
STATE_BACKUP = 2
#: IP_VS_CONN_F_FWD_MASK values, by the names admins use (ipvsadm's -m, -g, -i).
FORWARD_METHODS = {"nat": 0, "tun": 2, "dr": 3}
IP_VS_CONN_F_FWD_MASK = 0x7
IP_VS_SVC_F_PERSISTENT = 0x1
#: IP_VS_SCHEDNAME_MAXLEN and IP_VS_IFNAME_MAXLEN, with their terminating NUL.
NAME_MAX = 16

_NLMSGHDR = struct.Struct("=IHHII")
_GENLMSGHDR = struct.Struct("=BBH")
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct("!H")
_FLAGS = struct.Struct("=II")
_NLMSGERR = struct.Struct("=i")

#: Protocol numbers by name (IPPROTO_*), and back.
PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}
_PROTOCOL_NAMES = {number: name for name, number in PROTOCOLS.items()}


@frozen
class ServiceKey:
    """What identifies a virtual service: (protocol, address, port), or a firewall mark."""

    family: int  # AF_INET / AF_INET6
    protocol: int  # IPPROTO_*; 0 for fwmark services
    address: Optional[IPAddress]  # None for fwmark services
    port: int  # 0 for fwmark services
    fwmark: int  # 0 unless a fwmark service

    def __str__(self) -> str:
        if self.fwmark:
            return f"fwmark {self.fwmark} (IPv{4 if self.family == _socket.AF_INET else 6})"
        proto = _PROTOCOL_NAMES.get(self.protocol, str(self.protocol))
        host = str(self.address) if self.family == _socket.AF_INET else f"[{self.address}]"
        return f"{proto} {host}:{self.port}"


@frozen
class Service:
    """A virtual service as the kernel has it."""

    key: ServiceKey
    scheduler: str
    flags: int  # IP_VS_SVC_F_*
    timeout: int  # persistence timeout, seconds
    netmask: int  # persistence granularity: an IPv4 mask or an IPv6 prefix length

    @property
    def persistent(self) -> bool:
        return bool(self.flags & IP_VS_SVC_F_PERSISTENT)


@frozen
class Dest:
    """A real server of a virtual service as the kernel has it."""

    address: IPAddress
    port: int
    forward: int  # IP_VS_CONN_F_FWD_MASK value (FORWARD_METHODS)
    weight: int
    active: int  # active connections
    inactive: int  # inactive connections


@frozen
class Daemon:
    """A running sync daemon (the kernel has at most one master and one backup per netns)."""

    state: int  # STATE_MASTER or STATE_BACKUP
    interface: str
    syncid: int


# -- pure encoding and parsing (tested with hypothesis) ------------------------------------


def nested(kind: int, attrs: Iterable[bytes]) -> bytes:
    return attribute(kind | NLA_F_NESTED, b"".join(attrs))


def _u16(kind: int, value: int) -> bytes:
    return attribute(kind, _U16.pack(value))


def _u32(kind: int, value: int) -> bytes:
    return attribute(kind, _U32.pack(value))


def _string(kind: int, text: str) -> bytes:
    return attribute(kind, text.encode() + b"\0")


def _inet(address: IPAddress) -> bytes:
    """``union nf_inet_addr``: 16 bytes, an IPv4 address in the first four."""
    return address.packed.ljust(16, b"\0")


def family_of(address: IPAddress) -> int:
    return _socket.AF_INET if address.version == 4 else _socket.AF_INET6


def service_key_attrs(key: ServiceKey) -> list[bytes]:
    """The attributes that name a service in any request."""
    attrs = [_u16(SVC_AF, key.family)]
    if key.fwmark:
        attrs.append(_u32(SVC_FWMARK, key.fwmark))
    else:
        if key.address is None:
            raise ValueError("a service without fwmark needs an address")
        attrs += [_u16(SVC_PROTOCOL, key.protocol), attribute(SVC_ADDR, _inet(key.address)),
                  attribute(SVC_PORT, _BE16.pack(key.port))]
    return attrs


def service_attrs(service: Service) -> list[bytes]:
    """A full service entry (new/set service)."""
    return [
        *service_key_attrs(service.key),
        _string(SVC_SCHED_NAME, service.scheduler),
        attribute(SVC_FLAGS, _FLAGS.pack(service.flags, 0xFFFFFFFF)),
        _u32(SVC_TIMEOUT, service.timeout),
        _u32(SVC_NETMASK, service.netmask),
    ]


def dest_attrs(dest: Dest, *, full: bool = True) -> list[bytes]:
    attrs = [attribute(DEST_ADDR, _inet(dest.address)), attribute(DEST_PORT, _BE16.pack(dest.port)),
             _u16(DEST_ADDR_FAMILY, family_of(dest.address))]
    if full:
        attrs += [_u32(DEST_FWD_METHOD, dest.forward), _u32(DEST_WEIGHT, dest.weight),
                  _u32(DEST_U_THRESH, 0), _u32(DEST_L_THRESH, 0)]
    return attrs


def _int(attrs: dict[int, bytes], kind: int, form: struct.Struct, default: int = 0) -> int:
    raw = attrs.get(kind)
    if raw is None:
        return default
    if len(raw) < form.size:
        raise ValueError(f"attribute {kind} is {len(raw)} bytes, want {form.size}")
    return int(form.unpack_from(raw)[0])


def _address(family: int, raw: Optional[bytes]) -> IPAddress:
    if raw is None:
        raise ValueError("no address attribute")
    if family == _socket.AF_INET and len(raw) >= 4:
        return ipaddress.IPv4Address(raw[:4])
    if family == _socket.AF_INET6 and len(raw) >= 16:
        return ipaddress.IPv6Address(raw[:16])
    raise ValueError(f"address of {len(raw)} bytes for family {family}")


def _name(raw: Optional[bytes]) -> str:
    return (raw or b"").split(b"\0", 1)[0].decode("utf-8", "replace")


def _genl_attrs(payload: bytes) -> dict[int, bytes]:
    if len(payload) < _GENLMSGHDR.size:
        raise ValueError("short generic netlink header")
    return parse_attributes(payload, _GENLMSGHDR.size)


def parse_service(payload: bytes) -> Service:
    """A GET_SERVICE reply.  Raises ValueError when malformed."""
    outer = _genl_attrs(payload)
    if ATTR_SERVICE not in outer:
        raise ValueError("reply without a service")
    attrs = parse_attributes(outer[ATTR_SERVICE])
    family = _int(attrs, SVC_AF, _U16)
    fwmark = _int(attrs, SVC_FWMARK, _U32)
    if fwmark:
        key = ServiceKey(family, 0, None, 0, fwmark)
    else:
        key = ServiceKey(family, _int(attrs, SVC_PROTOCOL, _U16),
                         _address(family, attrs.get(SVC_ADDR)), _int(attrs, SVC_PORT, _BE16),
                         0)
    flags = _int(attrs, SVC_FLAGS, _U32)
    return Service(key, _name(attrs.get(SVC_SCHED_NAME)), flags,
                   _int(attrs, SVC_TIMEOUT, _U32), _int(attrs, SVC_NETMASK, _U32))


def parse_dest(payload: bytes, family: int) -> Dest:
    """A GET_DEST reply (``family``: the service's, when the kernel omits the dest's own)."""
    outer = _genl_attrs(payload)
    if ATTR_DEST not in outer:
        raise ValueError("reply without a destination")
    attrs = parse_attributes(outer[ATTR_DEST])
    family = _int(attrs, DEST_ADDR_FAMILY, _U16, family)
    return Dest(_address(family, attrs.get(DEST_ADDR)), _int(attrs, DEST_PORT, _BE16),
                _int(attrs, DEST_FWD_METHOD, _U32) & IP_VS_CONN_F_FWD_MASK,
                _int(attrs, DEST_WEIGHT, _U32), _int(attrs, DEST_ACTIVE_CONNS, _U32),
                _int(attrs, DEST_INACT_CONNS, _U32))


def parse_daemons(payload: bytes) -> list[Daemon]:
    """A GET_DAEMON reply: the kernel sends one message per running daemon."""
    outer = _genl_attrs(payload)
    found = []
    raw = outer.get(ATTR_DAEMON)
    if raw is not None:
        attrs = parse_attributes(raw)
        state = _int(attrs, DAEMON_STATE, _U32)
        if state in (STATE_MASTER, STATE_BACKUP):
            found.append(Daemon(state, _name(attrs.get(DAEMON_MCAST_IFN)),
                                _int(attrs, DAEMON_SYNC_ID, _U32)))
    return found


# -- the socket ------------------------------------------------------------------------------


class IpvsError(GenericError):
    """The kernel refused an IPVS request; ``errno`` says why."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.errno = code


class Connection:
    """One generic netlink socket bound to the IPVS family, for the requests of one action."""

    def __init__(self, timeout: float = 5.0) -> None:
        try:
            self._sock = _socket.socket(_socket.AF_NETLINK,
                                        _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                                        NETLINK_GENERIC)
            self._sock.settimeout(max(timeout, 0.001))
            self._sock.bind((0, 0))
        except OSError as exc:
            raise GenericError(f"cannot open a generic netlink socket: {exc.strerror}") from exc
        self._seq = 0
        self._family = 0
        try:
            self._family = self._resolve()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def settimeout(self, timeout: float) -> None:
        self._sock.settimeout(max(timeout, 0.001))

    def _resolve(self) -> int:
        body = _GENLMSGHDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + attribute(
            CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME + b"\0")
        try:
            replies = self._exchange(GENL_ID_CTRL, 0, body)
        except IpvsError as exc:
            if exc.errno == errno.ENOENT:
                raise NotInstalledError(
                    "the kernel has no IPVS (the ip_vs module is not loaded and cannot be "
                    "loaded on this host)") from exc
            raise
        for payload in replies:
            found = _int(_genl_attrs(payload), CTRL_ATTR_FAMILY_ID, _U16)
            if found:
                return found
        raise GenericError("the generic netlink controller did not name the IPVS family")

    def _exchange(self, kind: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; the payloads of its replies (an ack ends a plain request)."""
        self._seq += 1
        seq = self._seq
        replies: list[bytes] = []
        try:
            self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                                           NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0) + body)
            while True:
                data = self._sock.recv(1 << 17)
                for mtype, _mflags, mseq, payload in split_messages(data):
                    if mseq != seq:
                        continue
                    if mtype == NLMSG_DONE:
                        return replies
                    if mtype == NLMSG_ERROR:
                        code = -_NLMSGERR.unpack_from(payload)[0] if len(payload) >= 4 else 0
                        if code == 0:
                            return replies
                        raise IpvsError(os.strerror(code), code)
                    replies.append(payload)
        except _socket.timeout as exc:
            raise GenericError("IPVS netlink did not answer in time") from exc
        except ValueError as exc:
            raise GenericError(f"unreadable IPVS netlink reply: {exc}") from exc
        except OSError as exc:
            raise GenericError(f"IPVS netlink request failed: {exc.strerror}") from exc

    def request(self, cmd: int, attrs: Sequence[bytes] = (), *, dump: bool = False
                ) -> list[bytes]:
        body = _GENLMSGHDR.pack(cmd, IPVS_GENL_VERSION, 0) + b"".join(attrs)
        return self._exchange(self._family, NLM_F_DUMP if dump else 0, body)

    # -- reading --------------------------------------------------------------------------

    def services(self) -> list[Service]:
        try:
            return [parse_service(p) for p in self.request(CMD_GET_SERVICE, dump=True)]
        except ValueError as exc:
            raise GenericError(f"unreadable IPVS service: {exc}") from exc

    def dests(self, key: ServiceKey) -> list[Dest]:
        """The real servers of a service; IpvsError(ESRCH) when it does not exist."""
        try:
            replies = self.request(CMD_GET_DEST, [nested(ATTR_SERVICE, service_key_attrs(key))],
                                   dump=True)
            return [parse_dest(p, key.family) for p in replies]
        except ValueError as exc:
            raise GenericError(f"unreadable IPVS destination of {key}: {exc}") from exc

    def daemons(self) -> list[Daemon]:
        found: list[Daemon] = []
        try:
            for payload in self.request(CMD_GET_DAEMON, dump=True):
                found.extend(parse_daemons(payload))
        except ValueError as exc:
            raise GenericError(f"unreadable IPVS sync daemon: {exc}") from exc
        return found

    # -- changing --------------------------------------------------------------------------

    def add_service(self, service: Service) -> None:
        self._change(CMD_NEW_SERVICE, [nested(ATTR_SERVICE, service_attrs(service))],
                     f"add virtual service {service.key}")

    def edit_service(self, service: Service) -> None:
        self._change(CMD_SET_SERVICE, [nested(ATTR_SERVICE, service_attrs(service))],
                     f"change virtual service {service.key}")

    def remove_service(self, key: ServiceKey) -> bool:
        """Remove a service and its real servers; False when it was not there."""
        try:
            self._change(CMD_DEL_SERVICE, [nested(ATTR_SERVICE, service_key_attrs(key))],
                         f"remove virtual service {key}")
        except IpvsError as exc:
            if exc.errno == errno.ESRCH:
                return False
            raise
        return True

    def add_dest(self, key: ServiceKey, dest: Dest) -> None:
        self._change(CMD_NEW_DEST, [nested(ATTR_SERVICE, service_key_attrs(key)),
                                    nested(ATTR_DEST, dest_attrs(dest))],
                     f"add real server {_endpoint(dest.address, dest.port)} to {key}")

    def edit_dest(self, key: ServiceKey, dest: Dest) -> None:
        self._change(CMD_SET_DEST, [nested(ATTR_SERVICE, service_key_attrs(key)),
                                    nested(ATTR_DEST, dest_attrs(dest))],
                     f"change real server {_endpoint(dest.address, dest.port)} of {key}")

    def remove_dest(self, key: ServiceKey, address: IPAddress, port: int) -> bool:
        """False when it was not there."""
        dest = Dest(address, port, 0, 0, 0, 0)
        try:
            self._change(CMD_DEL_DEST, [nested(ATTR_SERVICE, service_key_attrs(key)),
                                        nested(ATTR_DEST, dest_attrs(dest, full=False))],
                         f"remove real server {_endpoint(address, port)} from {key}")
        except IpvsError as exc:
            if exc.errno in (errno.ENOENT, errno.ESRCH):
                return False
            raise
        return True

    def start_daemon(self, state: int, interface: str, syncid: int) -> None:
        role = "master" if state == STATE_MASTER else "backup"
        self._change(CMD_NEW_DAEMON, [nested(ATTR_DAEMON, [
            _u32(DAEMON_STATE, state), _string(DAEMON_MCAST_IFN, interface),
            _u32(DAEMON_SYNC_ID, syncid)])],
            f"start the {role} sync daemon on {interface} (syncid {syncid})")

    def stop_daemon(self, state: int) -> bool:
        """False when no daemon of that role ran."""
        role = "master" if state == STATE_MASTER else "backup"
        try:
            self._change(CMD_DEL_DAEMON, [nested(ATTR_DAEMON, [_u32(DAEMON_STATE, state)])],
                         f"stop the {role} sync daemon")
        except IpvsError as exc:
            if exc.errno == errno.ESRCH:
                return False
            raise
        return True

    def _change(self, cmd: int, attrs: Sequence[bytes], doing: str) -> None:
        try:
            self.request(cmd, attrs)
        except IpvsError as exc:
            raise IpvsError(f"cannot {doing}: {exc.reason}", exc.errno) from exc


def _endpoint(address: IPAddress, port: int) -> str:
    return f"{address}:{port}" if address.version == 4 else f"[{address}]:{port}"


# -- sysctls (net.ipv4.vs.*, per network namespace) ----------------------------------------

SYSCTL_DIR = "/proc/sys/net/ipv4/vs"


def read_sysctl(name: str) -> Optional[str]:
    """``net.ipv4.vs.NAME`` of this namespace, or None when IPVS is not loaded."""
    try:
        with open(f"{SYSCTL_DIR}/{name}") as handle:
            return " ".join(handle.read().split())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GenericError(f"cannot read net.ipv4.vs.{name}: {exc.strerror}") from exc


def write_sysctl(name: str, value: str) -> None:
    try:
        with open(f"{SYSCTL_DIR}/{name}", "w") as handle:
            handle.write(value + "\n")
    except OSError as exc:
        raise GenericError(f"cannot set net.ipv4.vs.{name} to {value!r}: "
                           f"{exc.strerror}") from exc


def module_loaded() -> bool:
    """Whether the IPVS core is in the kernel (a module in /sys/module or built in)."""
    return os.path.isdir("/sys/module/ip_vs")
