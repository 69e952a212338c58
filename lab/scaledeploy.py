"""``python3 -m lab scale``: bring up the lab with N containers and report what they cost.

Up (with Ceph, BMCs and fencing, as the demo), then images (``lab.scale``), every
container's stack and the placement spreading them, then wait until every container runs
and its page answers through its VIP from the hub.  The processes and memory of the whole
lab are measured before the containers and after (``lab.footprint``), which gives
what one container costs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError
from lab import footprint, scale
from lab.bmc import POWER_ON_DELAY
from lab.cluster import Lab
from lab.services import LabServices, load
from lab.status import ClusterState

#: Ceph memstore: the default 1 GiB plus what every image could hold at most.
OSD_BASE = 1 << 30
OSD_PER_IMAGE = 64 << 20
LOAD_TIMEOUT_PER_CONTAINER = 2.0
#: corosync's fast profile, for a low-latency network (docs/lab.md): a lost node is noticed
#: after token + consensus instead of 3 s + 3.6 s (the corosync 3 defaults).
FAST_TOTEM = {"token": "1000", "consensus": "1200"}
#: A fenced node's reboot in the timed crash at scale: the lab's usual 8 s let the fenced
#: node rejoin before most of its containers had started elsewhere, and Pacemaker then put
#: them back on it (they ran nowhere, so no stickiness held them).  A real server takes
#: minutes to boot; the crash measures the survivors taking over.
CRASH_POWER_ON_DELAY = 180.0


def services_for(count: int, ceph_fencing: bool = False,
                 power_on_delay: float = POWER_ON_DELAY) -> LabServices:
    """The demo's services with a Ceph OSD big enough for ``count`` images."""
    return LabServices(ceph_fencing=ceph_fencing, osd_bytes=OSD_BASE + count * OSD_PER_IMAGE,
                       power_on_delay=power_on_delay)


@dataclass
class Deployed:
    """What ``ScaleLab.deploy`` found, with its timings (seconds)."""

    count: int
    shape: str
    built: int = 0
    images_s: float = 0.0
    load_s: float = 0.0
    started_s: float = 0.0
    pages_s: float = 0.0
    where: dict[str, Optional[str]] = field(default_factory=dict)
    pages: dict[str, bool] = field(default_factory=dict)
    per_container: dict[str, tuple[float, float]] = field(default_factory=dict)
    before: Optional[footprint.Footprint] = None
    after: Optional[footprint.Footprint] = None


