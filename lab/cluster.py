"""A whole lab: bring it up, inspect it, break it, and take it down again."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Callable, Optional, Protocol

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError, HakitError
from hakit.os.runner import Completed, Runner
from lab import image, leftovers, network, node, procs
from lab.config import DC_DEADTIME, corosync_conf, seed_cib
from lab.layout import LabLayout, LabNode
from lab.progress import Progress
from lab.stack import stack_names
from lab.status import ClusterState, parse_crm_mon

#: Bounds for the lab's waits; a healthy cluster forms in well under 10 s.
FORM_TIMEOUT = 60.0
COROSYNC_READY_TIMEOUT = 15.0
STEP_TIMEOUT = 30.0
#: The most containers a scaled lab has (lab.scale.MAX_COUNT): down removes their
#: cgroups by name.
SCALE_MAX = 99


class FencingHook(Protocol):
    """What a lab fencing setup provides; every method is called by ``Lab``.

    A simulated BMC per node (``lab.bmc``) crashes the node on power-off and boots it on
    power-on after ``bmc.POWER_ON_DELAY``; ``lab.services.LabServices`` is the full setup
    (Ceph, BMCs, fence_hakit devices), ``NoFencing`` the bare cluster's."""

    def cluster_properties(self) -> dict[str, str]:
        """Cluster options seeded into the CIB (stonith-enabled and friends)."""

    def node_created(self, lab: Lab, node: LabNode) -> None:
        """The node's namespaces exist: start its BMC (reachable over the hub bridge)."""

    def cluster_formed(self, lab: Lab) -> None:
        """The cluster is quorate with a DC: create the stonith resources."""

    def teardown(self, lab: Lab) -> None:
        """``down`` is running: stop the BMCs (by PID) and remove what they made."""


class NoFencing:
    """No fencing devices: stonith disabled, so a lost node's resources simply move."""

    def cluster_properties(self) -> dict[str, str]:
        return {"stonith-enabled": "false"}

    def node_created(self, lab: Lab, node: LabNode) -> None:
        """Nothing to start."""

    def cluster_formed(self, lab: Lab) -> None:
        """Nothing to configure."""

    def teardown(self, lab: Lab) -> None:
        """Nothing to stop."""


