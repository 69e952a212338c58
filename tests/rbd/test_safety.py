"""Taking over an image whose exclusive lock a second client (a "dead node") still holds."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from tests.harness.ceph import CephEnv
from tests.harness.ocf import AGENTS, run_agent

AGENT = AGENTS / "rbd"
HOLDER = Path(__file__).with_name("holder.py")


class Holder:
    """The holder process, stopped by its PID at the end."""

    def __init__(self, env: CephEnv, image: str, mode: str = "managed") -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(HOLDER), str(env.cluster.conf), env.user,
             str(env.keyring), env.pool, image, mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "locked", line
        self.address = line[1]

    def write(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def holder(rbd_env: CephEnv, image: str) -> Iterator[Holder]:
    held = Holder(rbd_env, image)
    try:
        yield held
    finally:
        held.stop()


def _blocklisted(env: CephEnv, address: str) -> bool:
    out = env.cluster.run(["ceph", "osd", "blocklist", "ls"]).stdout
    return address in out


def _record_holder(env: CephEnv, image: str, text: str) -> None:
    """Write what ocf:hakit:rbd's start records beside an image it mapped ("NODE ADDR")."""
    info = json.loads(env.cluster.run(["rbd", "info", f"{env.pool}/{image}",
                                       "--format", "json"]).stdout)
    env.cluster.run(["rados", "-p", env.pool, "put", f"hakit_lock_holder.{info['id']}",
                     "/dev/stdin"], stdin=text)


def _takes_over(env: CephEnv, image: str, holder: Holder, gone: Optional[str] = None,
                **extra: str) -> None:
    assert holder.write() == "write ok"  # the holder really can write before
    params = env.params(image, **extra)
    result = run_agent(AGENT, "start", params,
                       extra_env={"HAKIT_NODES_GONE": gone} if gone is not None else None)
    try:
        assert result.rc == 0, result.stderr
        assert _blocklisted(env, holder.address)
        owners = env.cluster.run(["rbd", "lock", "ls", f"{env.pool}/{image}"]).stdout
        assert holder.address not in owners
        # The old holder's writes are now refused by the cluster (EBLOCKLISTED/ESHUTDOWN).
        assert holder.write().startswith("write failed")
        deep = run_agent(AGENT, "monitor", params, interval_ms=60000,
                         extra_env={"OCF_CHECK_LEVEL": "10"})
        assert deep.rc == 0, deep.stderr
    finally:
        assert run_agent(AGENT, "stop", params).rc == 0


def test_break_lock_always_blocklists_and_takes_over(rbd_env: CephEnv, image: str,
                                                     holder: Holder) -> None:
    _takes_over(rbd_env, image, holder, break_lock="always", blocklist_expire="600")


def test_break_lock_auto_takes_over_from_a_node_the_cluster_reports_gone(
        rbd_env: CephEnv, image: str, holder: Holder) -> None:
    _record_holder(rbd_env, image, f"node-a {holder.address}")
    _takes_over(rbd_env, image, holder, gone="node-b,node-a")


def test_break_lock_never_names_the_holder(rbd_env: CephEnv, image: str, holder: Holder) -> None:
    params = rbd_env.params(image, break_lock="never")
    result = run_agent(AGENT, "start", params)
    assert result.rc == 1
    assert holder.address in result.reason and "break_lock=never" in result.reason
    assert not _blocklisted(rbd_env, holder.address)
    assert holder.write() == "write ok"  # untouched
    assert run_agent(AGENT, "monitor", params, interval_ms=10000).rc == 7


@pytest.mark.parametrize("gone", [None, "", "node-b"])
def test_break_lock_auto_refuses_a_live_holder_on_a_node_not_gone(
        rbd_env: CephEnv, image: str, holder: Holder, gone: Optional[str]) -> None:
    # No Pacemaker here, so crm_mon cannot answer (None): no node counts as gone.
    _record_holder(rbd_env, image, f"node-a {holder.address}")
    extra = {"HAKIT_NODES_GONE": gone} if gone is not None else {}
    result = run_agent(AGENT, "start", rbd_env.params(image), extra_env=extra)
    assert result.rc == 1
    assert holder.address in result.reason and "node node-a" in result.reason
    assert "not confirmed gone" in result.reason
    assert not _blocklisted(rbd_env, holder.address)
    assert holder.write() == "write ok"  # untouched


