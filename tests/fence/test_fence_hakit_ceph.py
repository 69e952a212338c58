"""fence_hakit_ceph against a real Ceph cluster, with a real victim client on its own addresses.

What is proved here for Ceph 16.2 (Pacific): an ``IP:0/0`` blocklist entry refuses every
client on that IP, new ones and ones connected before the entry was added, and leaves other
addresses alone; ``on`` removes exactly the agent's entries.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hakit.errors import ParamError
from hakit.fence.nodemap import host_entity, parse_node_map
from tests.fence.ceph_fabric import (
    BYSTANDER_ADDRESS,
    VICTIM_ADDRESSES,
    Fabric,
    fabric_running,
)
from tests.fence.conftest import CmdlineWatcher, FenceResult, fence_env, run_fence
from tests.fence.fencer import Fencer
from tests.harness.installed import StagedInstall
from tests.harness.ocf import AGENTS, SCHEMAS, assert_golden, validate_rng

FENCE_HAKIT_CEPH = AGENTS / "fence_hakit_ceph"
FENCE_SCSI = Path("/usr/sbin/fence_scsi")
ESHUTDOWN = 108


def _metadata() -> str:
    result = run_fence(FENCE_HAKIT_CEPH, {"action": "metadata"})
    assert result.rc == 0, result.stderr
    return result.stdout


def test_metadata_valid_against_fence_agents_rng() -> None:
    assert validate_rng(_metadata(), SCHEMAS / "fence-agents-metadata.rng") == []


def test_metadata_matches_golden() -> None:
    assert_golden(_metadata(), "fence_hakit_ceph.xml")


def test_metadata_declares_unfencing_like_fence_scsi() -> None:
    ours = _metadata()
    assert '<action name="on" on_target="1" automatic="1" />' in ours
    assert 'name="reboot"' not in ours  # fabric fencing: the fencer uses off instead
    if FENCE_SCSI.exists():
        scsi = subprocess.run([str(FENCE_SCSI), "-o", "metadata"], capture_output=True,
                              text=True, timeout=30, check=True).stdout
        assert '<action name="on" on_target="1" automatic="1"/>' in scsi


def test_no_option_takes_a_key() -> None:
    text = _metadata()
    for name in ("password", "passwd", "key", "secret"):
        assert f'name="{name}"' not in text, name


def test_list_prints_the_map() -> None:
    nodes = "n1:198.18.0.11,198.18.0.12;n2:fd00::2"
    result = run_fence(FENCE_HAKIT_CEPH, {"action": "list", "node_addresses": nodes})
    assert result.rc == 0, result.stderr
    assert result.stdout == "n1,198.18.0.11 198.18.0.12\nn2,fd00::2\n"


@pytest.mark.parametrize(("params", "expect"), [
    ({}, "parameter 'node_addresses'"),
    ({"node_addresses": "node1"}, "parameter 'node_addresses'"),
    ({"node_addresses": "node1:198.18.0.300"}, "not an IP address"),
    ({"node_addresses": "node1:198.18.0.1;node2:198.18.0.1"}, "both 'node1' and 'node2'"),
    ({"node_addresses": "node1:198.18.0.1;node1:198.18.0.2"}, "listed twice"),
    ({"node_addresses": "node1:198.18.0.1", "plug": "node9"}, "node 'node9'"),
    ({"node_addresses": "node1:198.18.0.1", "keyring": "relative"}, "parameter 'keyring'"),
    ({"node_addresses": "node1:198.18.0.1", "blocklist_expire": "5"},
     "parameter 'blocklist_expire'"),
])
def test_validate_all_rejects_bad_options(params: dict[str, str], expect: str) -> None:
    result = run_fence(FENCE_HAKIT_CEPH, {"action": "validate-all", **params})
    assert result.rc == 1
    assert expect in result.stderr
    assert "Traceback" not in result.out


def test_node_missing_from_map_is_named_before_ceph_is_contacted() -> None:
    result = run_fence(FENCE_HAKIT_CEPH, {"action": "off", "plug": "node9",
                                          "node_addresses": "node1:198.18.0.1",
                                          "mon_host": "198.18.0.99", "login_timeout": "1"})
    assert result.rc == 1
    assert "node 'node9' has no addresses in node_addresses" in result.stderr
    assert result.seconds < 10


def test_reboot_is_refused_clearly() -> None:
    result = run_fence(FENCE_HAKIT_CEPH, {"action": "reboot", "plug": "node1",
                                          "node_addresses": "node1:198.18.0.1"})
    assert result.rc == 1 and "does not support 'reboot'" in result.stderr


_name = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
_v4 = st.ip_addresses(v=4).map(str)
_v6 = st.ip_addresses(v=6).map(str)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_name, st.lists(st.one_of(_v4, _v6), min_size=1, max_size=3,
                                       unique=True), min_size=1, max_size=5),
       st.sampled_from([";", "; ", " ", "\n"]), st.sampled_from([":", "="]))
def test_node_map_round_trips(nodes: dict[str, list[str]], sep: str, colon: str) -> None:
    seen: set[str] = set()
    for addrs in nodes.values():
        if seen & set(addrs):
            return  # an address shared by two nodes is refused; tested below
        seen |= set(addrs)
    text = sep.join(f"{n}{colon}{','.join(a)}" for n, a in nodes.items())
    assert parse_node_map(text, "m") == {n: tuple(a) for n, a in nodes.items()}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_node_map_junk_is_a_param_error(text: str) -> None:
    try:
        result = parse_node_map(text, "node_addresses")
    except ParamError as exc:
        assert "node_addresses" in exc.reason
    else:
        assert result and all(result.values())


def test_host_entity_forms() -> None:
    assert host_entity("198.18.0.1") == "198.18.0.1:0/0"
    assert host_entity("fd00::1") == "[fd00::1]:0/0"


_junk = st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(st.sampled_from(["action", "plug", "node_addresses", "user", "keyring",
                                        "blocklist_expire", "power_timeout", "x y", ""]),
                       st.text(max_size=16)), max_size=6)
    .map(lambda pairs: "".join(f"{k}={v}\n" for k, v in pairs).encode("utf-8",
                                                                     "surrogatepass")),
)


@settings(max_examples=25, deadline=None)
@given(_junk)
def test_stdin_junk_fails_cleanly(data: bytes) -> None:
    """Whatever arrives on stdin: exit 0/1/2 and, on failure, one clear error line."""
    # Appended last, so they win: only loopback port 9 (nothing listens) is ever contacted.
    safe = (b"\ncephconf=/dev/null\nmon_host=127.0.0.1:9\nlogin_timeout=0.5\ndelay=0\n"
            b"debug_file=\n")
    proc = subprocess.run([str(FENCE_HAKIT_CEPH)], input=data + safe, capture_output=True,
                          env=fence_env(), timeout=60, check=False)
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err and "Traceback" not in proc.stdout.decode(errors="replace")
    if proc.returncode not in (0, 2):
        assert proc.returncode == 1
        assert "ERROR: " in err, err
        assert "internal error" not in err, err


# ----- against a real cluster -----------------------------------------------------------

@pytest.fixture(scope="module")
def fabric() -> Iterator[Fabric]:
    """The cluster in one namespace, the victim's clients in another (tests.fence.ceph_fabric)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces)")
    if not Path("/usr/bin/ceph-mon").exists():
        pytest.skip("/usr/bin/ceph-mon is not installed")
    with fabric_running() as fab:
        yield fab


