"""The lab's cluster for real: forming, a resource, crash, partition, heal (one shared lab)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from hakit.deadline import Deadline
from hakit.errors import HakitError
from lab import bmc, checkout, network, node, procs
from lab.cluster import Lab
from lab.layout import BRIDGE_MAC
from lab.status import ClusterState
from tests.lab.conftest import lab_processes

pytestmark = pytest.mark.slow

# Sticky, so that a node rejoining does not pull it back (stickiness defaults to 0).
DUMMY = ('<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy">'
         '<meta_attributes id="dummy-meta"><nvpair id="dummy-meta-stickiness" '
         'name="resource-stickiness" value="100"/></meta_attributes>'
         '<operations><op id="dummy-monitor-5s" name="monitor" interval="5s"/></operations>'
         "</primitive>")
#: Generous bounds: corosync's default token (3 s + 650 ms per node beyond two) plus
#: consensus detects a lost node in ~8 s; recovery then takes a few seconds more.
FAILOVER_BOUND = 40.0
REJOIN_BOUND = 40.0


def all_online(lab: Lab) -> ClusterState:
    return lab.wait_for(lambda s: s.quorate and len(s.online) == 3 and s.dc is not None,
                        REJOIN_BOUND, "waiting for all three nodes")


def where_dummy(lab: Lab) -> str:
    """The node running dummy once the cluster has settled (a rejoin may still be probing)."""
    state = lab.wait_for(lambda s: s.where("dummy") is not None and len(s.online) == 3,
                         REJOIN_BOUND, "waiting for dummy to settle")
    found = state.where("dummy")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def dummy_lab(lab: Lab) -> Lab:
    """The shared lab with an ocf:pacemaker:Dummy resource running."""
    lab.run_on("n1", ["cibadmin", "--create", "-o", "resources", "-X", DUMMY])
    lab.wait_for(lambda s: s.where("dummy") is not None, 30, "waiting for dummy to start")
    return lab


def test_up_formed_a_quorate_three_node_cluster_with_one_dc(lab: Lab) -> None:
    state = lab.status()
    assert state.quorate
    assert sorted(state.online) == ["n1", "n2", "n3"]
    assert [n.name for n in state.nodes if n.is_dc] == [state.dc]
    # Every node agrees on the DC.
    assert {lab.status(via=n.name).dc for n in lab.layout.nodes} == {state.dc}


def test_nodes_are_private_and_the_host_sees_none_of_it(lab: Lab) -> None:
    n1 = lab.layout.node("n1")
    assert lab.run_on("n1", ["hostname"]).stdout.strip() == "n1"
    mounts = lab.run_on("n1", ["findmnt", "-J", "-o", "TARGET,FSTYPE,SOURCE"]).stdout
    targets = {m["target"]: m for m in _flatten(json.loads(mounts)["filesystems"])}
    assert targets["/run"]["fstype"] == "tmpfs"
    assert targets["/dev/shm"]["fstype"] == "tmpfs"
    for key, target in (("etc-corosync", "/etc/corosync"),
                        ("var-lib-pacemaker", "/var/lib/pacemaker")):
        assert str(n1.source(key)) in targets[target]["source"]
    assert "/run/netns" not in targets  # no other namespaces pinned by the node
    addrs = lab.run_on("n1", ["ip", "-j", "addr", "show", "eth0"]).stdout
    local = {a["local"] for a in json.loads(addrs)[0]["addr_info"]}
    assert {str(n1.address.ip), str(n1.address6.ip)} <= local
    ping = lab.run_on("n1", ["ping", "-c", "1", "-W", "2", str(lab.layout.hub_address6.ip)],
                      check=False)
    assert ping.ok, ping.stdout
    host_mounts = Path("/proc/self/mountinfo").read_text()
    assert str(lab.layout.state_dir) not in host_mounts
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                                check=True).stdout
    assert n1.port not in host_links and lab.layout.hub_netns not in host_links
    owner = os.stat(n1.source("var-lib-pacemaker") / "cib")
    assert oct(owner.st_mode & 0o777) == "0o750"


def _flatten(filesystems: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for fs in filesystems:
        out.append(fs)
        out += _flatten(fs.get("children", []))  # type: ignore[arg-type]
    return out


def test_dummy_resource_starts(dummy_lab: Lab) -> None:
    state = dummy_lab.status()
    res = state.resource("dummy")
    assert res is not None and res.agent == "ocf:pacemaker:Dummy" and not res.failed
    assert state.where("dummy") in ("n1", "n2", "n3")


def test_crash_moves_the_resource_and_the_node_rejoins_after_boot(dummy_lab: Lab) -> None:
    lab = dummy_lab
    victim = where_dummy(lab)
    assert lab.crash(victim) > 5  # holder, corosync, pacemakerd and its six children
    assert lab.power_states()[victim] == "off"
    assert node.holder_of(lab.layout.node(victim)) is None
    assert network.netns_pids(lab.runner, Deadline(5), lab.layout.node(victim).netns) == []
    moved = lab.wait_for(
        lambda s: victim not in s.online and s.where("dummy") not in (None, victim),
        FAILOVER_BOUND, "waiting for dummy to restart elsewhere")
    assert moved.quorate
    # Power on as a BMC simulator will (bmc.power_commands), with a short delay.
    _off, on = bmc.power_commands(lab.layout.state_dir, victim, delay=1.5)
    began = time.monotonic()
    subprocess.run(on, env=checkout.child_env(), check=True, capture_output=True, timeout=60)
    assert time.monotonic() - began >= 1.5
    state = all_online(lab)
    assert victim in state.online


def test_hung_node_loses_its_resource_and_comes_back_after_power_cycle(dummy_lab: Lab) -> None:
    lab = dummy_lab
    victim = where_dummy(lab)
    assert lab.hang(victim) > 5
    assert lab.power_states()[victim] == "hung"
    states = {procs.parse_stat(Path(f"/proc/{p.pid}/stat").read_text())[0]
              for p in lab_processes(lab.layout)
              if p.pid in _netns_pid_set(lab, victim)}
    assert states == {"T"}  # every process of the node is stopped
    lab.wait_for(lambda s: victim not in s.online and s.where("dummy") not in (None, victim),
                 FAILOVER_BOUND, "waiting for dummy to leave the hung node")
    lab.crash(victim)  # what its BMC's power-off will do
    lab.boot(victim)
    assert victim in all_online(lab).online


def _netns_pid_set(lab: Lab, name: str) -> set[int]:
    return set(network.netns_pids(lab.runner, Deadline(5), lab.layout.node(name).netns))


def test_partition_isolates_a_node_and_heal_reunites_the_cluster(dummy_lab: Lab) -> None:
    lab = dummy_lab
    victim = where_dummy(lab)
    others = [n.name for n in lab.layout.nodes if n.name != victim]
    mac = network.bridge_mac(lab.runner, Deadline(5), lab.layout)
    lab.partition(victim)
    assert lab.power_states()[victim] == "partitioned"
    # The hub keeps its MAC (else the nodes' ARP entries for Ceph and the BMCs go stale).
    assert network.bridge_mac(lab.runner, Deadline(5), lab.layout) == mac == BRIDGE_MAC
    try:
        majority = lab.wait_for(
            lambda s: victim not in s.online and s.where("dummy") in others,
            FAILOVER_BOUND, "waiting for the majority to take dummy over", via=others[0])
        assert majority.quorate
        alone = lab.wait_for(lambda s: not s.quorate, FAILOVER_BOUND,
                             "waiting for the isolated node to lose quorum", via=victim)
        assert alone.online == (victim,) or victim in alone.online
    finally:
        lab.heal()
    state = all_online(lab)
    assert len([n for n in state.nodes if n.is_dc]) == 1

    # The two sides' DCs meet after the heal and one election follows: wait for it to end.
    def one_dc() -> Optional[bool]:
        try:
            dcs = {lab.status(via=n).dc for n in ("n1", "n2", "n3")}
        except HakitError:
            return None
        return True if len(dcs) == 1 and None not in dcs else None

    Deadline(REJOIN_BOUND).poll(one_dc, "waiting for every node to agree on one DC", 0.2, 1.0)


def test_cli_status_reads_the_running_lab(lab: Lab) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "lab", "--state-dir", str(lab.layout.state_dir),
         "status", "--json"],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, "PYTHONPATH": checkout.pythonpath()})
    state = json.loads(res.stdout)
    assert state["lab"] == {"n1": "on", "n2": "on", "n3": "on"}
    assert state["quorate"] is True
    assert sorted(n["name"] for n in state["nodes"]) == ["n1", "n2", "n3"]
    assert lab_processes(lab.layout)  # the lab is still running
