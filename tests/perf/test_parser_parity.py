"""The parsers rewritten without ``re`` (start-up cost) accept exactly what the regular
expressions they replace accepted, with the same results."""

from __future__ import annotations

import re
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st

from hakit.ocf.params import Duration, Integer, ListOf, Name, String
from hakit.os import mountinfo
from hakit.steps.lxc.config import NAME_PATTERN, ContainerName
from hakit.steps.vip.config import IFNAME_PATTERN, InterfaceName

DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(ms|msec|s|sec|m|min|h|hr)?", re.IGNORECASE)
UNITS = {"ms": 0.001, "msec": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
         "h": 3600.0, "hr": 3600.0}
ASCII = "0123456789.,:+- \t\\/abcdefghimnorstxyzMSH_\n"


def _old_duration(raw: str) -> Optional[float]:
    match = DURATION.fullmatch(raw.strip())
    if not match:
        return None
    return float(match.group(1)) * UNITS[(match.group(2) or "s").lower()]


def _parsed(kind: object, raw: str) -> object:
    try:
        return kind.parse(raw)  # type: ignore[attr-defined]
    except ValueError:
        return None


@given(st.text(alphabet=ASCII, max_size=12)
       | st.from_regex(DURATION, fullmatch=True).filter(lambda t: t.isascii()))
def test_duration_as_the_regex(raw: str) -> None:
    assert _parsed(Duration(), raw) == _old_duration(raw)


@given(st.text(alphabet=ASCII, max_size=22) | st.from_regex(r"[+-]?[0-9]{1,20}", fullmatch=True))
def test_integer_as_the_regex(raw: str) -> None:
    text = raw.strip()
    expected = int(text) if re.fullmatch(r"[+-]?[0-9]{1,18}", text) else None
    assert _parsed(Integer(), raw) == expected


@given(st.text(alphabet=ASCII + "\\01234567", max_size=20))
def test_unescape_as_the_regex(field: str) -> None:
    expected = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
    assert mountinfo.unescape(field) == expected


@given(st.text(alphabet=ASCII + "é", max_size=18) | st.from_regex(IFNAME_PATTERN, fullmatch=True))
def test_interface_name_as_the_pattern(raw: str) -> None:
    assert _parsed(InterfaceName(), raw) == _parsed(String(IFNAME_PATTERN, "x"), raw)


@given(st.text(alphabet=ASCII, max_size=20))
def test_list_split_as_the_regex(raw: str) -> None:
    expected = tuple(p for p in re.split(r"[,\s]+", raw.strip()) if p)
    assert ListOf(String()).parse(raw) == expected


@given(st.text(alphabet=ASCII + "é", max_size=18) | st.from_regex(NAME_PATTERN, fullmatch=True)
       | st.text(alphabet="ab.", min_size=250, max_size=260))
def test_container_name_as_the_pattern(raw: str) -> None:
    assert _parsed(ContainerName(), raw) == _parsed(Name("a container name"), raw)
