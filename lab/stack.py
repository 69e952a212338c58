"""The demo's service: a busybox container on an RBD image, and its Pacemaker configuration.

The image holds one ext4 filesystem laid out as LXC expects under ``/var/lib/lxc/NAME``:
``config`` and ``rootfs/`` (busybox, made by ``lxc-create -t busybox``).  Its init runs
busybox httpd on port 80, serving ``/srv/www/index.html`` from the image, and the
writer's CGI ``/cgi-bin/append?N`` (see ``APPEND_CGI``) with its records file.  The container
shares the lab node's network namespace (``lxc.net.0.type = none``: the node's, never the
host's), so the VIP that ocf:hakit:vip adds to the node's eth0 reaches it.

The filesystem is built without mounting anything (``mkfs.ext4 -d``) and copied into Ceph
with ``rbd import``.  The configuration comes from the crm-snippets generator
(``hakit.snippets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab.layout import LabLayout, LabNode

HTTP_PORT = 80
IMAGE_SIZE = "64M"
#: The lab's Ceph client files, inside each node's /etc (see lab.image).
CEPH_CONF = "/etc/ceph/hakit-lab.conf"
CEPH_KEYRING = "/etc/ceph/hakit-lab.keyring"
PASSWORD_SCRIPT = "/etc/hakit/bmc-password"  # noqa: S105 - a path, not a password
CEPH_USER = "hakitlab"


def health_command(port: int = HTTP_PORT) -> str:
    return f"/bin/wget -q -O /dev/null http://127.0.0.1:{port}/"


HEALTH_COMMAND = health_command()


@dataclass(frozen=True)
class StackNames:
    """The names and addresses of one lab's service; unique per lab name."""

    pool: str
    image: str
    container: str
    vip: IPv4Interface
    #: httpd's port: containers share their node's network namespace, so the scaled
    #: lab's containers that may share a node each need their own (lab.scale)
    port: int = HTTP_PORT

    @property
    def spec(self) -> str:
        return f"{self.pool}/{self.image}"

    @property
    def group(self) -> str:
        return f"{self.container}-stack"

    def resources(self) -> list[str]:
        """The group's members, in start order (as the snippets generator names them)."""
        return [f"{self.container}-{part}" for part in ("rbd", "fs", "lxc", "vip")]

    def url(self, path: str = "/") -> str:
        """``path`` on the container's web server, through the VIP."""
        return f"http://{self.vip.ip}:{self.port}{path}"


def stack_names(layout: LabLayout) -> StackNames:
    base = int(layout.subnet.network_address)
    return StackNames(pool=f"{layout.name}-lab", image="web",
                      container=f"{layout.name}-web",
                      vip=IPv4Interface(f"{IPv4Address(base + 100)}/{layout.subnet.prefixlen}"))


def bmc_address(layout: LabLayout, node: LabNode) -> IPv4Interface:
    """Each node's BMC listens on its own address on the hub bridge (.201, .202, ...)."""
    base = int(layout.subnet.network_address)
    return IPv4Interface(f"{IPv4Address(base + 200 + node.nodeid)}/{layout.subnet.prefixlen}")


def page(names: StackNames) -> str:
    return (f"<html><body><h1>hakit lab</h1><p>container {names.container}, served from "
            f"RBD image {names.spec}</p></body></html>\n")


def container_config(names: StackNames, template_config: str) -> str:
    """lxc-create's config, moved to /var/lib/lxc/NAME and logging onto the image."""
    keep = [line for line in template_config.splitlines()
            if not line.startswith(("lxc.rootfs.path", "lxc.net.", "lxc.log.", "lxc.apparmor."))]
    where = f"/var/lib/lxc/{names.container}"
    return "\n".join([*keep,
        f"lxc.rootfs.path = dir:{where}/rootfs",
        "# the lab node's own network namespace (never the host's): the VIP reaches httpd",
        "lxc.net.0.type = none",
        "# ... so it must not be able to reconfigure it",
        "lxc.cap.drop = net_admin",
        "lxc.apparmor.profile = unconfined",
        f"lxc.log.file = {where}/lxc.log",
        "# a one-line init that stops httpd and exits at once on the halt signal (see INIT)",
        f"lxc.init.cmd = {INIT_PATH}",
        "lxc.signal.halt = SIGTERM",
                      ]) + "\n"


