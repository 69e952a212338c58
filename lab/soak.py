"""The soak: many faults in a row on the scaled lab, and proof that nothing was lost.

``python3 -m lab soak --count N --faults M [--seed S] [--report FILE]``: N containers
(``lab.scale``), a writer per container appending fsync'd records through its VIP
(``lab.writer``) and a split-brain sampler per container (``lab.splitbrain``:
which nodes mount its filesystem, who owns its RBD lock), the whole time.  Then M faults,
each followed by recovery (every container running, its page served, the fenced node back
in the cluster, every writer acknowledging again):

- ``crash``: every process of a node killed (power loss);
- ``hang``: every process of a node stopped (SIGSTOP), until its BMC powers it off;
- ``partition``: a node's link cut, until its BMC powers it off;
- ``kill``: a container's init killed (SIGKILL) inside it; Pacemaker restarts it;
- ``crash-bmc-dead``: a node crashes and its BMC with it (``lab.bmcfault``), so fencing
  through the BMC fails and Pacemaker goes on to the Ceph blocklist (level 2,
  ``lab.cephfence``; the lab is brought up with it when the plan holds this kind); once
  its containers serve elsewhere, the BMC is repaired and the node powered on, and the
  recovery includes its unfencing (its blocklist entry removed by Pacemaker before it may
  run a stack again; the crash took its old mappings with it);
- ``ceph-outage``: Ceph unreachable from every node for ``OUTAGE_S`` (``lab.cephoutage``)
  while the writers go on; the containers ride it out or Pacemaker recovers them.

The first faults go through the kinds in that order, the rest are drawn at random (seeded).
At the end: every acknowledged record of every container is served back; a snapshot of
every image replays to a filesystem ``e2fsck -fn`` finds clean, holding every record; no
sample ever saw a filesystem mounted on two nodes or two lock owners; after every node
fault, each of the victim's containers' old lock owner had to be broken (the victim could
not release it) and is on the OSD blocklist taken right after the recovery; and no
resource is stopped, failed or unmanaged.  A summary table goes to stdout, everything to a
JSON report.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError
from hakit.os import ceph
from lab import bmcfault, cephfence, cephoutage, hub, imagecheck, scale, splitbrain, stack
from lab.cluster import Lab
from lab.scaledeploy import ScaleLab, services_for
from lab.services import LabServices
from lab.status import ClusterState
from lab.writer import PAUSE as WRITER_PAUSE
from lab.writer import REQUEST_TIMEOUT as WRITER_REQUEST_TIMEOUT
from lab.writer import WriterProcess, missing, parse_numbers, wait_all_for_more

KINDS = ("crash", "hang", "partition", "kill", "crash-bmc-dead", "ceph-outage")
#: The kinds that take a node down: it is fenced and its containers' locks broken.
NODE_FAULTS = ("crash", "hang", "partition", "crash-bmc-dead")
#: The kinds that need the lab's Ceph fencing level (``services_for(ceph_fencing=True)``).
CEPH_FENCING_KINDS = ("crash-bmc-dead",)
RECOVERY_TIMEOUT = 300.0
#: The watchers' pace is set for this many containers (the medium soak); with more, each
#: writer pauses and each sampler waits proportionally longer, so that together they load
#: the machine as 6 do.  Unpaced, 70 writers (up to 700 fsyncs a second through one OSD)
#: and 70 samplers (466 lock queries a second) saturated this 2-CPU machine's I/O and held
#: the first crash's recovery past RECOVERY_TIMEOUT: a load the lab made, not a fault.
#: A writer also waits longer for its answer (up to 5 s): 70 stacks' fsyncs share one OSD,
#: and an answer later than the timeout is not counted as acknowledged.
PACED_FOR = 6
WRITER_TIMEOUT = 90.0
#: How long a ``ceph-outage`` lasts: past the OSDs' watch timeout (5 s in the lab), short
#: of the clients' op timeouts (30 s), so the clients must reconnect and watch again.
OUTAGE_S = 10.0
#: How long Pacemaker may take to unfence a rejoined node after everything else is back.
UNFENCE_TIMEOUT = 60.0
#: The most one fault can take, injection to the next (every wait of ``recover`` at its
#: limit, twice the recovery's for a crash with the BMC dead): what the watchers' own
#: lifetime allows per fault.  They are stopped by PID at the end; the lifetime only ends
#: one left behind.
FAULT_BOUND = 3 * RECOVERY_TIMEOUT + UNFENCE_TIMEOUT + WRITER_TIMEOUT + 2 * OUTAGE_S


def watch_lifetime(faults: int) -> float:
    """How long each sampler may run: the whole soak at its slowest, plus start-up.

    The samplers' default lifetime (``splitbrain.LIFETIME``, 15 min, for a test's
    failover) ended them a third of the way through the first 50-fault soak, and every
    later lock check then lacked its samples (pure)."""
    return splitbrain.LIFETIME + faults * FAULT_BOUND
LEVEL_CEPH = "the Ceph blocklist (level 2)"


@dataclass
class Fault:
    """One fault and its recovery."""

    index: int
    kind: str
    target: str  # node, or container for "kill"
    containers: list[str]  # the containers it hit
    at: float  # unix time
    recovered_s: Optional[float] = None  # until every container ran and served again
    acked: int = 0  # records acknowledged by every writer together, after recovery
    blocklist: list[str] = field(default_factory=list)  # after recovery
    error: str = ""
    #: Who fenced the node when it was not its BMC alone (a crash with the BMC dead;
    #: with the Ceph level, any node fault whose BMC power-off failed), and when its
    #: containers served elsewhere (before the node was repaired and let back)
    fenced_by: str = ""
    served_s: Optional[float] = None

    def detail(self) -> str:
        """What the summary adds about this fault's kind."""
        if self.kind == "ceph-outage":
            return f"Ceph cut off for {OUTAGE_S:g}s"
        if self.kind == "crash-bmc-dead":
            served = "-" if self.served_s is None else f"{self.served_s:.1f}s"
            return f"fenced by {self.fenced_by or '?'}; served elsewhere after {served}"
        if self.fenced_by:
            return f"fenced by {self.fenced_by}, then power-cycled by the soak"
        return ""


