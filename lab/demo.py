"""``python3 -m lab demo``: the product's main job, shown on the lab.

Brings up the lab with its services (Ceph in the hub, a BMC per node, fence_hakit devices),
puts a busybox container on an RBD image, runs it as rbd(fuse) -> fs -> lxc -> vip from the
snippets generator, fetches its page through the VIP from the hub, then crashes the node
running it and times how the cluster detects the loss, fences the node through its BMC,
starts the stack on another node and serves the page again.
"""

from __future__ import annotations

import calendar
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError, HakitError
from lab import bmc, hub, stack
from lab.cluster import Lab
from lab.configs import StackConfig
from lab.pagewatch import PageWatch, outage
from lab.services import LabServices, load, snippet_env
from lab.status import ClusterState

#: Bounds for the demo's waits.
STACK_TIMEOUT = 120.0
FAILOVER_TIMEOUT = 120.0
REJOIN_TIMEOUT = 60.0
FETCH_TIMEOUT = 1.0


@dataclass
class Failover:
    """Seconds from the crash to each milestone (None: not observed)."""

    victim: str
    detected: Optional[float] = None  # the survivors see the node offline
    fenced: Optional[float] = None  # its BMC reports it powered off
    fencer_done: Optional[float] = None  # the fencer's history first shows the success
    started: Optional[float] = None  # every stack resource started elsewhere
    served: Optional[float] = None  # the page answers through the VIP again
    new_node: Optional[str] = None
    answering: Optional[str] = None  # the node whose MAC answers for the VIP
    fencer_history: list[dict[str, str]] = field(default_factory=list)
    rejoined: Optional[float] = None
    #: Pacemaker's exec-time of each stack resource's start on the new node, in seconds
    #: (read by ``lab.failover.crash_timed``)
    starts: dict[str, float] = field(default_factory=dict)
    #: With the BMC dead too (``lab.deadbmc``): the level that fenced the node, and
    #: when the rejoined node's Ceph blocklist entry was gone again (unfencing)
    level: Optional[str] = None
    unfenced: Optional[float] = None


@dataclass
class DemoResult:
    first_node: str
    first_answering: Optional[str]
    page: str
    failover: Failover
    move: Optional[tuple[str, str, float]] = None  # from, to, seconds without the page


def stack_state(state: ClusterState, names: stack.StackNames,
                resources: Optional[Sequence[str]] = None) -> Optional[str]:
    """The node where every stack resource (default: the group's members) is started."""
    where: set[str] = set()
    for rid in names.resources() if resources is None else resources:
        found = [r for r in state.resources if r.id == rid]
        if not found or found[0].role != "Started" or found[0].failed or not found[0].nodes:
            return None
        where.update(found[0].nodes)
    return where.pop() if len(where) == 1 else None


