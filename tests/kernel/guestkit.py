"""What the kernel-guest tests share: a Ceph cluster the guests can reach, and shell scripts
that run hakit's agents in a guest and record each step's exit code and output.

The cluster runs in a network namespace with its address (198.18.0.1) on that namespace's
``lo``; QEMU runs in the same namespace, so the guest's user networking reaches the monitors
and OSDs there and nothing else.  Every guest connects from that one address: Ceph tells the
guests' clients apart only by port and nonce.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ceph import CephCluster, CephEnv
from tests.harness.netns import NetnsPool
from tests.harness.ocf import AGENTS, LIB, OCF_ROOT

CEPH_ADDRESS = "198.18.0.1"
#: The victim nodes' application: appends fsync'd records and acknowledges each.
WRITER = Path(__file__).with_name("writer.py")


@dataclass(frozen=True)
class VmCeph:
    """The guests' cluster, a pool with a cephx user, and a ceph.conf for the guests."""

    netns: str
    cluster: CephCluster
    env: CephEnv
    conf: Path  # admin sockets on the guest's /run, never on the read-only 9p root
    keyfile: Path  # the user's bare key (ocf:hakit:rbd's secret_file), 0600

    def rbd_params(self, image: str, device_type: str, **extra: str) -> dict[str, str]:
        values = {"pool": self.env.pool, "image": image, "cephconf": str(self.conf),
                  "user": self.env.user, "keyring": str(self.env.keyring),
                  "device_type": device_type}
        values.update(extra)
        return values

    def admin(self) -> str:
        """Options for running ``ceph``/``rbd`` as admin inside a guest."""
        return (f"-c {shlex.quote(str(self.conf))} --id admin "
                f"--keyring {shlex.quote(str(self.cluster.admin_keyring))}")


@contextmanager
def vm_ceph_running(pool: str) -> Iterator[VmCeph]:
    """A one-node cluster on CEPH_ADDRESS in a new namespace, with ``pool`` and the cephx user
    client.hakit; stopped by PID and the namespace removed afterwards."""
    netns = NetnsPool()
    try:
        ns = netns.create()
        ns.ip("addr", "add", f"{CEPH_ADDRESS}/32", "dev", "lo")
        # Ceph's default watch timeout: guests under TCG take seconds to start an agent, and
        # a takeover must be the agent's own, not krbd breaking an expired owner's lock.
        cluster = CephCluster(address=CEPH_ADDRESS, netns=ns.name, watch_timeout=30)
        cluster.start()
        try:
            env = CephEnv.create(cluster, pool, "hakit")
            keyfile = cluster.dir / "client.hakit.key"
            keyfile.touch(0o600)
            keyfile.write_text(env.secret + "\n")
            yield VmCeph(ns.name, cluster, env, guest_conf(cluster), keyfile)
        finally:
            cluster.stop()
    finally:
        netns.cleanup()


def guest_conf(cluster: CephCluster) -> Path:
    conf = cluster.dir / "guest.conf"
    conf.write_text(f"[global]\nmon host = {cluster.mon_host}\n"
                    "admin socket = /run/ceph-$name.$pid.asok\nlog file = /dev/null\n")
    return conf


def prelude(params: Mapping[str, str], *, node: str, instance: str = "vmtest",
            timeout_ms: int = 60000) -> str:
    """Shell lines exporting an OCF environment for ``params`` and defining helpers:

    - ``$AGENTS/NAME ACTION``: the checkout's agent (the library from the checkout too);
    - ``step NAME CMD...``: run CMD, keep its output in ``steps/NAME.out`` and its exit
      code in ``steps/NAME.rc`` (read on the host with ``Steps``).
    """
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": OCF_ROOT, "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
           "OCF_RESOURCE_INSTANCE": instance, "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
           "OCF_RESKEY_CRM_meta_on_node": node}
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines += [
        f"AGENTS={shlex.quote(str(AGENTS))}",
        "mkdir -p steps",
        # Every step is bounded: a hang shows as rc 124 in its step, not a stuck guest.
        'step() { n=$1; shift; timeout -k 5 120 "$@" > "steps/$n.out" 2>&1;'
        ' echo $? > "steps/$n.rc"; }',
        "modprobe rbd; modprobe nbd nbds_max=4",
    ]
    return "\n".join(lines) + "\n"


class Steps:
    """The recorded steps of a guest script (its output share's ``steps/``)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory / "steps"

    def rc(self, name: str) -> int:
        text = self._read(f"{name}.rc").strip()
        assert text.lstrip("-").isdigit(), f"step {name} did not run: {self.out(name)!r}"
        return int(text)

    def out(self, name: str) -> str:
        return self._read(f"{name}.out")

    def reason(self, name: str) -> str:
        lines = [line[len("ocf-exit-reason:"):] for line in self.out(name).splitlines()
                 if line.startswith("ocf-exit-reason:")]
        return lines[-1] if lines else ""

    def text(self, name: str) -> str:
        return self._read(name).strip()

    def _read(self, name: str) -> str:
        try:
            return (self.dir / name).read_text(errors="replace")
        except OSError:
            return ""


def victim_script(ceph: VmCeph, kind: str, image: str, node: str) -> str:
    """A node that maps ``image`` with ocf:hakit:rbd, puts ext4 on it and keeps appending
    fsync'd records (acknowledged in ``acks`` on the output share); its lock client's
    address goes to ``steps/client``."""
    link = f"/dev/hakit/{ceph.env.pool}/{image}"
    return prelude(ceph.rbd_params(image, kind), node=node) + f"""
step start $AGENTS/rbd start
cp /run/hakit/rbd/{ceph.env.pool}@@{image}/client steps/client
mkfs.ext4 -q -F {link}
mkdir -p /mnt/v && mount {link} /mnt/v
/usr/bin/python3 {WRITER} /mnt/v/records /run/vmout/acks a
"""
