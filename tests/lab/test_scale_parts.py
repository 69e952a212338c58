"""The scaled lab's pure parts: names, spreading, image keys, start logs, watchers' output,
memory and CPU accounting, the soak's plan and its end-of-run resource check."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab import (
    cephoutage,
    cpuuse,
    footprint,
    leftovers,
    multiwatch,
    scale,
    scalefail,
    soak,
    startlog,
)
from lab.config import corosync_conf
from lab.layout import make_layout

LAYOUT = make_layout("sc", Path("/run/hakit-test-scale"))


@given(st.integers(min_value=1, max_value=scale.MAX_COUNT))
def test_every_container_has_its_own_image_port_and_vip(count: int) -> None:
    names = scale.scale_names(LAYOUT, count)
    assert len({n.container for n in names}) == count
    assert len({n.image for n in names}) == count
    assert len({n.port for n in names}) == count
    vips = {str(n.vip.ip) for n in names}
    assert len(vips) == count
    # never the demo's VIP, a node's, the hub's or a BMC's
    others = {"198.18.42.100", "198.18.42.1", *(str(n.address.ip) for n in LAYOUT.nodes),
              "198.18.42.201", "198.18.42.202", "198.18.42.203"}
    assert not vips & others
    assert all(n.url().endswith(f":{n.port}/") for n in names)


@pytest.mark.parametrize("count", [0, scale.MAX_COUNT + 1])
def test_out_of_range_counts_are_refused(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        scale.Scale(count)


def test_bad_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        scale.Scale(3, "clone")


def test_spread_is_round_robin_as_the_placement_snippet() -> None:
    names = scale.scale_names(LAYOUT, 7)
    where = scale.spread(LAYOUT, names)
    assert [where[n.container] for n in names] == ["n1", "n2", "n3", "n1", "n2", "n3", "n1"]
    text = scale.placement_text(LAYOUT, names)
    for n in names:
        assert f"location {n.container}-preferred-node {n.group} 100: {where[n.container]}" \
            in text


def test_image_key_changes_with_any_content() -> None:
    one, two = scale.scale_names(LAYOUT, 2)
    config = 'lxc.uts.name = "template"\nlxc.rootfs.path = dir:/x/rootfs\n'
    files = scale.image_files(one, config)
    assert scale.image_key(files) == scale.image_key(scale.image_files(one, config))
    assert scale.image_key(files) != scale.image_key(scale.image_files(two, config))
    assert f'lxc.uts.name = "{one.container}"' in files["config"][0]
    assert f"-p {one.port} " in files[f"rootfs{scale.stack.INIT_PATH}"][0]


def test_cluster_snippet_turns_load_throttling_off() -> None:
    assert 'property load-threshold="0%"' in scale.cluster_text()


LOG = """\
Dec 04 06:12:45.275 n3 pacemaker-controld  [21022] (do_lrm_rsc_op) \tnotice: Requesting local \
execution of start operation for sc-c01-stack on n3 | transition_key=1 op_key=sc-c01-stack_start_0
Dec 04 06:12:45.300 n3 pacemaker-controld  [21022] (do_lrm_rsc_op) \tnotice: Requesting local \
execution of start operation for sc-c04-stack on n3 | transition_key=2
Dec 04 06:12:52.331 n3 pacemaker-controld  [21022] (log_executor_event) \tnotice: Result of \
start operation for sc-c01-stack on n3: ok | CIB update 402, graph action confirmed
Dec 04 06:12:53.000 n3 pacemaker-controld  [21022] (log_executor_event) \tnotice: Result of \
start operation for sc-c04-stack on n3: error | CIB update 403
Dec 04 06:12:53.100 n3 pacemaker-controld  [21022] (do_lrm_rsc_op) \tnotice: Requesting local \
execution of start operation for fence-n1 on n3 | x
"""


def test_start_log_gives_queueing_running_and_concurrency() -> None:
    since = startlog.stamp_to_unix("Dec 04 06:12:40.000", 2026)
    starts = startlog.parse_starts(LOG.splitlines(), since, {"sc-c01-stack", "sc-c04-stack"})
    assert [(s.resource, s.ok) for s in starts] == [("sc-c01-stack", True),
                                                    ("sc-c04-stack", False)]
    assert starts[0].requested == pytest.approx(5.275)
    assert starts[0].took == pytest.approx(7.056)
    assert startlog.concurrency(starts) == 2
    later = startlog.stamp_to_unix("Dec 04 06:12:46.000", 2026)
    # results whose request came before are not starts of this window
    assert startlog.parse_starts(LOG.splitlines(), later, {"sc-c01-stack"}) == []


def test_multiwatch_output_is_read_even_when_torn() -> None:
    assert multiwatch.read_times("1.5 http://a/\n2.0 http://b/\n3") == {
        "http://a/": 1.5, "http://b/": 2.0}


def test_most_loaded_node() -> None:
    assert scalefail.most_loaded({"a": "n2", "b": "n1", "c": "n2", "d": None}) == "n2"
    assert scalefail.most_loaded({"a": "n3", "b": "n1"}) == "n1"


def test_pss_and_per_container_growth() -> None:
    assert footprint.parse_pss("Rss: 10 kB\nPss:  2048 kB\n") == 2048
    before = footprint.Footprint({"n1": {"corosync": footprint.Usage(1, 10240)}})
    after = footprint.Footprint({"n1": {"corosync": footprint.Usage(1, 10240),
                                        "rbd-fuse": footprint.Usage(2, 20480)}})
    assert footprint.per_container(before, after, 2) == {"rbd-fuse": (1.0, 10.0)}


def test_cpu_of_execd_children_counts_as_the_agents() -> None:
    stat = "42 (pacemaker-execd) S 1 2 3 4 5 6 7 8 9 10 100 50 300 200 20 0"
    assert cpuuse.parse_stat(stat) == ("pacemaker-execd", 150, 500)
    before = cpuuse.Sample(0.0, {42: ("pacemaker-execd", 150, 500)})
    after = cpuuse.Sample(1.0, {42: ("pacemaker-execd", 160, 900), 7: ("rbd-fuse", 5, 0)})
    hz = cpuuse.os.sysconf("SC_CLK_TCK")
    got = cpuuse.usage(before, after)
    assert got[cpuuse.AGENTS] == pytest.approx(400 / hz)
    assert got["pacemaker-execd"] == pytest.approx(10 / hz)
    assert got["rbd-fuse"] == pytest.approx(5 / hz)


def test_down_knows_every_scaled_container() -> None:
    names = leftovers.lab_containers("sc", 3)
    assert names == ["sc-web", "sc-c01", "sc-c02", "sc-c03"]
    assert leftovers.is_container_cgroup("lxc.payload.sc-c02", "sc-c02")


def test_fast_profile_goes_into_totem() -> None:
    text = corosync_conf("x", LAYOUT.nodes, {"token": "1000", "consensus": "1200"})
    totem = text.split("}")[0]
    assert "    token: 1000\n" in totem and "    consensus: 1200\n" in totem
    assert "token" not in corosync_conf("x", LAYOUT.nodes)


@given(st.integers(min_value=0, max_value=60), st.integers())
def test_soak_plan_starts_with_one_of_each(faults: int, seed: int) -> None:
    kinds = soak.plan(faults, seed)
    assert len(kinds) == faults
    assert kinds[:len(soak.KINDS)] == list(soak.KINDS)[:faults]
    assert set(kinds) <= set(soak.KINDS)
    assert kinds == soak.plan(faults, seed)
    # The lab gets the Ceph fencing level exactly when a fault needs it.
    assert soak.needs_ceph_fencing(kinds) == ("crash-bmc-dead" in kinds)


def test_a_soak_of_four_faults_needs_no_ceph_fencing() -> None:
    """The first four kinds run on any lab; the fifth needs the Ceph fencing level."""
    assert not soak.needs_ceph_fencing(soak.plan(4, 7))
    assert soak.needs_ceph_fencing(soak.plan(5, 7))
    assert soak.plan(6, 7)[4:] == ["crash-bmc-dead", "ceph-outage"]


@given(st.integers(min_value=1, max_value=65535))
def test_the_ceph_outage_cuts_only_ceph_ports_on_the_bridge(mon_port: int) -> None:
    rules = cephoutage.ruleset(mon_port)
    assert f'iifname "br0" tcp dport {{ {mon_port}, 6800-7300 }} drop' in rules
    assert f'oifname "br0" tcp sport {{ {mon_port}, 6800-7300 }} drop' in rules
    assert rules.count(" drop") == 2  # nothing else: corosync, BMCs and HTTP go on


def test_soak_end_check_names_bad_resources() -> None:
    xml = """<crm_mon><resources>
      <resource id="a" role="Started" managed="true" failed="false" blocked="false"/>
      <resource id="b" role="Stopped" managed="true" failed="false" blocked="false"/>
      <resource id="c" role="Started" managed="false" failed="true" blocked="false"/>
    </resources></crm_mon>"""
    assert soak.bad_resources(xml) == ["b: Stopped", "c: failed, unmanaged"]


def test_soak_sees_the_fail_count_of_a_killed_container() -> None:
    xml = """<pacemaker-result><node_history><node name="n1">
      <resource_history id="x-c01-stack" migration-threshold="3" fail-count="1"/>
      <resource_history id="x-c02-stack" migration-threshold="3"/>
    </node></node_history></pacemaker-result>"""
    assert soak.failed_once(xml, "x-c01-stack")
    assert not soak.failed_once(xml, "x-c02-stack")


@given(st.integers(1, 500))
def test_the_watchers_outlive_the_soak_at_its_slowest(faults: int) -> None:
    # The first 50-fault soak's samplers stopped by themselves after 15 minutes (their
    # default lifetime), a third of the way through: each fault may take FAULT_BOUND.
    # The slowest fault seen, on a machine at load 100, took 6 minutes injection to next.
    assert soak.watch_lifetime(faults) > 15 * 60 + faults * 6 * 60