@pytest.mark.parametrize("record", [None, "node-a 198.18.0.9:0/1", "garbage"])
def test_break_lock_auto_refuses_a_live_holder_hakit_did_not_map(
        rbd_env: CephEnv, image: str, holder: Holder, record: Optional[str]) -> None:
    # Whoever holds the lock now is not the client a hakit start recorded: its node is
    # unknown, so "the node is gone" cannot be confirmed whatever the cluster says.
    if record is not None:
        _record_holder(rbd_env, image, record)
    result = run_agent(AGENT, "start", rbd_env.params(image),
                       extra_env={"HAKIT_NODES_GONE": "node-a"})
    assert result.rc == 1
    assert holder.address in result.reason and "no node hakit knows" in result.reason
    assert not _blocklisted(rbd_env, holder.address)


def test_start_records_the_node_beside_the_image(rbd_env: CephEnv, image: str) -> None:
    params = rbd_env.params(image)
    assert run_agent(AGENT, "start", params,
                     extra_env={"OCF_RESKEY_CRM_meta_on_node": "node-q"}).rc == 0
    try:
        info = json.loads(rbd_env.cluster.run(["rbd", "info", f"{rbd_env.pool}/{image}",
                                               "--format", "json"]).stdout)
        text = rbd_env.cluster.run(["rados", "-p", rbd_env.pool, "get",
                                    f"hakit_lock_holder.{info['id']}", "-"]).stdout
        owners = rbd_env.cluster.run(["rbd", "lock", "ls", f"{rbd_env.pool}/{image}",
                                      "--format", "json"]).stdout
        node, address = text.split()
        assert node == "node-q" and address in owners
    finally:
        assert run_agent(AGENT, "stop", params).rc == 0


def test_image_without_exclusive_lock_is_refused(rbd_env: CephEnv) -> None:
    name = f"nolock-{uuid.uuid4().hex[:8]}"
    rbd_env.cluster.run(["rbd", "create", f"{rbd_env.pool}/{name}", "--size", "16M",
                         "--image-feature", "layering"])
    params = rbd_env.params(name)
    result = run_agent(AGENT, "start", params)
    assert result.rc == 6
    assert name in result.reason and "rbd feature enable" in result.reason
    assert run_agent(AGENT, "monitor", params, interval_ms=0).rc == 7
    allowed = rbd_env.params(name, allow_no_exclusive_lock="true")
    try:
        assert run_agent(AGENT, "start", allowed).rc == 0
    finally:
        assert run_agent(AGENT, "stop", allowed).rc == 0


def test_depth_10_notices_a_lock_taken_from_the_fuse_mapping(rbd_env: CephEnv,
                                                             image: str) -> None:
    # rbd-fuse's librbd client holds the lock cooperatively (librbd has no option to make an
    # automatic lock non-transferable): a rogue writer outside Pacemaker can request it and
    # get it.  Depth 10 must notice that this node lost the lock.
    params = rbd_env.params(image)
    assert run_agent(AGENT, "start", params).rc == 0
    rogue = None
    try:
        rogue = Holder(rbd_env, image, "cooperative")
        deep = run_agent(AGENT, "monitor", params, interval_ms=60000,
                         extra_env={"OCF_CHECK_LEVEL": "10"})
        assert deep.rc == 1
        assert rogue.address in deep.reason and "lost" in deep.reason
    finally:
        if rogue is not None:
            rogue.stop()
        assert run_agent(AGENT, "stop", params).rc == 0


def test_break_lock_auto_takes_over_from_a_dead_holder(rbd_env: CephEnv, image: str) -> None:
    # A holder whose session expired (no watch left: the node died) is dead by librbd's own
    # rule; auto blocklists it and breaks the lock even without fencing.
    dead = Holder(rbd_env, image)
    dead.stop()  # SIGKILL: the lock stays, the watch expires (5 s in the test cluster)
    params = rbd_env.params(image)
    deadline = time.monotonic() + 30
    result = run_agent(AGENT, "start", params)
    while result.rc != 0 and time.monotonic() < deadline:
        assert "still connected" in result.reason
        time.sleep(1)
        result = run_agent(AGENT, "start", params)
    try:
        assert result.rc == 0, result.stderr
        assert _blocklisted(rbd_env, dead.address)
    finally:
        assert run_agent(AGENT, "stop", params).rc == 0