@dataclass
class SoakReport:
    count: int
    seed: int
    faults: list[Fault] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)  # container -> acknowledged
    lost: dict[str, list[int]] = field(default_factory=dict)
    fsck: dict[str, str] = field(default_factory=dict)  # container -> "clean" or the why
    split_brain: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)  # lock checks that failed
    resources: list[str] = field(default_factory=list)  # stopped/failed/unmanaged at the end
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.lost and all(v == "clean" for v in self.fsck.values())
                and not self.split_brain and not self.locks and not self.resources
                and all(not f.error for f in self.faults))


def plan(faults: int, seed: int) -> list[str]:
    """The fault kinds in order: every kind once first, then random ones (pure)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible fault plan, not a secret
    return [KINDS[i] if i < len(KINDS) else rng.choice(KINDS) for i in range(faults)]


def needs_ceph_fencing(kinds: Sequence[str]) -> bool:
    """Whether a plan holds a fault only the Ceph fencing level can fence (pure)."""
    return any(k in CEPH_FENCING_KINDS for k in kinds)


def failed_once(crm_mon_xml: str, resource: str) -> bool:
    """Whether ``crm_mon --include=failcounts`` shows a fail count for ``resource`` (pure)."""
    root = ET.fromstring(crm_mon_xml)  # noqa: S314 - a local Pacemaker tool's output
    return any(h.get("id") == resource and h.get("fail-count", "0") not in ("0", "")
               for h in root.iter("resource_history"))


def bad_resources(crm_mon_xml: str) -> list[str]:
    """Resources that are not started, or failed, blocked or unmanaged (pure)."""
    root = ET.fromstring(crm_mon_xml)  # noqa: S314 - a local Pacemaker tool's output
    found = []
    for rsc in root.iter("resource"):
        why = [flag for flag in ("failed", "blocked") if rsc.get(flag) == "true"]
        if rsc.get("managed") == "false":
            why.append("unmanaged")
        if rsc.get("role") != "Started":
            why.append(rsc.get("role", "?"))
        if why:
            found.append(f"{rsc.get('id')}: {', '.join(why)}")
    return found


class Soak:
    """The soak on a scaled lab (``ScaleLab``, deployed)."""

    def __init__(self, scaled: ScaleLab, work: Path, seed: int = 1) -> None:
        self.scaled = scaled
        self.lab: Lab = scaled.lab
        self.work = work
        self.seed = seed
        self.rng = random.Random(seed + 1)  # noqa: S311 - reproducible targets
        services = self.lab.fencing
        if not isinstance(services, LabServices) or services.ceph is None:
            raise GenericError("the soak needs a lab with Ceph")
        self.ceph = services.ceph
        self.ceph_fencing = services.ceph_fencing
        self.writers: dict[str, WriterProcess] = {}
        self.samplers: dict[str, splitbrain.Sampler] = {}

    # -- the watchers ------------------------------------------------------------------

    def start_watchers(self, faults: int) -> None:
        access = ceph.Access(user="admin", cephconf=str(self.ceph.conf),
                             keyring=str(self.ceph.admin_keyring))
        slower = max(1.0, len(self.scaled.names) / PACED_FOR)
        for names in self.scaled.names:
            c = names.container
            self.samplers[c] = splitbrain.Sampler(
                self.lab.runner, self.lab.layout, access=access,
                spec=ceph.ImageSpec(names.pool, names.image),
                directory=f"/var/lib/lxc/{c}", out=self.work / c / "samples.jsonl",
                interval=splitbrain.INTERVAL * slower, lifetime=watch_lifetime(faults))
            self.samplers[c].start()
            self.writers[c] = WriterProcess(self.lab.runner, self.lab.layout,
                                            names.url(stack.APPEND_URL_PATH), self.work / c,
                                            pause=WRITER_PAUSE * slower,
                                            timeout=min(WRITER_REQUEST_TIMEOUT * slower, 5.0))
            self.writers[c].start()
        wait_all_for_more(list(self.writers.values()), 3, WRITER_TIMEOUT)

    def check_watchers(self) -> None:
        """Every writer and sampler still runs: a gap in their records would leave the
        end checks without evidence, so the soak stops at once instead."""
        gone = [f"sampler of {c}" for c, s in self.samplers.items() if not s.running]
        gone += [f"writer of {c}" for c, w in self.writers.items() if not w.running]
        if gone:
            raise GenericError(f"{len(gone)} watchers exited: {', '.join(gone[:5])}")

    def stop_watchers(self) -> None:
        for writer in self.writers.values():
            writer.stop()
        for sampler in self.samplers.values():
            sampler.stop()

    # -- faults ------------------------------------------------------------------------

    def where(self) -> dict[str, Optional[str]]:
        return self.scaled.placement(self.lab.status())

    def inject(self, index: int, kind: str) -> Fault:
        where = self.where()
        if kind == "kill":
            target = self.rng.choice(sorted(c for c, n in where.items() if n is not None))
            fault = Fault(index, kind, target, [target], time.time())
            self.kill_inside(target, where[target] or "")
            return fault
        if kind == "ceph-outage":
            fault = Fault(index, kind, "ceph", sorted(where), time.time())
            cephoutage.cut(self.lab, self.ceph)
            try:
                time.sleep(OUTAGE_S)
            finally:
                cephoutage.restore(self.lab)
            return fault
        busy = sorted({n for n in where.values() if n is not None})
        node = self.rng.choice(busy)
        fault = Fault(index, kind, node, sorted(c for c, n in where.items() if n == node),
                      time.time())
        breakers: dict[str, Callable[[str], object]] = {
            "crash": self.lab.crash, "hang": self.lab.hang, "partition": self.lab.partition,
            "crash-bmc-dead": self.crash_with_bmc}
        breakers[kind](node)
        return fault

    def crash_with_bmc(self, node: str) -> None:
        """The node's BMC dies first (nothing answers at its address), then the node."""
        bmcfault.fail(self.lab, node)
        self.lab.crash(node)

    def kill_inside(self, container: str, node: str) -> None:
        """SIGKILL the container's init (its PID as the host sees it, from lxc-info)."""
        res = self.lab.run_on(node, ["lxc-info", "-n", container, "-p", "-H"])
        pid = int(res.stdout.strip())
        self.lab.run_on(node, ["kill", "-KILL", str(pid)])

    def recover(self, fault: Fault) -> None:
        """Wait until every node is back, every container runs and serves, and every
        writer acknowledges again."""
        t0 = fault.at
        nodes = [n.name for n in self.lab.layout.nodes]

        if fault.kind == "kill":
            time.sleep(1.0)  # Pacemaker notices at the next monitor (10 s at most)
        if fault.kind == "crash-bmc-dead":
            self.fail_over_and_let_back(fault)
        elif fault.kind in NODE_FAULTS and self.ceph_fencing:
            self.repair_if_fenced_by_ceph(fault)
        self.lab.wait_for(lambda st: sorted(st.online) == sorted(nodes) and st.quorate
                          and all(w is not None for w in self.scaled.placement(st).values())
                          and (fault.kind != "kill" or self._restarted(fault)),
                          RECOVERY_TIMEOUT, f"waiting for recovery from {fault.kind}",
                          interval=0.5)
        pages = self.scaled.wait_pages(RECOVERY_TIMEOUT)
        if not all(pages.values()):
            raise ActionTimeout("pages not served after recovery")
        if fault.fenced_by == LEVEL_CEPH:
            self.wait_unfenced(fault.target)
        fault.recovered_s = time.time() - t0
        wait_all_for_more(list(self.writers.values()), 2, WRITER_TIMEOUT)
        self.check_watchers()
        fault.acked = sum(len(w.acked()) for w in self.writers.values())
        out = self.ceph.run(["ceph", "osd", "blocklist", "ls", "--format", "json"]).stdout
        fault.blocklist = [e.address for e in ceph.parse_blocklist(out)]

    def fail_over_and_let_back(self, fault: Fault) -> None:
        """After a crash with the BMC dead: wait until its containers serve elsewhere
        (which needs the node fenced) and note who fenced it; then the repair: the BMC
        back and the node powered on (nothing else powers it on: its BMC was dead)."""
        victim = fault.target
        self.lab.wait_for(lambda st: all(n is not None and n != victim
                                         for n in self.scaled.placement(st).values()),
                          RECOVERY_TIMEOUT, f"waiting for {victim}'s containers elsewhere",
                          interval=0.5)
        pages = self.scaled.wait_pages(RECOVERY_TIMEOUT)
        if not all(pages.values()):
            raise ActionTimeout(f"pages not served while {victim} is down")
        fault.served_s = time.time() - fault.at
        fault.fenced_by = (LEVEL_CEPH if self.fenced_by_ceph(victim)
                           else "not the Ceph blocklist")
        bmcfault.repair(self.lab, victim)
        self.power_cycle(victim)

    def fenced_by_ceph(self, node: str) -> bool:
        return cephfence.is_fenced(self.ceph, self.lab.layout.node(node))

    def repair_if_fenced_by_ceph(self, fault: Fault) -> None:
        """With the Ceph level, a node fault is fenced at level 2 when the BMC's power-off
        fails (in the lab: the simulator answers only once the lab's crash command has
        run, which can take longer than fence_hakit's 2 s request timeout on a loaded
        machine, and the Ceph set-up tries level 1 once).  Nothing powers such a node on
        again; an admin would repair it, and so does the soak: wait until the node is
        either back (its BMC fenced it) or on the blocklist, and in the second case
        power-cycle it."""
        victim = fault.target
        went: list[bool] = []  # whether the victim was seen offline yet

        def fenced(st: ClusterState) -> bool:
            online = any(n.name == victim and n.online for n in st.nodes)
            if not online:
                went.append(True)
            return (bool(went) and online) or self.fenced_by_ceph(victim)

        self.lab.wait_for(fenced, RECOVERY_TIMEOUT, f"waiting for {victim} fenced",
                          interval=1.0)
        if self.fenced_by_ceph(victim):
            fault.fenced_by = LEVEL_CEPH
            self.lab.progress.note(f"{victim} was fenced at level 2, its BMC's power-off "
                                   "having failed: power-cycling it")
            self.power_cycle(victim)

    def power_cycle(self, node: str) -> None:
        """The repair of a node fenced through Ceph: off if it is not (a hung or
        partitioned one), then on; a BMC's delayed power-on may boot it first."""
        if self.lab.power_states().get(node) != "off":
            self.lab.crash(node)
        try:
            self.lab.boot(node)
        except GenericError:
            if self.lab.power_states().get(node) == "off":
                raise

    def wait_unfenced(self, node: str) -> None:
        """Pacemaker unfences a rejoined node (fence_hakit_ceph ``on``) before it may run
        a stack: its blocklist entry goes."""
        entry = cephfence.entry(self.lab.layout.node(node))
        Deadline(UNFENCE_TIMEOUT).poll(
            lambda: True if entry not in cephfence.blocklist(self.ceph) else None,
            f"waiting for {node} to be unfenced ({entry} off the blocklist)", 0.5, 2.0)

    def _restarted(self, fault: Fault) -> bool:
        """After a kill: the container failed once (a fail count) and runs again."""
        res = self.lab.run_on(self.lab.layout.nodes[0].name,
                              ["crm_mon", "--one-shot", "--output-as=xml",
                               "--include=failcounts"], check=False)
        return res.ok and failed_once(res.stdout, f"{fault.target}-stack")

    # -- the end -----------------------------------------------------------------------

    def check(self, report: SoakReport) -> None:
        for names in self.scaled.names:
            c = names.container
            acked = self.writers[c].acked()
            report.records[c] = len(acked)
            body = hub.get(self.lab.runner, self.lab.layout, names.url(stack.RECORDS_URL_PATH))
            lost = missing(acked, parse_numbers(body or ""))
            if lost or body is None:
                report.lost[c] = lost or [-1]
            copy = self.work / f"{c}.img"
            imagecheck.export_snapshot(self.ceph, names.spec, copy)
            try:
                image = imagecheck.check_copy(self.lab.runner, copy, stack.RECORDS_IN_IMAGE,
                                              replay=True)
            finally:
                copy.unlink()
            report.fsck[c] = ("clean" if image.clean and not missing(acked, image.records)
                              else f"e2fsck {image.status}, "
                                   f"{len(missing(acked, image.records))} records missing")
            samples = self.samplers[c].samples()
            report.split_brain += [f"{c}: {v}" for v in splitbrain.violations(samples)]
            report.locks += self._lock_checks(c, samples, report.faults)
        res = self.lab.run_on(self.lab.layout.nodes[0].name,
                              ["crm_mon", "--one-shot", "--output-as=xml"])
        report.resources = bad_resources(res.stdout)

    @staticmethod
    def _lock_checks(container: str, samples: Sequence[splitbrain.Sample],
                     faults: Sequence[Fault]) -> list[str]:
        """After each node fault that hit ``container``, its lock owner from before is not
        the owner after, and is on the blocklist taken after the recovery."""
        good = [s for s in samples if not s.error]
        failed = []
        for fault in faults:
            if fault.kind not in NODE_FAULTS or container not in fault.containers:
                continue
            before = [s for s in good if s.t < fault.at and s.owners]
            after = [s for s in good if fault.recovered_s is not None
                     and s.t >= fault.at + fault.recovered_s and s.owners]
            if not before or not after:
                failed.append(f"{container}, fault {fault.index}: no lock sample "
                              "before or after")
                continue
            old, new = before[-1].owners, after[0].owners
            if old == new:
                failed.append(f"{container}, fault {fault.index}: lock owner {old} kept")
            elif not all(o in fault.blocklist for o in old):
                failed.append(f"{container}, fault {fault.index}: old owner {old} not "
                              "blocklisted")
        return failed

    def run(self, faults: int) -> SoakReport:
        report = SoakReport(len(self.scaled.names), self.seed)
        kinds = plan(faults, self.seed)
        if needs_ceph_fencing(kinds) and not self.ceph_fencing:
            raise GenericError("the plan holds a crash with the BMC dead: the lab needs the "
                               "Ceph fencing level (services_for(ceph_fencing=True))")
        began = time.monotonic()
        note = self.lab.progress.note
        self.start_watchers(faults)
        try:
            for index, kind in enumerate(kinds, start=1):
                fault = self.inject(index, kind)
                note(f"fault {index}/{faults}: {kind} {fault.target} "
                     f"({len(fault.containers)} containers)")
                report.faults.append(fault)
                try:
                    self.recover(fault)
                except (ActionTimeout, GenericError) as exc:
                    fault.error = exc.reason
                    note(f"fault {index}: no recovery: {exc.reason}")
                    break
                note(f"fault {index}/{faults}: recovered in {fault.recovered_s:.1f}s, "
                     f"{fault.acked} records acknowledged so far")
        finally:
            self.stop_watchers()
        self.check(report)
        report.duration_s = time.monotonic() - began
        return report


