"""Offline Pacemaker tooling for the snippet tests: a CIB file, crmsh/pcs loading, crm_verify
and crm_simulate, with their XML output parsed (never their screen text).

Nothing here talks to a cluster: every tool works on a file (CIB_file, or a crmsh shadow CIB
kept in a temporary CIB_shadow_dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lxml import etree

from tests.harness.installed import StagedInstall

HERE = Path(__file__).resolve().parent
NODES = ("n1", "n2", "n3")

CLEAN_ENV_DROP = ("CIB_shadow", "CIB_file", "CIB_shadow_dir")


def _env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_DROP}
    env["LC_ALL"] = "C"
    env.update(extra or {})
    return env


def run(argv: list[str], *, env: Optional[Mapping[str, str]] = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=_env(env), check=False)


class AgentLayer:
    """Runs pcs and crmsh where they see the hakit agents as `make install` lays them out
    (``StagedInstall``: an overlay in a private mount namespace; the host is untouched)."""

    def __init__(self, installed: StagedInstall) -> None:
        self._installed = installed

    def run(self, argv: list[str], *, env: Optional[Mapping[str, str]] = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run(self._installed.argv(argv), env=env, timeout=timeout)


def empty_cib(path: Path, nodes: Iterable[str] = NODES) -> Path:
    """A CIB with the nodes declared, online and with quorum, as a running cluster's is.

    Without node_state entries the scheduler treats the nodes as unseen and crm_verify
    warns that it would fence them."""
    out = run(["/usr/sbin/cibadmin", "--empty"])
    assert out.returncode == 0, out.stderr
    root = etree.fromstring(out.stdout.encode())
    root.set("have-quorum", "1")
    nodes_el, status = root.find("configuration/nodes"), root.find("status")
    assert nodes_el is not None and status is not None
    for index, name in enumerate(nodes, start=1):
        etree.SubElement(nodes_el, "node", id=str(index), uname=name)
        etree.SubElement(status, "node_state", id=str(index), uname=name, in_ccm="true",
                         crmd="online", join="member", expected="member")
    path.write_bytes(etree.tostring(root))
    return path


# pcs -f cannot see corosync.conf's node list, so it says so for every location constraint;
# the constraints name nodes that the CIB declares (crm_verify checks the result).
PCS_FILE_NOTICE = "Warning: Validation for node existence in the cluster will be skipped"


def _problems(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if any(w in line.lower() for w in ("warning", "error"))
            and line.strip() != PCS_FILE_NOTICE]


def load_crm(layer: AgentLayer, cib: Path, snippet: str, workdir: Path) -> None:
    """crm configure load update SNIPPET into a shadow copy of CIB, then write it back."""
    shadow_dir = workdir / "shadows"
    shadow_dir.mkdir(exist_ok=True)
    shutil.copyfile(cib, shadow_dir / "shadow.hakit")
    source = workdir / "snippet.crm"
    source.write_text(snippet)
    out = layer.run(["/usr/sbin/crm", "configure", "load", "update", str(source)],
                    env={"CIB_shadow": "hakit", "CIB_shadow_dir": str(shadow_dir)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert _problems(out.stdout + out.stderr) == [], out.stdout + out.stderr
    shutil.copyfile(shadow_dir / "shadow.hakit", cib)


def run_pcs_script(layer: AgentLayer, cib: Path, script: str, workdir: Path) -> None:
    """sh SCRIPT CIB: the pcs script edits the CIB file only."""
    source = workdir / "snippet.pcs.sh"
    source.write_text(script)
    out = layer.run(["/bin/sh", str(source), str(cib)],
                    env={"CIB_shadow_dir": str(workdir)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert _problems(out.stdout + out.stderr) == [], out.stdout + out.stderr


def load(layer: AgentLayer, cib: Path, text: str, fmt: str, workdir: Path) -> None:
    """A snippet in ``fmt`` ("crm": crmsh syntax, "pcs": a pcs script) into CIB."""
    if fmt == "crm":
        load_crm(layer, cib, text, workdir)
    else:
        run_pcs_script(layer, cib, text, workdir)


def verify(cib: Path) -> None:
    """crm_verify finds neither errors nor warnings."""
    out = run(["/usr/sbin/crm_verify", "--xml-file", str(cib), "-V"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert (out.stdout + out.stderr).strip() == "", out.stdout + out.stderr


@dataclass(frozen=True)
class Transition:
    """What crm_simulate ran, in its execution order, and the revised cluster status."""

    actions: tuple[tuple[str, str, str], ...]  # (resource or "fence", op, node)
    placement: Mapping[str, tuple[str, ...]]  # resource -> nodes it runs on afterwards
    graph: etree._Element
    cib: Path

    def starts(self) -> list[tuple[str, str]]:
        return [(r, n) for r, op, n in self.actions if op == "start"]

    def changes(self) -> list[tuple[str, str, str]]:
        """Everything except monitors (probes and recurring)."""
        return [a for a in self.actions if a[1] != "monitor"]

    def index(self, rsc: str, op: str, node: str) -> int:
        return self.actions.index((rsc, op, node))

    def requires(self, later: str, earlier: str) -> bool:
        """Whether graph action key ``later`` waits (transitively) for ``earlier``.

        Keys are "web-fs_start_0@n1" (on a node), "stonith-n1-reboot", or pseudo actions
        keys ("web-stack_running_0")."""
        inputs: dict[str, set[str]] = {}
        for synapse in self.graph.iter("synapse"):
            acts = [_graph_key(a) for a in synapse.find("action_set")]
            trig = {_graph_key(a) for t in synapse.iter("trigger") for a in t}
            for act in acts:
                inputs.setdefault(act, set()).update(trig)
        seen, todo = set(), [later]
        while todo:
            key = todo.pop()
            for dep in inputs.get(key, ()):
                if dep == earlier:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False


def _graph_key(action: etree._Element) -> str:
    """rsc_op: "web-fs_start_0@n1"; fencing: "stonith-n1-reboot"; pseudo: "web-stack_start_0"."""
    key = action.get("operation_key", "")
    if action.tag == "rsc_op":
        return f"{key}@{action.get('on_node')}"
    return key


def simulate(cib: Path, workdir: Path, *args: str) -> Transition:
    """crm_simulate -S on CIB with synthetic events ARGS; the resulting CIB is kept."""
    workdir.mkdir(parents=True, exist_ok=True)
    after, graph = workdir / "after.xml", workdir / "graph.xml"
    out = run(["/usr/sbin/crm_simulate", "--xml-file", str(cib), "--simulate",
               "--save-output", str(after), "--save-graph", str(graph),
               "--output-as=xml", *args])
    assert out.returncode == 0, out.stdout + out.stderr
    root = etree.fromstring(out.stdout.encode())
    transition = root.find("transition")
    assert transition is not None, out.stdout
    actions = []
    for event in transition:
        if event.tag == "rsc_action":
            actions.append((event.get("resource", ""), event.get("op", ""),
                            event.get("node", "")))
        elif event.tag == "fencing_action":
            actions.append(("fence", event.get("op", ""), event.get("target", "")))
        elif event.tag == "pseudo_action":
            continue
        else:
            actions.append((event.tag, event.get("task", "") or event.get("op", ""),
                            event.get("node", "")))
    placement: dict[str, tuple[str, ...]] = {}
    revised = root.find("revised_cluster_status/resources")
    assert revised is not None, out.stdout
    for rsc in revised.iter("resource"):
        placement[rsc.get("id", "")] = tuple(n.get("name", "") for n in rsc.iter("node"))
    return Transition(tuple(actions), placement, etree.parse(str(graph)).getroot(), after)


def start_cluster(cib: Path, workdir: Path) -> Transition:
    """The first transition on the online nodes: probes, then starts everything."""
    return simulate(cib, workdir)
