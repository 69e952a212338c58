"""Benchmark: the generator, and what a group costs the scheduler against the same stacks as
ordered + colocated primitives (crm_simulate on a node failure, 10 stacks on 3 nodes)."""

from __future__ import annotations

import ipaddress
import sys
import tempfile
from pathlib import Path

from lxml import etree

from hakit.snippets import crm, stacks
from hakit.snippets.inputs import Image
from hakit.snippets.model import Colocation, Config, Group, Item, Location, Order, Primitive
from tests.bench.common import measure, table
from tests.harness.ocf import LIB
from tests.snippets.cluster import AgentLayer, empty_cib, load_crm, run, simulate

STACKS = 10
NODES = ("n1", "n2", "n3")


def _config() -> Config:
    bmcs = tuple((n, ipaddress.ip_address(f"198.18.1.{i}")) for i, n in enumerate(NODES, 1))
    config = stacks.fencing(bmcs, "hakit", "/etc/hakit/bmc-password")
    for i in range(STACKS):
        spec = stacks.StackSpec(f"c{i}", Image("rbd", f"c{i}"),
                                ipaddress.ip_interface(f"198.18.0.{10 + i}/24"))
        config = config + stacks.stack(spec, NODES[i % len(NODES)])
    return config


def _ungrouped(config: Config) -> Config:
    """The same stacks as primitives chained by order + colocation constraints."""
    items: list[Item] = []
    for item in config.items:
        if isinstance(item, Group):
            members = [Primitive(m.id, m.agent, m.params, m.ops, item.meta)
                       for m in item.members]
            items += members
            for below, above in zip(members, members[1:]):
                items.append(Order(f"{above.id}-after-{below.id}", below.id, above.id))
                items.append(Colocation(f"{above.id}-with-{below.id}", above.id, below.id,
                                        "INFINITY"))
        elif isinstance(item, Location) and item.rsc.endswith("-stack"):
            bottom = item.rsc[: -len("-stack")] + "-rbd"
            items.append(Location(item.id, bottom, item.node, item.score))
        else:
            items.append(item)
    return Config(config.title, tuple(items))


def _started(layer: AgentLayer, config: Config, work: Path) -> Path:
    work.mkdir()
    cib = empty_cib(work / "cib.xml")
    load_crm(layer, cib, crm.render(config), work)
    return simulate(cib, work / "start").cib


def main() -> str:
    lines = [f"### snippets: hakit-snippet, and a group's scheduler cost ({STACKS} stacks, "
             f"{len(NODES)} nodes)", ""]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(LIB)}
    gen = measure("hakit-snippet stack (python3 -m hakit.snippets)",
                  [sys.executable, "-m", "hakit.snippets", "stack", "--name", "web",
                   "--image", "rbd/web", "--ip", "198.18.0.10/24", "--nodes", "n1,n2,n3",
                   "--format", "pcs"], env, runs=20)
    rows = [gen]
    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        layer = AgentLayer.build(work / "layer")
        for label, config in (("group", _config()), ("order+colocation", _ungrouped(_config()))):
            cib = _started(layer, config, work / label.replace("+", "-"))
            argv = ["/usr/sbin/crm_simulate", "--xml-file", str(cib), "--node-fail", "n1",
                    "--run", "--quiet"]
            rows.append(measure(f"crm_simulate node failure, {label}", argv,
                                {"PATH": "/usr/bin:/bin"}, runs=10))
            graph = work / f"{label}.graph"
            out = run([*argv, "--save-graph", str(graph)])
            assert out.returncode == 0, out.stderr
            synapses = len(etree.parse(str(graph)).getroot().findall("synapse"))
            root = etree.parse(str(cib)).getroot()
            found = root.find("configuration/constraints")
            constraints = 0 if found is None else len(found)
            sizes.append(f"| {label} | {constraints} | {synapses} |")
    lines.append(table(rows))
    lines += ["", "| stacks as | constraints in the CIB | transition graph synapses "
              "(node failure) |", "|---|---|---|", *sizes]
    return "\n".join(lines) + "\n"
