"""What Pacemaker's scheduler does with the snippets, proven with crm_simulate.

Each scenario loads the shipped snippets (fencing first) into a CIB file, lets crm_simulate
run a transition (it fakes every operation, so no agent runs) and reads its XML output and
transition graph: the actions in the order they ran, the dependencies between them, and
where every resource ends up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from tests.harness.ocf import ROOT
from tests.snippets.cluster import (
    AgentLayer,
    Transition,
    empty_cib,
    load_crm,
    run,
    simulate,
    start_cluster,
)
from tests.snippets.conftest import generate

SNIPPETS = ROOT / "crm-snippets"
WEB = ("web-rbd", "web-fs", "web-lxc", "web-vip")
FENCING = ["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
           "--bmc", "n3=198.18.1.3"]


def _cluster(layer: AgentLayer, work: Path, *snippets: str) -> Path:
    """A CIB with the given crm-snippets files (or generator outputs) loaded in order."""
    work.mkdir(parents=True, exist_ok=True)
    cib = empty_cib(work / "cib.xml")
    for snippet in snippets:
        text = snippet if "\n" in snippet else (SNIPPETS / snippet).read_text()
        load_crm(layer, cib, text, work)
    return cib


@pytest.fixture(scope="module")
def web_started(layer: AgentLayer, tmp_path_factory: pytest.TempPathFactory) -> Transition:
    """Fencing and the web stack loaded, and the first transition run."""
    work = tmp_path_factory.mktemp("web")
    cib = _cluster(layer, work, "1-fencing.crm", "2-stack-web.crm")
    return start_cluster(cib, work / "start")


def _starts(t: Transition, prefix: str) -> list[tuple[str, str]]:
    return [(r, n) for r, n in t.starts() if r.startswith(prefix)]


def _assert_chain(t: Transition, op: str, resources: tuple[str, ...], node: str) -> None:
    """Each action waits (in the graph) for the one before it."""
    for earlier, later in zip(resources, resources[1:]):
        assert t.requires(f"{later}_{op}_0@{node}", f"{earlier}_{op}_0@{node}"), \
            f"{later} {op} does not wait for {earlier} {op} on {node}"


def test_stack_starts_on_the_preferred_node_in_order(web_started: Transition) -> None:
    t = web_started
    assert _starts(t, "web-") == [(r, "n1") for r in WEB]
    _assert_chain(t, "start", WEB, "n1")
    assert all(t.placement[r] == ("n1",) for r in WEB)
    for node in ("n1", "n2", "n3"):  # every fencing device runs, never on its own target
        assert t.placement[f"fence-{node}"] not in ((), (node,))
        assert t.placement[f"fence-{node}-redfish"] not in ((), (node,))


def test_node_failure_fences_it_then_moves_the_stack_in_order(web_started: Transition,
                                                              tmp_path: Path) -> None:
    t = simulate(web_started.cib, tmp_path, "--node-fail", "n1")
    assert ("fence", "reboot", "n1") in t.actions
    starts = _starts(t, "web-")
    assert [r for r, _ in starts] == list(WEB)
    (target,) = {n for _, n in starts}
    assert target != "n1"
    fenced = t.index("fence", "reboot", "n1")
    assert all(t.index(r, "start", target) > fenced for r in WEB)
    # Nothing of the stack may start before n1 is known to be off (it could still hold
    # the image's lock and the mount): the graph makes the first start wait for fencing.
    assert t.requires(f"web-rbd_start_0@{target}", "stonith-n1-reboot")
    _assert_chain(t, "start", WEB, target)
    assert all(t.placement[r] == (target,) for r in WEB)


def test_without_a_fencing_device_a_failed_node_blocks_recovery(web_started: Transition,
                                                               tmp_path: Path) -> None:
    """The pitfall: stonith-enabled=true but no device ever configured. crm_verify says so,
    and when a node dies its resources are not started elsewhere: an empty transition.
    Fencing comes first."""
    root = etree.parse(str(web_started.cib)).getroot()
    resources = root.find("configuration/resources")
    assert resources is not None
    for prim in list(resources.findall("primitive")):
        if prim.get("class") == "stonith":
            resources.remove(prim)
    for con in list(root.iter("rsc_location")):
        if con.get("rsc", "").startswith("fence-"):
            con.getparent().remove(con)
    for topology in list(root.iter("fencing-topology")):
        topology.getparent().remove(topology)
    for history in list(root.iter("lrm_resource")):  # as if never configured
        if history.get("id", "").startswith("fence-"):
            history.getparent().remove(history)
    no_fencing = tmp_path / "no-fencing.xml"
    no_fencing.write_bytes(etree.tostring(root))
    out = run(["/usr/sbin/crm_verify", "--xml-file", str(no_fencing), "-V"])
    assert out.returncode != 0
    assert "no STONITH resources have been defined" in out.stderr
    t = simulate(no_fencing, tmp_path / "fail", "--node-fail", "n1")
    assert t.starts() == []
    assert not any(r == "fence" for r, _, _ in t.actions)


def test_standby_drains_the_node(web_started: Transition, tmp_path: Path) -> None:
    """crm_standby is what `pcs node standby` and `crm node standby` set."""
    cib = tmp_path / "standby.xml"
    shutil.copyfile(web_started.cib, cib)
    out = run(["/usr/sbin/crm_standby", "--node", "n1", "--update", "on"],
              env={"CIB_file": str(cib)})
    assert out.returncode == 0, out.stderr
    t = simulate(cib, tmp_path / "drain")
    assert not any(r == "fence" for r, _, _ in t.actions)  # a drain is clean: no fencing
    assert [(r, n) for r, op, n in t.actions if op == "stop" and r.startswith("web-")] == \
        [(r, "n1") for r in reversed(WEB)]
    _assert_chain(t, "stop", tuple(reversed(WEB)), "n1")
    (target,) = {n for _, n in _starts(t, "web-")}
    assert target != "n1"
    _assert_chain(t, "start", WEB, target)
    assert all("n1" not in nodes for nodes in t.placement.values())


def test_failed_fs_monitor_restarts_only_the_members_above(web_started: Transition,
                                                           tmp_path: Path) -> None:
    """fs reports "not running" at its 20 s monitor: fs, lxc and vip restart in place, in
    order; rbd stays mapped; nothing else in the cluster moves and nobody is fenced."""
    t = simulate(web_started.cib, tmp_path, "--op-inject", "web-fs_monitor_20000@n1=7")
    # crm_simulate's injected result has no operation digest, so the scheduler also clears
    # its fail count ("action definition changed"); an artefact of the injection.
    changes = [c for c in t.changes() if c[:2] != ("cluster_action", "clear_failcount")]
    assert changes == [
        ("web-vip", "stop", "n1"), ("web-lxc", "stop", "n1"), ("web-fs", "stop", "n1"),
        ("web-fs", "start", "n1"), ("web-lxc", "start", "n1"), ("web-vip", "start", "n1")]
    _assert_chain(t, "start", WEB[1:], "n1")
    assert all(t.placement[r] == ("n1",) for r in WEB)


@pytest.fixture(scope="module")
def apart(layer: AgentLayer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """web and db both preferring n1 (a conflict), and placement keeping them apart."""
    work = tmp_path_factory.mktemp("apart")
    db = generate("stack", "--name", "db", "--image", "rbd/db", "--ip", "198.18.0.11/24",
                  "--nodes", "n1,n2,n3")
    return _cluster(layer, work, "1-fencing.crm", "2-stack-web.crm", db, "4-placement.crm")


def _nodes_of(t: Transition, name: str) -> set[str]:
    return {n for r in (f"{name}-{m}" for m in ("rbd", "fs", "lxc", "vip"))
            for n in t.placement[r]}


def test_anti_affine_containers_never_share_a_node(apart: Path, tmp_path: Path) -> None:
    t = start_cluster(apart, tmp_path / "start")
    web, db = _nodes_of(t, "web"), _nodes_of(t, "db")
    assert len(web) == 1 and len(db) == 1 and web != db
    # Lose web's node: web moves, but not onto db's node.
    t = simulate(t.cib, tmp_path / "fail1", "--node-fail", web.pop())
    web, db = _nodes_of(t, "web"), _nodes_of(t, "db")
    assert len(web) == 1 and len(db) == 1 and web != db
    # Lose db's node too: one node is left and only one of the two may run there.
    t = simulate(t.cib, tmp_path / "fail2", "--node-fail", db.pop())
    web, db = _nodes_of(t, "web"), _nodes_of(t, "db")
    assert len(web) + len(db) == 1
    assert web.isdisjoint(db)


@pytest.fixture(scope="module")
def lb_started(layer: AgentLayer, tmp_path_factory: pytest.TempPathFactory) -> Transition:
    work = tmp_path_factory.mktemp("lb")
    cib = _cluster(layer, work, "1-fencing.crm", "5-lb.crm")
    return start_cluster(cib, work / "start")


def _lb_state(t: Transition) -> tuple[set[str], set[str], set[str]]:
    lb1 = {n for r in ("lb1-rbd", "lb1-fs", "lb1-lxc") for n in t.placement[r]}
    lb2 = {n for r in ("lb2-rbd", "lb2-fs", "lb2-lxc") for n in t.placement[r]}
    return lb1, lb2, set(t.placement["lb-vip"])


def _assert_vip_after_its_balancer(t: Transition) -> None:
    """When the VIP starts where a balancer starts in the same transition, the address
    waits for the container (the Optional order)."""
    for _, node in [s for s in t.starts() if s[0] == "lb-vip"]:
        for lb in ("lb1", "lb2"):
            if (f"{lb}-lxc", node) in t.starts():
                assert t.requires(f"lb-vip_start_0@{node}", f"{lb}-lxc_start_0@{node}")


def test_lb_vip_sits_with_a_running_balancer(lb_started: Transition) -> None:
    lb1, lb2, vip = _lb_state(lb_started)
    assert lb1 == {"n1"} and lb2 == {"n2"}
    assert vip in ({"n1"}, {"n2"})
    _assert_vip_after_its_balancer(lb_started)


def test_lb_vip_follows_the_healthy_balancer(lb_started: Transition, tmp_path: Path) -> None:
    """The balancer holding the VIP fails its health check (lxc depth 10): it leaves its
    node (migration-threshold=1) and the VIP ends up with a running balancer; then that
    node dies and the VIP goes to the survivor."""
    lb1, lb2, vip = _lb_state(lb_started)
    holder = "lb1" if vip == lb1 else "lb2"
    (node,) = vip
    t = simulate(lb_started.cib, tmp_path / "health", "--op-inject",
                 f"{holder}-lxc_monitor_60000@{node}=1")
    lb1, lb2, vip = _lb_state(t)
    balancer = lb1 if holder == "lb1" else lb2
    assert node not in balancer and len(balancer) == 1
    assert lb1.isdisjoint(lb2)
    assert vip and (vip <= lb1 or vip <= lb2)
    _assert_vip_after_its_balancer(t)
    (vip_node,) = vip
    t = simulate(t.cib, tmp_path / "node", "--node-fail", vip_node)
    lb1, lb2, vip = _lb_state(t)
    assert vip and (vip <= lb1 or vip <= lb2)
    assert vip_node not in vip


def test_lb_vip_stays_when_the_other_balancer_fails(lb_started: Transition,
                                                    tmp_path: Path) -> None:
    """Stickiness: the balancer without the VIP fails; the VIP does not move."""
    lb1, lb2, vip = _lb_state(lb_started)
    other, node = ("lb2", next(iter(lb2))) if vip == lb1 else ("lb1", next(iter(lb1)))
    t = simulate(lb_started.cib, tmp_path, "--op-inject", f"{other}-lxc_monitor_60000@{node}=1")
    assert _lb_state(t)[2] == vip
    assert not any(r == "lb-vip" and op in ("stop", "start") for r, op, _ in t.actions)
