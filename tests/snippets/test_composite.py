"""``--shape composite``: one ocf:hakit:container resource per container instead of a group of
four primitives, loaded with crmsh and pcs, verified with crm_verify and scheduled with
crm_simulate (which fakes every operation; no agent runs)."""

from __future__ import annotations

import io
import ipaddress
from pathlib import Path

import pytest
from lxml import etree

from hakit.snippets import stacks
from hakit.snippets.cli import run
from hakit.snippets.inputs import Image
from hakit.snippets.model import Primitive
from tests.snippets.cluster import (
    AgentLayer,
    empty_cib,
    load,
    load_crm,
    simulate,
    start_cluster,
    verify,
)
from tests.snippets.conftest import generate

FENCING = ["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
           "--bmc", "n3=198.18.1.3"]
WEB = ["stack", "--shape", "composite", "--name", "web", "--image", "rbd/web",
       "--ip", "198.18.0.10/24", "--nodes", "n1,n2,n3", "--health", "/bin/true"]
DB = ["stack", "--shape", "composite", "--name", "db", "--image", "rbd/db-image",
      "--nodes", "n1,n2,n3", "--prefer", "n2"]


def test_composite_is_one_resource_with_the_group_id() -> None:
    spec = stacks.StackSpec("web", Image("rbd", "web"), ipaddress.ip_interface("198.18.0.10/24"),
                            nic="eth0", shape="composite")
    rsc = stacks.stack_resource(spec)
    assert isinstance(rsc, Primitive)
    assert (rsc.id, rsc.agent) == ("web-stack", "ocf:hakit:container")
    assert dict(rsc.params) == {"name": "web", "pool": "rbd", "ip": "198.18.0.10",
                                "cidr_netmask": "24", "nic": "eth0"}
    # Alone, its stickiness must outweigh the preferred location, as the group's sum does.
    assert int(dict(rsc.meta)["resource-stickiness"]) > int(stacks.PREFER_SCORE)
    monitors = [op.interval for op in rsc.ops if op.name == "monitor"]
    assert len(monitors) == len(set(monitors))


def test_image_is_given_only_when_it_differs_from_the_name() -> None:
    spec = stacks.StackSpec("db", Image("rbd", "db-image"), shape="composite")
    assert dict(stacks.composite(spec).params)["image"] == "db-image"


def test_composite_refuses_another_filesystem() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run([*DB, "--fstype", "xfs"], out, err) == 2
    assert "ext4" in err.getvalue()


@pytest.mark.parametrize("fmt", ["crm", "pcs"])
def test_composite_stacks_load_and_verify(layer: AgentLayer, tmp_path: Path, fmt: str) -> None:
    cib = empty_cib(tmp_path / "cib.xml")
    for step in (FENCING, WEB, DB):
        load(layer, cib, generate(*step, "--format", fmt), fmt, tmp_path)
        verify(cib)
    root = etree.parse(str(cib)).getroot()
    types = {p.get("id"): p.get("type") for p in root.iter("primitive")
             if p.get("provider") == "hakit"}
    assert types == {"web-stack": "container", "db-stack": "container"}
    assert not list(root.iter("group"))


@pytest.fixture
def composite_cib(layer: AgentLayer, tmp_path: Path) -> Path:
    cib = empty_cib(tmp_path / "cib.xml")
    for step in (FENCING, WEB, DB):
        load_crm(layer, cib, generate(*step), tmp_path)
    return cib


def test_composite_starts_on_its_preferred_node(composite_cib: Path, tmp_path: Path) -> None:
    t = start_cluster(composite_cib, tmp_path / "start")
    starts = dict(t.starts())
    assert starts["web-stack"] == "n1" and starts["db-stack"] == "n2"
    assert t.placement["web-stack"] == ("n1",)


def test_node_failure_fences_then_moves_the_composite(composite_cib: Path,
                                                      tmp_path: Path) -> None:
    started = start_cluster(composite_cib, tmp_path / "start")
    t = simulate(started.cib, tmp_path / "fail", "--node-fail", "n1")
    assert ("fence", "reboot", "n1") in t.actions
    (node,) = t.placement["web-stack"]
    assert node != "n1"
    assert t.requires(f"web-stack_start_0@{node}", "stonith-n1-reboot")
    assert t.placement["db-stack"] == ("n2",)  # untouched


def test_composite_stays_put_when_its_node_returns(composite_cib: Path,
                                                   tmp_path: Path) -> None:
    started = start_cluster(composite_cib, tmp_path / "start")
    failed = simulate(started.cib, tmp_path / "fail", "--node-fail", "n1")
    back = simulate(failed.cib, tmp_path / "back", "--node-up", "n1")
    assert back.placement["web-stack"] == failed.placement["web-stack"]
    assert not [a for a in back.changes() if a[0] == "web-stack"]
