"""End-to-end failovers on one lab: nothing acknowledged is lost, the filesystem stays clean,
and there is never a split brain.

One lab (Ceph, BMCs, fence_hakit, the stack rbd(fuse) -> fs -> lxc -> vip) is shared by the
module, in order: a planned move, a node crash, a hung node (SIGSTOP) and a network
partition of the stack's node; then ``status`` and a clean stop.  A writer in the hub appends
numbered records through the VIP the whole time (``lab.writer``).  After every
failover: the page is served through the VIP from the node crm_mon names (not the victim),
every acknowledged record is served back, a crash-consistent snapshot of the image replays
to a filesystem ``e2fsck -fn`` finds clean and that holds every record acknowledged before
it; during each failover a sampler (``lab.splitbrain``) saw at most one node with the
filesystem mounted and at most one lock owner, and the old owner was blocklisted whenever
its lock was broken rather than released.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

from hakit.os import ceph
from lab import bmc, cli, hub, imagecheck, splitbrain, stack
from lab.ceph import CephCluster
from lab.cluster import Lab
from lab.demo import Demo, stack_state
from lab.layout import make_layout
from lab.progress import Progress
from lab.services import LabServices
from lab.writer import WriterProcess, missing, parse_numbers
from tests.lab.conftest import lab_processes, need_root

pytestmark = pytest.mark.slow

#: Generous: two CPUs, and another lab may be running.
RESUME_TIMEOUT = 60.0
STOP_TIMEOUT = 120.0


@dataclass
class Stage:
    """The shared lab with its service deployed and the writer running."""

    lab: Lab
    demo: Demo
    ceph: CephCluster
    writer: WriterProcess
    work: Path  # scratch space inside the lab's state directory

    @property
    def names(self) -> stack.StackNames:
        return self.demo.names

    def stack_node(self) -> str:
        where = stack_state(self.lab.status(), self.names)
        assert where is not None, "the stack is not running on one node"
        return where

    def sampler(self, label: str) -> splitbrain.Sampler:
        return splitbrain.Sampler(
            self.lab.runner, self.lab.layout,
            access=ceph.Access(user="admin", cephconf=str(self.ceph.conf),
                               keyring=str(self.ceph.admin_keyring)),
            spec=ceph.ImageSpec(self.names.pool, self.names.image),
            directory=f"/var/lib/lxc/{self.names.container}",
            out=self.work / f"samples-{label}.jsonl")

    def blocklisted(self) -> set[str]:
        out = self.ceph.run(["ceph", "osd", "blocklist", "ls", "--format", "json"]).stdout
        return {e.address for e in ceph.parse_blocklist(out)}


def staged(tmp_path_factory: pytest.TempPathFactory, kind: str,
           services: LabServices) -> Iterator[Stage]:
    """A lab named after ``kind`` with ``services``, the stack deployed and the writer
    running; torn down afterwards, leaving no process and no state (a module fixture's
    body: ``yield from staged(...)``)."""
    need_root()
    name = f"{kind[0]}{secrets.token_hex(3)}"
    layout = make_layout(name, tmp_path_factory.mktemp(kind) / name)
    lab = Lab(layout, Progress(sys.stdout), services)
    writer: Optional[WriterProcess] = None
    try:
        lab.up()
        demo = Demo(lab)
        demo.deploy()
        demo.wait_page()
        assert services.ceph is not None
        work = layout.state_dir / "e2e"
        work.mkdir()
        writer = WriterProcess(lab.runner, layout,
                               demo.names.url(stack.APPEND_URL_PATH), work / "writer")
        writer.start()
        writer.wait_for_more(3, RESUME_TIMEOUT)
        yield Stage(lab, demo, services.ceph, writer, work)
    finally:
        if writer is not None:
            writer.stop()
        lab.down()
    assert lab_processes(layout) == set()
    assert not layout.state_dir.exists()


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    yield from staged(tmp_path_factory, "failover", LabServices())


# -- the checks after every failover ---------------------------------------------------


def check_service(st: Stage, victim: str) -> str:
    """Served through the VIP, from the node crm_mon names, which is not the victim."""
    where = st.stack_node()
    assert where != victim
    page = st.demo.fetch()
    assert page is not None and "hakit lab" in page
    assert st.demo.answering_node() == where
    return where


def check_nothing_lost(st: Stage) -> None:
    """The writer makes progress again, and every acknowledged record is served back."""
    assert st.writer.running
    acked = st.writer.wait_for_more(len(st.writer.acked()) + 2, RESUME_TIMEOUT)
    body = hub.get(st.lab.runner, st.lab.layout, st.names.url(stack.RECORDS_URL_PATH))
    assert body is not None
    records = parse_numbers(body)
    assert missing(acked, records) == []
    assert acked == list(range(1, len(acked) + 1))  # in sequence, none skipped


def check_image(st: Stage, label: str) -> None:
    """A snapshot now replays to a clean filesystem holding every acknowledged record."""
    acked = st.writer.acked()
    copy = st.work / f"{label}.img"
    imagecheck.export_snapshot(st.ceph, st.names.spec, copy)
    try:
        report = imagecheck.check_copy(st.lab.runner, copy, stack.RECORDS_IN_IMAGE,
                                       replay=True)
    finally:
        copy.unlink()
    assert report.replay_status in (0, 1), report
    assert report.clean, report.output
    assert missing(acked, report.records) == []


def check_no_split_brain(st: Stage, samples: list[splitbrain.Sample], victim: str,
                         where: str, *, dead_at: Optional[float],
                         must_break: bool = False) -> None:
    """One mount and one lock owner at a time, and the lock moved to the new node.

    ``dead_at``: from when the victim could no longer run anything (None: a planned move,
    where it released the lock itself).  If its lock outlived it, the new node broke it,
    and must have blocklisted it first.  ``must_break``: the victim could not have released
    it (frozen, or cut off from Ceph).
    """
    good = [s for s in samples if not s.error]
    assert len(good) >= 10, f"too few samples: {samples}"
    assert splitbrain.violations(samples) == []
    mounts = splitbrain.mount_history(samples)
    assert mounts[0] == victim and mounts[-1] == where, mounts
    owners = splitbrain.owner_history(good)
    assert len(owners) >= 2, owners
    old, new = owners[0], owners[-1]
    assert old != new
    assert good[-1].owners == (new,)  # the old owner is gone from the lock
    # In order: the new node mounts and locks only after the last sight of the old.
    assert max(s.t for s in samples if victim in s.mounted) < \
        min(s.t for s in samples if where in s.mounted)
    assert max(s.t for s in good if old in s.owners) < min(s.t for s in good if new in s.owners)
    broken = dead_at is not None and any(old in s.owners for s in good if s.t > dead_at)
    assert broken or not must_break, "the lock vanished before the victim was powered off"
    if broken:
        assert old in st.blocklisted()
    elif dead_at is None:  # released on a clean stop: nobody needed blocklisting
        assert old not in st.blocklisted()
    gaps = sorted(b.t - a.t for a, b in zip(samples, samples[1:]))
    print(f"\nsplit-brain watch: {len(samples)} samples ({len(samples) - len(good)} without "
          f"Ceph), gap median {gaps[len(gaps) // 2]:.2f}s max {gaps[-1]:.2f}s; mounted "
          f"{' -> '.join(mounts)}; lock {' -> '.join(owners)} "
          f"({'broken, owner blocklisted' if broken else 'released'}); "
          f"{len(st.writer.acked())} records acknowledged so far")


def failover(st: Stage, label: str, how: Optional[Callable[[str], object]]) -> None:
    """Break the stack's node with ``how`` (crash when None) and run every check."""
    victim = st.stack_node()
    sampler = st.sampler(label)
    sampler.start()
    wall0 = time.time()
    broken_at: list[float] = []

    def breaker(node: str) -> None:
        (how or st.lab.crash)(node)
        broken_at.append(time.time())

    try:
        result = st.demo.crash_and_recover(victim, breaker, label)
    finally:
        samples = sampler.stop()
    assert result.served is not None and result.new_node not in (None, victim)
    assert result.answering == result.new_node
    where = check_service(st, victim)
    check_image(st, label)
    check_nothing_lost(st)
    # Fenced through its BMC: off then on, after the fault; the fencer agrees.
    events = [e for e in bmc.read_bmcs(st.lab.layout.state_dir)[victim].history()
              if e.time >= wall0]
    assert [e.what for e in events][:4] == ["off requested", "off", "on requested", "on"], \
        events
    # Dead once crashed, or else once its BMC has cut the power.
    dead_at = broken_at[0] if how is None else events[1].time
    # Frozen, crashed (frozen before its fuse mount goes) or cut off from Ceph, the victim
    # could not release its lock: the new node had to break it.
    check_no_split_brain(st, samples, victim, where, dead_at=dead_at, must_break=True)
    assert any(e.get("target") == victim and e.get("status") == "success"
               for e in result.fencer_history)
    # The fenced node came back and the cluster is whole again.
    state = st.lab.status()
    assert sorted(state.online) == [n.name for n in st.lab.layout.nodes]
    assert state.quorate
    assert st.lab.power_states() == {n.name: "on" for n in st.lab.layout.nodes}


