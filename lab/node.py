"""One lab node's life: its private directories, holder process, mounts and daemons.

The holder (``ip netns exec NS unshare --mount --uts --propagation private sleep infinity``)
owns the node's mount and UTS namespaces; every command on the node enters its network,
mount and UTS namespaces together (``nsenter -t HOLDER -n -m -u``) because libqb IPC needs
both: abstract sockets live in the network namespace, shared-memory rings in /dev/shm.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError, NotInstalledError
from hakit.os import mountinfo
from hakit.os.runner import SYSTEM_PATH, Completed, Runner
from lab import image, network, procs
from lab.layout import NODE_BINDS, PACEMAKER_SUBDIRS, LabNode

HOLDER, COROSYNC, PACEMAKERD = "holder", "corosync", "pacemakerd"
DAEMONS = (HOLDER, COROSYNC, PACEMAKERD)
HUNG = "hung"  # marker file in the node's directory while it is frozen

#: Pacemaker logs to the node's private /var/log/pacemaker and never to the host's syslog.
PACEMAKER_ENV = {
    "PCMK_logfile": "/var/log/pacemaker/pacemaker.log",
    "PCMK_logfacility": "none",
}


def _ids() -> tuple[int, int]:
    """uid of hacluster and gid of haclient, which Pacemaker's state must belong to."""
    try:
        return pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid
    except KeyError as exc:
        raise NotInstalledError("user hacluster / group haclient missing: "
                                "is pacemaker installed?") from exc


def prepare_dirs(node: LabNode, files: Mapping[str, bytes]) -> None:
    """The node's bind-mount sources, with ``files`` (relative to node.dir) written into them.

    Pacemaker's state directories belong to hacluster:haclient, mode 750, as the packages
    make them; its log directory is group-writable for the daemons that run as hacluster.
    """
    uid, gid = _ids()
    for key, target in NODE_BINDS:
        if not Path(target).is_dir():
            raise NotInstalledError(f"{target} does not exist: are corosync and pacemaker "
                                    "installed?")
        node.source(key).mkdir(parents=True, exist_ok=True)
    lib = node.source("var-lib-pacemaker")
    for sub in PACEMAKER_SUBDIRS:
        path = lib / sub
        path.mkdir(exist_ok=True)
        os.chown(path, uid, gid)
        path.chmod(0o750)
    os.chown(lib, uid, gid)
    logs = node.source("log-pacemaker")
    os.chown(logs, uid, gid)
    logs.chmod(0o770)
    for rel, content in files.items():
        path = node.dir / rel
        path.write_bytes(content)
        path.chmod(0o600)
        if rel.startswith("var-lib-pacemaker/"):
            os.chown(path, uid, gid)


