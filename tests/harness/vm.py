"""A real distribution kernel under QEMU, for what the host kernel cannot do (krbd, nbd, IPVS).

The host's kernel has no rbd, nbd or ip_vs module.  Debian 12's own kernel has them, and QEMU's
TCG boots it on these machines (``/dev/kvm`` here cannot boot a stock kernel).  The guest sees
the host's root read-only over virtio-9p with a tmpfs overlay on top, so it runs the very
agents, Ceph tools and Python bindings installed on the host; a second, writable 9p share (the
guest's ``/run/vmout``) carries the command in and its output, exit code and any files out.
The recipe and its pitfalls: ``shared/reference/kernel-vm.md``.

``prepare`` downloads and unpacks the kernel once into a cache directory of the checkout
(``.cache/vm``, ignored by git) and builds a small busybox initramfs there; ``make test``
calls it (``python -m tests.harness.vm prepare``).  ``Guest`` is one QEMU process: started
with a shell script, waited for, or killed (SIGKILL: a node crash), frozen (SIGSTOP) and thawed
(SIGCONT) by its PID.  QEMU user networking started inside a test network namespace lets the
guest reach whatever listens on that namespace's addresses (the test Ceph cluster).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "vm"
QEMU = Path("/usr/bin/qemu-system-x86_64")
BUSYBOX = Path("/bin/busybox")
IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/sbin/ip"

#: Modules the initramfs loads to reach the host's root (the rest load in the guest from the
#: unpacked kernel's tree through the host's own modprobe).
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")


class VmError(RuntimeError):
    """The guest kernel could not be prepared, or a guest failed to run."""


@dataclass(frozen=True)
class GuestKernel:
    """An unpacked Debian kernel and the initramfs that boots it onto the host's root."""

    version: str  # e.g. 6.1.0-57-amd64
    vmlinuz: Path
    initrd: Path
    modules: Path  # .../lib/modules/VERSION, bind-mounted onto the guest's /lib/modules


