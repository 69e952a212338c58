"""The lab's services beyond the bare cluster: Ceph, BMCs + fence_hakit, hakit installed.

``LabServices`` is the lab's fencing hook (``lab.cluster.FencingHook``).  When the
first node's namespace exists it starts the one-node Ceph cluster in the hub namespace,
stages ``make install`` and writes the nodes' /etc files (``lab.image``); for every
node it starts a BMC (``lab.bmc``); once the cluster has formed it loads one
fence_hakit device per node from the snippets generator, which also sets
``stonith-enabled=true``.  (The seed CIB keeps fencing off until then: a DC with fencing
on and no device yet would try, and fail, to fence a node still joining.)
"""

from __future__ import annotations

import secrets
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError
from lab import bmc, cephfence, checkout, image, install, stack
from lab.bmc import POWER_ON_DELAY
from lab.ceph import CephCluster, free_port

if TYPE_CHECKING:
    from lab.cluster import Lab
    from lab.layout import LabLayout, LabNode

#: How long the stonith devices may take to start once configured.
DEVICES_TIMEOUT = 60.0
CEPH_TIMEOUT = 90.0


class LabServices:
    """Ceph in the hub, a BMC per node, hakit on every node, fence_hakit devices."""

    def __init__(self, fencing_text: Optional[Callable[[LabLayout], str]] = None, *,
                 ceph_fencing: bool = False, osd_bytes: int = 1 << 30,
                 power_on_delay: float = POWER_ON_DELAY) -> None:
        """``fencing_text``: crm text of other fence devices (``fence-NODE`` each, and
        ``stonith-enabled=true``) instead of the fence_hakit snippet.  ``ceph_fencing``:
        fence_hakit_ceph as each node's second level (``lab.cephfence``), and the
        stack with requires=unfencing.  ``osd_bytes``: the memstore OSD's size (the
        scaled lab's images need more than the default).  ``power_on_delay``: how long a
        BMC waits before booting a node it powered on (a fenced node's reboot)."""
        self.fencing_text = fencing_text
        self.ceph_fencing = ceph_fencing
        self.osd_bytes = osd_bytes
        self.power_on_delay = power_on_delay
        self.ceph: Optional[CephCluster] = None
        self._ceph_thread: Optional[threading.Thread] = None
        self._ceph_error: Optional[BaseException] = None

    def cluster_properties(self) -> dict[str, str]:
        return {"stonith-enabled": "false"}

    def node_created(self, lab: Lab, node: LabNode) -> None:
        if self.ceph is None:
            self._shared(lab)
        start_bmc(lab, node, self.power_on_delay)

    def _shared(self, lab: Lab) -> None:
        """Ceph starts in a thread while the nodes boot: its clients' configuration (fixed
        mon port, fsid) is written first, the user's key once the cluster runs."""
        lay, step = lab.layout, lab.progress.step
        port = free_port(str(lay.hub_address.ip), lay.hub_netns)
        self.ceph = CephCluster(address=str(lay.hub_address.ip), netns=lay.hub_netns,
                                base=lay.state_dir, mon_port=port,
                                osd_bytes=self.osd_bytes)
        with step("hakit staged (make install DESTDIR) for every node's private mounts"):
            install.stage(lab.runner, Deadline(120), image.stage_dir(lay.state_dir))
            self._write_etc(lab)
            image.make_dev_hakit(lay.state_dir)
        self._ceph_thread = threading.Thread(target=self._start_ceph, args=(lab,),
                                             name="lab-ceph", daemon=True)
        self._ceph_thread.start()

    def _start_ceph(self, lab: Lab) -> None:
        try:
            ceph = self.ceph
            if ceph is None:
                return
            ceph.start()
            names = stack.stack_names(lab.layout)
            ceph.create_pool(names.pool)
            keyring, _ = ceph.create_user(stack.CEPH_USER, names.pool)
            if self.ceph_fencing:
                cephfence.create_user(ceph, lab.layout.state_dir)
            # Into the same inode: the nodes' /etc overlays already show this file.
            target = image.etc_dir(lab.layout.state_dir) / "ceph" / Path(stack.CEPH_KEYRING).name
            with open(target, "wb") as out:
                out.write(keyring.read_bytes())
        except BaseException as exc:
            self._ceph_error = exc

    def _wait_ceph(self, lab: Lab) -> None:
        if self._ceph_thread is None:
            return
        with lab.progress.step(f"Ceph: one mon, mgr and OSD in {lab.layout.hub_netns} on "
                               f"{lab.layout.hub_address.ip} (started in parallel)"):
            self._ceph_thread.join(CEPH_TIMEOUT)
            if self._ceph_thread.is_alive():
                raise GenericError("Ceph did not come up in time")
            if self._ceph_error is not None:
                raise GenericError(f"Ceph did not come up: {self._ceph_error}") \
                    from self._ceph_error
        self._ceph_thread = None

    def _write_etc(self, lab: Lab) -> None:
        if self.ceph is None:
            raise GenericError("Ceph is not configured")
        etc = image.etc_dir(lab.layout.state_dir)
        ceph_dir, hakit_dir = etc / "ceph", etc / "hakit"
        ceph_dir.mkdir(parents=True)
        hakit_dir.mkdir(mode=0o700)
        # The nodes' client configuration: no admin socket or log file (the cluster's own
        # paths are under the state directory, hidden by each node's /run).
        Path(ceph_dir / Path(stack.CEPH_CONF).name).write_text(
            f"[global]\nfsid = {self.ceph.fsid}\nmon host = {self.ceph.mon_host}\n"
            "auth cluster required = cephx\nauth service required = cephx\n"
            "auth client required = cephx\nms bind msgr1 = false\n"
            "mon client hunt interval = 0.5\n\n[client]\nadmin socket =\n"
            "log file = /dev/null\n")
        target = ceph_dir / Path(stack.CEPH_KEYRING).name
        target.touch(mode=0o600)  # filled in once Ceph runs
        if self.ceph_fencing:
            cephfence.keyring_file(lab.layout.state_dir).touch(mode=0o600)
        password = f"hk{secrets.token_hex(6)}"
        script = hakit_dir / Path(stack.PASSWORD_SCRIPT).name
        script.write_text(bmc.password_script(password))
        script.chmod(0o700)
        (lab.layout.state_dir / "bmcs").mkdir(mode=0o700, exist_ok=True)
        (lab.layout.state_dir / "bmcs" / "password").write_text(password)

    def cluster_formed(self, lab: Lab) -> None:
        lay = lab.layout
        self._wait_ceph(lab)
        what = ("a fence_hakit device per node (hakit-snippet fencing)"
                if self.fencing_text is None else "the given fence devices")
        if self.ceph_fencing:
            what += ", then fence_hakit_ceph (level 2, provides unfencing)"
        with lab.progress.step(f"fencing: {what}, stonith-enabled=true"):
            argv = stack.fencing_snippet_argv(sys.executable, lay)
            if self.ceph_fencing:
                argv += cephfence.snippet_args(lay)
            text = (lab.runner.run(argv, lab.step_deadline(), env=snippet_env()).stdout
                    if self.fencing_text is None else self.fencing_text(lay))
            load(lab, lay.nodes[0].name, text)
            devices = [f"fence-{n.name}" for n in lay.nodes]
            if self.ceph_fencing:
                devices.append(cephfence.DEVICE)
            lab.wait_for(lambda st: all(
                any(r.id == d and r.role == "Started" for r in st.resources)
                for d in devices), DEVICES_TIMEOUT, "waiting for the fence devices")

    def teardown(self, lab: Lab) -> None:
        """Nothing beyond Lab.down: it kills every process in the hub namespace."""


