"""Exit reasons and log lines stay short and clean whatever value an agent is given.

Every parameter of every agent (OCF and fence) gets generated hostile values: huge ones,
ones with newlines, escape sequences, NUL-free control characters and Unicode line
separators. The one ``ocf-exit-reason:`` line (or fence ``ERROR:`` line) is at most
``shown.REASON_LIMIT`` characters of printable text, a rejected value is quoted shortened
with an ellipsis, and no other line on stderr is longer than ``shown.LOG_LIMIT`` or
carries a control character.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hakit import shown
from hakit.agents import (
    container,
    fence_hakit,
    fence_hakit_ceph,
    fence_hakit_redfish,
    fs,
    lxc,
    rbd,
    vip,
)
from hakit.fence import dispatch as fence_dispatch
from hakit.fence.agent import FenceAgent
from hakit.ocf import dispatch
from hakit.ocf.agent import Agent

#: A valid configuration of each OCF agent (validate-all at depth 0 touches nothing).
OCF_AGENTS: dict[str, tuple[Agent, Mapping[str, str]]] = {
    "container": (container.AGENT, {"name": "web", "pool": "rbd"}),
    "fs": (fs.AGENT, {"device": "/dev/hakit-none", "directory": "/srv/hakit-none"}),
    "lxc": (lxc.AGENT, {"name": "web"}),
    "rbd": (rbd.AGENT, {"pool": "rbd", "image": "web"}),
    "vip": (vip.AGENT, {"ip": "198.18.0.10"}),
}
FENCE_AGENTS: dict[str, tuple[FenceAgent, Mapping[str, str]]] = {
    "fence_hakit": (fence_hakit.AGENT, {"ip": "198.18.1.1", "username": "u",
                                        "password": "pw-secret"}),
    "fence_hakit_redfish": (fence_hakit_redfish.AGENT, {"ip": "198.18.1.1", "username": "u",
                                                        "password": "pw-secret"}),
    "fence_hakit_ceph": (fence_hakit_ceph.AGENT, {"node_addresses": "n1:198.18.0.1;"
                                                  "n2:198.18.0.2", "plug": "n1"}),
}

# Characters an attacker or a typo brings: control characters, escape sequences, Unicode
# line and paragraph separators, next-line, BOM, bidirectional overrides.
NASTY = st.sampled_from(["\n", "\r", "\t", "\x1b[31m", "\x07", "\x85", "\u2028", "\u2029",
                         "\ufeff", "\u202e", "\x7f", "\x0b", "\x0c", "é", "'", '"', "\\"])
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                          blacklist_characters="\0"), max_size=30)
HOSTILE = st.one_of(
    st.lists(st.one_of(NASTY, ANY_TEXT), min_size=1, max_size=8).map("".join),
    # huge values: a piece repeated up to 100 KB
    st.builds(lambda piece, times: piece * times,
              st.one_of(NASTY, st.text(min_size=1, max_size=8).filter(lambda s: "\0" not in s)),
              st.integers(min_value=100, max_value=100_000 // 8)),
)


def check_output(text: str, reason_prefix: str) -> list[str]:
    """Every stderr line is printable and bounded; return the reason lines."""
    reasons = []
    for line in text.splitlines():
        assert line.isprintable(), line[:300]
        if line.startswith(reason_prefix):
            reason = line[len(reason_prefix):]
            if reason_prefix == "ERROR: ":  # the fence line: "ERROR: ACTION failed: REASON"
                reason = reason.partition(" failed: ")[2] or reason
            assert len(reason) <= shown.REASON_LIMIT, reason
            reasons.append(reason)
        else:
            assert len(line) <= shown.LOG_LIMIT + 100, line[:300]
    # str.splitlines splits at more than "\n": no line separator of any kind got through.
    assert text.count("\n") == len(text.splitlines())
    return reasons


def ocf_cases() -> list[tuple[str, str]]:
    return [(name, p.name) for name, (agent, _) in OCF_AGENTS.items() for p in agent.params]


def fence_cases() -> list[tuple[str, str]]:
    return [(name, o.name) for name, (agent, _) in FENCE_AGENTS.items()
            for o in agent.options if o.name != "action"]


SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize(("agent_name", "param"), ocf_cases())
@SETTINGS
@given(value=HOSTILE)
def test_ocf_reasons_are_short_and_clean(agent_name: str, param: str, value: str) -> None:
    agent, base = OCF_AGENTS[agent_name]
    environ = {f"OCF_RESKEY_{k}": v for k, v in {**base, param: value}.items()}
    out, err = io.StringIO(), io.StringIO()
    code = dispatch.run(agent, [agent_name, "validate-all"], environ, out, err)
    reasons = check_output(err.getvalue(), "ocf-exit-reason:")
    assert len(reasons) == (0 if code == 0 else 1), err.getvalue()[:500]


@pytest.mark.parametrize(("agent_name", "param"), fence_cases())
@SETTINGS
@given(value=HOSTILE)
def test_fence_errors_are_short_and_clean(agent_name: str, param: str, value: str) -> None:
    agent, base = FENCE_AGENTS[agent_name]
    argv = [agent_name, "--action", "validate-all"]
    for key, raw in {**base, param: value}.items():
        argv += [f"--{key}", raw]
    out, err = io.StringIO(), io.StringIO()
    fence_dispatch.run(agent, argv, io.BytesIO(b""), {}, stdout=out, stderr=err)
    check_output(err.getvalue(), "ERROR: ")


@pytest.mark.parametrize("agent_name", sorted(OCF_AGENTS))
def test_a_100k_value_comes_back_shortened(agent_name: str) -> None:
    """The rejected value is quoted with an ellipsis and its length, and the reason still
    says what is wrong."""
    agent, base = OCF_AGENTS[agent_name]
    first = next(p.name for p in agent.params if p.required)
    environ = {f"OCF_RESKEY_{k}": v for k, v in base.items()}
    environ[f"OCF_RESKEY_{first}"] = "\n/x\x1b" * 25_000
    err = io.StringIO()
    code = dispatch.run(agent, [agent_name, "validate-all"], environ, io.StringIO(), err)
    assert code != 0
    (reason,) = check_output(err.getvalue(), "ocf-exit-reason:")
    assert reason.startswith(f"parameter '{first}'")
    # Either the value is quoted shortened, or it is not quoted at all ("is longer than").
    assert re.search(r"\.\.\.' \(\d+ characters\)", reason) or "is longer than" in reason, \
        reason
    assert len(reason) < 150


def test_a_100k_stdin_value_gives_a_short_fence_error() -> None:
    err = io.StringIO()
    stdin = ("action=validate-all\nip=" + "\x1b" * 100_000 + "\n").encode()
    fence_dispatch.run(fence_hakit.AGENT, ["fence_hakit"], io.BytesIO(stdin), {},
                       stdout=io.StringIO(), stderr=err)
    check_output(err.getvalue(), "ERROR: ")
    assert len(err.getvalue()) < 2 * shown.LOG_LIMIT


@given(raw=ANY_TEXT | HOSTILE)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_shown_value_is_one_bounded_line(raw: str) -> None:
    text = shown.value(raw)
    assert text.isprintable()
    assert len(text) <= shown.VALUE_LIMIT + 30
    if len(repr(raw)) <= shown.VALUE_LIMIT + 2:
        assert text == repr(raw)


@given(raw=ANY_TEXT | HOSTILE)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_shown_reason_is_one_bounded_line(raw: str) -> None:
    text = shown.reason(raw)
    assert text.isprintable()
    assert len(text) <= shown.REASON_LIMIT
    assert text == text.strip()


@given(raw=ANY_TEXT | HOSTILE)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_log_text_cannot_forge_a_record(raw: str) -> None:
    text = shown.log_text("got " + raw, shown.LOG_LIMIT)
    lines = text.split("\n")
    assert all(line.isprintable() for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])
    assert len(text.splitlines()) == len(lines)
