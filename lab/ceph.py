"""A real one-node Ceph cluster (mon, mgr, one memstore OSD, cephx on) for the lab and tests.

Everything lives in one temporary directory: configuration, keyrings, monitor store, admin
sockets (``$pid`` in the client socket name so concurrent clients never collide), logs and
pidfiles.  Daemons bind to ``address`` (127.0.0.1 by default; the lab passes an address on a
bridge and ``netns`` to run the daemons inside a namespace) on free ports.  ``stop`` kills
every daemon by the PID in its pidfile and removes the directory, also after a failed start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout
from hakit.os.runner import Completed, Runner

CEPH_BIN = Path("/usr/bin")


class CephError(RuntimeError):
    """The test cluster could not be brought up or a command against it failed."""


_FREE_PORT = ("import socket,sys;a=sys.argv[1];"
              "s=socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET);"
              "s.bind((a,0));print(s.getsockname()[1])")


def _runner() -> Runner:
    return Runner(logging.getLogger("hakit-lab.ceph"))


def free_port(address: str, netns: Optional[str] = None) -> int:
    """A TCP port free on ``address`` right now (the kernel picks it), in ``netns`` if given."""
    if netns:
        out = _runner().run(["/usr/bin/ip", "netns", "exec", netns, "/usr/bin/python3", "-c",
                             _FREE_PORT, address], Deadline(30)).stdout
        return int(out.strip())
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


class CephCluster:
    """One mon (``a``), one mgr (``x``), one OSD (``0``) with memstore; cephx required."""

    def __init__(self, *, address: str = "127.0.0.1", netns: Optional[str] = None,
                 base: Optional[Path] = None, osd_bytes: int = 1 << 30,
                 mon_port: int = 0, watch_timeout: int = 5) -> None:
        """``netns`` names a network namespace to run the daemons and commands in (the
        lab's); ``address`` must then be one of that namespace's addresses.  ``mon_port``
        fixes the monitor's port (0: a free one at start), so clients can be configured
        before the cluster runs.  ``watch_timeout`` is ``osd client watch timeout``: how
        long a dead client's watch lingers (Ceph's default is 30 s)."""
        self.address = address
        self.watch_timeout = watch_timeout
        self.netns = netns
        self.fsid = str(uuid.uuid4())
        self._base = base
        self._osd_bytes = osd_bytes
        self.dir = Path()
        self.mon_port = mon_port
        self._pidfiles: list[Path] = []
        self._launched: set[Path] = set()  # pidfiles of daemons whose start command returned
        self.started_pids: list[int] = []  # every daemon started, for checks after stop
        self._runner = _runner()

    # ----- paths ---------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.dir / "ceph.conf"

    @property
    def admin_keyring(self) -> Path:
        return self.dir / "client.admin.keyring"

    @property
    def mon_host(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"v2:{host}:{self.mon_port}"

    # ----- lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> CephCluster:
        """Bring the cluster up; on any failure stop what started and re-raise."""
        self.dir = Path(tempfile.mkdtemp(prefix="hakit-ceph-", dir=self._base))
        deadline = Deadline(timeout)
        try:
            self._write_conf()
            self._make_mon()
            self._start_daemon("ceph-mon", ["-i", "a"], "mon.a")
            self._wait(lambda: self.ceph_json("mon", "stat") is not None, deadline,
                       "mon quorum")
            self._make_mgr()
            self._make_osd()
            self._wait(self._osd_up, deadline, "osd.0 up")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill every daemon by its pidfile's PID (TERM, then KILL) and remove the directory."""
        # Newest first: an OSD stopping while its monitor still runs is marked down at
        # once; with the monitor gone it waits out "osd mon shutdown timeout".
        for pidfile in reversed(self._pidfiles):
            pid = self._read_pid(pidfile)
            if pid is None and pidfile in self._launched:
                # Its start command returned, so the daemon has forked: under load it may
                # write its pidfile only now (a start that failed early, by a deadline, left
                # such daemons running before).
                pid = self._late_pid(pidfile)
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            self._wait_gone(pid, Deadline(5))
            if self._alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._pidfiles.clear()
        self._launched.clear()
        if self.dir != Path() and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def _late_pid(self, pidfile: Path) -> Optional[int]:
        """The PID a forked daemon writes (it does so once its start command returned),
        waited for up to 10 s; None if it never does."""
        try:
            return Deadline(10).poll(lambda: self._read_pid(pidfile),
                                     f"waiting for {pidfile.name}", interval=0.02,
                                     max_interval=0.2)
        except ActionTimeout:
            return None

    def __enter__(self) -> CephCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- commands ------------------------------------------------------------------
    def _wrap(self, argv: Sequence[str]) -> list[str]:
        if self.netns:
            return ["/usr/bin/ip", "netns", "exec", self.netns, *argv]
        return list(argv)

    def run(self, argv: Sequence[str], *, timeout: float = 30.0,
            stdin: Optional[str] = None, check: bool = True) -> Completed:
        """Run a Ceph tool (``argv[0]`` a name in /usr/bin) against this cluster as admin,
        through the shared runner; ActionTimeout when it outlives ``timeout``."""
        full = [str(CEPH_BIN / argv[0]), *argv[1:]]
        if argv[0] in ("ceph", "rbd", "rados"):
            full[1:1] = ["-c", str(self.conf), "--id", "admin",
                         "--keyring", str(self.admin_keyring)]
        if argv[0] == "ceph":
            full[1:1] = ["--connect-timeout", "10"]
        proc = self._runner.run(self._wrap(full), Deadline(timeout), stdin=stdin, check=False)
        if check and proc.returncode != 0:
            raise CephError(f"{' '.join(full)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def ceph_json(self, *args: str) -> Optional[object]:
        """``ceph ARGS --format json``, parsed; None when it fails."""
        proc = self.run(["ceph", *args, "--format", "json"], check=False, timeout=15)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def create_pool(self, name: str, rbd_init: bool = True) -> None:
        self.run(["ceph", "osd", "pool", "create", name, "8", "8"])
        if rbd_init:
            self.run(["rbd", "pool", "init", name])

    def create_image(self, spec: str, size: str = "64M") -> None:
        """``rbd create SPEC --size SIZE`` (exclusive-lock is on by default)."""
        self.run(["rbd", "create", spec, "--size", size])

    def create_user(self, name: str, pool: str) -> tuple[Path, str]:
        """A cephx user with rbd profiles on ``pool``: (keyring path, bare secret)."""
        keyring = self.dir / f"client.{name}.keyring"
        self.run(["ceph", "auth", "get-or-create", f"client.{name}",
                  "mon", "profile rbd", "osd", f"profile rbd pool={pool}",
                  "mgr", f"profile rbd pool={pool}", "-o", str(keyring)])
        secret = self.run(["ceph", "auth", "get-key", f"client.{name}"]).stdout.strip()
        os.chmod(keyring, 0o600)
        return keyring, secret

    # ----- internals -----------------------------------------------------------------
    def _write_conf(self) -> None:
        self.mon_port = self.mon_port or free_port(self.address, self.netns)
        d = self.dir
        self.conf.write_text(f"""[global]
fsid = {self.fsid}
mon host = {self.mon_host}
public addr = {self.address}
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = {d}/run
log file = {d}/log/$name.log
admin socket = {d}/run/$name.asok
pid file = {d}/run/$name.pid
keyring = {d}/$name/keyring
mon data = {d}/$name
mgr data = {d}/$name
osd data = {d}/$name
osd objectstore = memstore
memstore device bytes = {self._osd_bytes}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mgr initial modules =
mon osd full ratio = .99
mon osd nearfull ratio = .98
mon osd backfillfull ratio = .985
osd max object name len = 256
osd max object namespace len = 64
mon client hunt interval = 0.5
# A dead client's watch expires after this (default 30 s): failover tests need not wait long.
osd client watch timeout = {self.watch_timeout}
fatal signal handlers = false

[client]
admin socket = {d}/run/$cluster-$name.$pid.asok
log file = {d}/log/$cluster-$name.$pid.log
keyring = {d}/client.admin.keyring
# Bounded client I/O: when this throwaway cluster is stopped under a still-mapped image, an
# rbd-fuse client's writes fail instead of blocking forever, which would leave every
# sync() on the machine (mkfs, a container's halt, the loop device's flush) stuck in D state.
rados osd op timeout = 30
rados mon op timeout = 30
client mount timeout = 30
""")
        for sub in ("run", "log"):
            (d / sub).mkdir()

    def _tool(self, argv: Sequence[str]) -> None:
        self.run(argv, timeout=30)

    def _make_mon(self) -> None:
        d = self.dir
        mon_keyring = d / "mon.keyring"
        self._tool(["ceph-authtool", "--create-keyring", str(mon_keyring), "--gen-key",
                    "-n", "mon.", "--cap", "mon", "allow *"])
        self._tool(["ceph-authtool", "--create-keyring", str(self.admin_keyring), "--gen-key",
                    "-n", "client.admin", "--cap", "mon", "allow *", "--cap", "osd", "allow *",
                    "--cap", "mgr", "allow *", "--cap", "mds", "allow *"])
        self._tool(["ceph-authtool", str(mon_keyring), "--import-keyring",
                    str(self.admin_keyring)])
        monmap = d / "monmap"
        self._tool(["monmaptool", "--create", "--fsid", self.fsid, "--addv", "a",
                    f"[{self.mon_host}]", str(monmap)])
        (d / "mon.a").mkdir()
        self._tool(["ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap",
                    str(monmap), "--keyring", str(mon_keyring)])

    def _make_mgr(self) -> None:
        (self.dir / "mgr.x").mkdir()
        self.run(["ceph", "auth", "get-or-create", "mgr.x", "mon", "allow profile mgr",
                  "osd", "allow *", "mds", "allow *", "-o", str(self.dir / "mgr.x" / "keyring")])
        self._start_daemon("ceph-mgr", ["-i", "x"], "mgr.x")

    def _make_osd(self) -> None:
        osd_uuid = str(uuid.uuid4())
        key = self.run(["ceph-authtool", "--gen-print-key"]).stdout.strip()
        secret = self.dir / "osd-secret.json"
        secret.write_text(json.dumps({"cephx_secret": key}))
        osd_id = self.run(["ceph", "osd", "new", osd_uuid, "-i", str(secret)]).stdout.strip()
        if osd_id != "0":
            raise CephError(f"expected osd.0, got {osd_id!r}")
        data = self.dir / "osd.0"
        data.mkdir()
        self._tool(["ceph-authtool", "--create-keyring", str(data / "keyring"),
                    "--name", "osd.0", "--add-key", key])
        self._tool(["ceph-osd", "-c", str(self.conf), "-i", "0", "--mkfs",
                    "--osd-uuid", osd_uuid])
        self._start_daemon("ceph-osd", ["-i", "0"], "osd.0")

    def _start_daemon(self, program: str, args: Sequence[str], name: str) -> None:
        pidfile = self.dir / "run" / f"{name}.pid"
        self._pidfiles.append(pidfile)
        # The daemons fork into the background and write their pidfile themselves.
        self.run([program, "-c", str(self.conf), *args], timeout=30)
        self._launched.add(pidfile)
        pid = self._late_pid(pidfile)
        if pid is None:
            raise CephError(f"{name} wrote no pidfile")
        self.started_pids.append(pid)

    def _osd_up(self) -> bool:
        dump = self.ceph_json("osd", "dump")
        return isinstance(dump, dict) and any(
            o.get("osd") == 0 and o.get("up") == 1 for o in dump.get("osds", []))

    @staticmethod
    def _wait(probe: Callable[[], bool], deadline: Deadline, what: str) -> None:
        try:
            deadline.poll(lambda: True if probe() else None, f"waiting for {what}",
                          interval=0.1, max_interval=0.1)
        except ActionTimeout as exc:
            raise CephError(f"timed out waiting for {what}") from exc

    @classmethod
    def _wait_gone(cls, pid: int, deadline: Deadline) -> None:
        """Poll until ``pid`` is gone or ``deadline`` passes (the caller then kills it)."""
        with contextlib.suppress(ActionTimeout):
            deadline.poll(lambda: None if cls._alive(pid) else True, f"waiting for {pid} to stop",
                          interval=0.02, max_interval=0.2)

    @staticmethod
    def _read_pid(pidfile: Path) -> Optional[int]:
        try:
            text = pidfile.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie counts as gone (the daemons are reparented, so we cannot reap them).
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                return False
        return True
