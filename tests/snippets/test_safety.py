"""Every value lands where it is safe, and every offered choice is one the agents accept.

Hostile values (hypothesis) for every free-text option either are refused with one error
(rc 2) or come out of the loaded CIB exactly as given, crmsh and pcs alike, with nothing
else added: no value can end a statement, add one, or be read as shell or crmsh syntax.
"""

from __future__ import annotations

import argparse
import io
import itertools
import shlex
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hakit.snippets import cli
from tests.snippets.cluster import AgentLayer, empty_cib, load, verify
from tests.snippets.conftest import generate

STACK = ["stack", "--name", "app", "--image", "rbd/app", "--nodes", "n1,n2,n3"]
FENCING = ["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2"]

# What a shell, crmsh or pcs could read as syntax, and line breaks of every kind.
SYNTAX = st.sampled_from(["\n", "\r", "\u2028", "\x85", "\x0b", ";", "&", "|", "$(", "`",
                          "'", '"', "\\", " ", "#", "@", "%", "+", "--", "-", "=", ":",
                          "primitive x ocf:hakit:vip", "params", "meta", "op", "\\\n",
                          "${cib}", "*", "~", "!", "<", ">", "{", "}"])
HOSTILE = st.lists(st.one_of(SYNTAX, st.text(max_size=6)), min_size=1, max_size=6).map(
    "".join).filter(lambda s: "\0" not in s)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def _with(option: str, value: str) -> list[str]:
    base = FENCING if option in ("--username", "--password-script") else STACK
    return [*base, f"{option}={value}"]


FREE_OPTIONS = ["--username", "--password-script", "--health", "--nic", "--ceph-user",
                "--cephconf", "--keyring", "--name", "--image", "--ip", "--prefer"]


@pytest.mark.parametrize("option", FREE_OPTIONS)
@settings(max_examples=60, deadline=None)
@given(value=HOSTILE)
def test_hostile_values_are_refused_or_kept_whole(option: str, value: str) -> None:
    for fmt in ("crm", "pcs"):
        code, out, err = _run([*_with(option, value), "--format", fmt])
        assert code in (0, 2), err
        if code == 2:
            assert out == "" and "error:" in err and "Traceback" not in err
            continue
        assert err == ""
        # Nothing but printable lines (crm indents with tabs): no line separator of any
        # kind inside a value.
        assert all(line.replace("\t", "").isprintable() for line in out.split("\n"))
        assert out.count("\n") == len(out.splitlines())


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fd00::1%x;n9:198.18.0.9",
                                     "fd00::1%$(reboot)"])
def test_ipv6_scope_ids_are_refused(address: str) -> None:
    for argv in (["fencing", f"--bmc=n1={address}", "--bmc=n2=198.18.1.2"],
                 ["fencing", f"--ceph=n1={address}", "--ceph=n2=198.18.0.2"]):
        code, _, err = _run(argv)
        assert code == 2 and "scope id" in err, err


def _choices(parser: argparse.ArgumentParser, command: str, option: str) -> tuple[str, ...]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if option in a.option_strings)
    return tuple(action.choices or ())


def test_every_offered_choice_is_accepted_by_the_agents() -> None:
    """--fstype, --device-type, --shape: each combination the CLI offers generates (the
    safety check parses every parameter with the agent's own declaration), except the
    one it refuses by name (composite is ext4 only)."""
    parser = cli._parser()
    fstypes = _choices(parser, "stack", "--fstype")
    devices = _choices(parser, "stack", "--device-type")
    shapes = _choices(parser, "stack", "--shape")
    assert "xfs" in fstypes
    for fstype, device, shape in itertools.product(fstypes, devices, shapes):
        argv = [*STACK, "--fstype", fstype, "--device-type", device, "--shape", shape]
        code, _, err = _run(argv)
        if shape == "composite" and fstype != "ext4":
            assert code == 2 and "composite mounts ext4 only" in err
        else:
            assert code == 0, (argv, err)


def _splits(command: str) -> bool:
    """Whether the generator takes ``command``: ASCII (safety.check_value) that
    ocf:hakit:lxc can read as a command line (shlex: no unclosed quote); the others are
    refused, which the tests above cover."""
    if not command.isascii():
        return False
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


USER = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,20}", fullmatch=True)
COMMAND = st.lists(st.one_of(st.sampled_from(["/bin/true", " ", "'", "$HOME", ";", "&&", "|",
                                              "@x", "%y", "+z", "--", "#", "`id`", "$(id)",
                                              "params", "op", "primitive", "é"]),
                             st.from_regex(r"[A-Za-z0-9_./=-]{1,6}", fullmatch=True)),
                   min_size=1, max_size=8).map(lambda parts: "/bin/true " + "".join(parts)).filter(
                       _splits)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user=USER, health=COMMAND)
def test_accepted_values_load_exactly(layer: AgentLayer, user: str, health: str) -> None:
    """Values that pass the checks reach the CIB unchanged through crmsh and through pcs,
    and add nothing: the loaded configuration has exactly the resources expected."""
    for fmt in ("crm", "pcs"):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            cib = empty_cib(work / "cib.xml")
            load(layer, cib, generate(*FENCING, "--bmc", "n3=198.18.1.3", "--username", user,
                                      "--format", fmt), fmt, work)
            load(layer, cib, generate(*STACK, "--health", health, "--format", fmt), fmt,
                 work)
            verify(cib)
            root = etree.parse(str(cib)).getroot()
            values = {(nv.get("name"), nv.get("value")) for nv in root.iter("nvpair")}
            assert ("username", user) in values
            assert ("health_command", health) in values
            assert {p.get("id") for p in root.iter("primitive")} == {
                "fence-n1", "fence-n2", "fence-n3", "app-rbd", "app-fs", "app-lxc"}


def test_non_ascii_values_are_refused_by_name() -> None:
    """crmsh would store 'é' as the text '&#233;': refused, for either format."""
    for fmt in ("crm", "pcs"):
        code, _, err = _run([*STACK, "--health", "/bin/true é", "--format", fmt])
        assert code == 2 and "health_command" in err and "must be ASCII" in err