def start_bmc(lab: Lab, node: LabNode, delay: float = POWER_ON_DELAY) -> None:
    """Give ``node`` its BMC: an address on the hub bridge and ipmi_sim listening on it."""
    lay = lab.layout
    address = stack.bmc_address(lay, node)
    with lab.progress.step(f"BMC of {node.name}: ipmi_sim on {address.ip}:623 "
                           f"in {lay.hub_netns}"):
        lab.runner.run(["ip", "-n", lay.hub_netns, "addr", "replace", str(address),
                        "dev", "br0"], lab.step_deadline())
        sim = bmc.LabBmc(bmc.bmc_dir(lay.state_dir, node.name), address)
        bmc.record_address(sim)
        off, on = bmc.power_commands(lay.state_dir, node.name, delay)
        password = (lay.state_dir / "bmcs" / "password").read_text()
        sim.start(lab.runner, lay.hub_netns, password, off=off, on=on, env=checkout.child_env(),
                  deadline=lab.step_deadline())


def snippet_env() -> dict[str, str]:
    return {"PYTHONPATH": checkout.pythonpath()}


def load(lab: Lab, node: str, crm_text: str, timeout: float = 60.0) -> None:
    """``crm configure load update`` of ``crm_text`` on ``node`` (through a file in its /run)."""
    path = f"/run/hakit-lab-{secrets.token_hex(4)}.crm"
    lab.run_on(node, ["tee", path], stdin=crm_text)
    try:
        res = lab.run_on(node, ["crm", "configure", "load", "update", path], check=False,
                         timeout=timeout)
        if not res.ok:
            raise GenericError(f"crm configure load failed: {res.stderr.strip()[-400:]}")
    finally:
        lab.run_on(node, ["rm", "-f", path], check=False)


