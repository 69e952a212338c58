"""The lab at scale: N containers, each on its own RBD image, spread over the three nodes.

Every container is the demo's service (``lab.stack``) with its own name, image, page
and VIP: ``<lab>-cNN`` on ``<pool>/cNN`` at ``.100+NN``, its httpd on port 8000+NN (the
containers share their node's network namespace, so two on one node need two ports).  By
default each is one ``ocf:hakit:container`` resource (``hakit-snippet stack --shape
composite``); the group of primitives is the other shape.  The preferred nodes come from
``hakit-snippet placement --spread`` (round-robin over the nodes).

Images are made fast and only once: ``lxc-create -t busybox`` runs once per cache (the
template), each container's tree is a hard-linked copy of it with its own config and page,
and ``mkfs.ext4 -d`` writes it to a file in the cache, named by a hash of everything the
image holds, so a later run with the same names imports the same file without building
it.  Building and ``rbd import`` run in a pool of threads (they wait on subprocesses), and
a progress line reports every tenth image.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError
from hakit.os.runner import Runner
from hakit.snippets import cli
from lab import anchors, hub, stack
from lab.demo import stack_state
from lab.status import ClusterState

if TYPE_CHECKING:
    from lab.ceph import CephCluster
    from lab.cluster import Lab
    from lab.layout import LabLayout

#: composite: one ocf:hakit:container each; group: hakit's rbd, fs, lxc, vip; anchors: the
#: ClusterLabs agents (hakit rbd, Filesystem, lxc, IPaddr2; ``lab.anchors``), for the
#: monitor cost side by side.
SHAPES = ("composite", "group", "anchors")
#: VIPs are .101 to .199 (.100 is the demo's; the BMCs start at .201).
MAX_COUNT = 99
#: Container i's httpd listens on PORT_BASE + i: containers share their node's network
#: namespace (the lab's simplification), so two on one node cannot both have port 80.
PORT_BASE = 8000
DEFAULT_CACHE = Path("/var/cache/hakit-lab")
TEMPLATE = "template"
#: Builds and imports at once: each mostly waits (mkfs writes a file, rbd import talks to
#: the OSD), so a few more than the CPUs keep both busy.
WORKERS = max(2, 2 * len(os.sched_getaffinity(0)))
IMPORT_TIMEOUT = 300.0
START_TIMEOUT_PER_CONTAINER = 6.0
START_TIMEOUT_MIN = 120.0


@dataclass(frozen=True)
class Scale:
    """What to deploy: how many containers, in which shape."""

    count: int
    shape: str = "composite"

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_COUNT:
            raise ValueError(f"count: {self.count} is not from 1 to {MAX_COUNT}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape: {self.shape!r} is not one of {', '.join(SHAPES)}")


def scale_names(layout: LabLayout, count: int) -> list[stack.StackNames]:
    """The names and VIPs of ``count`` containers (pure)."""
    pool = stack.stack_names(layout).pool
    base = int(layout.subnet.network_address)
    return [stack.StackNames(pool=pool, image=f"c{i:02d}", container=f"{layout.name}-c{i:02d}",
                             vip=IPv4Interface(f"{IPv4Address(base + 100 + i)}/"
                                               f"{layout.subnet.prefixlen}"),
                             port=PORT_BASE + i)
            for i in range(1, count + 1)]


def stack_resources(names: stack.StackNames, shape: str) -> list[str]:
    """The resources that must all run for the container to run."""
    return [names.group] if shape == "composite" else names.resources()


def spread(layout: LabLayout, names: Sequence[stack.StackNames]) -> dict[str, str]:
    """Each container's preferred node as ``hakit-snippet placement --spread`` assigns it
    (round-robin in the order given; pure)."""
    nodes = [n.name for n in layout.nodes]
    return {n.container: nodes[i % len(nodes)] for i, n in enumerate(names)}


# -- images ------------------------------------------------------------------------------------

def template(runner: Runner, cache: Path) -> Path:
    """lxc-create's busybox container, made once per cache (``cache/template``)."""
    top = cache / TEMPLATE
    if (top / "config").is_file() and (top / "rootfs" / "bin").is_dir():
        return top
    work = cache / f".{TEMPLATE}.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = work / "base.conf"
    base.write_text("lxc.net.0.type = none\nlxc.apparmor.profile = unconfined\n")
    runner.run([runner.require("lxc-create"), "-t", "busybox", "-P", str(work), "-n", TEMPLATE,
                "-f", str(base)], Deadline(120))
    shutil.rmtree(top, ignore_errors=True)
    os.rename(work / TEMPLATE, top)
    shutil.rmtree(work, ignore_errors=True)
    return top


def image_files(names: stack.StackNames, template_config: str) -> dict[str, tuple[str, int]]:
    """The files that make ``names``' image differ from the template: path -> (text, mode)
    (pure)."""
    config = container_config(names, template_config)
    return {
        "config": (config, 0o644),
        f"rootfs{stack.INIT_PATH}": (stack.init_script(names.port), 0o755),
        "rootfs/srv/www/index.html": (stack.page(names), 0o644),
        f"rootfs{stack.RECORDS_PATH}": ("", 0o644),
        f"rootfs/srv/www{stack.APPEND_URL_PATH}": (stack.APPEND_CGI, 0o755),
    }


def container_config(names: stack.StackNames, template_config: str) -> str:
    """The template's config for ``names`` (its UTS name too; pure)."""
    own = "\n".join(f'lxc.uts.name = "{names.container}"' if line.startswith("lxc.uts.name")
                    else line for line in template_config.splitlines())
    return stack.container_config(names, own)