def summary(report: SoakReport) -> Iterator[str]:
    yield f"soak: {len(report.faults)} faults, {report.count} containers, seed {report.seed}, " \
          f"{report.duration_s / 60:.1f} min"
    yield "| # | fault | target | containers hit | recovered (s) | records so far | detail |"
    yield "|---|---|---|---|---|---|---|"
    for f in report.faults:
        rec = "-" if f.recovered_s is None else f"{f.recovered_s:.1f}"
        yield (f"| {f.index} | {f.kind} | {f.target} | {len(f.containers)} | {rec} | "
               f"{f.acked} | {f.detail()} |" + (f" {f.error}" if f.error else ""))
    total = sum(report.records.values())
    yield (f"records acknowledged {total}, lost {sum(len(v) for v in report.lost.values())}; "
           f"images clean {sum(v == 'clean' for v in report.fsck.values())}/"
           f"{len(report.fsck)}; split-brain samples {len(report.split_brain)}; lock checks "
           f"failed {len(report.locks)}; resources not started {len(report.resources)}")
    yield "RESULT: " + ("nothing lost, no split brain" if report.ok else "FAILED")


def write_report(report: SoakReport, path: Path) -> None:
    data = asdict(report)
    data["ok"] = report.ok
    path.write_text(json.dumps(data, indent=1))


