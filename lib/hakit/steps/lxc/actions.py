"""ocf:hakit:lxc's actions, as its agent and the container's container layer run them.

The monitor's module (and with it ``host``) comes with this one; start's, stop's and
reload's modules are imported only by the action that runs them, so a monitor (run every
few seconds on every node) does not pay for them (start-up cost: docs/developing.md).
"""

from __future__ import annotations

from hakit.steps.lxc.host import check_environment, check_host
from hakit.steps.lxc.monitor import monitor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.steps.lxc.config import LxcConfig

__all__ = ["check_environment", "check_host", "monitor", "reload", "start", "stop"]


def start(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.lxc import start
    return start.start(cfg, ctx)


def stop(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.lxc import stop
    return stop.stop(cfg, ctx)


def reload(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.lxc import reload
    return reload.reload(cfg, ctx)
