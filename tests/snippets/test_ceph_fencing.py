"""hakit-snippet fencing --ceph: fence_hakit_ceph as the level after the BMC, or alone, and
stacks that require unfencing; loaded with crmsh and pcs, checked with crm_verify and
crm_simulate (unfencing before the protected resources start)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.snippets.cluster import AgentLayer, empty_cib, load, simulate, verify
from tests.snippets.conftest import generate
from tests.snippets.test_cli import _fail
from tests.snippets.test_load import _semantics

CEPH = ["--ceph", "n1=198.18.0.11,198.18.0.12", "--ceph", "n2=198.18.0.21",
        "--ceph", "n3=198.18.0.31"]
BMC = ["--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2", "--bmc", "n3=198.18.1.3"]
STACK = ["stack", "--name", "app", "--image", "rbd/app", "--nodes", "n1,n2,n3",
         "--requires-unfencing"]


def _levels(cib: Path) -> dict[str, list[str]]:
    root = etree.parse(str(cib)).getroot()
    out: dict[str, list[str]] = {}
    for level in sorted(root.iter("fencing-level"), key=lambda lv: int(lv.get("index", "0"))):
        out.setdefault(level.get("target", ""), []).append(level.get("devices", ""))
    return out


def _load_all(layer: AgentLayer, work: Path, fmt: str, *steps: list[str]) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    cib = empty_cib(work / "cib.xml")
    for step in steps:
        load(layer, cib, generate(*step, "--format", fmt), fmt, work)
        verify(cib)
    return cib


@pytest.mark.parametrize("fmt", ["crm", "pcs"])
def test_ceph_is_the_level_after_the_bmc(layer: AgentLayer, tmp_path: Path, fmt: str) -> None:
    cib = _load_all(layer, tmp_path, fmt,
                    ["fencing", *BMC, "--redfish", "n3=198.18.2.3", *CEPH], STACK)
    assert _levels(cib) == {"n1": ["fence-n1", "fence-ceph"],
                            "n2": ["fence-n2", "fence-ceph"],
                            "n3": ["fence-n3", "fence-n3-redfish", "fence-ceph"]}
    facts = _semantics(cib)
    assert ("param", "fence-ceph", "node_addresses",
            "n1:198.18.0.11,198.18.0.12;n2:198.18.0.21;n3:198.18.0.31") in facts
    assert ("meta", "fence-ceph", "provides", "unfencing") in facts
    assert ("meta", "app-stack", "requires", "unfencing") in facts
    # A BMC that does not answer is tried once: the Ceph level after it is the retry.
    for device in ("fence-n1", "fence-n2", "fence-n3", "fence-n3-redfish"):
        assert ("param", device, "pcmk_reboot_retries", "1") in facts
        assert ("param", device, "pcmk_off_retries", "1") in facts
        assert ("param", device, "pcmk_monitor_retries", "1") in facts
        assert ("meta", device, "resource-stickiness", "100") in facts
    assert not any(f[:3] == ("param", "fence-ceph", "pcmk_reboot_retries") for f in facts)


def test_crm_and_pcs_agree(layer: AgentLayer, tmp_path: Path) -> None:
    steps = (["fencing", *BMC, *CEPH], STACK)
    crm = _load_all(layer, tmp_path / "crm", "crm", *steps)
    pcs = _load_all(layer, tmp_path / "pcs", "pcs", *steps)
    assert _semantics(crm) == _semantics(pcs)


@pytest.mark.parametrize("fmt", ["crm", "pcs"])
def test_ceph_only_unfences_before_the_stack_starts(layer: AgentLayer, tmp_path: Path,
                                                  fmt: str) -> None:
    """Without BMCs: one fence_hakit_ceph device and no topology; the scheduler unfences a
    node (fence_hakit_ceph on) before the stack's resources start there."""
    cib = _load_all(layer, tmp_path, fmt, ["fencing", *CEPH], STACK)
    assert _levels(cib) == {}
    root = etree.parse(str(cib)).getroot()
    assert [p.get("id") for p in root.iter("primitive") if p.get("class") == "stonith"] == \
        ["fence-ceph"]
    first = simulate(cib, tmp_path / "sim")
    started = [n for r, n in first.starts() if r == "app-rbd"]
    assert len(started) == 1
    node = started[0]
    assert ("fence", "on", node) in first.actions, first.actions
    assert first.requires(f"app-rbd_start_0@{node}", f"stonith-{node}-on")


@pytest.mark.parametrize(("argv", "message"), [
    (["fencing", "--ceph", "n1=198.18.0.11"], "at least two"),
    (["fencing", "--ceph", "n1=198.18.0.11", "--ceph", "n1=198.18.0.12"], "given twice"),
    (["fencing", "--ceph", "n1=198.18.0.11", "--ceph", "n2=198.18.0.11"],
     "198.18.0.11 is given for both 'n1' and 'n2'"),
    (["fencing", "--ceph", "n1=198.18.0.11,ceph-n1", "--ceph", "n2=198.18.0.21"],
     "'ceph-n1' (for node 'n1') is not an IP address"),
    (["fencing", "--ceph", "n1=", "--ceph", "n2=198.18.0.21"], "NODE=ADDRESS[,ADDRESS...]"),
    (["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
      "--ceph", "n1=198.18.0.11", "--ceph", "n3=198.18.0.31"], "the same nodes as --bmc"),
])
def test_bad_ceph_input_exits_2_with_a_clear_error(argv: list[str], message: str) -> None:
    assert message in _fail(*argv)
