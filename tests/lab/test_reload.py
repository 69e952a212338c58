"""Changing reloadable parameters through Pacemaker reloads, never restarts, the container.

For each shape of the lab's service (the group rbd -> fs -> lxc -> vip, and the one
ocf:hakit:container resource): deploy it, change reloadable parameters of each agent with
``crm_resource --set-parameter``, let the cluster settle, and check that Pacemaker ran
reload-agent on each changed resource, that the container's init is the same process, and
that the page is still served through the VIP.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator

import pytest
from lxml import etree

from lab import configs
from lab.cluster import Lab
from lab.configs import StackConfig
from lab.demo import Demo, stack_state
from lab.layout import make_layout
from lab.progress import Progress
from lab.services import LabServices
from lab.stack import StackNames
from tests.lab.conftest import lab_processes, need_root

pytestmark = pytest.mark.slow

SETTLE_TIMEOUT = 120.0


def _changes(config: StackConfig, names: StackNames) -> list[tuple[str, str, str]]:
    """(resource, parameter, new value): reloadable parameters of every agent."""
    if config is configs.COMPOSITE:
        return [(names.group, "stop_timeout", "20s"), (names.group, "fsck", "force"),
                (names.group, "break_lock", "never")]
    rbd, fs, lxc, _ = names.resources()
    return [(rbd, "blocklist_expire", "7200"), (fs, "signal_delay", "2s"),
            (lxc, "stop_timeout", "20s"), (lxc, "health_timeout", "7s")]


def _init_pid(lab: Lab, node: str, container: str) -> str:
    out = lab.run_on(node, ["lxc-info", "-n", container, "-pH"]).stdout.strip()
    assert out.isdigit(), out
    return out


def _last_digest(lab: Lab, node: str, resource: str) -> str:
    """The parameter digest of the last start (or reload) the CIB records for
    ``resource`` on ``node``: Pacemaker 2.1 records a reload-agent as a start."""
    text = lab.run_on(node, ["cibadmin", "--query", "--scope", "status"]).stdout
    root = etree.fromstring(text.encode())
    found = [op.get("op-digest", "")
             for state in root.iter("node_state") if state.get("uname") == node
             for rsc in state.iter("lrm_resource") if rsc.get("id") == resource
             for op in rsc.iter("lrm_rsc_op") if op.get("id") == f"{resource}_last_0"]
    assert len(found) == 1, (resource, text)
    return found[0]


def _reloads(lab: Lab, node: str, resource: str) -> list[str]:
    """The lines of the node's Pacemaker log recording a reload-agent of ``resource``."""
    log = lab.run_on(node, ["cat", "/var/log/pacemaker/pacemaker.log"]).stdout
    return [line for line in log.splitlines()
            if "reload-agent" in line and resource in line and "Result of" in line]


@pytest.fixture(params=[configs.GROUP, configs.COMPOSITE], ids=lambda c: c.key)
def deployed(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, str]]:
    need_root()
    name = f"r{secrets.token_hex(3)}"
    layout = make_layout(name, tmp_path_factory.mktemp("reload") / name)
    lab = Lab(layout, Progress(sys.stdout), LabServices())
    try:
        lab.up()
        demo = Demo(lab, request.param)
        node = demo.deploy()
        demo.wait_page()
        yield demo, node
    finally:
        lab.down()
    assert lab_processes(layout) == set()
    assert not layout.state_dir.exists()


def test_reloadable_parameters_change_without_a_restart(deployed: tuple[Demo, str]) -> None:
    demo, node = deployed
    lab, names = demo.lab, demo.names
    assert demo.config is not None
    init = _init_pid(lab, node, names.container)
    changes = _changes(demo.config, names)
    resources = sorted({resource for resource, _, _ in changes})
    digests = {resource: _last_digest(lab, node, resource) for resource in resources}
    for resource, param, value in changes:
        lab.run_on(node, ["crm_resource", "--resource", resource, "--set-parameter", param,
                          "--parameter-value", value])
    lab.run_on(node, ["crm_resource", "--wait", f"--timeout={int(SETTLE_TIMEOUT)}s"],
               timeout=SETTLE_TIMEOUT + 10)
    for resource in resources:
        # the new parameters are in effect (their digest recorded), through reload-agent
        assert _last_digest(lab, node, resource) != digests[resource], resource
        assert _reloads(lab, node, resource), resource
    assert _init_pid(lab, node, names.container) == init
    assert stack_state(lab.status(), names, demo.resources) == node
    page = demo.fetch()
    assert page is not None and "hakit lab" in page