def exec_argv(holder: procs.Proc, argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in the node's network, mount and UTS namespaces."""
    return ["nsenter", "-t", str(holder.pid), "-n", "-m", "-u", "--", *argv]


def holder_of(node: LabNode) -> Optional[procs.Proc]:
    """The node's running holder, or None when the node is off."""
    proc = procs.read_pidfile(node.pidfile(HOLDER))
    return proc if proc is not None and procs.is_alive(proc) else None


def start_holder(runner: Runner, deadline: Deadline, node: LabNode) -> procs.Proc:
    """Start the holder and wait until it sits in its own mount and UTS namespaces."""
    argv = [runner.require("ip"), "netns", "exec", node.netns,
            runner.require("unshare"), "--mount", "--uts", "--propagation", "private",
            "--", runner.require("sleep"), "infinity"]
    proc = procs.spawn_detached(runner, argv, node.dir / "holder.out", {"PATH": SYSTEM_PATH})
    procs.write_pidfile(node.pidfile(HOLDER), proc)
    own_uts = os.readlink("/proc/self/ns/uts")

    def settled() -> Optional[bool]:
        # ip and unshare exec in turn; the holder is ready once it is sleep in a new UTS ns.
        try:
            comm = Path(f"/proc/{proc.pid}/comm").read_text().strip()
            uts = os.readlink(f"/proc/{proc.pid}/ns/uts")
        except OSError as exc:
            raise GenericError(f"the holder of {node.name} died (see "
                               f"{node.dir / 'holder.out'})") from exc
        return True if comm == "sleep" and uts != own_uts else None

    deadline.within(10).poll(settled, f"waiting for the holder of {node.name}", 0.01, 0.1)
    return proc


def run_on(runner: Runner, deadline: Deadline, holder: procs.Proc, argv: Sequence[str],
           *, check: bool = True, stdin: Optional[str] = None,
           timeout: Optional[float] = None) -> Completed:
    """Run a command on the node (argv[0] resolved on the host's system PATH)."""
    full = [runner.require(argv[0]), *argv[1:]]
    return runner.run(exec_argv(holder, full), deadline, check=check, stdin=stdin,
                      timeout=timeout)


def mount_private(runner: Runner, deadline: Deadline, node: LabNode,
                  holder: procs.Proc) -> None:
    """Bind the node's directories, set its hostname, and give it its own /run and /dev/shm.

    The bind mounts come first: the default state directory is under /run, which the
    node's tmpfs /run then hides.  A lab with an image (``lab.image``) mounts it
    before everything else: the /etc overlay must lie under the /etc/corosync bind.
    """
    for argv in image.node_mounts(node.dir.parent.parent):
        run_on(runner, deadline, holder, argv)
    for key, target in NODE_BINDS:
        run_on(runner, deadline, holder, ["mount", "--bind", str(node.source(key)), target])
    run_on(runner, deadline, holder, ["hostname", node.name])
    # The copied /run/netns mounts would pin every namespace on the host (other labs',
    # other tests') for as long as this node lives; the node needs none of them.
    if run_on(runner, deadline, holder, ["mountpoint", "-q", "/run/netns"], check=False).ok:
        run_on(runner, deadline, holder, ["umount", "--recursive", "/run/netns"])
    run_on(runner, deadline, holder,
           ["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", "/run"])
    run_on(runner, deadline, holder,
           ["mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm"])  # noqa: S108
    # What the packages' tmpfiles.d would have made in a fresh /run.
    run_on(runner, deadline, holder, ["install", "-d", "-m", "1777", "/run/lock"])
    run_on(runner, deadline, holder, ["install", "-d", "-m", "1755", "/run/resource-agents"])
    run_on(runner, deadline, holder, ["install", "-d", "-m", "0750", "-o", "hacluster",
                                      "-g", "haclient", "/run/crm"])


def start_daemon(runner: Runner, node: LabNode, holder: procs.Proc, what: str,
                 argv: Sequence[str], *,
                 env: Optional[Mapping[str, str]] = None) -> procs.Proc:
    """Start a daemon on the node in its own session, record its pidfile, return it."""
    full = exec_argv(holder, [runner.require(argv[0]), *argv[1:]])
    full[0] = runner.require(full[0])
    child_env = {"PATH": SYSTEM_PATH, "LC_ALL": "C", **(env or {})}
    proc = procs.spawn_detached(runner, full, node.dir / f"{what}.out", child_env)
    procs.write_pidfile(node.pidfile(what), proc)
    return proc


def power_off(runner: Runner, deadline: Deadline, node: LabNode) -> int:
    """Kill every process in the node's namespaces, as pulling its plug would.

    Killing the holder releases the node's mount namespace, so /run, /dev/shm and the bind
    mounts vanish with it.  Returns how many processes were killed.
    """
    holder = holder_of(node)
    loops: list[str] = []
    if holder is not None:
        # Frozen first: a process that sees its fuse mount go (rbd-fuse) would otherwise
        # get to clean up before the SIGKILL lands (flush its cache, close the image,
        # release its RBD lock), which no power loss allows.
        _stop_all(runner, deadline, node)
        abort_fuse(runner, deadline, holder)
        loops = fuse_loops(holder)
    killed = 0
    for _ in range(20):  # pacemakerd may fork a child between listing and killing
        found = {p for p in (procs.identify(pid) for pid in
                             network.netns_pids(runner, deadline, node.netns)) if p}
        for what in DAEMONS:
            recorded = procs.read_pidfile(node.pidfile(what))
            if recorded is not None and procs.is_alive(recorded):
                found.add(recorded)
        if not found:
            break
        procs.kill_all(found, deadline.within(10), f"killing the processes of {node.name}")
        killed += len(found)
    else:
        raise GenericError(f"processes of {node.name} keep appearing")
    # Loop devices belong to the kernel, not the node's namespace: detach the ones the
    # node had over its fuse files, as a power loss would make them vanish.
    for loop in loops:
        runner.run(["losetup", "--detach", loop], deadline, check=False)
    for what in DAEMONS:
        node.pidfile(what).unlink(missing_ok=True)
    node.dir.joinpath(HUNG).unlink(missing_ok=True)
    return killed


FUSECTL = "/sys/fs/fuse/connections"


def fuse_mounts(text: str) -> list[tuple[int, str]]:
    """(connection number, mount point) of each fuse mount in a mountinfo ``text`` (pure).

    A fuse mount's device is 0:N, and N is its connection in /sys/fs/fuse/connections.
    """
    return [(e.minor, e.mount_point) for e in mountinfo.parse_known(text)
            if (e.fstype == "fuse" or e.fstype.startswith("fuse.")) and e.major == 0]


def fuse_loops(holder: procs.Proc, sys_block: Path = Path("/sys/block")) -> list[str]:
    """Loop devices over files on the node's fuse mounts, matched by path.

    No ioctl: once the fuse connection is aborted (or its daemon hangs on a dead Ceph),
    LOOP_GET_STATUS64 on such a loop device blocks.  Another node with the same path
    would match too; in the lab only one node maps the image at a time (fencing).
    """
    try:
        mounts = fuse_mounts(Path(f"/proc/{holder.pid}/mountinfo").read_text())
    except OSError:
        return []
    found = []
    for entry in sorted(sys_block.glob("loop*")):
        try:
            back = (entry / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if any(back.startswith(point.rstrip("/") + "/") for _, point in mounts):
            found.append(f"/dev/{entry.name}")
    return found


def abort_fuse(runner: Runner, deadline: Deadline, holder: procs.Proc) -> None:
    """Abort the node's fuse connections, as a power loss cuts them.

    Without this, killing a node whose ext4 sits on a loop device over an rbd-fuse file
    deadlocks: the last process to exit tears down the mount namespace, the ext4 unmount
    syncs through the loop device to the fuse file, and rbd-fuse, which would answer, is
    the process exiting (stuck in D state for good).  fusectl is mounted inside the node's
    own mount namespace only.
    """
    try:
        text = Path(f"/proc/{holder.pid}/mountinfo").read_text()
    except OSError:
        return
    conns = sorted({conn for conn, _ in fuse_mounts(text)})
    if not conns:
        return
    if not run_on(runner, deadline, holder, ["mountpoint", "-q", FUSECTL], check=False).ok:
        run_on(runner, deadline, holder, ["mount", "-t", "fusectl", "fusectl", FUSECTL],
               check=False)
    for conn in conns:
        run_on(runner, deadline, holder, ["tee", f"{FUSECTL}/{conn}/abort"], stdin="1\n",
               check=False)


def freeze(runner: Runner, deadline: Deadline, node: LabNode) -> int:
    """SIGSTOP every process in the node's namespaces, as a hung kernel would look.

    A marker file records it, so that status queries ask a hung node last.  Only a
    power-off (SIGKILL works on stopped processes) ends the state.
    """
    found = _stop_all(runner, deadline, node)
    node.dir.joinpath(HUNG).touch()
    return found


def thaw(runner: Runner, deadline: Deadline, node: LabNode) -> int:
    """SIGCONT every process in the node's namespaces: a hung node that resumes.

    What a frozen machine does when its kernel wakes again (a VM resumed, a long stall
    over): every process carries on where it stopped, unaware of what the cluster did
    meanwhile.  Returns how many processes were resumed.
    """
    found = [p for p in (procs.identify(pid) for pid in
                         network.netns_pids(runner, deadline, node.netns)) if p]
    for proc in found:
        procs.signal_if_alive(proc, signal.SIGCONT)
    node.dir.joinpath(HUNG).unlink(missing_ok=True)
    return len(found)


def _stop_all(runner: Runner, deadline: Deadline, node: LabNode) -> int:
    """SIGSTOP every process in the node's network namespace; returns how many."""
    found = [p for p in (procs.identify(pid) for pid in
                         network.netns_pids(runner, deadline, node.netns)) if p]
    for proc in found:
        procs.signal_if_alive(proc, signal.SIGSTOP)
    return len(found)


def is_hung(node: LabNode) -> bool:
    return node.dir.joinpath(HUNG).exists()
