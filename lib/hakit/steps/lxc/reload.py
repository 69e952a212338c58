"""reload-agent: every reloadable value is read afresh by the action that uses it (start,
stop, monitor), so nothing restarts; what start recorded for later (the halt signal, for a
stop that cannot read the configuration) is updated now."""

from __future__ import annotations

from hakit.errors import HakitError
from hakit.steps.lxc import host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.steps.lxc.config import LxcConfig


def reload(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    if cfg.health_command is not None:
        ctx.runner.require("lxc-attach")
    marker = host.marker(cfg)
    if marker.read() is None or not host.lxcpath_usable(cfg, ctx):
        return None  # not started by the cluster here: nothing recorded to update
    halt_signal: Optional[int]
    try:
        halt_signal = host.halt_signal(cfg, host.open_container(cfg))
    except HakitError as exc:  # a broken config: keep what start recorded from it
        ctx.log.warning("reload without the configuration file: %s", exc.reason)
        if cfg.shutdown_signal is None:
            return None
        halt_signal = cfg.shutdown_signal
    marker.update(halt_signal=halt_signal)
    ctx.log.info("container %s: parameters reloaded (halt signal %s)", cfg.name, halt_signal)
    return None