class Lab:
    """Operations on one lab, described by its layout; safe to build for a lab that is down."""

    def __init__(self, layout: LabLayout, progress: Optional[Progress] = None,
                 fencing: Optional[FencingHook] = None,
                 log: Optional[logging.Logger] = None,
                 totem: Optional[Mapping[str, str]] = None) -> None:
        """``totem``: corosync totem options (e.g. ``token``) beyond the defaults."""
        self.layout = layout
        self.totem = dict(totem or {})
        self.progress = progress or Progress()
        self.fencing: FencingHook = fencing or NoFencing()
        self.runner = Runner(log or logging.getLogger("hakit-lab"))

    # -- bringing up -------------------------------------------------------------------

    def up(self, form_timeout: float = FORM_TIMEOUT) -> ClusterState:
        """Create the hub, the nodes and their daemons, and wait for a quorate cluster."""
        lay = self.layout
        step = self.progress.step
        if lay.manifest.exists() or any(network.netns_exists(n) for n in self._netns_names()):
            raise GenericError(f"lab '{lay.name}' already exists in {lay.state_dir}: "
                               "run 'down' first")
        # down removes the state directory wholesale, so it must be the lab's alone.
        if lay.state_dir.exists() and any(lay.state_dir.iterdir()):
            raise GenericError(f"state directory {lay.state_dir} is not empty")
        with step(f"state directory {lay.state_dir}"):
            lay.state_dir.mkdir(parents=True, exist_ok=True)
            # Written before anything else so that 'down' can undo a failed 'up'.
            lay.manifest.write_text(lay.to_json())
            self._write_node_files()
        with step(f"hub namespace {lay.hub_netns}, bridge, {lay.hub_address}"):
            network.build_hub(self.runner, self.step_deadline(), lay)
        for n in lay.nodes:
            with step(f"node {n.name}: namespace {n.netns}, {n.address}"):
                network.attach_node(self.runner, self.step_deadline(), lay, n)
            self.fencing.node_created(self, n)
        for n in lay.nodes:
            self._boot_os(n)
        for n in lay.nodes:
            with step(f"node {n.name}: corosync"):
                self._start_corosync(n)
        with step("corosync ready on every node"):
            for n in lay.nodes:
                self._wait_corosync(n)
        for n in lay.nodes:
            with step(f"node {n.name}: pacemakerd"):
                self._start_pacemaker(n)
        with step(f"cluster formed ({len(lay.nodes)} nodes online, quorate, DC elected)"):
            state = self.wait_for(self._formed, form_timeout, "waiting for the cluster to form")
        self.progress.note(f"DC is {state.dc}")
        self.fencing.cluster_formed(self)
        return state

    def _formed(self, state: ClusterState) -> bool:
        return (state.quorate and state.dc is not None
                and len(state.online) == len(self.layout.nodes))

    def _write_node_files(self) -> None:
        lay = self.layout
        key = os.urandom(256)  # what corosync-keygen writes, without a subprocess
        conf = corosync_conf(f"{lay.name}-lab", lay.nodes, self.totem).encode()
        empty = self.runner.run(["cibadmin", "--empty"], self.step_deadline()).stdout
        props = {"dc-deadtime": DC_DEADTIME, **self.fencing.cluster_properties()}
        cib = seed_cib(empty, props).encode()
        for n in lay.nodes:
            node.prepare_dirs(n, {
                "etc-corosync/authkey": key,
                "etc-corosync/corosync.conf": conf,
                "var-lib-pacemaker/cib/cib.xml": cib,
            })

    def _boot_os(self, n: LabNode) -> procs.Proc:
        """The node's holder and private mounts: the machine is on, no cluster yet."""
        with self.progress.step(f"node {n.name}: holder and private mounts"):
            holder = node.start_holder(self.runner, self.step_deadline(), n)
            node.mount_private(self.runner, self.step_deadline(), n, holder)
        return holder

    def _holder(self, n: LabNode) -> procs.Proc:
        holder = node.holder_of(n)
        if holder is None:
            raise GenericError(f"node {n.name} is off")
        return holder

    def _start_corosync(self, n: LabNode) -> None:
        node.start_daemon(self.runner, n, self._holder(n), node.COROSYNC, ["corosync", "-f"])

    def _wait_corosync(self, n: LabNode) -> None:
        daemon = procs.read_pidfile(n.pidfile(node.COROSYNC))

        def ready() -> Optional[bool]:
            if daemon is None or not procs.is_alive(daemon):
                raise GenericError(f"corosync on {n.name} exited; see "
                                   f"{n.source('log-corosync')}/corosync.log")
            res = self.run_on(n.name, ["corosync-cmapctl", "-g", "totem.cluster_name"],
                              check=False, timeout=5)
            return True if res.ok else None

        Deadline(COROSYNC_READY_TIMEOUT).poll(ready, f"waiting for corosync on {n.name}",
                                              0.05, 0.5)

    def _start_pacemaker(self, n: LabNode) -> None:
        node.start_daemon(self.runner, n, self._holder(n), node.PACEMAKERD, ["pacemakerd"],
                          env=node.PACEMAKER_ENV)

    # -- inspecting --------------------------------------------------------------------

    def run_on(self, name: str, argv: Sequence[str], *, check: bool = True,
               stdin: Optional[str] = None, timeout: float = STEP_TIMEOUT) -> Completed:
        """Run ``argv`` on node ``name`` (in its network, mount and UTS namespaces)."""
        n = self.layout.node(name)
        return node.run_on(self.runner, Deadline(timeout), self._holder(n), argv,
                           check=check, stdin=stdin)

    def status(self, via: Optional[str] = None) -> ClusterState:
        """The cluster as seen from ``via``, or from the first node in a quorate partition.

        Without ``via``, partitioned and hung nodes are asked last (the former know only
        their own side, the latter answer nothing until crm_mon times out), and a node
        that is still joining (no quorum yet) is passed over when another one answers
        with quorum.
        """
        names = [via] if via else self._nodes_by_preference()
        if not names:
            raise GenericError(f"no node of lab '{self.layout.name}' is running")
        reasons = []
        first: Optional[ClusterState] = None
        for name in names:
            try:
                res = self.run_on(name, ["crm_mon", "--one-shot", "--output-as=xml"],
                                  check=False, timeout=10)
            except HakitError as exc:
                reasons.append(f"{name}: {exc.reason}")
                continue
            if not res.ok:
                reasons.append(f"{name}: crm_mon exited {res.returncode}")
                continue
            state = parse_crm_mon(res.stdout)
            if state.quorate:
                return state
            first = first or state
        if first is not None:
            return first
        raise GenericError("no node answered: " + "; ".join(reasons))

    def power_states(self) -> dict[str, str]:
        """Each node's state as the lab sees it: off, on, hung or partitioned."""
        dl = self.step_deadline()
        hub_up = network.netns_exists(self.layout.hub_netns)
        states = {}
        for n in self.layout.nodes:
            if node.holder_of(n) is None:
                states[n.name] = "off"
            elif node.is_hung(n):
                states[n.name] = "hung"
            elif hub_up and network.is_partitioned(self.runner, dl, self.layout, n):
                states[n.name] = "partitioned"
            else:
                states[n.name] = "on"
        return states

    def _nodes_by_preference(self) -> list[str]:
        states = self.power_states()
        good = [name for name, st in states.items() if st == "on"]
        doubtful = [name for name, st in states.items() if st in ("hung", "partitioned")]
        return good + doubtful

    def wait_for(self, predicate: Callable[[ClusterState], bool], timeout: float,
                 doing: str, via: Optional[str] = None,
                 interval: float = 0.2) -> ClusterState:
        """Poll the status until ``predicate`` holds; ActionTimeout with the last state.

        ``interval`` is the first pause between polls (backing off to 0.5 s at most); the
        benchmarks make it small to time transitions finely.
        """
        last: list[str] = []

        def probe() -> Optional[ClusterState]:
            try:
                state = self.status(via)
            except HakitError as exc:
                last[:] = [exc.reason]
                return None
            last[:] = [repr(state)]
            return state if predicate(state) else None

        try:
            return Deadline(timeout).poll(probe, doing, interval, max(interval, 0.5))
        except ActionTimeout as exc:
            raise ActionTimeout(f"timed out {doing}; last seen: {last[0] if last else '-'}") \
                from exc

    # -- breaking ----------------------------------------------------------------------

    def crash(self, name: str) -> int:
        """Kill every process in the node's namespaces (power loss); returns how many."""
        n = self.layout.node(name)
        with self.progress.step(f"crash {name}: kill every process in its namespaces"):
            killed = node.power_off(self.runner, self.step_deadline(), n)
            network.unplug(self.runner, self.step_deadline(), n)
            return killed

    def hang(self, name: str) -> int:
        """Freeze every process on the node (SIGSTOP); returns how many."""
        n = self.layout.node(name)
        with self.progress.step(f"hang {name}: stop every process in its namespaces"):
            return node.freeze(self.runner, self.step_deadline(), n)

    def resume(self, name: str) -> int:
        """Let a hung node carry on (SIGCONT every process); returns how many."""
        n = self.layout.node(name)
        with self.progress.step(f"resume {name}: continue every process in its namespaces"):
            return node.thaw(self.runner, self.step_deadline(), n)

    def boot(self, name: str) -> None:
        """Power a node back on: holder, mounts, corosync, pacemakerd (it rejoins by itself)."""
        n = self.layout.node(name)
        if node.holder_of(n) is not None:
            raise GenericError(f"node {name} is already on")
        # The lab's partition is a fault of the node's link; a power cycle ends it, so
        # the fenced node can rejoin (otherwise it would boot into the same isolation).
        if network.netns_exists(self.layout.hub_netns) and network.is_partitioned(
                self.runner, self.step_deadline(), self.layout, n):
            network.heal(self.runner, self.step_deadline(), self.layout, n)
        network.plug(self.runner, self.step_deadline(), n)
        self._boot_os(n)
        with self.progress.step(f"node {name}: corosync"):
            self._start_corosync(n)
            self._wait_corosync(n)
        with self.progress.step(f"node {name}: pacemakerd"):
            self._start_pacemaker(n)

    def partition(self, name: str) -> None:
        """Cut the node's link to the hub bridge."""
        with self.progress.step(f"partition {name}: its port leaves the bridge"):
            network.partition(self.runner, self.step_deadline(), self.layout,
                              self.layout.node(name))

    def heal(self, name: Optional[str] = None) -> None:
        """Reconnect one node, or every partitioned node."""
        dl = self.step_deadline()
        targets = [self.layout.node(name)] if name else list(self.layout.nodes)
        for n in targets:
            if network.is_partitioned(self.runner, dl, self.layout, n):
                with self.progress.step(f"heal {n.name}: its port rejoins the bridge"):
                    network.heal(self.runner, dl, self.layout, n)

    # -- tearing down ------------------------------------------------------------------

    def down(self) -> None:
        """Remove every process, mount, namespace and directory the lab made; idempotent.

        Works from whatever a failed ``up`` left: every step tolerates missing pieces.
        """
        lay = self.layout
        step = self.progress.step
        with step("fencing teardown"):
            self.fencing.teardown(self)
        # BMCs, Ceph and BMC power-ons still waiting out their delay live in the hub: they
        # go first, so that no delayed power-on can boot a node that is being removed.
        # Fuse first: with Ceph gone, rbd-fuse would block every access to its files.
        with step("fuse connections of every node aborted"):
            for n in lay.nodes:
                holder = node.holder_of(n)
                if holder is not None:
                    node.abort_fuse(self.runner, self.step_deadline(), holder)
        with step(f"hub {lay.hub_netns}: BMCs, Ceph, pending power-ons"):
            self._kill_netns(lay.hub_netns)
        for n in lay.nodes:
            with step(f"node {n.name}: stop every process"):
                node.power_off(self.runner, self.step_deadline(), n)
        with step("namespaces"):
            for name in self._netns_names():
                self._kill_netns(name)
                network.delete_netns(self.runner, self.step_deadline(), name)
        names = stack_names(lay)
        with step(f"loop devices of pool {names.pool}, cgroups of the lab's containers "
                  f"({names.container}, {lay.name}-cNN)"):
            leftovers.detach_loop_devices(self.runner, self.step_deadline(), names.pool)
            leftovers.remove_cgroups_of(leftovers.lab_containers(lay.name, SCALE_MAX))
            image.undo_dev_hakit(lay.state_dir)
        with step(f"state directory {lay.state_dir}"):
            # Only a directory this lab made (it holds the manifest) is removed wholesale.
            if lay.manifest.exists():
                shutil.rmtree(lay.state_dir)
            else:
                with contextlib.suppress(FileNotFoundError, OSError):
                    lay.state_dir.rmdir()

    def _kill_netns(self, name: str) -> None:
        if not network.netns_exists(name):
            return
        for pid in network.netns_pids(self.runner, self.step_deadline(), name):
            proc = procs.identify(pid)
            if proc is not None:
                procs.kill_all([proc], self.step_deadline(), f"stopping {pid} in {name}")

    def _netns_names(self) -> list[str]:
        return [n.netns for n in self.layout.nodes] + [self.layout.hub_netns]

    @staticmethod
    def step_deadline() -> Deadline:
        """The deadline of one step of bringing up or taking down (``STEP_TIMEOUT``)."""
        return Deadline(STEP_TIMEOUT)