def _run(fab: Fabric, params: Mapping[str, str], *, argv: Sequence[str] = (),
         limit: float = 120.0) -> FenceResult:
    """The agent in the cluster's namespace, fed on stdin as pacemaker-fenced does, while
    every process's command line is watched for the fence user's key."""
    text = "".join(f"{k}={v}\n" for k, v in params.items())
    started = time.monotonic()
    with CmdlineWatcher(fab.fence_secret) as watcher:
        proc = subprocess.run(fab.hub.exec_argv([str(FENCE_HAKIT_CEPH), *argv]), input=text,
                              capture_output=True, text=True, env=fence_env(), timeout=limit,
                              check=False)
    return FenceResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started,
                       tuple(sorted(watcher.leaks)))


def _blocklist(fab: Fabric) -> set[str]:
    doc = fab.cluster.run(["ceph", "osd", "blocklist", "ls", "--format", "json"]).stdout
    import json

    first, _ = json.JSONDecoder().raw_decode(doc.strip() or "[]")
    return {e["addr"] for e in first}


def test_off_refuses_every_victim_client_and_on_lets_them_back(fabric: Fabric) -> None:
    fab = fabric
    for address in (*VICTIM_ADDRESSES, BYSTANDER_ADDRESS):
        assert fab.client_stat(address).returncode == 0, address
    held = fab.long_lived_client(VICTIM_ADDRESSES[1])  # connected before the fence
    unrelated = "198.18.31.77:0/1234"  # someone else's entry: on must leave it alone
    fab.cluster.run(["ceph", "osd", "blocklist", "add", unrelated])
    try:
        status = _run(fab, fab.params(action="status", plug="node1"))
        assert status.rc == 0 and "Status: ON" in status.stdout, status.stderr

        off = _run(fab, fab.params(action="off", plug="node1", verbose="1"))
        assert off.rc == 0, off.stderr
        assert "Success: Powered OFF" in off.stdout
        assert {host_entity(a) for a in VICTIM_ADDRESSES} <= _blocklist(fab)
        assert off.leaked == () and fab.fence_secret not in off.out

        for address in VICTIM_ADDRESSES:
            refused = fab.client_stat(address)
            assert refused.returncode != 0, address
            assert f"({ESHUTDOWN})" in refused.stderr, refused.stderr
        assert fab.client_stat(BYSTANDER_ADDRESS).returncode == 0
        assert held.stdin is not None and held.stdout is not None
        held.stdin.write("write\n")
        held.stdin.flush()
        assert int(held.stdout.readline()) in (ESHUTDOWN, -ESHUTDOWN)

        status = _run(fab, fab.params(action="status", plug="node1"))
        assert status.rc == 2 and "Status: OFF" in status.stdout, status.stderr
        again = _run(fab, fab.params(action="off", plug="node1"))
        assert again.rc == 0, again.stderr  # idempotent

        on = _run(fab, fab.params(action="on", plug="node1"))
        assert on.rc == 0, on.stderr
        left = _blocklist(fab)
        assert not {host_entity(a) for a in VICTIM_ADDRESSES} & left
        assert unrelated in left
        for address in VICTIM_ADDRESSES:
            assert fab.client_stat(address).returncode == 0, address
        status = _run(fab, fab.params(action="status", plug="node1"))
        assert status.rc == 0, status.stderr
    finally:
        held.kill()
        held.wait(10)
        fab.cluster.run(["ceph", "osd", "blocklist", "rm", unrelated], check=False)
        for address in VICTIM_ADDRESSES:
            fab.cluster.run(["ceph", "osd", "blocklist", "rm", host_entity(address)],
                            check=False)