class ScaleLab:
    """N containers on a lab brought up with ``services_for(N)``."""

    def __init__(self, lab: Lab, spec: scale.Scale, cache: Path = scale.DEFAULT_CACHE, *,
                 recommended: bool = True) -> None:
        """``recommended``: load ``hakit-snippet cluster``'s options first (otherwise
        Pacemaker's defaults stay)."""
        self.lab = lab
        self.recommended = recommended
        self.spec = spec
        self.cache = cache
        self.names = scale.scale_names(lab.layout, spec.count)
        services = lab.fencing if isinstance(lab.fencing, LabServices) else None
        if services is None:
            raise GenericError("the scaled lab needs a lab brought up with LabServices")
        self.services = services

    def resources(self) -> list[str]:
        return [r for n in self.names for r in scale.stack_resources(n, self.spec.shape)]

    def resources_of(self, container: str) -> list[str]:
        """The resources of one container (by its name)."""
        names = next(n for n in self.names if n.container == container)
        return scale.stack_resources(names, self.spec.shape)

    def placement(self, state: ClusterState) -> dict[str, Optional[str]]:
        return scale.placement(state, self.names, self.spec.shape)

    def deploy(self) -> Deployed:
        """Images, stacks, placement; wait for every container and its page."""
        lab, spec, step = self.lab, self.spec, self.lab.progress.step
        ceph = self.services.ceph
        if ceph is None:
            raise GenericError("Ceph is not running")
        out = Deployed(spec.count, spec.shape)
        out.before = footprint.measure(lab)
        first = lab.layout.nodes[0].name
        t0 = time.monotonic()
        with step(f"{spec.count} RBD images: ext4 with a busybox container and its page "
                  f"(built in parallel, cached in {self.cache})"):
            out.built = scale.prepare_images(lab, ceph, self.names, self.cache)
        out.images_s = time.monotonic() - t0
        if self.recommended:
            with step("cluster options (hakit-snippet cluster)"):
                load(lab, first, scale.cluster_text())
        t0 = time.monotonic()
        with step(f"{spec.count} stacks ({spec.shape}: hakit-snippet stack --shape "
                  f"{spec.shape}), spread by hakit-snippet placement --spread"):
            timeout = max(60.0, LOAD_TIMEOUT_PER_CONTAINER * spec.count)
            text = scale.stacks_text(lab.layout, self.names, spec.shape,
                                     self.services.ceph_fencing)
            load(lab, first, text, timeout)
            load(lab, first, scale.placement_text(lab.layout, self.names), timeout)
        out.load_s = time.monotonic() - t0
        t0 = time.monotonic()
        with step(f"every container started ({spec.count})"):
            state = self.wait_running(scale.start_timeout(spec.count, spec.shape))
        out.started_s = time.monotonic() - t0
        out.where = self.placement(state)
        t0 = time.monotonic()
        with step(f"every page served through its VIP ({spec.count}, fetched from the hub)"):
            out.pages = self.wait_pages(60.0)
        out.pages_s = time.monotonic() - t0
        out.after = footprint.measure(lab)
        out.per_container = footprint.per_container(out.before, out.after, spec.count)
        return out

    def wait_running(self, timeout: float) -> ClusterState:
        """Until every container runs; a progress line whenever the count changes."""
        seen = [-1]

        def probe(state: ClusterState) -> bool:
            where = self.placement(state)
            running = sum(1 for w in where.values() if w is not None)
            if running != seen[0]:
                seen[0] = running
                per_node = {n.name: sum(1 for w in where.values() if w == n.name)
                            for n in self.lab.layout.nodes}
                self.lab.progress.note(f"containers running: {running}/{len(where)} ("
                                       + ", ".join(f"{k} {v}" for k, v in per_node.items())
                                       + ")")
            return running == len(where)

        return self.lab.wait_for(probe, timeout, "waiting for every container to start",
                                 interval=1.0)

    def wait_pages(self, timeout: float) -> dict[str, bool]:
        deadline = Deadline(timeout)
        while True:
            pages = scale.fetch_pages(self.lab, self.names)
            missing = [c for c, ok in pages.items() if not ok]
            if not missing:
                return pages
            if deadline.expired():
                raise ActionTimeout(f"{len(missing)} pages not served through their VIP: "
                                    + ", ".join(missing[:5]))
            time.sleep(0.5)


# -- the report --------------------------------------------------------------------------------

def report(found: Deployed) -> Iterator[str]:
    """A summary of the deployment and of what one container costs."""
    nodes: dict[str, int] = {}
    for where in found.where.values():
        nodes[where or "-"] = nodes.get(where or "-", 0) + 1
    yield (f"{found.count} containers ({found.shape}) running: "
           + ", ".join(f"{k} {v}" for k, v in sorted(nodes.items()))
           + f"; {sum(found.pages.values())}/{found.count} pages served through their VIP")
    yield (f"  images {found.images_s:.1f}s ({found.built} built, "
           f"{found.count - found.built} from the cache), configuration {found.load_s:.1f}s, "
           f"every container started {found.started_s:.1f}s, pages {found.pages_s:.1f}s")
    yield "  per container (what the lab's processes grew by, divided by the count):"
    for prog, (procs, mib) in sorted(found.per_container.items(), key=lambda kv: -kv[1][1]):
        yield f"    {prog:<18} {procs:5.2f} processes  {mib:7.2f} MiB PSS"
    if found.before is not None and found.after is not None:
        b, a = found.before.total(), found.after.total()
        yield (f"  whole lab: {b.count} -> {a.count} processes, {b.pss_kib / 1024:.0f} -> "
               f"{a.pss_kib / 1024:.0f} MiB PSS; per container "
               f"{(a.count - b.count) / found.count:.1f} processes, "
               f"{(a.pss_kib - b.pss_kib) / 1024 / found.count:.1f} MiB")


# -- the command line --------------------------------------------------------------------------
