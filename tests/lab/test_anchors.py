"""The failover benchmark's configurations, offline: the ClusterLabs anchor stack and its
fence_ipmilan devices load with crmsh into a CIB file and pass crm_verify; the pure parsers
of the bench (durations, lrm_rsc_op exec-times, monitors from the CIB, /proc environ)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hakit.snippets.stacks import stack_group
from lab import anchors, configs
from lab.failover import parse_start_times
from lab.layout import make_layout
from lab.monitors import duration_ms, monitor_env, parse_environ, parse_monitors
from lab.stack import stack_names
from tests.harness.installed import StagedInstall
from tests.snippets.cluster import AgentLayer, empty_cib, load_crm, verify

LAYOUT = make_layout("tanc", Path("/run/tanc"))
NAMES = stack_names(LAYOUT)


def test_anchor_stack_mirrors_the_hakit_group() -> None:
    """Same ids and order, hakit's own rbd primitive, the snippet's intervals where the
    ClusterLabs agent has the same check."""
    ours = stack_group(anchors.lab_spec(NAMES))
    group = anchors.anchor_stack(NAMES, "n1").items[0]
    assert [m.id for m in group.members] == [m.id for m in ours.members] == NAMES.resources()
    assert group.id == ours.id == NAMES.group
    assert group.members[0] == ours.members[0]
    assert [m.agent for m in group.members[1:]] == [
        "ocf:heartbeat:Filesystem", "ocf:heartbeat:lxc", "ocf:heartbeat:IPaddr2"]
    assert group.members[1].ops == ours.members[1].ops  # Filesystem has depth 20 too
    assert group.members[3].ops == ours.members[3].ops
    lxc_monitors = [op for op in group.members[2].ops if op.name == "monitor"]
    assert [(op.interval, op.depth) for op in lxc_monitors] == [("30s", None)]
    assert configs.ANCHORS.resources(NAMES) == tuple(NAMES.resources())
    assert configs.COMPOSITE.resources(NAMES) == (NAMES.group,)


def test_ipmilan_devices_take_the_password_from_the_script() -> None:
    text = anchors.ipmilan_fencing_text(LAYOUT)
    assert text.count("stonith:fence_ipmilan") == 3
    assert "passwd_script=/etc/hakit/bmc-password" in text
    assert "cipher=3" in text and "password=" not in text


def test_anchor_configuration_loads_and_verifies(staged_install: StagedInstall,
                                                 tmp_path: Path) -> None:
    """Fencing first, then the stack: crmsh loads both without a warning (it checks every
    agent's metadata: hakit's rbd from the staged install, heartbeat's and fence_ipmilan
    from the host) and crm_verify finds nothing."""
    layer = AgentLayer(staged_install)
    cib = empty_cib(tmp_path / "cib.xml")
    load_crm(layer, cib, anchors.ipmilan_fencing_text(LAYOUT), tmp_path)
    verify(cib)
    load_crm(layer, cib, anchors.anchor_stack_text(NAMES, "n1"), tmp_path)
    verify(cib)
    root = etree.parse(str(cib)).getroot()
    monitors = parse_monitors(etree.tostring(root.find("configuration/resources")).decode(),
                              NAMES.resources())
    assert [(m.kind, m.interval_ms, m.depth) for m in monitors] == [
        ("rbd", 10000, None), ("rbd", 60000, "10"), ("Filesystem", 20000, None),
        ("Filesystem", 120000, "20"), ("lxc", 30000, None), ("IPaddr2", 10000, None)]
    env = monitor_env(monitors[3], {"PATH": "/usr/bin", "OCF_CHECK_LEVEL": "99"}, "n2")
    assert env["OCF_CHECK_LEVEL"] == "20"
    assert env["OCF_RESKEY_CRM_meta_interval"] == "120000"
    assert env["OCF_RESKEY_directory"] == f"/var/lib/lxc/{NAMES.container}"
    assert env["OCF_RESOURCE_INSTANCE"] == NAMES.resources()[1]


@given(st.integers(min_value=0, max_value=10**6),
       st.sampled_from([("", 1000), ("s", 1000), ("ms", 1), ("min", 60000), ("h", 3600000)]))
def test_duration_ms(value: int, unit: tuple[str, int]) -> None:
    assert duration_ms(f"{value}{unit[0]}") == value * unit[1]


@given(st.dictionaries(st.text(st.characters(blacklist_characters="=\0",
                                             blacklist_categories=("Cs",)), min_size=1),
                       st.text(st.characters(blacklist_characters="\0",
                                             blacklist_categories=("Cs",)))))
def test_parse_environ_round_trips(env: dict[str, str]) -> None:
    data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items())
    assert parse_environ(data) == env


def test_parse_start_times() -> None:
    status = """<status>
      <node_state id="2" uname="n2"><lrm><lrm_resources>
        <lrm_resource id="x-rbd"><lrm_rsc_op id="x-rbd_last_0" operation="start"
          rc-code="0" op-status="0" exec-time="244"/>
          <lrm_rsc_op id="x-rbd_monitor_10000" operation="monitor" rc-code="0"
          exec-time="30"/></lrm_resource>
        <lrm_resource id="x-fs"><lrm_rsc_op id="x-fs_last_0" operation="start"
          rc-code="1" op-status="0" exec-time="5"/></lrm_resource>
        <lrm_resource id="other"><lrm_rsc_op id="o" operation="start" rc-code="0"
          exec-time="7"/></lrm_resource>
      </lrm_resources></lrm></node_state>
      <node_state id="3" uname="n3"><lrm><lrm_resources>
        <lrm_resource id="x-vip"><lrm_rsc_op id="x-vip_last_0" operation="start"
          rc-code="0" exec-time="388"/></lrm_resource>
      </lrm_resources></lrm></node_state></status>"""
    assert parse_start_times(status, "n2", ["x-rbd", "x-fs", "x-vip"]) == {"x-rbd": 0.244}
    assert parse_start_times(status, "n3", ["x-vip"]) == {"x-vip": 0.388}
    assert parse_start_times("not xml", "n2", ["x-rbd"]) == {}
