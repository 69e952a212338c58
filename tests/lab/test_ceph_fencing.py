"""Fencing through the Ceph blocklist when the BMC is dead too, end to end on one lab.

The lab (``LabServices(ceph_fencing=True)``) has the fencing snippet's ``--ceph`` set-up:
level 1 each node's BMC (fence_hakit), level 2 ``fence-ceph`` (fence_hakit_ceph, provides
unfencing), and the stack with ``requires=unfencing``.  A writer appends records through
the VIP the whole time.  In order:

a. a crash that takes the node's BMC with it: fenced at level 2, the stack served
   elsewhere, every acknowledged record kept, the image clean;
b. the node powered on by hand, its BMC still dead: Pacemaker unfences it (the BMC's
   level fails, fence_hakit_ceph's on removes its entry) and it runs the stack again;
c. a frozen node (SIGSTOP, BMC dead) resumed after the takeover: its writes to the image
   fail (its service and a shell on it both try), the other node's data is intact and the
   image clean; unfenced without a reboot, its old mapping still refuses writes (it must
   be mapped again); power-cycled, it is unfenced and rejoins;
d. a node still in the cluster power-cycled: booted only once its loss is fenced, so
   that fencing cannot reach the booted node; it is unfenced and rejoins.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hakit.errors import ActionTimeout
from lab import bmc, cephfence, deadbmc, imagecheck, stack
from lab.demo import Failover, fenced_since, stack_state
from lab.services import LabServices
from lab.writer import missing
from tests.lab.test_failover import (
    Stage,
    check_image,
    check_nothing_lost,
    check_service,
    staged,
)

pytestmark = pytest.mark.slow

MOVE_TIMEOUT = 120.0
#: A number the writer never reaches: a write of it may only come from the resumed node.
STALE = 999999


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    yield from staged(tmp_path_factory, "cephfence", LabServices(ceph_fencing=True))


def fenced_at_level_2(st: Stage, victim: str, since: float) -> None:
    """Its BMC never powered it off; its address is blocklisted; the fencer agrees."""
    events = [e for e in bmc.read_bmcs(st.lab.layout.state_dir)[victim].history()
              if e.time >= since]
    assert not any(e.what == "off" for e in events), events
    assert cephfence.is_fenced(st.ceph, st.lab.layout.node(victim))
    survivor = next(n.name for n in st.lab.layout.nodes if n.name != victim)
    assert fenced_since(st.demo.fencer_history(survivor, victim), since)


def rejoin_and_run_the_stack(st: Stage, victim: str, result: Failover, *,
                             repair_bmc: bool = True) -> None:
    """Booted (its BMC repaired or not), the node is unfenced and runs the stack again."""
    deadbmc.rejoin(st.demo, result, repair_bmc=repair_bmc)
    node = st.lab.layout.node(victim)
    assert cephfence.entry(node) not in cephfence.blocklist(st.ceph)
    assert all(n.online for n in st.lab.status().nodes)
    names = st.names
    st.lab.run_on(victim, ["crm_resource", "--resource", names.group, "--move",
                           "--node", victim])
    try:
        st.lab.wait_for(lambda s: stack_state(s, names) == victim, MOVE_TIMEOUT,
                        f"waiting for the stack to run on {victim}")
    finally:
        st.lab.run_on(victim, ["crm_resource", "--resource", names.group, "--clear"])
    assert st.demo.wait_page() and st.demo.answering_node() == victim
    check_nothing_lost(st)


def test_a_crash_with_the_bmc_dead_is_fenced_at_level_2(stage: Stage) -> None:
    victim = stage.stack_node()
    wall0 = time.time()
    result = deadbmc.crash(stage.demo, victim)
    assert result.level == deadbmc.LEVEL_CEPH
    assert result.served is not None and result.new_node not in (None, victim)
    assert result.answering == result.new_node
    fenced_at_level_2(stage, victim, wall0)
    check_service(stage, victim)
    check_image(stage, "crash-bmc-dead")
    check_nothing_lost(stage)
    assert stage.lab.power_states()[victim] == "off"  # nothing powered it back on
    # b. the repair (kept in this test: it needs this crash's result): the node powered
    # on by hand while its BMC stays dead; unfencing gets past the BMC's level.
    rejoin_and_run_the_stack(stage, victim, result, repair_bmc=False)
    print(f"\n{victim} online {result.rejoined:.2f}s, unfenced {result.unfenced:.2f}s after "
          "its boot, its BMC still dead")


#: Run on the resumed node: its own service asked to append STALE; prints the HTTP status
#: and body, or why there was none (its httpd may also die, e.g. when the node's stack is
#: being torn down, which acknowledges nothing either).
_ASK = ("import sys, urllib.request, urllib.error\n"
        "try:\n"
        "    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))\n"
        "    print(r.status, r.read().decode().strip())\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code, e.read().decode().strip())\n"
        "except Exception as e:\n"
        "    print('no answer:', type(e).__name__, e)\n")
#: Run on the resumed node: rewrite the image's first sector with the bytes it already
#: holds, through the node's old rbd-fuse mapping (below ext4, which is read-only by
#: then); harmless even if it succeeded, and it must not.
_RAW = ("import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    os.pwrite(fd, bytes.fromhex(sys.argv[2]), 0)\n"
        "    os.fsync(fd)\n"
        "    print('written')\n"
        "except OSError as e:\n"
        "    print('refused:', e.strerror)\n")
#: How long each attempt of the resumed node is given.  Whether its rbd-fuse client
#: fails a write at once (EIO) or leaves it blocked depends on what librbd learnt first
#: (the blocklisting, or the lost connection); either way nothing is written.
ATTEMPT_BOUND = 20.0


def _on_victim(st: Stage, victim: str, argv: list[str]) -> str:
    """``argv`` on the resumed node: "exit N: output", or "blocked" past the bound."""
    try:
        res = st.lab.run_on(victim, argv, check=False, timeout=ATTEMPT_BOUND)
    except ActionTimeout:
        return f"blocked for {ATTEMPT_BOUND:g}s"
    return f"exit {res.returncode}: {(res.stdout + res.stderr).strip()}"


def _stale_writes(st: Stage, victim: str, head: bytes = b"") -> dict[str, str]:
    """The resumed node tries to write: through its own service (asked on the node, so
    the VIP's owner does not matter), from a shell, and (given ``head``) straight into
    its rbd-fuse file; what each attempt came to."""
    url = f"http://127.0.0.1:{stack.HTTP_PORT}{stack.APPEND_URL_PATH}?{STALE}"
    records = f"/var/lib/lxc/{st.names.container}{stack.RECORDS_IN_IMAGE}"
    found = {
        "service": _on_victim(st, victim, ["python3", "-I", "-c", _ASK, url,
                                           str(ATTEMPT_BOUND - 5)]),
        "shell": _on_victim(st, victim, ["sh", "-c", f'echo {STALE} >> "$1" && sync "$1"',
                                         "sh", records]),
    }
    if head:
        fuse_file = (f"/run/hakit/rbd/{st.names.pool}@@{st.names.image}/mnt/"
                     f"{st.names.image}")
        found["rbd-fuse file"] = _on_victim(st, victim, ["python3", "-I", "-c", _RAW,
                                                         fuse_file, head.hex()])
    return found


def _nothing_written(attempts: dict[str, str]) -> None:
    """Every attempt failed (with the error a dead Ceph client gives) or stayed blocked."""
    for what, outcome in attempts.items():
        if outcome.startswith("blocked"):
            continue
        if what == "service":  # the CGI's fsync failed (500), or nothing answered
            # Never "200 ok": rbd-fuse runs without librbd's cache, which acknowledged a
            # write before the OSD refused it (docs/agents/fence_hakit_ceph.md).
            assert outcome == "exit 0: 500 failed" or "no answer" in outcome, attempts
        elif what == "shell":  # EIO, or read-only once ext4 saw its first I/O error, or
            # nothing mounted: the node's rejoining Pacemaker stopped the stack there
            assert not outcome.startswith("exit 0") and any(
                why in outcome.lower()
                for why in ("i/o error", "input/output error", "read-only",
                            "directory nonexistent")), attempts
        else:
            assert "refused" in outcome, attempts


def test_c_a_frozen_node_resumed_cannot_write(stage: Stage) -> None:
    victim = stage.stack_node()
    wall0 = time.time()
    result = deadbmc.crash(stage.demo, victim, also=lambda n: deadbmc.freeze(stage.lab, n),
                           what="hang (BMC dead)")
    assert result.level == deadbmc.LEVEL_CEPH
    assert result.served is not None and result.new_node not in (None, victim)
    fenced_at_level_2(stage, victim, wall0)
    acked_before = stage.writer.acked()
    deadbmc.thaw(stage.lab, victim)
    t0 = time.monotonic()
    attempts = _stale_writes(stage, victim)
    print(f"\nresumed {victim} ({time.monotonic() - t0:.2f}s): {attempts}")
    _nothing_written(attempts)
    # The other node's data: every acknowledged record, nothing from the resumed node,
    # and a filesystem e2fsck finds clean.
    copy = stage.work / "resumed.img"
    imagecheck.export_snapshot(stage.ceph, stage.names.spec, copy)
    try:
        with open(copy, "rb") as f:
            head = f.read(512)
        report = imagecheck.check_copy(stage.lab.runner, copy, stack.RECORDS_IN_IMAGE,
                                       replay=True)
    finally:
        copy.unlink()
    assert report.replay_status in (0, 1), report
    assert report.clean, report.output
    assert missing(acked_before, report.records) == []
    assert STALE not in report.records
    # Unfenced without a reboot, its old mapping stays dead: never silently resumed.
    survivor = next(n.name for n in stage.lab.layout.nodes if n.name != victim)
    node_map = ";".join(f"{n.name}:{n.address.ip}" for n in stage.lab.layout.nodes)
    stage.lab.run_on(survivor, [
        "python3", "/usr/sbin/fence_hakit_ceph", "-o", "on", "-n", victim,
        "--node-addresses", node_map,
        "--user", cephfence.FENCE_USER, "--keyring", cephfence.FENCE_KEYRING,
        "--cephconf", stack.CEPH_CONF])
    # What keeps the old client out now: the node that took over broke its lock and
    # blocklisted that client instance (IP:0/NONCE), which unfencing leaves alone.
    address = str(stage.lab.layout.node(victim).address.ip)
    assert any(e.startswith(f"{address}:0/") and e != f"{address}:0/0"
               for e in cephfence.blocklist(stage.ceph))
    attempts = _stale_writes(stage, victim, head)
    print(f"unfenced, not rebooted: {attempts}")
    _nothing_written(attempts)
    # Power-cycled (its repair), the node is unfenced and runs the stack again.
    rejoin_and_run_the_stack(stage, victim, result)
    check_image(stage, "resumed-rejoined")


def test_d_a_live_node_power_cycled_is_fenced_before_it_boots(stage: Stage) -> None:
    """The repair of a node that is still a cluster member (as a frozen node can be once
    it resumes and rejoins): its power cycle is a loss the survivors fence, and
    ``deadbmc.rejoin`` boots it only after that fencing, so no fencing reaches the
    booted node and it is unfenced and online again."""
    stack_node = stage.stack_node()
    victim = next(n.name for n in stage.lab.layout.nodes if n.name != stack_node)
    assert victim in stage.lab.status().online
    wall0 = time.time()
    deadbmc.rejoin(stage.demo, Failover(victim))
    assert fenced_since(stage.demo.fencer_history(stack_node, victim), wall0)
    assert victim in stage.lab.status(via=stack_node).online
    assert not cephfence.is_fenced(stage.ceph, stage.lab.layout.node(victim))
    assert stage.stack_node() == stack_node
    check_nothing_lost(stage)
