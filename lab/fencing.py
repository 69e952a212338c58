"""Where per-node fencing plugs into the lab (placeholder until fence_hakit and the BMCs land).

The full lab gives each node a simulated BMC (tests/harness/bmc.py) whose power-off kills
every process in the node's namespaces (``Lab.crash``) and whose power-on boots the node
again (``Lab.boot``) only after a delay of several seconds: an instant power-on lets the
fenced node rejoin before the fencer has reported its result, and the node is then fenced
for good.  A stonith resource running ``fence_hakit`` against that BMC is created once the
cluster has formed.  ``NoFencing`` is what the lab uses until then.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

from hakit.runner import SYSTEM_PATH
from lab import checkout

if TYPE_CHECKING:
    from lab.cluster import Lab
    from lab.layout import LabNode

#: How long a simulated BMC waits between power-on and booting the node.
POWER_ON_DELAY = 8.0


def power_commands(lab: Lab, node: str,
                   delay: float = POWER_ON_DELAY) -> tuple[list[str], list[str]]:
    """The argv a node's BMC simulator runs for power-off and for power-on.

    Power-on boots only after ``delay``; the simulator starts it detached so that its
    answer to the fencer does not wait for the boot.  Run both with ``power_env()``.
    """
    base = [sys.executable, "-m", "lab", "--state-dir", str(lab.layout.state_dir)]
    return [*base, "crash", node], [*base, "boot", node, "--delay", f"{delay:g}"]


def power_env() -> dict[str, str]:
    """The environment for ``power_commands``: system PATH, and the checkout's hakit and lab
    on PYTHONPATH."""
    return {"PATH": SYSTEM_PATH, "LC_ALL": "C", "PYTHONPATH": checkout.pythonpath()}


class FencingHook(Protocol):
    """What a lab fencing setup provides; every method is called by ``Lab``."""

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