# ----- preparing the kernel -----------------------------------------------------------------
def _run(argv: Sequence[str], *, cwd: Optional[Path] = None, timeout: float = 300,
         stdin: Optional[bytes] = None) -> bytes:
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, timeout=timeout,
                          input=stdin, check=False)
    if proc.returncode != 0:
        raise VmError(f"{' '.join(argv)} exited {proc.returncode}: "
                      f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    return proc.stdout


def kernel_package() -> str:
    """The versioned image package Debian's ``linux-image-amd64`` currently depends on."""
    text = _run(["apt-cache", "show", "--no-all-versions", "linux-image-amd64"]).decode()
    found = re.search(r"^Depends:.*?\b(linux-image-[0-9][^ ,]*-amd64)\b", text, re.M)
    if not found:
        raise VmError("cannot tell which kernel linux-image-amd64 depends on "
                      "(apt-get update first?)")
    return found.group(1)


def cached(cache: Path = CACHE) -> Optional[GuestKernel]:
    """The prepared kernel in ``cache``, or None when it is missing or incomplete."""
    try:
        doc = json.loads((cache / "kernel.json").read_text())
    except (OSError, ValueError):
        return None
    kernel = GuestKernel(doc["version"], Path(doc["vmlinuz"]), Path(doc["initrd"]),
                         Path(doc["modules"]))
    if all(p.exists() for p in (kernel.vmlinuz, kernel.initrd, kernel.modules)):
        return kernel
    return None


def prepare(cache: Path = CACHE) -> GuestKernel:
    """Download, unpack and index Debian's kernel and build the initramfs (once; cached)."""
    found = cached(cache)
    if found is not None:
        return found
    for tool in (QEMU, BUSYBOX):
        if not tool.exists():
            raise VmError(f"{tool} is missing (make deps installs qemu-system-x86 and "
                          "busybox-static)")
    package = kernel_package()
    version = package.removeprefix("linux-image-")
    work = cache / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _run(["apt-get", "download", package], cwd=work)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise VmError(f"apt-get download {package} left no .deb in {work}")
    root = cache / "root"
    shutil.rmtree(root, ignore_errors=True)
    _run(["dpkg", "-x", str(debs[-1]), str(root)])
    _run(["depmod", "-b", str(root), version])
    modules = root / "lib" / "modules" / version
    initrd = cache / "initrd.img"
    _build_initrd(root, version, initrd)
    shutil.rmtree(work, ignore_errors=True)
    kernel = GuestKernel(version, root / "boot" / f"vmlinuz-{version}", initrd, modules)
    (cache / "kernel.json").write_text(json.dumps(
        {"version": version, "vmlinuz": str(kernel.vmlinuz), "initrd": str(initrd),
         "modules": str(modules)}))
    return kernel


def _build_initrd(root: Path, version: str, target: Path) -> None:
    """busybox, the boot modules in dependency order (from modprobe itself), and /init."""
    # One module per call: modprobe reads further names as the first one's parameters.
    text = "".join(_run(["modprobe", "-d", str(root), "-S", version, "--show-depends",
                         name]).decode() for name in BOOT_MODULES)
    order: list[Path] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "insmod" and Path(parts[1]) not in order:
            order.append(Path(parts[1]))
    with tempfile.TemporaryDirectory(prefix="hakit-initrd-") as tmp:
        base = Path(tmp)
        for sub in ("bin", "mods", "proc", "dev", "lower", "upper", "newroot"):
            (base / sub).mkdir()
        shutil.copy2(BUSYBOX, base / "bin" / "busybox")
        names = []
        for module in order:
            shutil.copy2(module, base / "mods" / module.name)
            names.append(module.name)
        (base / "mods" / "order").write_text("\n".join(names) + "\n")
        init = base / "init"
        init.write_text(_INIT.replace("@MODULES@", str(root / "lib" / "modules" / version)))
        init.chmod(0o755)
        files = sorted(str(p.relative_to(base)) for p in base.rglob("*"))
        archive = _run([str(BUSYBOX), "cpio", "-o", "-H", "newc"], cwd=base,
                       stdin=("\n".join(files) + "\n").encode())
        target.write_bytes(archive)


# Stage one, in the initramfs: load the 9p/overlay modules, mount the host's root read-only with
# a tmpfs on top as the new root, give it proc/sys/dev/run and the output share, bind the
# guest kernel's module tree where modprobe looks, and switch_root to the host's own shell
# running the stage-two script from the output share.  switch_root rather than chroot: under a
# chroot the kernel's module autoload runs the initramfs's modprobe and `mount -t ext4` fails.
_INIT = r"""#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
for m in $($B cat /mods/order); do $B insmod /mods/$m || echo "hakit-vm: insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower \
  || { echo "hakit-vm: cannot mount the host root"; echo o > /proc/sysrq-trigger; }
$B mount -t tmpfs -o size=96m,mode=0755 upper /upper
$B mkdir -p /upper/data /upper/work
$B mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot
R=/newroot
$B mount -t proc proc $R/proc
$B mount -t sysfs sys $R/sys
$B mount -t devtmpfs dev $R/dev
$B mkdir -p $R/dev/pts $R/dev/shm
$B mount -t devpts devpts $R/dev/pts
$B mount -t tmpfs shm $R/dev/shm
$B mount -t tmpfs -o mode=0755 run $R/run
$B mkdir -p $R/run/netns $R/run/vmout $R/run/lock
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $R/run/vmout
$B mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
$B mkdir -p $R/lib/modules/@VERSION@
$B mount --bind $R@MODULES@ $R/lib/modules/$($B uname -r)
$B umount /proc
exec $B switch_root $R /bin/sh /run/vmout/stage2.sh
""".replace("@VERSION@", "$($B uname -r)")

# Stage two, the host's /bin/sh on the new root: network, the command, its exit code out,
# then power off at once (sysrq: no init to tell).
_STAGE2 = r"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
hostname "$(cat /run/vmout/hostname)"
modprobe virtio_net
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "hakit-vm: command starts at $(cut -d' ' -f1 /proc/uptime)" > /dev/console
cd /run/vmout
/bin/sh /run/vmout/command.sh > /run/vmout/output 2>&1 < /dev/null
echo $? > /run/vmout/rc.tmp
# Only the output share: a global sync would wait forever on a device a test left hanging.
sync -f /run/vmout/rc.tmp
mv /run/vmout/rc.tmp /run/vmout/rc
echo "hakit-vm: exit $(cat /run/vmout/rc)" > /dev/console
echo o > /proc/sysrq-trigger
# sysrq's power-off is asynchronous: if this shell (PID 1) exited first, the kernel would panic.
exec sleep 30
"""


# ----- one guest --------------------------------------------------------------------------
@dataclass(frozen=True)
class GuestResult:
    rc: int
    output: str
    console: str


class Guest:
    """One QEMU guest running one shell script; started, waited for, killed by its PID.

    ``netns`` runs QEMU (and so the guest's user networking) inside that namespace.  The
    script runs as root with the output share as its working directory (``/run/vmout``):
    files it writes there are visible on the host as ``guest.path(NAME)``.
    """

    def __init__(self, kernel: GuestKernel, workdir: Path, *, name: str = "guest",
                 netns: Optional[str] = None, memory_mb: int = 256) -> None:
        self.kernel = kernel
        self.name = name
        self.dir = workdir
        self.netns = netns
        self.memory_mb = memory_mb
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def path(self, name: str) -> Path:
        """A file in the output share (the guest's ``/run/vmout/NAME``)."""
        return self.dir / name

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    def start(self, script: str) -> Guest:
        """Boot the guest and run ``script`` (sh) in it; returns at once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path("command.sh").write_text(script)
        self.path("stage2.sh").write_text(_STAGE2)
        self.path("hostname").write_text(self.name + "\n")
        argv = [str(QEMU), "-M", "pc", "-accel", "tcg,tb-size=64", "-cpu", "max", "-smp", "1",
                "-m", str(self.memory_mb), "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-monitor", "none",
                "-serial", f"file:{self.path('console')}",
                "-kernel", str(self.kernel.vmlinuz), "-initrd", str(self.kernel.initrd),
                "-append", "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off "
                           "net.ifnames=0 rdinit=/init",
                "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,"
                           "readonly=on,multidevs=remap",
                "-virtfs", f"local,path={self.dir},mount_tag=out,security_model=none,"
                           "multidevs=remap",
                "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
                "-pidfile", str(self.path("qemu.pid"))]
        if self.netns:
            argv = [IP, "netns", "exec", self.netns, *argv]
        # `ip netns exec` execs QEMU, so the child's PID is QEMU's own.
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(self.path("qemu.err"), "wb"),  # noqa: SIM115
                                      start_new_session=True)
        return self

    def wait(self, timeout: float) -> GuestResult:
        """Wait for the guest to power off; VmError (after killing it) on timeout."""
        if self._proc is None:
            raise VmError(f"guest {self.name} was never started")
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise VmError(f"guest {self.name} did not finish within {timeout:.0f} s; "
                          f"console: {self._tail('console')}; output: "
                          f"{self._tail('output')}") from None
        return self.result()

    def result(self) -> GuestResult:
        rc_text = self._read("rc").strip()
        if not rc_text.isdigit():
            raise VmError(f"guest {self.name} ended without an exit code (QEMU "
                          f"rc {self._proc.returncode if self._proc else None}); console: "
                          f"{self._tail('console')}; qemu: {self._tail('qemu.err')}; "
                          f"output: {self._tail('output')}")
        return GuestResult(int(rc_text), self._read("output"), self._read("console"))

    def wait_for_file(self, name: str, timeout: float, *, contains: str = "") -> str:
        """Poll the output share until ``name`` exists (and holds ``contains``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self._read(name)
            if self.path(name).exists() and contains in text:
                return text
            if self._proc is not None and self._proc.poll() is not None:
                raise VmError(f"guest {self.name} ended before writing {name}; output: "
                              f"{self._tail('output')}; console: {self._tail('console')}")
            time.sleep(0.1)
        raise VmError(f"guest {self.name} wrote no {name} ({contains!r}) within {timeout:.0f} s;"
                      f" output: {self._tail('output')}")

    def signal(self, sig: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL, as a node losing power; waits for the process to be gone."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(10)

    def freeze(self) -> None:
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)

    def _read(self, name: str) -> str:
        try:
            return self.path(name).read_text(errors="replace")
        except OSError:
            return ""

    def _tail(self, name: str, chars: int = 1500) -> str:
        text = self._read(name).strip()
        return text[-chars:] if text else "(empty)"


def run(kernel: GuestKernel, script: str, workdir: Path, *, timeout: float = 120,
        netns: Optional[str] = None, name: str = "guest") -> GuestResult:
    """Boot, run ``script``, power off; the result."""
    guest = Guest(kernel, workdir, name=name, netns=netns).start(script)
    try:
        return guest.wait(timeout)
    finally:
        guest.kill()


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["prepare"]:
        print("usage: python -m tests.harness.vm prepare", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        kernel = prepare()
    except (VmError, OSError, subprocess.SubprocessError) as exc:
        print(f"guest kernel: cannot prepare it: {exc}", file=sys.stderr)
        return 1
    print(f"guest kernel {kernel.version} ready in {CACHE} ({time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
