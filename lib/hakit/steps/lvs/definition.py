"""The LVS service definition of ocf:hakit:lvs: its text form, parsed and validated (pure).

One grammar serves both places an admin writes it: the ``services`` parameter (lines
separated by newlines or ``;``, handy for one or two services kept in the CIB) and a
``config_file`` (for many).  Directives, one per line, ``#`` starts a comment::

    virtual 198.51.100.10:80 protocol=tcp scheduler=wlc forward=dr persistence=0
      real 10.0.0.11:80 weight=1
      real 10.0.0.12:80 weight=2
      sorry 10.0.0.99:80
      check http path=/health status=200 interval=5s timeout=2s rise=2 fall=2
    virtual fwmark:7 family=ipv6 scheduler=sh
      real [fd00::11]:443

``real``, ``sorry`` and ``check`` belong to the ``virtual`` above them.  Every error is a
``ConfigSyntaxError`` naming the line and the field, so the agent's exit reason can say
exactly what to fix.  Nothing here touches the system.
"""

from __future__ import annotations

import ipaddress

from hakit.lean import frozen
from hakit.ocf.params import Duration
from hakit.os.ipvs import FORWARD_METHODS, IP_VS_SVC_F_PERSISTENT, PROTOCOLS, Service, ServiceKey

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Union

    IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

AF_INET = 2
AF_INET6 = 10
#: The schedulers Linux ships (net/netfilter/ipvs/ip_vs_*.c), by their kernel names; a
#: kernel without one (twos came with 6.2) makes start fail with rc 5 naming it.
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf",
              "mh", "twos")
#: Forwarding methods by name, with ipvsadm's and keepalived's spellings as aliases.
FORWARD_ALIASES = {"dr": "dr", "route": "dr", "gate": "dr", "direct": "dr",
                   "nat": "nat", "masq": "nat", "masquerade": "nat",
                   "tun": "tun", "tunnel": "tun", "ipip": "tun"}
CHECK_KINDS = ("tcp", "http", "https", "command", "none")
#: ipvsadm's weight range (the kernel takes up to INT_MAX; nobody means more).
WEIGHT_MAX = 65535
#: A week: longer persistence is a typo, not a policy (ipvsadm accepts up to 2^31 s).
PERSISTENCE_MAX = 7 * 24 * 3600
DEFAULT_WEIGHT = 1


class ConfigSyntaxError(ValueError):
    """A problem in the service definition, at ``line`` (1-based), in ``field``."""

    def __init__(self, line: int, field: str, problem: str) -> None:
        super().__init__(f"line {line}: field '{field}' {problem}")
        self.line = line
        self.field = field
        self.problem = problem


@frozen
class Check:
    """How the real servers of one virtual service are health-checked."""

    kind: str = "tcp"  # CHECK_KINDS
    port: Optional[int] = None  # default: each real server's own port
    path: str = "/"  # http(s): the request path
    status: int = 200  # http(s): the expected status code
    host: str = ""  # http(s): the Host header (default: the real server's address)
    command: str = ""  # command: an absolute path, run as COMMAND ADDRESS PORT
    interval: float = 0.0  # seconds between checks; 0: at every monitor
    timeout: float = 3.0  # seconds one check may take
    rise: int = 1  # consecutive good checks before a failed server is used again
    fall: int = 1  # consecutive failed checks before a server is taken out


@frozen
class Real:
    """A real server (or the sorry server) of a virtual service."""

    address: IPAddress
    port: int  # 0: the port of each packet (fwmark services with dr/tun)
    weight: int = DEFAULT_WEIGHT

    @property
    def endpoint(self) -> str:
        return endpoint(self.address, self.port)


@frozen
class Virtual:
    """One virtual service with its real servers, sorry server and health check."""

    line: int  # where it was defined, for error messages
    family: int  # AF_INET / AF_INET6
    protocol: str  # tcp, udp, sctp ("" for fwmark services)
    address: Optional[IPAddress]  # None for fwmark services
    port: int  # 0 for fwmark services
    fwmark: int  # 0 unless a fwmark service
    scheduler: str
    forward: str  # dr, nat, tun
    persistence: int  # seconds; 0: none
    reals: tuple[Real, ...]
    sorry: Optional[Real]
    check: Check

    @property
    def key(self) -> ServiceKey:
        return ServiceKey(self.family, PROTOCOLS.get(self.protocol, 0), self.address,
                          self.port, self.fwmark)

    def service(self) -> Service:
        """The kernel's view of this service (as ``hakit.os.ipvs`` adds it)."""
        netmask = 0xFFFFFFFF if self.family == AF_INET else 128
        return Service(self.key, self.scheduler,
                       IP_VS_SVC_F_PERSISTENT if self.persistence else 0,
                       self.persistence, netmask)

    @property
    def forward_code(self) -> int:
        return FORWARD_METHODS[self.forward]

    @property
    def name(self) -> str:
        return str(self.key)


