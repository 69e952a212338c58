"""Typed agent parameters: one declaration drives metadata, parsing and validate-all.

A ``Param[T]`` names a parameter and its ``ParamType[T]``; ``parse_values`` turns the raw
``OCF_RESKEY_*`` strings into a ``Values`` mapping whose lookups are typed:
``values[IP]`` is an ``ipaddress`` object when ``IP`` is ``Param[IPAddress]``.
"""

from __future__ import annotations

from hakit import shown
from hakit.errors import ParamError
from hakit.lean import frozen

# re, ipaddress and signal are imported by the parsers that need them, and typing not at
# all at run time (start-up cost: see BENCHMARKS.md and hakit.lean).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    import re
    import signal
    from collections.abc import Iterable, Mapping
    from typing import ClassVar, Generic, Optional, TypeVar, Union

    IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
    IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
else:
    from hakit.lean import Generic, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")


class ParamType(Generic[T_co]):
    """How a raw string becomes a value.  ``parse`` raises ValueError with a problem text
    that completes the sentence "parameter 'x' ..."."""

    ocf_type: ClassVar[str] = "string"

    def parse(self, raw: str) -> T_co:
        raise NotImplementedError

    def options(self) -> tuple[str, ...]:
        """The values a select offers; empty for other types."""
        return ()

    def hint(self) -> str:
        """A short description of the accepted syntax, added to the long description."""
        return ""


class String(ParamType[str]):
    """Free text, optionally restricted by a regular expression."""

    def __init__(self, pattern: Optional[str] = None, what: str = "", max_length: int = 4096):
        self._pattern = pattern or None
        self._compiled: Optional[re.Pattern[str]] = None  # compiled on first parse
        self._what = what
        self._max = max_length

    @property
    def _regex(self) -> Optional[re.Pattern[str]]:
        if self._pattern is not None and self._compiled is None:
            import re

            self._compiled = re.compile(self._pattern)
        return self._compiled

    def parse(self, raw: str) -> str:
        if len(raw) > self._max:
            raise ValueError(f"is longer than {self._max} characters")
        if "\n" in raw or "\0" in raw:
            raise ValueError("must be a single line")
        if self._pattern is not None and not self._matches(raw):
            raise ValueError(f"must be {self._what or 'of the form ' + self._pattern}, "
                             f"got {shown.value(raw)}")
        return raw

    def _matches(self, raw: str) -> bool:
        """Whether ``raw`` is of the pattern (set)."""
        regex = self._regex
        return regex is None or regex.fullmatch(raw) is not None

    def hint(self) -> str:
        return f"Must be {self._what}." if self._what else ""


class Integer(ParamType[int]):
    """A decimal integer within optional bounds."""

    ocf_type = "integer"

    def __init__(self, minimum: Optional[int] = None, maximum: Optional[int] = None):
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, raw: str) -> int:
        text = raw.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        # [+-]?[0-9]{1,18}, without re (start-up cost: see BENCHMARKS.md)
        if not (1 <= len(digits) <= 18 and digits.isascii() and digits.isdigit()):
            raise ValueError(f"must be an integer, got {shown.value(raw)}")
        value = int(text)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}, got {value}")
        return value

    def hint(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"An integer from {self.minimum} to {self.maximum}."
        if self.minimum is not None:
            return f"An integer of at least {self.minimum}."
        return ""


#: Spellings Pacemaker and ocf-shellfuncs' ocf_is_true accept.
TRUE_WORDS = frozenset({"1", "yes", "true", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "no", "false", "off", "n", "f"})


class Boolean(ParamType[bool]):
    """yes/no, true/false, on/off, 1/0 (any case)."""

    ocf_type = "boolean"

    def parse(self, raw: str) -> bool:
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"must be a boolean (yes/no, true/false, 1/0), got {shown.value(raw)}")


class Select(ParamType[str]):
    """One of a fixed set of words."""

    ocf_type = "select"

    def __init__(self, *choices: str):
        if not choices:
            raise ValueError("a select needs at least one option")
        self._choices = tuple(choices)

    def parse(self, raw: str) -> str:
        if raw not in self._choices:
            raise ValueError(f"must be one of {', '.join(self._choices)}, got {shown.value(raw)}")
        return raw

    def options(self) -> tuple[str, ...]:
        return self._choices


class Address(ParamType["IPAddress"]):
    """An IPv4 or IPv6 address without a prefix."""

    def __init__(self, version: Optional[int] = None):
        self._version = version

    def parse(self, raw: str) -> IPAddress:
        import ipaddress

        try:
            addr = ipaddress.ip_address(raw.strip())
        except ValueError:
            raise ValueError(f"must be an IP address, got {shown.value(raw)}") from None
        if self._version is not None and addr.version != self._version:
            raise ValueError(f"must be an IPv{self._version} address, got {shown.value(raw)}")
        return addr