#: The container's init.  Not busybox init: its rcS runs udhcpc, which would reconfigure
#: the node's eth0 (the container shares the node's network namespace), and its halt
#: path sleeps a hard-coded 2 s between SIGTERM and SIGKILL of every process, which would
#: count as downtime in every planned move.  This init runs httpd in the background and,
#: on the halt signal (SIGTERM, see container_config), stops it and exits; if httpd dies
#: on its own, init exits too, so the container stops and Pacemaker sees the failure.
INIT_PATH = "/sbin/lab-init"


def init_script(port: int = HTTP_PORT) -> str:
    """The init (see above) with httpd on ``port``."""
    return f"""#!/bin/sh
trap 'kill -TERM $httpd 2>/dev/null; wait $httpd; exit 0' TERM
/bin/httpd -f -p {port} -h /srv/www &
httpd=$!
wait $httpd
"""


INIT = init_script()


#: Where the writer's records live, as the VIP serves them and inside the container.
RECORDS_URL_PATH = "/records.txt"
RECORDS_PATH = "/srv/www/records.txt"
RECORDS_IN_IMAGE = f"/rootfs{RECORDS_PATH}"  # the same file, from the image's root
APPEND_URL_PATH = "/cgi-bin/append"
#: The container's writer: ``GET /cgi-bin/append?N`` appends line N to the records file
#: and answers ``ok N`` only once fsync(2) has returned (busybox ``sync FILE`` is fsync:
#: the record is then on the RBD image, through ext4's journal, the loop device and
#: rbd-fuse).  A small O_APPEND write is one write(2), so concurrent retries never
#: interleave inside a line.  The client outside only counts a number as kept once it has
#: read this answer.
APPEND_CGI = f"""#!/bin/sh
n=$QUERY_STRING
text='Content-Type: text/plain\\r\\n\\r\\n'
case $n in
''|*[!0-9]*) printf "Status: 400 Bad Request\\r\\n$text"'bad\\n'; exit 0;;
esac
if echo "$n" >> {RECORDS_PATH} && sync {RECORDS_PATH}; then
    printf "$text"'ok %s\\n' "$n"
else
    printf "Status: 500 Internal Server Error\\r\\n$text"'failed\\n'
fi
"""


def build_image_file(runner: Runner, deadline: Deadline, names: StackNames,
                     build: Path) -> Path:
    """An ext4 image file holding the container (config + busybox rootfs + the page)."""
    build.mkdir(parents=True, exist_ok=True)
    base = build / "base.conf"
    base.write_text("lxc.net.0.type = none\nlxc.apparmor.profile = unconfined\n")
    runner.run([runner.require("lxc-create"), "-t", "busybox", "-P", str(build),
                "-n", names.container, "-f", str(base)], deadline)
    top = build / names.container
    config = top / "config"
    config.write_text(container_config(names, config.read_text()))
    rootfs = top / "rootfs"
    init = rootfs / INIT_PATH.lstrip("/")
    init.write_text(INIT)
    init.chmod(0o755)
    www = rootfs / "srv" / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(page(names))
    # Made at build time, so an append never creates a directory entry (which its
    # fsync would not cover).
    (rootfs / RECORDS_PATH.lstrip("/")).write_text("")
    cgi = www / APPEND_URL_PATH.lstrip("/")
    cgi.parent.mkdir(parents=True, exist_ok=True)
    cgi.write_text(APPEND_CGI)
    cgi.chmod(0o755)
    image = build / f"{names.image}.ext4"
    runner.run([runner.require("mkfs.ext4"), "-q", "-F", "-L", names.image, "-d", str(top),
                str(image), IMAGE_SIZE], deadline)
    return image


def stack_snippet_argv(python: str, names: StackNames, layout: LabLayout,
                       prefer: str) -> list[str]:
    """``hakit-snippet stack`` for this lab's service."""
    return [python, "-m", "hakit.snippets", "stack", "--name", names.container,
            "--image", names.spec, "--ip", str(names.vip),
            "--nodes", ",".join(n.name for n in layout.nodes), "--prefer", prefer,
            "--health", health_command(names.port), "--ceph-user", CEPH_USER,
            "--cephconf", CEPH_CONF, "--keyring", CEPH_KEYRING,
            # this kernel has neither the rbd nor the nbd module: rbd-fuse + a loop device
            "--device-type", "fuse"]


def fencing_snippet_argv(python: str, layout: LabLayout) -> list[str]:
    """``hakit-snippet fencing``: one fence_hakit device per node, against its BMC."""
    argv = [python, "-m", "hakit.snippets", "fencing"]
    for n in layout.nodes:
        argv += ["--bmc", f"{n.name}={bmc_address(layout, n).ip}"]
    return [*argv, "--username", "hakit", "--password-script", PASSWORD_SCRIPT]