def test_monitor_and_debug_log_keep_the_key_out(fabric: Fabric, tmp_path: Path) -> None:
    debug = tmp_path / "debug.log"
    result = _run(fabric, fabric.params(action="monitor", verbose="1",
                                        debug_file=str(debug)))
    assert result.rc == 0, result.stderr
    assert result.leaked == ()
    assert fabric.fence_secret not in result.out
    assert fabric.fence_secret not in debug.read_text()


def test_unreachable_monitors_fail_clearly_within_the_timeout(fabric: Fabric) -> None:
    # 198.18.31.99 is on the hub's link but nobody answers there.
    result = _run(fabric, fabric.params(action="off", plug="node1", mon_host="198.18.31.99",
                                        login_timeout="3"), limit=60)
    assert result.rc == 1
    assert "Ceph did not answer" in result.stderr, result.stderr
    assert "Traceback" not in result.out
    assert result.seconds < 15, result.seconds
    assert not {host_entity(a) for a in VICTIM_ADDRESSES} & _blocklist(fabric)


def test_wrong_key_is_reported_as_such(fabric: Fabric, tmp_path: Path) -> None:
    bad = tmp_path / "bad.keyring"
    bad.write_text("[client.fence]\n\tkey = AQBa7LJhAAAAABAAs9cHCtK6OJGQ8iUUD4cyAw==\n")
    bad.chmod(0o600)
    result = _run(fabric, fabric.params(action="status", plug="node1", keyring=str(bad),
                                        login_timeout="3"), limit=60)
    assert result.rc == 1
    assert "client.fence" in result.stderr, result.stderr
    assert "AQBa7LJh" not in result.out


