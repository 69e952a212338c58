"""The three configurations of the lab's service that the failover benchmark compares.

Each deploys the same container image, VIP, Ceph and BMCs; they differ only in agents:

- ``group``: what the demo deploys, ``hakit-snippet stack --shape group`` (rbd, fs, lxc,
  vip) with fence_hakit devices;
- ``composite``: ``hakit-snippet stack --shape composite`` (one ocf:hakit:container) with
  fence_hakit devices;
- ``anchors``: the ClusterLabs agents (``lab.anchors``) with fence_ipmilan devices.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from hakit.deadline import Deadline
from lab import anchors, stack
from lab.services import snippet_env

if TYPE_CHECKING:
    from lab.cluster import Lab
    from lab.layout import LabLayout


@dataclass(frozen=True)
class StackConfig:
    """One configuration: how to write its CIB text, and which resources make the stack."""

    key: str
    label: str
    #: crm text of the stack, given the lab and the node it should prefer
    stack_text: Callable[[Lab, str], str]
    #: crm text of the fence devices (None: the lab's default, fence_hakit)
    fencing_text: Optional[Callable[[LabLayout], str]]
    #: the stack's resources in start order (every one must run for the stack to run)
    resources: Callable[[stack.StackNames], tuple[str, ...]]
    fence_agent: str


def _snippet(shape: str) -> Callable[[Lab, str], str]:
    def text(lab: Lab, prefer: str) -> str:
        names = stack.stack_names(lab.layout)
        argv = [*stack.stack_snippet_argv(sys.executable, names, lab.layout, prefer),
                "--shape", shape]
        return lab.runner.run(argv, Deadline(30), env=snippet_env()).stdout
    return text


def _anchors(lab: Lab, prefer: str) -> str:
    return anchors.anchor_stack_text(stack.stack_names(lab.layout), prefer)


def _members(names: stack.StackNames) -> tuple[str, ...]:
    return tuple(names.resources())


def _composite(names: stack.StackNames) -> tuple[str, ...]:
    return (names.group,)  # the composite has the group's id (hakit.snippets.stacks)


GROUP = StackConfig("group", "hakit group (rbd, fs, lxc, vip) + fence_hakit",
                    _snippet("group"), None, _members, "fence_hakit")
COMPOSITE = StackConfig("composite", "hakit composite (ocf:hakit:container) + fence_hakit",
                        _snippet("composite"), None, _composite, "fence_hakit")
ANCHORS = StackConfig("anchors", "ClusterLabs (hakit rbd, Filesystem, lxc, IPaddr2) + "
                      "fence_ipmilan", _anchors, anchors.ipmilan_fencing_text, _members,
                      "fence_ipmilan")
CONFIGURATIONS = (GROUP, COMPOSITE, ANCHORS)
