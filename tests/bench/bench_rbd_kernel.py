"""Benchmark ocf:hakit:rbd on krbd against Ceph's own ocf:ceph:rbd, in a Debian kernel guest.

Both agents map the same image on the same msgr2-only test cluster, with a udev daemon
running in the guest as on a real node; ocf:ceph:rbd has no ms_mode parameter, so its
ceph.conf carries ``rbd default map options = ms_mode=prefer-crc``, what hakit chooses.
Then the takeover: a victim guest maps an image and writes, is killed (SIGKILL), and a
second, already booted guest runs ocf:hakit:rbd start (taking the lock over, blocklisting
the victim) and ocf:hakit:fs start (fsck, mount): timed on the host from the kill to the
taker's "mounted" file.

The guest is QEMU TCG (emulated, one vCPU): absolute figures are several times a real
host's; the ratios are what compare.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from tests.bench.common import Stats, table
from tests.harness.ocf import AGENTS, LIB, ROOT, agent_env
from tests.harness.vm import Guest, GuestKernel, prepare
from tests.kernel.guestkit import VmCeph, prelude, victim_script, vm_ceph_running

RUNS = 8


def _side_by_side(kernel: GuestKernel, ceph: VmCeph, work: Path) -> tuple[list[Stats], str]:
    image = f"bench-{uuid.uuid4().hex[:8]}"
    ceph.cluster.create_image(f"{ceph.env.pool}/{image}")
    anchor_conf = work / "anchor.conf"
    anchor_conf.write_text(ceph.conf.read_text() + f"keyring = {ceph.env.keyring}\n"
                           "rbd default map options = ms_mode=prefer-crc\n")
    hakit = agent_env(ceph.rbd_params(image, "krbd"), timeout_ms=120000)
    anchor = agent_env({"name": image, "pool": ceph.env.pool, "cephconf": str(anchor_conf),
                        "user": ceph.env.user}, timeout_ms=120000)
    config = {"runs": RUNS, "hakit_agent": str(AGENTS / "rbd"), "hakit": hakit,
              "ceph": anchor}
    (work / "share").mkdir()
    (work / "share" / "config.json").write_text(json.dumps(config))
    guest = Guest(kernel, work / "share", name="bench", netns=ceph.netns)
    # A udev daemon, as on a real node: ocf:ceph:rbd's unmap would otherwise wait for a
    # udev event forever (it has no noudev), and hakit then maps and unmaps with udev too.
    script = ("modprobe rbd\n/lib/systemd/systemd-udevd --daemon\n"
              f"cd {ROOT}\nPYTHONPATH={ROOT}:{LIB} /usr/bin/python3 -m "
              "tests.bench.rbd_kernel_guest /run/vmout/config.json /run/vmout/samples.json\n")
    try:
        result = guest.start(script).wait(1800)
    finally:
        guest.kill()
    if result.rc != 0:
        raise RuntimeError(f"benchmark guest failed: {result.output[-2000:]}")
    samples = json.loads(guest.path("samples.json").read_text())
    rows = [Stats(label, len(s), statistics.median(w for w, _ in s) * 1000,
                  statistics.median(c for _, c in s) * 1000) for label, s in samples.items()]
    by = {r.label: r for r in rows}
    ratios = []
    for action in ("start", "monitor", "stop", "probe, not mapped"):
        ours, theirs = by[f"hakit {action}"], by[f"ceph {action}"]
        ratios.append(f"- {action}: CPU {ours.cpu_ms / theirs.cpu_ms:.2f}x, "
                      f"wall {ours.wall_ms / theirs.wall_ms:.2f}x")
    return rows, "\n".join(ratios)


def _takeover(kernel: GuestKernel, ceph: VmCeph, work: Path) -> float:
    image = f"takeover-{uuid.uuid4().hex[:8]}"
    ceph.cluster.create_image(f"{ceph.env.pool}/{image}")
    link = f"/dev/hakit/{ceph.env.pool}/{image}"
    taker_script = prelude(ceph.rbd_params(image, "krbd"), node="node-b") + f"""
export HAKIT_NODES_GONE=node-a
while [ ! -e go ]; do sleep 0.05; done
step start $AGENTS/rbd start
step fs env OCF_RESKEY_device={link} OCF_RESKEY_directory=/mnt/t \\
  OCF_RESKEY_create_directory=true $AGENTS/fs start
touch mounted
step fs_stop env OCF_RESKEY_device={link} OCF_RESKEY_directory=/mnt/t $AGENTS/fs stop
step stop $AGENTS/rbd stop
"""
    victim = Guest(kernel, work / "victim", name="victim", netns=ceph.netns)
    taker = Guest(kernel, work / "taker", name="taker", netns=ceph.netns)
    try:
        victim.start(victim_script(ceph, "krbd", image, "node-a"))
        taker.start(taker_script)
        victim.wait_for_file("acks", 300)
        time.sleep(2)
        victim.kill()
        crashed = time.monotonic()
        taker.path("go").touch()
        taker.wait_for_file("mounted", 300)
        elapsed = time.monotonic() - crashed
        result = taker.wait(300)
        if result.rc != 0 or (taker.dir / "steps" / "fs.rc").read_text().strip() != "0":
            raise RuntimeError(f"takeover failed: {result.output[-2000:]}")
        return elapsed
    finally:
        victim.kill()
        taker.kill()


def main() -> str:
    kernel = prepare()
    with tempfile.TemporaryDirectory(prefix="hakit-bench-krbd-") as tmp, \
            vm_ceph_running("bench-krbd") as ceph:
        work = Path(tmp)
        rows, ratios = _side_by_side(kernel, ceph, work)
        takeovers = [_takeover(kernel, ceph, work / f"t{i}") for i in range(3)]
    return ("## rbd on krbd (ocf:hakit:rbd vs Ceph's ocf:ceph:rbd)\n\n"
            f"Debian {kernel.version} under QEMU TCG (emulated, 1 vCPU), the same image on "
            "the test cluster (msgr2 only), medians; start/stop pairs alternate between the "
            f"agents, {RUNS} rounds each.\n\n" + table(rows) + "\n\nhakit / ocf:ceph:rbd:\n"
            + ratios + "\n\nTakeover after a crash (victim SIGKILLed, taker already booted; "
            "ocf:hakit:rbd start blocklisting the victim and breaking its lock, then "
            "ocf:hakit:fs start with its fsck and mount), from the kill to mounted: "
            + ", ".join(f"{t:.1f} s" for t in takeovers)
            + f" (median {statistics.median(takeovers):.1f} s).\n")