def endpoint(address: IPAddress, port: int) -> str:
    host = str(address) if address.version == 4 else f"[{address}]"
    return f"{host}:{port}"


# -- lexing ----------------------------------------------------------------------------------


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """(line number, words) for each non-empty line; ``;`` separates lines too."""
    result = []
    for number, raw in enumerate(text.replace(";", "\n").splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if words:
            result.append((number, words))
    return result


def _options(number: int, words: list[str], allowed: tuple[str, ...], directive: str
             ) -> dict[str, str]:
    found: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ConfigSyntaxError(number, directive,
                                    f"has {word!r}, expected key=value ({', '.join(allowed)})")
        if key not in allowed:
            raise ConfigSyntaxError(number, key, f"is not a field of '{directive}' (fields: "
                                    f"{', '.join(allowed)})")
        if key in found:
            raise ConfigSyntaxError(number, key, "is given twice")
        found[key] = value
    return found


# -- values ----------------------------------------------------------------------------------


def _integer(number: int, field: str, text: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise ConfigSyntaxError(number, field, f"must be an integer, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ConfigSyntaxError(number, field, f"must be from {low} to {high}, got {value}")
    return value


def _port(number: int, field: str, text: str, low: int = 1) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ConfigSyntaxError(number, field, f"has port {text!r}, not a number")
    value = int(text) if len(text) <= 6 else 1 << 20
    if not low <= value <= 65535:
        raise ConfigSyntaxError(number, field,
                                f"has port {text}, out of range ({low}-65535)")
    return value


def _address(number: int, field: str, text: str) -> IPAddress:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ConfigSyntaxError(number, field, f"has {text!r}, not an IP address") from None
    if address.is_multicast or address.is_unspecified:
        raise ConfigSyntaxError(number, field, f"has {address}, not a unicast address")
    return address


def parse_endpoint(number: int, field: str, text: str, *, port_optional: bool = False
                   ) -> tuple[IPAddress, Optional[int]]:
    """``ADDR:PORT``, ``[IPV6]:PORT``, or (with ``port_optional``) a bare address."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigSyntaxError(number, field, f"has {text!r}, expected [IPV6]:PORT")
        port_text = rest[1:] if rest else None
        if ":" not in host:
            raise ConfigSyntaxError(number, field, f"has {text!r}: brackets are for IPv6")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, None
        if text.count(":") > 1:
            raise ConfigSyntaxError(number, field,
                                    f"has {text!r}: write an IPv6 address as [ADDR]:PORT")
    address = _address(number, field, host)
    if port_text is None:
        if not port_optional:
            raise ConfigSyntaxError(number, field, f"has {text!r} without a port (ADDR:PORT)")
        return address, None
    return address, _port(number, field, port_text)


def _duration(number: int, field: str, text: str, low: float, high: float) -> float:
    try:
        return Duration(low, high).parse(text)
    except ValueError as exc:
        raise ConfigSyntaxError(number, field, str(exc)) from None


# -- directives ----------------------------------------------------------------------------

VIRTUAL_FIELDS = ("protocol", "scheduler", "forward", "persistence", "family")
REAL_FIELDS = ("weight",)
CHECK_FIELDS = ("port", "path", "status", "host", "command", "interval", "timeout", "rise",
                "fall")


class _Draft:
    """A virtual service being read: its header and what lines below it add."""

    def __init__(self, number: int, words: list[str]) -> None:
        self.number = number
        if not words:
            raise ConfigSyntaxError(number, "virtual", "needs ADDR:PORT or fwmark:N")
        target, options = words[0], _options(number, words[1:], VIRTUAL_FIELDS, "virtual")
        self.fwmark = 0
        self.address: Optional[IPAddress] = None
        self.port = 0
        family_text = options.get("family")
        if target.startswith("fwmark:"):
            self.fwmark = _integer(number, "virtual", target[len("fwmark:"):], 1, 0xFFFFFFFF)
            if "protocol" in options:
                raise ConfigSyntaxError(number, "protocol",
                                        "does not apply to a fwmark service (the mark selects)")
            self.protocol = ""
        else:
            if family_text is not None:
                raise ConfigSyntaxError(number, "family",
                                        "applies to fwmark services only (the address tells)")
            address, port = parse_endpoint(number, "virtual", target)
            self.address, self.port = address, port or 0
            self.protocol = options.get("protocol", "tcp")
            if self.protocol not in PROTOCOLS:
                raise ConfigSyntaxError(number, "protocol", f"must be one of "
                                        f"{', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.address is not None:
            self.family = AF_INET if self.address.version == 4 else AF_INET6
        else:
            families = {"ipv4": AF_INET, "inet": AF_INET, "ipv6": AF_INET6, "inet6": AF_INET6}
            if family_text is not None and family_text not in families:
                raise ConfigSyntaxError(number, "family",
                                        f"must be ipv4 or ipv6, got {family_text!r}")
            self.family = families[family_text or "ipv4"]
        self.scheduler = options.get("scheduler", "wlc")
        if self.scheduler not in SCHEDULERS:
            raise ConfigSyntaxError(number, "scheduler", f"must be one of "
                                    f"{', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        forward = options.get("forward", "dr")
        if forward not in FORWARD_ALIASES:
            raise ConfigSyntaxError(number, "forward",
                                    f"must be dr, nat or tun, got {forward!r}")
        self.forward = FORWARD_ALIASES[forward]
        self.persistence = _integer(number, "persistence", options.get("persistence", "0"),
                                    0, PERSISTENCE_MAX)
        self.reals: list[Real] = []
        self.sorry: Optional[Real] = None
        self.check: Optional[Check] = None

    @property
    def name(self) -> str:
        if self.fwmark or self.address is None:
            return f"fwmark:{self.fwmark}"
        return endpoint(self.address, self.port)

    def _server(self, number: int, field: str, words: list[str]) -> Real:
        if not words:
            raise ConfigSyntaxError(number, field, "needs ADDR:PORT")
        address, port = parse_endpoint(number, field, words[0], port_optional=True)
        options = _options(number, words[1:], REAL_FIELDS, field)
        if (address.version == 4) != (self.family == AF_INET):
            want = "IPv4" if self.family == AF_INET else "IPv6"
            raise ConfigSyntaxError(number, field, f"has {address}, but virtual service "
                                    f"{self.name} is {want} (line {self.number})")
        if port is None:
            port = self.port  # dr/tun cannot translate ports; nat keeps them by default
        elif self.forward in ("dr", "tun") and not self.fwmark and port != self.port:
            raise ConfigSyntaxError(number, field, f"has port {port}, but forward="
                                    f"{self.forward} cannot change the port ({self.port}); "
                                    "use forward=nat to translate ports")
        weight = _integer(number, "weight", options.get("weight", str(DEFAULT_WEIGHT)), 0,
                          WEIGHT_MAX)
        return Real(address, port, weight)

    def add_real(self, number: int, words: list[str]) -> None:
        real = self._server(number, "real", words)
        for other in self.reals:
            if (other.address, other.port) == (real.address, real.port):
                raise ConfigSyntaxError(number, "real", f"{real.endpoint} is listed twice for "
                                        f"virtual service {self.name}")
        self.reals.append(real)

    def set_sorry(self, number: int, words: list[str]) -> None:
        if self.sorry is not None:
            raise ConfigSyntaxError(number, "sorry", f"is given twice for {self.name}")
        self.sorry = self._server(number, "sorry", words)

    def set_check(self, number: int, words: list[str]) -> None:
        if self.check is not None:
            raise ConfigSyntaxError(number, "check", f"is given twice for {self.name}")
        if not words or words[0] not in CHECK_KINDS:
            got = repr(words[0]) if words else "nothing"
            raise ConfigSyntaxError(number, "check",
                                    f"must be one of {', '.join(CHECK_KINDS)}, got {got}")
        kind = words[0]
        opts = _options(number, words[1:], CHECK_FIELDS, "check")
        port = _port(number, "port", opts["port"]) if "port" in opts else None
        path = opts.get("path", "/")
        if not path.startswith("/") or not path.isprintable():
            raise ConfigSyntaxError(number, "path", f"must start with '/', got {path!r}")
        host = opts.get("host", "")
        if host and not all(c.isalnum() or c in ".-:[]" for c in host):
            raise ConfigSyntaxError(number, "host", f"must be a host name, got {host!r}")
        command = opts.get("command", "")
        if kind == "command":
            if not command.startswith("/"):
                raise ConfigSyntaxError(number, "command",
                                        f"must be an absolute path, got {command!r}")
        elif command:
            raise ConfigSyntaxError(number, "command", "is for 'check command' only")
        if kind not in ("http", "https"):
            for name in ("path", "status", "host"):
                if name in opts:
                    raise ConfigSyntaxError(number, name, "is for http and https checks only")
        interval = _duration(number, "interval", opts.get("interval", "0"), 0, 3600)
        timeout = _duration(number, "timeout", opts.get("timeout", "3"), 0.05, 300)
        if interval and timeout > interval:
            raise ConfigSyntaxError(number, "timeout", f"({timeout:g}s) must not exceed "
                                    f"interval ({interval:g}s)")
        self.check = Check(
            kind=kind, port=port, path=path,
            status=_integer(number, "status", opts.get("status", "200"), 100, 599),
            host=host, command=command, interval=interval, timeout=timeout,
            rise=_integer(number, "rise", opts.get("rise", "1"), 1, 100),
            fall=_integer(number, "fall", opts.get("fall", "1"), 1, 100))

    def finish(self) -> Virtual:
        if not self.reals and self.sorry is None:
            raise ConfigSyntaxError(self.number, "real",
                                    f"none given for virtual service {self.name}")
        check = self.check or Check()
        if self.fwmark and check.kind in ("tcp", "http", "https") and check.port is None \
                and any(r.port == 0 for r in self.reals):
            raise ConfigSyntaxError(self.number, "port", f"of the check must be set for "
                                    f"{self.name}: its real servers have no port")
        if self.sorry is not None and any(
                (r.address, r.port) == (self.sorry.address, self.sorry.port) for r in self.reals):
            raise ConfigSyntaxError(self.number, "sorry", f"{self.sorry.endpoint} is also a "
                                    f"real server of {self.name}")
        return Virtual(self.number, self.family, self.protocol, self.address, self.port,
                       self.fwmark, self.scheduler, self.forward, self.persistence,
                       tuple(self.reals), self.sorry, check)


def parse(text: str) -> tuple[Virtual, ...]:
    """The virtual services ``text`` defines; ConfigSyntaxError names the line and field."""
    services: list[Virtual] = []
    draft: Optional[_Draft] = None
    seen: dict[ServiceKey, int] = {}
    for number, words in _lines(text):
        directive, rest = words[0], words[1:]
        if directive == "virtual":
            if draft is not None:
                services.append(draft.finish())
            draft = _Draft(number, rest)
            key = ServiceKey(draft.family, PROTOCOLS.get(draft.protocol, 0), draft.address,
                             draft.port, draft.fwmark)
            if key in seen:
                kind = draft.protocol or "fwmark"
                raise ConfigSyntaxError(number, "virtual", f"{draft.name} ({kind}) is already "
                                        f"defined on line {seen[key]}")
            seen[key] = number
        elif directive in ("real", "sorry", "check"):
            if draft is None:
                raise ConfigSyntaxError(number, directive, "comes before any 'virtual'")
            if directive == "real":
                draft.add_real(number, rest)
            elif directive == "sorry":
                draft.set_sorry(number, rest)
            else:
                draft.set_check(number, rest)
        else:
            raise ConfigSyntaxError(number, directive, "is not a directive (virtual, real, "
                                    "sorry, check)")
    if draft is not None:
        services.append(draft.finish())
    if not services:
        raise ConfigSyntaxError(1, "virtual", "none defined")
    return tuple(services)


def render(services: tuple[Virtual, ...]) -> str:
    """The text form of ``services`` (parses back to the same value)."""
    lines = []
    for svc in services:
        if svc.fwmark or svc.address is None:
            family = "ipv4" if svc.family == AF_INET else "ipv6"
            head = f"virtual fwmark:{svc.fwmark} family={family}"
        else:
            head = f"virtual {endpoint(svc.address, svc.port)} protocol={svc.protocol}"
        lines.append(f"{head} scheduler={svc.scheduler} forward={svc.forward} "
                     f"persistence={svc.persistence}")
        lines += [f"  real {r.endpoint} weight={r.weight}" for r in svc.reals]
        if svc.sorry is not None:
            lines.append(f"  sorry {svc.sorry.endpoint} weight={svc.sorry.weight}")
        c = svc.check
        words = [f"  check {c.kind}"]
        if c.port is not None:
            words.append(f"port={c.port}")
        if c.kind in ("http", "https"):
            words.append(f"path={c.path} status={c.status}")
            if c.host:
                words.append(f"host={c.host}")
        if c.kind == "command":
            words.append(f"command={c.command}")
        words.append(f"interval={c.interval!r} timeout={c.timeout!r} rise={c.rise} "
                     f"fall={c.fall}")
        lines.append(" ".join(words))
    return "\n".join(lines) + "\n"
