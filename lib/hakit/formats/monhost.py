"""Ceph monitor addresses as an admin writes them in ``mon_host`` (pure; no I/O).

Ceph accepts a list separated by commas, semicolons or spaces of ``HOST``, ``HOST:PORT``,
``v2:HOST:PORT``, ``[IPv6]:PORT``, ``v2:HOST:PORT/NONCE`` and address vectors
``[v2:HOST:PORT,v1:HOST:PORT]``.  A host that is not a literal address is resolved with
getaddrinfo, which hands all-numeric names to inet_aton: ``1.5`` would mean 1.0.0.5 and
``0x7f.1`` 127.0.0.1.  So a numeric host must be a full dotted quad, and anything else a
host name (RFC 1123: its last label is not all digits).
"""

from __future__ import annotations

from hakit import shown

_SEPARATORS = ",; \t"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_HEX = frozenset("0123456789abcdefABCDEF")


def _split(text: str) -> list[str]:
    """Items separated by _SEPARATORS, except inside brackets (vectors, IPv6 literals)."""
    items, current, depth = [], "", 0
    for char in text:
        if char in _SEPARATORS and depth == 0:
            if current:
                items.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ValueError("has unbalanced or nested brackets")
        current += char
    if depth:
        raise ValueError("has an unclosed '['")
    if current:
        items.append(current)
    return items


def _inet_aton_number(label: str) -> bool:
    """Whether inet_aton reads ``label`` as a number: decimal, octal (0...) or 0x hex."""
    if label[:2].lower() == "0x":
        return all(c in _HEX for c in label[2:])
    return label.isascii() and label.isdigit()


def check_host(host: str) -> str:
    """A dotted-quad IPv4 address, an IPv6 address (bare), or a host name; ValueError
    for anything getaddrinfo would read as an abbreviated or octal/hex IPv4 address."""
    import ipaddress

    if ":" in host:
        scope = host.partition("%")[2]
        if scope and not (len(scope) <= 15 and set(scope) <= _LABEL_CHARS | {"."}):
            raise ValueError(f"has {shown.value(host)}, whose %scope is not an interface "
                             "name")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"has {shown.value(host)}, which is not an IPv6 address") \
                from None
    labels = host.split(".")
    if all(label and _inet_aton_number(label) for label in labels):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"has {shown.value(host)}: write an IPv4 address as four "
                             "decimal numbers, e.g. 198.18.0.1 (getaddrinfo reads "
                             "shortened, octal or hex forms as another address)") from None
    if (len(host) > 253 or not all(0 < len(label) <= 63 and set(label) <= _LABEL_CHARS
                                   and label[0] != "-" and label[-1] != "-"
                                   for label in labels)
            or labels[-1].isdigit()):
        raise ValueError(f"has {shown.value(host)}, which is neither an IP address nor a "
                         "host name")
    return host


def _check_port(port: str, item: str) -> None:
    if not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        raise ValueError(f"has {shown.value(item)}, whose port is not 1 to 65535")


def check_address(item: str) -> None:
    """One address: ``[v1:|v2:|any:]HOST[:PORT][/NONCE]`` or ``[IPv6][:PORT]``."""
    text = item
    for prefix in ("v1:", "v2:", "any:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text, slash, nonce = text.partition("/")
    if slash and not (nonce.isascii() and nonce.isdigit()):
        raise ValueError(f"has {shown.value(item)}, whose /nonce is not a number")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or ":" not in host or (rest and not rest.startswith(":")):
            raise ValueError(f"has {shown.value(item)}, which is not [IPv6]:PORT")
        check_host(host)
        if rest:
            _check_port(rest[1:], item)
        return
    if text.count(":") >= 2:  # a bare IPv6 address, no port
        check_host(text)
        return
    host, colon, port = text.partition(":")
    if not host:
        raise ValueError(f"has {shown.value(item)}, which has no host")
    check_host(host)
    if colon:
        _check_port(port, item)


def parse(text: str) -> str:
    """The ``mon_host`` value, checked item by item; ValueError completes "parameter
    'mon_host' ..."."""
    items = _split(text.strip())
    if not items:
        raise ValueError("is empty")
    for item in items:
        if item.startswith("[") and item[1:].startswith(("v1:", "v2:", "any:")):
            if not item.endswith("]"):
                raise ValueError(f"has {shown.value(item)}, an address vector with text "
                                 "after its ']'")
            for address in item[1:-1].split(","):
                check_address(address)
        else:
            check_address(item)
    return text.strip()