def test_fencer_fences_and_unfences_through_the_agent(
        fabric: Fabric, tmp_path: Path, staged_install: StagedInstall) -> None:
    """pacemaker-fenced (stand-alone, in the cluster's namespace) finds the node by ``list``,
    fences it with off and unfences it with on; the key never shows on a command line.

    ``on`` is declared on_target: the fencer runs it only for its own node, so the victim
    is named here by the stand-alone fencer's own node name, "localhost"."""
    fab = fabric
    me = "localhost"
    fencer = Fencer(fab.hub, tmp_path, staged_install)
    try:
        argv = ["--register", "ceph1", "--agent", "fence_hakit_ceph"]
        params = fab.params(node_addresses=f"{me}:{','.join(VICTIM_ADDRESSES)};"
                                           f"node2:{BYSTANDER_ADDRESS}")
        for key, value in params.items():
            argv += ["--option", f"{key}={value}"]
        fencer.admin(*argv)
        with CmdlineWatcher(fab.fence_secret) as watcher:
            fenced = fencer.admin("--fence", me, "--timeout", "60", check=False)
            assert fenced.returncode == 0, fenced.stderr + fencer.log.read_text()[-2000:]
            assert fab.client_stat(VICTIM_ADDRESSES[0]).returncode != 0
            unfenced = fencer.admin("--unfence", me, "--timeout", "60", check=False)
            assert unfenced.returncode == 0, unfenced.stderr + fencer.log.read_text()[-6000:]
        assert watcher.leaks == set()
        assert fab.client_stat(VICTIM_ADDRESSES[0]).returncode == 0
        assert fab.fence_secret not in fencer.log.read_text()
    finally:
        fencer.stop()
        for address in VICTIM_ADDRESSES:
            fab.cluster.run(["ceph", "osd", "blocklist", "rm", host_entity(address)],
                            check=False)


def test_a_user_allowed_to_ask_the_osds_checks_their_maps(fabric: Fabric) -> None:
    """With osd caps 'allow *' (admin) off waits for every up OSD's map, without the
    fallback message; with the fence user's caps it says once that it cannot ask."""
    fab = fabric
    admin = fab.params(action="off", plug="node1", verbose="1", user="admin",
                       keyring=str(fab.cluster.admin_keyring))
    try:
        checked = _run(fab, admin)
        assert checked.rc == 0, checked.stderr
        assert "not checking the OSDs' map epochs" not in checked.stderr
        assert fab.client_stat(VICTIM_ADDRESSES[0]).returncode != 0
        assert _run(fab, {**admin, "action": "on"}).rc == 0
        limited = _run(fab, fab.params(action="off", plug="node1", verbose="1"))
        assert limited.rc == 0, limited.stderr
        assert limited.stderr.count("not checking the OSDs' map epochs") == 1
    finally:
        for address in VICTIM_ADDRESSES:
            fab.cluster.run(["ceph", "osd", "blocklist", "rm", host_entity(address)],
                            check=False)