class Demo:
    """The demo on one lab (a ``Lab`` built with ``LabServices``)."""

    def __init__(self, lab: Lab, config: Optional[StackConfig] = None) -> None:
        """``config``: deploy that configuration of the service (``lab.configs``)
        instead of the snippet's group."""
        self.lab = lab
        self.names = stack.stack_names(lab.layout)
        self.config = config
        self.resources = (list(config.resources(self.names)) if config is not None
                          else self.names.resources())
        self.services = lab.fencing if isinstance(lab.fencing, LabServices) else None
        self._watch: Optional[PageWatch] = None

    def page_watch(self) -> PageWatch:
        """The hub's page watcher (started on first use; ``down`` removes it with the hub)."""
        if self._watch is None:
            lay = self.lab.layout
            self._watch = PageWatch(self.lab.runner, lay.hub_netns, self.names.url(),
                                    lay.state_dir / "pagewatch.out").start()
        return self._watch

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    # -- the service -------------------------------------------------------------------

    def deploy(self) -> str:
        """Image into Ceph, the stack into the CIB; returns the node it started on."""
        lab, names, step = self.lab, self.names, self.lab.progress.step
        if self.services is None or self.services.ceph is None:
            raise GenericError("the demo needs a lab brought up with LabServices")
        ceph = self.services.ceph
        build = lab.layout.state_dir / "build"
        with step(f"RBD image {names.spec}: ext4 holding busybox container "
                  f"{names.container} and its page (mkfs.ext4 -d, rbd import)"):
            image = stack.build_image_file(lab.runner, Deadline(120), names, build)
            ceph.run(["rbd", "import", str(image), names.spec], timeout=120)
            shutil.rmtree(build)
        first = lab.layout.nodes[0].name
        with step("the stack rbd(fuse) -> fs -> lxc -> vip as a group "
                  "(hakit-snippet stack, crm configure load update)" if self.config is None
                  else f"the stack: {self.config.label} (crm configure load update)"):
            load(lab, first, self._stack_text(first))
        with step(f"stack {names.group} started"):
            state = lab.wait_for(lambda st: stack_state(st, names, self.resources)
                                 is not None, STACK_TIMEOUT,
                                 f"waiting for {names.group} to start")
        node = stack_state(state, names, self.resources) or "?"
        lab.progress.note(f"{names.group} runs on {node}")
        return node

    def _stack_text(self, prefer: str) -> str:
        if self.config is not None:
            return self.config.stack_text(self.lab, prefer)
        argv = stack.stack_snippet_argv(sys.executable, self.names, self.lab.layout, prefer)
        if self.services is not None and self.services.ceph_fencing:
            argv.append("--requires-unfencing")  # the Ceph level unfences before a start
        return self.lab.runner.run(argv, Deadline(30), env=snippet_env()).stdout

    def fetch(self, timeout: float = FETCH_TIMEOUT) -> Optional[str]:
        """The page through the VIP, fetched from the hub namespace; None if it fails."""
        page = hub.get(self.lab.runner, self.lab.layout, self.names.url(), timeout)
        return page or None

    def wait_page(self, timeout: float = 60.0) -> str:
        def probe() -> Optional[str]:
            return self.fetch()
        return Deadline(timeout).poll(probe, "waiting for the page through the VIP", 0.1, 0.5)

    def answering_node(self) -> Optional[str]:
        """The node whose eth0 MAC the hub has for the VIP (who answered ARP)."""
        return hub.answering_node(self.lab.runner, self.lab.layout, self.names.vip.ip)

    # -- breaking it -------------------------------------------------------------------

    def crash_and_recover(self, victim: str,
                          breaker: Optional[Callable[[str], object]] = None,
                          what: str = "crash", rejoin: bool = True) -> Failover:
        """Crash ``victim`` and time detection, fencing, restart and the page.

        ``breaker`` breaks the node some other way (``Lab.hang``, ``Lab.partition``); the
        timings then count from that, and the progress lines call it ``what``.  With
        ``rejoin`` it also waits for the fenced node to come back.  The fencer's own
        report is polled (``stonith_admin --history`` stamps whole seconds only).
        """
        lab, names = self.lab, self.names
        result = Failover(victim)
        survivors = [n.name for n in lab.layout.nodes if n.name != victim]
        sim = bmc.read_bmcs(lab.layout.state_dir).get(victim)
        watch = self.page_watch()
        watch.wait_up(STACK_TIMEOUT)
        wall0, t0 = time.time(), time.monotonic()
        (breaker or lab.crash)(victim)
        note = lab.progress.note
        deadline = Deadline(FAILOVER_TIMEOUT)
        while result.served is None:
            if deadline.expired():
                raise ActionTimeout(f"the page was not served again within "
                                    f"{FAILOVER_TIMEOUT:g}s of the {what}")
            if result.fenced is None and sim is not None:
                offs = [e.time for e in sim.history() if e.what == "off" and e.time >= wall0]
                if offs:
                    result.fenced = offs[0] - wall0
                    note(f"{victim} powered off by its BMC "
                         f"{result.fenced:.2f}s after the {what}")
            if result.started is None:
                try:
                    state = lab.status(via=survivors[0])
                except HakitError:
                    state = None
                if state is not None:
                    gone = [n for n in state.nodes if n.name == victim and not n.online]
                    if result.detected is None and gone:
                        result.detected = time.monotonic() - t0
                        note(f"{victim} lost: seen offline by {survivors[0]} "
                             f"{result.detected:.2f}s after the {what}")
                    where = stack_state(state, names, self.resources)
                    if where is not None and where != victim:
                        result.started, result.new_node = time.monotonic() - t0, where
                        note(f"{names.group} started on {where} "
                             f"{result.started:.2f}s after the {what}")
            if (result.fencer_done is None and result.detected is not None
                    and fenced_since(self.fencer_history(survivors[0], victim), wall0)):
                result.fencer_done = time.monotonic() - t0
                note(f"the fencer reports {victim} fenced {result.fencer_done:.2f}s after "
                     f"the {what}")
            back = outage(watch.events(), t0)
            if result.started is not None and back is not None:
                result.served = back[1] - t0
                note(f"page served through {names.vip.ip} again {result.served:.2f}s "
                     f"after the {what} (first answer to the hub's watcher)")
        result.answering = self.answering_node()
        result.fencer_history = self.fencer_history(survivors[0], victim)
        if not rejoin:
            return result
        with lab.progress.step(f"{victim} powered on by its BMC after its delay, back "
                               "online"):
            lab.wait_for(lambda st: any(n.name == victim and n.online
                                        for n in st.nodes),
                         REJOIN_TIMEOUT, f"waiting for {victim} to rejoin")
        result.rejoined = time.monotonic() - t0
        return result

    def fencer_history(self, via: str, target: str) -> list[dict[str, str]]:
        """pacemaker-fenced's history for ``target`` (``stonith_admin --history``)."""
        # --verbose: every recorded operation; without it, only the "last successful"
        # one, which can be an unfencing (on) rather than the fencing being timed.
        res = self.lab.run_on(via, ["stonith_admin", "--history", target, "--verbose",
                                    "--output-as=xml"], check=False)
        return parse_fence_history(res.stdout) if res.ok else []

    def planned_move(self, source: str) -> tuple[str, float]:
        """``crm_resource --move`` the group off ``source``; seconds the page was away."""
        lab, names = self.lab, self.names
        watch = self.page_watch()
        watch.wait_up(STACK_TIMEOUT)
        t0 = time.monotonic()
        lab.run_on(source, ["crm_resource", "--resource", names.group, "--move",
                            "--node", next(n.name for n in lab.layout.nodes
                                           if n.name != source)])
        state = lab.wait_for(
            lambda st: stack_state(st, names, self.resources) not in (None, source),
            STACK_TIMEOUT, "waiting for the stack to move")
        went, back = watch.wait_outage(t0, STACK_TIMEOUT)
        lab.run_on(source, ["crm_resource", "--resource", names.group, "--clear"])
        return stack_state(state, names, self.resources) or "?", back - went

    # -- all of it ---------------------------------------------------------------------

    def run(self, move: bool = False,
            failover: Optional[Callable[[Demo, str], Failover]] = None) -> DemoResult:
        """Up, deploy, fetch the page, (move,) then break the stack's node: a crash
        with ``crash_and_recover``, or ``failover(demo, node)`` (``lab.deadbmc``)."""
        lab = self.lab
        lab.up()
        first = self.deploy()
        with lab.progress.step(f"page fetched from {lab.layout.hub_netns} through VIP "
                               f"{self.names.vip.ip}"):
            page = self.wait_page()
        answering = self.answering_node()
        lab.progress.note(f"VIP {self.names.vip.ip} answers from {answering}")
        moved = None
        current = first
        if move:
            to, gap = self.planned_move(first)
            moved = (first, to, gap)
            lab.progress.note(f"planned move {first} -> {to}: page unavailable {gap:.2f}s")
            current = to
        result = (failover or Demo.crash_and_recover)(self, current)
        self.stop_watch()
        return DemoResult(first, answering, page, result, moved)


