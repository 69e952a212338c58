"""Every recurring monitor of a lab stack, runnable by hand as Pacemaker runs it.

``parse_monitors`` reads the stack's primitives from the CIB (``cibadmin --query --scope
resources``): agent, parameters, and each recurring monitor's interval, timeout and
``OCF_CHECK_LEVEL``.  ``monitor_env`` gives the agent what pacemaker-execd gives it (Pacemaker
2.1, lib/services/services_ocf.c): execd's own environment, ``OCF_RESKEY_<name>`` per
parameter and per op meta (``CRM_meta_interval``, ``CRM_meta_timeout`` in milliseconds,
``CRM_meta_name``, ``CRM_meta_on_node``), ``OCF_CHECK_LEVEL`` unprefixed, ``OCF_ROOT``, the
OCF version and the resource's instance, type and provider.  ``monitor_argv`` runs it on
the node (its network, mount and UTS namespaces, as execd runs there).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab import network, node, procs

OCF_ROOT = "/usr/lib/ocf"
EXECD = "pacemaker-execd"
NSENTER = "/usr/bin/nsenter"
#: Pacemaker's crm_get_msec units; a bare number is seconds.
_UNITS = {"": 1000, "s": 1000, "sec": 1000, "ms": 1, "msec": 1, "us": 0.001, "usec": 0.001,
          "m": 60000, "min": 60000, "h": 3600000, "hr": 3600000}
_DURATION = re.compile(r"\s*(\d+)\s*([a-z]*)\s*")


@dataclass(frozen=True)
class MonitorOp:
    """One recurring monitor of one primitive, as configured in the CIB."""

    resource: str
    standard: str
    provider: str
    kind: str  # the agent's type, e.g. "rbd", "Filesystem"
    params: tuple[tuple[str, str], ...]
    interval_ms: int
    timeout_ms: int
    depth: Optional[str]  # OCF_CHECK_LEVEL, if the op sets one

    @property
    def agent(self) -> str:
        return f"{self.standard}:{self.provider}:{self.kind}"

    @property
    def label(self) -> str:
        depth = f" depth {self.depth}" if self.depth not in (None, "0") else ""
        return f"{self.agent} monitor{depth}"

    @property
    def path(self) -> str:
        return f"{OCF_ROOT}/resource.d/{self.provider}/{self.kind}"


def duration_ms(text: str) -> int:
    """A Pacemaker duration ("10s", "10000ms", "2min", "30") in milliseconds (pure)."""
    match = _DURATION.fullmatch(text.lower())
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"not a duration: {text!r}")
    return int(int(match.group(1)) * _UNITS[match.group(2)])


def _nvpairs(element: Optional[ET.Element], tag: str) -> list[tuple[str, str]]:
    if element is None:
        return []
    return [(nv.get("name", ""), nv.get("value", ""))
            for attrs in element.findall(tag) for nv in attrs.findall("nvpair")]


def parse_monitors(cib_resources_xml: str, resources: Sequence[str]) -> list[MonitorOp]:
    """The recurring monitors of the OCF primitives named in ``resources`` (pure).

    Primitives are found at any depth (in groups too), in the order ``resources`` names
    them; disabled ops (``enabled=false``) are left out.
    """
    root = ET.fromstring(cib_resources_xml)  # noqa: S314 - a local Pacemaker tool's output
    by_id = {p.get("id", ""): p for p in root.iter("primitive")}
    found = []
    for rid in resources:
        prim = by_id.get(rid)
        if prim is None or prim.get("class") != "ocf":
            continue
        params = tuple(_nvpairs(prim, "instance_attributes"))
        ops = prim.find("operations")
        for op in [] if ops is None else ops.findall("op"):
            if op.get("name") != "monitor" or op.get("enabled", "true") == "false":
                continue
            interval = duration_ms(op.get("interval", "0"))
            if interval == 0:
                continue
            depth = dict(_nvpairs(op, "instance_attributes")).get("OCF_CHECK_LEVEL")
            found.append(MonitorOp(rid, "ocf", prim.get("provider", ""),
                                   prim.get("type", ""), params, interval,
                                   duration_ms(op.get("timeout", "20s")), depth))
    return found


def monitor_env(op: MonitorOp, base: Mapping[str, str], node_name: str,
                feature_set: str = "") -> dict[str, str]:
    """The environment execd gives ``op`` on ``node_name``, over ``base`` (execd's own)."""
    env = {k: v for k, v in base.items()
           if not k.startswith("OCF_") and k != "OCF_CHECK_LEVEL"}
    env.update({"OCF_ROOT": OCF_ROOT, "OCF_RA_VERSION_MAJOR": "1",
                "OCF_RA_VERSION_MINOR": "1", "OCF_EXIT_REASON_PREFIX": "ocf-exit-reason:",
                "OCF_RESOURCE_INSTANCE": op.resource, "OCF_RESOURCE_TYPE": op.kind,
                "OCF_RESOURCE_PROVIDER": op.provider})
    env.update({f"OCF_RESKEY_{k}": v for k, v in op.params})
    env.update({"OCF_RESKEY_CRM_meta_interval": str(op.interval_ms),
                "OCF_RESKEY_CRM_meta_timeout": str(op.timeout_ms),
                "OCF_RESKEY_CRM_meta_name": "monitor",
                "OCF_RESKEY_CRM_meta_on_node": node_name})
    if feature_set:
        env["OCF_RESKEY_crm_feature_set"] = feature_set
    if op.depth is not None:
        env["OCF_CHECK_LEVEL"] = op.depth
    return env


def parse_environ(data: bytes) -> dict[str, str]:
    """/proc/PID/environ as a dict (pure)."""
    env = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def execd_environment(runner: Runner, deadline: Deadline,
                      netns: str) -> dict[str, str]:
    """The environment of the pacemaker-execd running in ``netns`` (empty if none)."""
    for pid in network.netns_pids(runner, deadline, netns):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as comm:
                if comm.read().strip() != EXECD:
                    continue
            with open(f"/proc/{pid}/environ", "rb") as environ:
                return parse_environ(environ.read())
        except OSError:
            continue
    return {}


def monitor_argv(holder: procs.Proc, op: MonitorOp) -> list[str]:
    """argv running ``op``'s agent's monitor on the node whose holder is ``holder``."""
    # absolute: the caller runs it with the agent's environment, whose PATH may not be ours
    return [NSENTER, *node.exec_argv(holder, [op.path, "monitor"])[1:]]
