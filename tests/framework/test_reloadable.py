"""Which parameters change without a restart (OCF 1.1 ``reloadable``, applied by
reload-agent): every one whose value only the next start, stop or monitor reads.

Identity (what is mapped, mounted, run or addressed) and how it was set up (device type,
mount options, the address) are not: changing them needs a stop and a start.  Pacemaker
reloads when only reloadable parameters changed, and restarts otherwise.
"""

from __future__ import annotations

import subprocess

import pytest
from lxml import etree

from hakit.agents import container, fs, lxc, rbd
from hakit.ocf.agent import Agent
from tests.harness.ocf import AGENTS, agent_env

RELOADABLE = {
    "rbd": {"cephconf", "user", "keyring", "secret_file", "mon_host", "break_lock",
            "blocklist_expire", "allow_no_exclusive_lock"},
    "fs": {"fsck", "mmp", "force_unmount", "term_signals", "kill_signals", "signal_delay",
           "create_directory", "device_wait"},
    "lxc": {"log_file", "log_level", "start_timeout", "stop_timeout", "shutdown_signal",
            "health_command", "health_timeout", "wait_for_ip"},
    "container": {"cephconf", "user", "keyring", "break_lock", "fsck", "health_command",
                  "stop_timeout", "log_file"},
}
AGENT_OF: dict[str, Agent] = {"rbd": rbd.AGENT, "fs": fs.AGENT, "lxc": lxc.AGENT,
                              "container": container.AGENT}


@pytest.mark.parametrize("name", sorted(RELOADABLE))
def test_metadata_marks_exactly_the_reloadable_parameters(name: str) -> None:
    out = subprocess.run([str(AGENTS / name), "meta-data"], capture_output=True, text=True,
                         env=agent_env({}), check=True, timeout=30).stdout
    root = etree.fromstring(out.encode())
    marked = {p.get("name") for p in root.iter("parameter") if p.get("reloadable") == "1"}
    assert marked == RELOADABLE[name]
    assert "reload-agent" in {a.get("name") for a in root.iter("action")}
    methods = subprocess.run([str(AGENTS / name), "methods"], capture_output=True, text=True,
                             env=agent_env({}), check=True, timeout=30).stdout.split()
    assert "reload-agent" in methods
    assert AGENT_OF[name].reload_agent is not None


def test_identity_is_never_reloadable() -> None:
    for agent in AGENT_OF.values():
        for param in agent.params:
            if param.unique_group is not None or param.required:
                assert not param.reloadable, (agent.name, param.name)