def parse_fence_history(xml_text: str) -> list[dict[str, str]]:
    """``stonith_admin --history --output-as=xml``: one dict per fence_event (pure)."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314 - a local Pacemaker tool's output
    except ET.ParseError:
        return []
    return [dict(ev.attrib) for ev in root.iter("fence_event")]


def fenced_since(events: Sequence[dict[str, str]], since: float) -> bool:
    """Whether ``events`` (``parse_fence_history``) hold a successful off or reboot
    completed at ``since`` (unix time) or later (pure).

    Unfencing (action ``on``, which fence_hakit_ceph's devices run when a node joins) is
    not a fencing; ``completed`` has whole seconds, so ``since`` is rounded down.
    """
    for ev in events:
        if ev.get("status") != "success" or ev.get("action") not in ("off", "reboot"):
            continue
        try:
            done = calendar.timegm(time.strptime(ev.get("completed", ""),
                                                 "%Y-%m-%d %H:%M:%SZ"))
        except ValueError:
            continue
        if done >= int(since):
            return True
    return False


def summary(result: DemoResult) -> Iterator[str]:
    f = result.failover
    yield "summary"

    def fmt(value: Optional[float]) -> str:
        return f"{value:6.2f}s" if value is not None else "     -"
    if result.move is not None:
        src, dst, gap = result.move
        yield f"  planned move {src} -> {dst}: page unavailable for {gap:.2f}s"
    dead = " and its BMC" if f.level is not None else ""
    yield f"  crash of {f.victim}{dead} (every process killed), measured from the crash:"
    yield f"    detection  {fmt(f.detected)}  survivors see {f.victim} offline"
    if f.level is None:
        yield f"    fencing    {fmt(f.fenced)}  its BMC powered it off (fence_hakit)"
    else:
        yield f"    fencing    {fmt(f.fencer_done)}  the fencer reports it fenced: {f.level}"
    yield f"    stack      {fmt(f.started)}  rbd, fs, lxc, vip started on {f.new_node}"
    yield f"    page       {fmt(f.served)}  served through the VIP again " \
          f"(answering: {f.answering})"
    if f.level is None:
        yield f"    rejoined   {fmt(f.rejoined)}  {f.victim} powered on after its BMC delay"
    else:
        yield f"    rejoined   {fmt(f.rejoined)}  {f.victim} booted once its BMC was repaired"
        yield f"    unfenced   {fmt(f.unfenced)}  its blocklist entry removed on rejoining"
    done = [e for e in f.fencer_history
            if e.get("status") == "success" and e.get("action") != "on"]
    if done:
        ev = done[0]
        yield (f"  fencer history: {ev.get('action')} of {ev.get('target')} by "
               f"{ev.get('delegate', '?')} ({ev.get('status')})")
