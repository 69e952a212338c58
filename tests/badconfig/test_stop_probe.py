"""Stop and probe never fail on bad configuration, for every agent and every parameter.

A failed stop makes Pacemaker fence the node, and a failed probe makes it recover a resource
that never ran.  So with nothing running, ``stop`` is 0 and a probe is 7 whatever the
parameters say: a path that is a regular file where a directory is expected, runs through a
file, loops, or has a component longer than NAME_MAX; names of any length and alphabet; junk
in every other parameter.  Only start and validate-all report the misconfiguration.

The values are generated (hypothesis) and the agents run as Pacemaker runs them (a process
per action).  Every generated value keeps the agents away from anything real on this host:
paths lie in the test's sandbox, names carry a prefix nothing else uses, addresses are in
198.18.0.0/15 and the VIP's network namespace does not exist.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hakit.agents import container, fs, lxc, rbd, vip
from hakit.ocf.agent import Agent
from hakit.ocf.params import AbsolutePath, Name
from tests.harness.ocf import AGENTS, Result, run_agent

#: A prefix no pool, image, container or namespace outside this test has.
PREFIX = "hkbadcfg"
NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-"


class Sandbox:
    """A directory holding the unusable paths: a regular file, a symlink loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.file = root / "a-file"
        self.file.write_text("not a directory\n")
        self.loop = root / "loop"
        if not self.loop.is_symlink():
            self.loop.symlink_to("loop")
        (root / "dir").mkdir(exist_ok=True)
        (root / "ceph.conf").write_text("[global]\n")  # so that rbd's own checks pass

    def unusable_paths(self) -> st.SearchStrategy[str]:
        """Absolute paths no agent can use as the directory or file it expects."""
        component = st.text(alphabet=NAME_CHARS, min_size=1, max_size=20)
        long_component = st.text(alphabet=NAME_CHARS, min_size=256, max_size=300)
        below = st.lists(component, max_size=3).map("/".join)
        return st.one_of(
            st.just(str(self.file)),  # a regular file where a directory is expected
            below.map(lambda rest: f"{self.file}/x/{rest}".rstrip("/")),  # through a file
            below.map(lambda rest: f"{self.loop}/{rest}".rstrip("/")),  # a symlink loop
            st.just(str(self.root / "dir")),  # a directory where a file is expected
            long_component.map(lambda c: f"{self.root}/{c}"),  # beyond NAME_MAX
            st.integers(17, 30).map(lambda n: str(self.root) + ("/" + "p" * 250) * n),  # PATH_MAX
        )


def _names() -> st.SearchStrategy[str]:
    """Names in the alphabet the agents accept and beyond it, up to and past 255."""
    return st.one_of(
        st.text(alphabet=NAME_CHARS, max_size=300).map(lambda s: PREFIX + s),
        _junk().map(lambda s: PREFIX + s),
        st.text(alphabet=NAME_CHARS, min_size=248, max_size=260).map(lambda s: PREFIX + s),
    )


def _junk() -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                          blacklist_characters="\0"), max_size=60)


def _not_a_real_address(value: str) -> bool:
    """Whether ``value`` cannot name an address outside the test ranges."""
    try:
        address = ipaddress.ip_interface(value.strip()).ip
    except ValueError:
        return True
    return (address in ipaddress.ip_network("198.18.0.0/15")
            or address in ipaddress.ip_network("fd00::/8"))


#: Parameters whose any value could make stop act on something real: only safe values.
def _safe(name: str, strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    if name == "ip":
        return strategy.filter(_not_a_real_address)
    return strategy


BASES: dict[str, Callable[[Sandbox], dict[str, str]]] = {
    "rbd": lambda box: {"pool": f"{PREFIX}pool", "image": f"{PREFIX}img",
                        "cephconf": str(box.root / "ceph.conf")},
    "fs": lambda box: {"device": f"/dev/{PREFIX}dev", "directory": str(box.root / "mnt")},
    "lxc": lambda box: {"name": f"{PREFIX}ct", "lxcpath": str(box.root / "lxc")},
    "vip": lambda box: {"ip": "198.18.200.200", "cidr_netmask": "24",
                        "network_namespace": f"{PREFIX}ns"},
    "container": lambda box: {"name": f"{PREFIX}ct", "pool": f"{PREFIX}pool",
                              "lxcpath": str(box.root / "lxc"),
                              "cephconf": str(box.root / "ceph.conf"),
                              "ip": "198.18.200.200", "network_namespace": f"{PREFIX}ns"},
}
MODULES: dict[str, Agent] = {"rbd": rbd.AGENT, "fs": fs.AGENT, "lxc": lxc.AGENT,
                             "vip": vip.AGENT, "container": container.AGENT}
#: Parameters that must stay as in the base, or stop could touch what is not the test's.
FIXED = {"vip": {"network_namespace"}, "container": {"network_namespace"}}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    if os.geteuid() != 0:
        pytest.skip("needs root (the agents' runtime directories, LXC, netlink)")
    yield Sandbox(tmp_path_factory.mktemp("badcfg"))


def _bad_value(box: Sandbox, agent: str, name: str) -> st.SearchStrategy[str]:
    kind = MODULES[agent].param(name).kind
    if isinstance(kind, AbsolutePath):
        return st.one_of(box.unusable_paths(), _junk().filter(lambda v: not v.startswith("/")))
    if isinstance(kind, Name) or name == "name":
        return _names()
    if name == "device":  # fs: a device path, UUID= or LABEL=
        return st.one_of(box.unusable_paths(), _junk(),
                         _names().map(lambda n: "UUID=" + n), _names().map(lambda n: "LABEL=" + n))
    return _safe(name, _junk())


def _check(agent: str, params: Mapping[str, str]) -> None:
    path = AGENTS / agent
    stopped: Result = run_agent(path, "stop", params)
    assert stopped.rc == 0, (params, stopped.stderr)
    probed: Result = run_agent(path, "monitor", params)  # interval 0: a probe
    assert probed.rc == 7, (params, probed.stderr)
    for result in (stopped, probed):
        assert "Traceback" not in result.stdout + result.stderr
        assert not result.reasons, (params, result.stderr)  # no failure to explain


@pytest.mark.parametrize("agent", sorted(BASES))
def test_stop_and_probe_of_a_stopped_resource_never_fail_on_bad_values(
        sandbox: Sandbox, agent: str) -> None:
    names = [p.name for p in MODULES[agent].params if p.name not in FIXED.get(agent, ())]

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(names), label="parameter")
        value = data.draw(_bad_value(sandbox, agent, name), label="value")
        params = {**BASES[agent](sandbox), name: value}
        _check(agent, params)

    check()


#: (agent, parameter) where the configured path must be a directory the agent uses.
DIRECTORY_PARAMS = [("lxc", "lxcpath"), ("container", "lxcpath"), ("fs", "directory")]


@pytest.mark.parametrize(("agent", "name"), DIRECTORY_PARAMS)
def test_an_unusable_directory_is_reported_by_validate_all_only(
        sandbox: Sandbox, agent: str, name: str) -> None:
    """The same value: stop 0, probe 7, validate-all (depth 10) an error naming it."""
    paths = sandbox.unusable_paths().filter(lambda p: p != str(sandbox.root / "dir"))

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(path=paths)
    def check(path: str) -> None:
        params = {**BASES[agent](sandbox), name: path}
        _check(agent, params)
        result = run_agent(AGENTS / agent, "validate-all", params,
                           extra_env={"OCF_CHECK_LEVEL": "10"})
        assert result.rc in (2, 5, 6), (path, result.stderr)
        assert f"'{name}'" in result.reason, (path, result.reason)

    check()