# -- the scenarios, in order -------------------------------------------------------------


def test_a_planned_move(stage: Stage) -> None:
    source = stage.stack_node()
    sampler = stage.sampler("move")
    sampler.start()
    try:
        target, _gap = stage.demo.planned_move(source)
    finally:
        samples = sampler.stop()
    assert target not in (source, "?")
    where = check_service(stage, source)
    assert where == target
    check_image(stage, "move")
    check_nothing_lost(stage)
    check_no_split_brain(stage, samples, source, where, dead_at=None)


def test_b_node_crash(stage: Stage) -> None:
    failover(stage, "crash", None)


def test_c_hung_node(stage: Stage) -> None:
    failover(stage, "hang", stage.lab.hang)


def test_d_partition(stage: Stage) -> None:
    # Isolated, the node loses quorum; the majority fences it through its BMC, and its
    # power cycle reconnects its link (Lab.boot), so it rejoins.
    failover(stage, "partition", stage.lab.partition)


def test_e_status_shows_where_the_vip_answers(stage: Stage,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    where = stage.stack_node()
    state_dir = str(stage.lab.layout.state_dir)
    capsys.readouterr()
    assert cli.main(["--state-dir", state_dir, "status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["vip"] == {"address": str(stage.names.vip.ip), "stack_node": where,
                          "answering": where, "served": True}
    assert cli.main(["--state-dir", state_dir, "status"]) == 0
    text = capsys.readouterr().out
    assert f"VIP {stage.names.vip.ip}: answers from {where}; page served; stack on {where}" \
        in text


def test_f_clean_stop_leaves_a_clean_image(stage: Stage) -> None:
    stage.writer.stop()
    acked = stage.writer.acked()
    assert acked
    lab, names = stage.lab, stage.names
    node = stage.stack_node()
    lab.run_on(node, ["crm_resource", "--resource", names.group, "--meta",
                      "--set-parameter", "target-role", "--parameter-value", "Stopped"])
    lab.wait_for(lambda st: all((r := st.resource(rid)) is not None and r.role == "Stopped"
                                for rid in names.resources()),
                 STOP_TIMEOUT, f"waiting for {names.group} to stop")
    assert splitbrain.mounted_on(lab.layout, f"/var/lib/lxc/{names.container}") == ()
    locks = stage.ceph.run(["rbd", "lock", "ls", "--format", "json", names.spec]).stdout
    assert splitbrain.parse_lock_list(locks) == []
    copy = stage.work / "stopped.img"
    imagecheck.export_image(stage.ceph, names.spec, copy)
    report = imagecheck.check_copy(lab.runner, copy, stack.RECORDS_IN_IMAGE, replay=False)
    copy.unlink()
    assert not report.needed_recovery
    assert report.clean, report.output
    assert missing(acked, report.records) == []
