"""Parameter types: behaviour and properties (hypothesis)."""

from __future__ import annotations

import ipaddress
import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.errors import ParamError
from hakit.ocf.params import (
    FALSE_WORDS,
    NAME_PATTERN,
    TRUE_WORDS,
    AbsolutePath,
    Address,
    Boolean,
    Duration,
    Integer,
    Interface,
    ListOf,
    Name,
    Param,
    ParamType,
    Select,
    Signal,
    String,
    parse_values,
)

ALL_TYPES: list[ParamType[object]] = [
    String(), String(r"[a-z]+", "lowercase letters"), Integer(), Integer(0, 10), Boolean(),
    Select("a", "b"), Address(), Address(4), Interface(), AbsolutePath(), Duration(),
    Name("a name"), ListOf(Integer()), Signal(),
]


@pytest.mark.parametrize("kind", ALL_TYPES, ids=lambda k: type(k).__name__)
@given(raw=st.text(max_size=60))
def test_parse_raises_only_valueerror(kind: ParamType[object], raw: str) -> None:
    try:
        kind.parse(raw)
    except ValueError as exc:
        assert str(exc)


@given(word=st.sampled_from(sorted(TRUE_WORDS | FALSE_WORDS)), upper=st.booleans())
def test_boolean_spellings(word: str, upper: bool) -> None:
    assert Boolean().parse(word.upper() if upper else word) is (word in TRUE_WORDS)


@given(n=st.integers(-(10**12), 10**12))
def test_integer_round_trip(n: int) -> None:
    assert Integer().parse(str(n)) == n


@given(n=st.integers())
def test_integer_bounds(n: int) -> None:
    kind = Integer(0, 100)
    if 0 <= n <= 100:
        assert kind.parse(str(n)) == n
    else:
        with pytest.raises(ValueError):
            kind.parse(str(n))


@given(addr=st.ip_addresses(), prefix=st.integers(0, 128))
def test_interface_round_trip(addr: ipaddress.IPv4Address, prefix: int) -> None:
    prefix = min(prefix, addr.max_prefixlen)
    iface = Interface().parse(f"{addr}/{prefix}")
    assert iface.ip == addr
    assert iface.network.prefixlen == prefix


@pytest.mark.parametrize(("raw", "seconds"), [
    ("5", 5.0), ("5s", 5.0), ("250ms", 0.25), ("2min", 120.0), ("1h", 3600.0), ("1.5s", 1.5),
])
def test_durations(raw: str, seconds: float) -> None:
    assert Duration().parse(raw) == seconds


@pytest.mark.parametrize("raw", ["relative", "/a/../b", ""])
def test_absolute_path_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        AbsolutePath().parse(raw)


def test_absolute_path_normalises() -> None:
    assert AbsolutePath().parse("//var/lib//lxc/./web/") == "/var/lib/lxc/web"


def test_signals() -> None:
    assert Signal().parse("term") == signal.SIGTERM
    assert Signal().parse("SIGKILL") == signal.SIGKILL
    assert Signal().parse("9") == signal.SIGKILL


def test_parse_values_defaults_required_and_empty() -> None:
    count = Param("count", Integer(), "c", "c", default="3")
    name = Param("name", Name("a name"), "n", "n", required=True)
    note = Param("note", String(), "n", "n")
    values = parse_values((count, name, note), {"name": "web", "note": ""})
    assert values[count] == 3
    assert values[name] == "web"
    assert values.get(note) is None
    assert values.given(name)
    assert not values.given(count)
    with pytest.raises(ParamError, match="'name' is required"):
        parse_values((count, name), {"name": ""})


def test_param_error_names_parameter() -> None:
    param = Param("arp_count", Integer(1, 10), "n", "n")
    with pytest.raises(ParamError) as info:
        param.parse("many")
    assert info.value.reason.startswith("parameter 'arp_count'")


@given(st.text(alphabet="ab/", max_size=30), st.integers(256, 400))
def test_absolute_path_rejects_a_component_beyond_name_max(head: str, length: int) -> None:
    """No Linux filesystem takes it: a configuration error everywhere (so stop and probe,
    which never fail on one, answer stopped)."""
    with pytest.raises(ValueError, match="NAME_MAX"):
        AbsolutePath().parse(f"/{head}/{'x' * length}")


@given(st.integers(17, 40))
def test_absolute_path_rejects_beyond_path_max(count: int) -> None:
    with pytest.raises(ValueError, match="PATH_MAX"):
        AbsolutePath().parse(("/" + "p" * 250) * count)
    assert AbsolutePath().parse("/" + "x" * 255) == "/" + "x" * 255


@given(raw=st.one_of(st.text(max_size=40),
                     st.text(alphabet="Az09_.+-\u00e9\u0661 \t", max_size=12)))
def test_a_name_without_re_accepts_what_its_pattern_accepts(raw: str) -> None:
    # Name checks NAME_PATTERN with two character sets (no ``re`` on rbd's monitor path);
    # a String with the same pattern uses the regular expression: the same answers, the
    # same reasons.
    import re

    name, string = Name("a name"), String(NAME_PATTERN, "a name")
    outcomes = []
    for kind in (name, string):
        try:
            outcomes.append(("ok", kind.parse(raw)))
        except ValueError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[0] == outcomes[1]
    if "\n" not in raw and "\0" not in raw and len(raw) <= 255:
        assert (outcomes[0][0] == "ok") == (re.fullmatch(NAME_PATTERN, raw) is not None)
