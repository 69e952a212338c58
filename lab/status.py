"""The cluster as ``crm_mon --output-as=xml`` reports it, and where the VIP answers (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    is_dc: bool
    unclean: bool
    standby: bool


@dataclass(frozen=True)
class ResourceState:
    id: str
    agent: str  # e.g. ocf:pacemaker:Dummy
    role: str  # Started, Stopped, ...
    failed: bool
    nodes: tuple[str, ...]  # where it is active


@dataclass(frozen=True)
class ClusterState:
    dc: Optional[str]  # the DC's node name, None while there is none
    quorate: bool
    nodes: tuple[NodeState, ...]
    resources: tuple[ResourceState, ...]

    @property
    def online(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.online)

    def resource(self, rid: str) -> Optional[ResourceState]:
        return next((r for r in self.resources if r.id == rid), None)

    def where(self, rid: str) -> Optional[str]:
        """The one node where resource ``rid`` is started, or None."""
        res = self.resource(rid)
        if res is None or res.role != "Started" or len(res.nodes) != 1:
            return None
        return res.nodes[0]


@dataclass(frozen=True)
class VipView:
    """The service as a client in the hub sees it (lab with the stack deployed)."""

    address: str  # the VIP
    stack_node: Optional[str]  # where crm_mon says every stack resource is started
    answering: Optional[str]  # the node whose MAC answered ARP for the VIP
    served: bool  # the page came back through the VIP

    @property
    def consistent(self) -> bool:
        """Served, from the node the cluster says runs the stack."""
        return self.served and self.stack_node is not None and \
            self.answering == self.stack_node


def _flag(elem: ET.Element, name: str) -> bool:
    return elem.get(name, "false") == "true"


def parse_crm_mon(xml_text: str) -> ClusterState:
    """Parse crm_mon's XML; ValueError when it is not crm_mon output."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - a local Pacemaker tool's output
    except ET.ParseError as exc:
        raise ValueError(f"crm_mon output is not XML: {exc}") from exc
    if root.tag not in ("pacemaker-result", "crm_mon"):
        raise ValueError(f"unexpected crm_mon root element <{root.tag}>")
    dc_elem = root.find("summary/current_dc")
    present = dc_elem is not None and _flag(dc_elem, "present")
    dc = dc_elem.get("name") if present and dc_elem is not None else None
    quorate = present and dc_elem is not None and _flag(dc_elem, "with_quorum")
    nodes = tuple(
        NodeState(name=n.get("name", ""), online=_flag(n, "online"), is_dc=_flag(n, "is_dc"),
                  unclean=_flag(n, "unclean"), standby=_flag(n, "standby"))
        for n in root.findall("nodes/node")
    )
    resources = tuple(
        ResourceState(
            id=r.get("id", ""), agent=r.get("resource_agent", ""), role=r.get("role", ""),
            failed=_flag(r, "failed"),
            nodes=tuple(n.get("name", "") for n in r.findall("node")),
        )
        for r in root.iter("resource")
    )
    return ClusterState(dc=dc, quorate=quorate, nodes=nodes, resources=resources)


def render(state: ClusterState) -> str:
    """A few human-readable lines: DC and quorum, one per node, one per resource."""
    lines = [f"DC: {state.dc or '(none)'}   quorum: {'yes' if state.quorate else 'no'}"]
    for n in state.nodes:
        flags = [w for w, on in (("DC", n.is_dc), ("unclean", n.unclean),
                                 ("standby", n.standby)) if on]
        extra = f" ({', '.join(flags)})" if flags else ""
        lines.append(f"  node {n.name}: {'online' if n.online else 'OFFLINE'}{extra}")
    for r in state.resources:
        where = ",".join(r.nodes) or "-"
        failed = " FAILED" if r.failed else ""
        lines.append(f"  resource {r.id} ({r.agent}): {r.role}{failed} on {where}")
    return "\n".join(lines)


def render_vip(view: VipView) -> str:
    """One line: where the VIP answers from, against where the stack runs."""
    page = "page served" if view.served else "page NOT served"
    where = f"answers from {view.answering}" if view.answering else "no node answers"
    stack = f"stack on {view.stack_node}" if view.stack_node else "stack not running"
    odd = "" if view.consistent or not view.served else "  (MISMATCH)"
    return f"  VIP {view.address}: {where}; {page}; {stack}{odd}"