class Interface(ParamType["IPInterface"]):
    """An IP address with an optional /prefix (default: host prefix)."""

    def parse(self, raw: str) -> IPInterface:
        import ipaddress

        try:
            return ipaddress.ip_interface(raw.strip())
        except ValueError:
            raise ValueError("must be an IP address with optional /prefix, "
                             f"got {shown.value(raw)}") from None


class MonitorAddresses(ParamType[str]):
    """Ceph monitor addresses (``hakit.formats.monhost``): an IPv4 address only as a full dotted
    quad, since getaddrinfo would read ``1.5`` as 1.0.0.5."""

    def parse(self, raw: str) -> str:
        from hakit.formats import monhost  # only agents given mon_host

        return monhost.parse(raw)

    def hint(self) -> str:
        return ("Separated by commas or spaces: HOST, HOST:PORT, v2:HOST:PORT, [IPv6]:PORT "
                "or [v2:...,v1:...]; an IPv4 address as four decimal numbers.")


#: Linux's longest file name and path (limits.h; PATH_MAX counts the terminating NUL).
NAME_MAX = 255
PATH_MAX = 4096


class AbsolutePath(ParamType[str]):
    """An absolute, normalised path (existence is checked at validate depth 10, not here)."""

    def parse(self, raw: str) -> str:
        if not raw.startswith("/"):
            raise ValueError(f"must be an absolute path, got {shown.value(raw)}")
        if "\0" in raw or "\n" in raw:
            raise ValueError("must be a single-line path")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ValueError(f"must not contain '..', got {shown.value(raw)}")
        # Linux's limits hold on every filesystem an agent could use: a path beyond them
        # can never name anything, so it is a configuration error on every node (and stop
        # and probe, which never fail on one, report the resource stopped).
        if any(len(p.encode("utf-8", "surrogateescape")) > NAME_MAX for p in parts):
            raise ValueError(f"has a component longer than {NAME_MAX} bytes (NAME_MAX)")
        path = "/" + "/".join(parts)
        if len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX:
            raise ValueError(f"is longer than {PATH_MAX - 1} bytes (PATH_MAX)")
        return path


_UNIT_SECONDS = {"ms": 0.001, "msec": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
                 "h": 3600.0, "hr": 3600.0}


def _duration_seconds(text: str) -> Optional[float]:
    """``[0-9]+(.[0-9]+)? *UNIT?`` in seconds, or None; a parser rather than re, whose
    import costs more than a monitor's work (start-up cost: see BENCHMARKS.md)."""
    number = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = text[len(number):].lower() or "s"
    number = number.rstrip()
    if unit not in _UNIT_SECONDS:
        return None
    whole, dot, fraction = number.partition(".")
    for digits in (whole, fraction) if dot else (whole,):
        if not (digits and digits.isascii() and digits.isdigit()):
            return None
    return float(number) * _UNIT_SECONDS[unit]


class Duration(ParamType[float]):
    """A time span in seconds: ``5``, ``5s``, ``250ms``, ``2min``, ``1h`` (Pacemaker's units)."""

    def __init__(self, minimum: float = 0.0, maximum: Optional[float] = None):
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, raw: str) -> float:
        seconds = _duration_seconds(raw.strip())
        if seconds is None:
            raise ValueError("must be a duration such as 5, 5s, 250ms or 2min, "
                             f"got {shown.value(raw)}")
        if seconds < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}s, got {shown.value(raw)}")
        if self.maximum is not None and seconds > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}s, got {shown.value(raw)}")
        return seconds

    def hint(self) -> str:
        return "A duration: seconds by default, or with a unit (ms, s, min, h)."


#: What a ``Name`` may be unless told otherwise, and the same as two character sets.
NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_REST = _NAME_FIRST | frozenset(".+-")


class Name(String):
    """An identifier such as a pool, image, container or interface name."""

    def __init__(self, what: str, pattern: str = NAME_PATTERN, max_length: int = 255):
        super().__init__(pattern, what, max_length)

    def _matches(self, raw: str) -> bool:
        # NAME_PATTERN checked without ``re``: pool and image names are parsed on every
        # rbd and container action, and compiling the pattern would import ``re`` and
        # ``enum`` (about 5 ms of CPU) on each (start-up cost: docs/developing.md).
        if self._pattern != NAME_PATTERN:
            return super()._matches(raw)
        return raw[:1] in _NAME_FIRST and all(c in _NAME_REST for c in raw[1:])