def image_key(files: dict[str, tuple[str, int]]) -> str:
    """A hash of everything an image holds beyond the template (pure)."""
    digest = hashlib.sha256(stack.IMAGE_SIZE.encode())
    for path in sorted(files):
        text, mode = files[path]
        digest.update(f"\0{path}\0{mode:o}\0".encode())
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def build_image(runner: Runner, top: Path, names: stack.StackNames, cache: Path) -> Path:
    """The ext4 image file of ``names`` in ``cache``, built unless it is there already."""
    files = image_files(names, (top / "config").read_text())
    image = cache / "images" / f"{names.container}-{image_key(files)}.ext4"
    if image.is_file():
        return image
    image.parent.mkdir(parents=True, exist_ok=True)
    tree = cache / f".build-{names.container}-{os.getpid()}"
    shutil.rmtree(tree, ignore_errors=True)
    # Hard links are enough: mkfs.ext4 -d only reads, and every file that differs is
    # written below as a new file (unlinked first), never through a shared inode.
    runner.run(["cp", "-al", str(top), str(tree)], Deadline(60))
    try:
        for rel, (text, mode) in files.items():
            path = tree / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            path.write_text(text)
            path.chmod(mode)
        partial = image.with_suffix(f".part{os.getpid()}")
        runner.run([runner.require("mkfs.ext4"), "-q", "-F", "-L", names.image, "-d", str(tree),
                    str(partial), stack.IMAGE_SIZE], Deadline(120))
        os.rename(partial, image)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return image


def prepare_images(lab: Lab, ceph: CephCluster, all_names: Sequence[stack.StackNames],
                   cache: Path, workers: int = WORKERS) -> int:
    """Build (or take from the cache) and ``rbd import`` every image, in parallel; returns
    how many were built rather than found in the cache."""
    top = template(lab.runner, cache)
    built = [0]
    lock = threading.Lock()

    def one(names: stack.StackNames) -> None:
        image = cache / "images"
        before = set(image.iterdir()) if image.is_dir() else set()
        path = build_image(lab.runner, top, names, cache)
        if path not in before:
            with lock:
                built[0] += 1
        ceph.run(["rbd", "import", str(path), names.spec], timeout=IMPORT_TIMEOUT)

    done, every = 0, max(1, len(all_names) // 10)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-image") as pool:
        futures = [pool.submit(one, n) for n in all_names]
        for future in as_completed(futures):
            future.result()
            done += 1
            if done % every == 0 or done == len(all_names):
                lab.progress.note(f"images: {done}/{len(all_names)} in Ceph "
                                  f"({built[0]} built, the rest from the cache {cache})")
    return built[0]


# -- the configuration -------------------------------------------------------------------------

def _snippet(argv: Sequence[str]) -> str:
    """``hakit-snippet ARGV`` run in this process (70 interpreters would cost seconds)."""
    out, err = io.StringIO(), io.StringIO()
    if cli.run(argv, out, err) != 0:
        raise GenericError(f"hakit-snippet {' '.join(argv[:1])}: {err.getvalue().strip()}")
    return out.getvalue()


def stacks_text(layout: LabLayout, all_names: Sequence[stack.StackNames], shape: str,
                requires_unfencing: bool = False) -> str:
    """Every container's ``hakit-snippet stack`` (pure apart from the generator)."""
    where = spread(layout, all_names)
    parts = []
    if shape == "anchors":
        return "".join(anchors.anchor_stack_text(n, where[n.container]) for n in all_names)
    for names in all_names:
        argv = stack.stack_snippet_argv(sys.executable, names, layout, where[names.container])
        argv = [*argv[3:], "--shape", shape]  # past "python -m hakit.snippets"
        if requires_unfencing:
            argv.append("--requires-unfencing")
        parts.append(_snippet(argv))
    return "".join(parts)


def cluster_text() -> str:
    """``hakit-snippet cluster``: the cluster options recommended for many containers."""
    return _snippet(["cluster"])


def placement_text(layout: LabLayout, all_names: Sequence[stack.StackNames]) -> str:
    """``hakit-snippet placement --spread`` over every container."""
    return _snippet(["placement", "--nodes", ",".join(n.name for n in layout.nodes),
                     "--spread", ",".join(n.container for n in all_names)])


# -- watching it -------------------------------------------------------------------------------

def placement(state: ClusterState, all_names: Sequence[stack.StackNames],
              shape: str) -> dict[str, Optional[str]]:
    """Where each container runs (None: not every resource of it started there; pure)."""
    return {n.container: stack_state(state, n, stack_resources(n, shape)) for n in all_names}


def fetch_pages(lab: Lab, all_names: Sequence[stack.StackNames], timeout: float = 2.0,
                workers: int = 8) -> dict[str, bool]:
    """Whether each container's page is served through its VIP, fetched from the hub."""
    def one(names: stack.StackNames) -> bool:
        body = hub.get(lab.runner, lab.layout, names.url(), timeout)
        return body is not None and names.container in body

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-fetch") as pool:
        return dict(zip([n.container for n in all_names], pool.map(one, all_names)))


def start_timeout(count: int, shape: str = "composite") -> float:
    """How long N containers may take to start: a group is four resources, each with its
    own start and first monitors, so it gets twice the composite's time."""
    per = START_TIMEOUT_PER_CONTAINER * (1 if shape == "composite" else 2)
    return max(START_TIMEOUT_MIN, per * count)