# -- the command line --------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("soak", help="N containers with writers, M faults in a row, then "
                       "prove nothing was lost; then down")
    p.add_argument("--count", type=int, default=3, help="containers (default 3)")
    p.add_argument("--faults", type=int, default=len(KINDS),
                   help=f"faults (default {len(KINDS)}: one of each)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--report", type=Path, default=Path("soak-report.json"),
                   help="the JSON report (default soak-report.json)")
    p.add_argument("--cache-dir", type=Path, default=scale.DEFAULT_CACHE,
                   help=f"where built images are kept (default {scale.DEFAULT_CACHE})")
    p.add_argument("--keep", action="store_true", help="leave the lab running afterwards")


def run(lab_for: Callable[[LabServices], Lab], args: argparse.Namespace) -> int:
    spec = scale.Scale(args.count)
    lab = lab_for(services_for(spec.count,
                               ceph_fencing=needs_ceph_fencing(plan(args.faults, args.seed))))
    ok = False
    try:
        lab.up()
        scaled = ScaleLab(lab, spec, args.cache_dir)
        scaled.deploy()
        work = lab.layout.state_dir / "soak"
        work.mkdir()
        report = Soak(scaled, work, args.seed).run(args.faults)
        for line in summary(report):
            print(line)
        write_report(report, args.report)
        print(f"report: {args.report}")
        ok = report.ok
    finally:
        if not args.keep:
            lab.progress.note("tearing the lab down")
            lab.down()
    return 0 if ok else 1