_COMMAS_OR_SPACES = r"[,\s]+"


class ListOf(ParamType[tuple[U, ...]], Generic[U]):
    """Items of one type separated by commas and/or spaces."""

    def __init__(self, item: ParamType[U], separator: str = _COMMAS_OR_SPACES):
        self._item = item
        self._sep = separator

    def _split(self, text: str) -> list[str]:
        if self._sep == _COMMAS_OR_SPACES:  # the common case, without re (start-up cost)
            return text.replace(",", " ").split()
        import re

        return re.split(self._sep, text)

    def parse(self, raw: str) -> tuple[U, ...]:
        items = [part for part in self._split(raw.strip()) if part]
        parsed = []
        for part in items:
            try:
                parsed.append(self._item.parse(part))
            except ValueError as exc:
                raise ValueError(f"has an item that {exc}") from None
        return tuple(parsed)

    def hint(self) -> str:
        return "A list separated by commas or spaces."


class Signal(ParamType["signal.Signals"]):
    """A signal by name (TERM, SIGTERM) or number."""

    def parse(self, raw: str) -> signal.Signals:
        import signal

        text = raw.strip().upper()
        try:
            if text.isdigit():
                return signal.Signals(int(text))
            return signal.Signals[text if text.startswith("SIG") else "SIG" + text]
        except (KeyError, ValueError):
            raise ValueError(f"must be a signal name or number, got {shown.value(raw)}") from None


@frozen
class Param(Generic[T_co]):
    """One instance parameter as declared by an agent."""

    name: str
    kind: ParamType[T_co]
    shortdesc: str
    longdesc: str
    default: Optional[str] = None  # the raw default, shown in metadata and parsed like input
    required: bool = False
    unique_group: Optional[str] = None  # OCF 1.1: the combination must be unique per type
    reloadable: bool = False  # takes effect through reload-agent
    deprecated: bool = False
    replaced_with: tuple[str, ...] = ()
    secret: bool = False  # the value is masked wherever hakit logs

    def parse(self, raw: str) -> T_co:
        """Parse one raw value; ParamError names this parameter."""
        try:
            return self.kind.parse(raw)
        except ValueError as exc:
            raise ParamError(self.name, str(exc)) from None


class Values:
    """Parsed parameter values, looked up by their declarations."""

    def __init__(self, parsed: Mapping[str, object], given: Iterable[str]) -> None:
        self._parsed = dict(parsed)
        self._given = frozenset(given)

    def __getitem__(self, param: Param[T]) -> T:
        """The value of a required or defaulted parameter."""
        if param.name not in self._parsed:
            raise KeyError(f"parameter {param.name!r} has no value and no default")
        return self._parsed[param.name]  # type: ignore[return-value]

    def get(self, param: Param[T]) -> Optional[T]:
        """The value, or None when an optional parameter without default is not set."""
        return self._parsed.get(param.name)  # type: ignore[return-value]

    def given(self, param: Param[object]) -> bool:
        """Whether the admin set this parameter (as opposed to its default applying)."""
        return param.name in self._given


def derived_values(params: Iterable[Param[object]],
                   given: Mapping[Param[object], object]) -> Values:
    """Values for ``params`` from values another declaration already parsed (typed, keyed by
    the declarations they are for), each other parameter at its default; None is not set.

    What the container agent hands each of its layers' ``from_values``: the layer's record
    is then built and checked by its own kind, exactly as for the primitive agent.
    """
    names = {param.name: value for param, value in given.items() if value is not None}
    parsed: dict[str, object] = {}
    for param in params:
        if param.name in names:
            parsed[param.name] = names[param.name]
        elif param.default is not None:
            parsed[param.name] = param.parse(param.default)
    return Values(parsed, names)


def parse_values(params: Iterable[Param[object]], raw: Mapping[str, str]) -> Values:
    """Parse raw ``OCF_RESKEY_*`` values (names without the prefix) against declarations.

    An empty string counts as not set, as in the ClusterLabs agents.  Raises ParamError for
    the first invalid or missing required parameter, in declaration order.
    """
    parsed: dict[str, object] = {}
    given: list[str] = []
    for param in params:
        text = raw.get(param.name, "")
        if text != "":
            parsed[param.name] = param.parse(text)
            given.append(param.name)
        elif param.required:
            raise ParamError(param.name, "is required but not set")
        elif param.default is not None:
            parsed[param.name] = param.parse(param.default)
    return Values(parsed, given)
