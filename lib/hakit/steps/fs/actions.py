"""ocf:hakit:fs's actions, as its agent and the container's mount layer run them.

The monitor's module comes with this one; start's, stop's and the host checks' modules are
imported only by the action that runs them, so a monitor (run every few seconds on every
node) does not pay for fsck policy, mount(2) options or the holders' search (start-up
cost: docs/developing.md).
"""

from __future__ import annotations

from hakit.steps.fs.monitor import monitor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.steps.fs.config import FsConfig

__all__ = ["check_host", "monitor", "reload", "start", "stop"]


def start(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.fs import mount
    return mount.start(cfg, ctx)


def stop(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.fs import unmount
    return unmount.stop(cfg, ctx)


def reload(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    from hakit.steps.fs import host
    return host.reload(cfg, ctx)


def check_host(cfg: FsConfig, ctx: Context) -> None:
    """validate-all depth 10 and before start: this host can run the instance."""
    from hakit.steps.fs import host
    host.check(cfg, ctx.runner)
