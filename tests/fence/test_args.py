"""Pure parsing of fence-agent arguments (stdin lines and argv), with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.agents.fence_hakit import AGENT
from hakit.errors import ConfigError
from hakit.fence.args import parse_argv, parse_stdin

OPTIONS = AGENT.all_options()


def test_stdin_as_pacemaker_sends_it() -> None:
    raw = parse_stdin("agent=fence_hakit\naction=off\nip=192.0.2.1\nusername=admin\n"
                      "password=pw\nnodename=node1\nport=node1\n", OPTIONS)
    assert raw.values["action"] == "off"
    assert raw.values["ip"] == "192.0.2.1"
    assert raw.values["plug"] == "node1"
    assert raw.unknown == ()


def test_aliases_fold_into_canonical_names_and_last_wins() -> None:
    raw = parse_stdin("ipaddr=a\nip=b\npasswd=x\npassword=y\npasswd=z\noption=status\n"
                      "login=u\n", OPTIONS)
    assert raw.values == {"ip": "b", "password": "z", "action": "status", "username": "u"}


def test_comments_blank_unknown_and_malformed_lines() -> None:
    raw = parse_stdin("# comment\n\n   ip=h  \nfrobnicate=1\nno equals sign\n=x\n", OPTIONS)
    assert raw.values == {"ip": "h"}
    assert raw.unknown == ("frobnicate",)
    assert raw.malformed == 2


def test_value_keeps_equals_signs() -> None:
    assert parse_stdin("password=a=b==\n", OPTIONS).values == {"password": "a=b=="}


def test_pcmk_parameters_are_ignored() -> None:
    raw = parse_stdin("pcmk_host_list=n1 n2\npcmk_off_timeout=60\nip=h\n", OPTIONS)
    assert raw.values == {"ip": "h"}


def test_argv_forms() -> None:
    raw = parse_argv(["-o", "status", "-a10.0.0.1", "--username=admin", "--ipport", "6230",
                      "-vP", "--password-script", "/bin/echo pw", "--power-timeout=5"],
                     OPTIONS)
    assert raw.values == {"action": "status", "ip": "10.0.0.1", "username": "admin",
                          "ipport": "6230", "verbose": "1", "lanplus": "1",
                          "password_script": "/bin/echo pw", "power_timeout": "5"}


@pytest.mark.parametrize("argv", [["--nope"], ["-Z"], ["-a"], ["--ip"], ["stray"]])
def test_argv_errors(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        parse_argv(argv, OPTIONS)


def test_argv_error_never_echoes_a_stray_word() -> None:
    with pytest.raises(ConfigError) as info:
        parse_argv(["-a", "h", "s3cret"], OPTIONS)
    assert "s3cret" not in info.value.reason


_names = st.sampled_from(["ip", "ipaddr", "password", "passwd", "action", "option", "x",
                          "lanplus", "port", "plug"])
_values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                         blacklist_characters="\x85\x1c\x1d\x1e"),
                  max_size=20).map(str.strip)


@given(st.lists(st.tuples(_names, _values), max_size=12))
def test_last_value_wins_whatever_the_spelling(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{n}={v}\n" for n, v in pairs)
    raw = parse_stdin(text, OPTIONS)
    canonical = {"ipaddr": "ip", "passwd": "password", "option": "action", "port": "plug"}
    expected: dict[str, str] = {}
    for name, value in pairs:
        if name != "x":
            expected[canonical.get(name, name)] = value
    assert raw.values == expected


@given(st.text(max_size=300))
def test_stdin_parser_never_raises(text: str) -> None:
    raw = parse_stdin(text, OPTIONS)
    assert set(raw.values) <= {o.name for o in OPTIONS}


@given(st.lists(st.text(max_size=12), max_size=8))
def test_argv_parser_raises_only_config_errors(argv: list[str]) -> None:
    try:
        parse_argv(argv, OPTIONS)
    except ConfigError:
        pass
