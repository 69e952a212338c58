"""The container's stack as layers: each a kind's steps bound to that kind's record.

A layer runs the same step functions as the primitive agent of its kind (ocf:hakit:rbd,
fs, lxc, vip), with the record ``config.from_values`` composed, under the deadline the
container's action passes down; so mapping, fsck/mount, unmount-with-holders, container
start/stop and the VIP have one implementation.
"""

from __future__ import annotations

from hakit.lean import frozen
from hakit.ocf.agent import Context
from hakit.os import netns
from hakit.steps.fs import actions as fs_actions
from hakit.steps.lxc import actions as lxc_actions
from hakit.steps.rbd import actions as rbd_actions
from hakit.steps.vip import actions as vip_actions
from hakit.steps.vip import resolve as vip_resolve

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Callable, Optional, TypeVar

    from hakit.deadline import Deadline
    from hakit.errors import ExitCode
    from hakit.steps.container.config import ContainerConfig
    from hakit.steps.vip.dad import EarlyProbe

    Step = Callable[[Context], Optional[ExitCode]]
    R = TypeVar("R")  # a layer's record

#: The layers, bottom first: start runs them in this order, stop in reverse.
MAP, MOUNT, CONTAINER, VIP = "map", "mount", "container", "vip"


@frozen
class Layer:
    """One layer: its name and its kind's steps, already bound to its record."""

    name: str
    start: Step
    stop: Step
    monitor: Step
    # Checks of this host before start (validate-all depth 10); the container layer's
    # need its mounted filesystem, so start runs those (``ready``) just before it.
    check: Optional[Step] = None
    ready: Optional[Step] = None
    reload: Optional[Step] = None
    namespace: Optional[str] = None  # the VIP's network namespace, entered for its steps only

    def call(self, step: Step, ctx: Context, deadline: Optional[Deadline] = None
             ) -> Optional[ExitCode]:
        """The step's result under ``deadline`` (default: the action's), in the layer's
        namespace: None, or an exit code it returned instead of raising."""
        with netns.inside(self.namespace):
            return step(ctx.under(deadline) if deadline is not None else ctx)


def _bind(step: Callable[[R, Context], Optional[ExitCode]], record: R) -> Step:
    def bound(ctx: Context) -> Optional[ExitCode]:
        return step(record, ctx)
    return bound


def layers(cfg: ContainerConfig, early: Optional[EarlyProbe] = None) -> list[Layer]:
    """The stack, bottom first (the VIP only when ``ip`` is set); the VIP's start uses the
    conflict probe ``early`` begun before the lower layers, when start has one."""
    found = [
        Layer(MAP, _bind(rbd_actions.start, cfg.map), _bind(rbd_actions.stop, cfg.map),
              _bind(rbd_actions.monitor, cfg.map), check=_bind(rbd_actions.check_host, cfg.map),
              reload=_bind(rbd_actions.check_host, cfg.map)),
        Layer(MOUNT, _bind(fs_actions.start, cfg.mount), _bind(fs_actions.stop, cfg.mount),
              _bind(fs_actions.monitor, cfg.mount), check=_bind(fs_actions.check_host, cfg.mount),
              reload=_bind(fs_actions.reload, cfg.mount)),
        Layer(CONTAINER, _bind(lxc_actions.start, cfg.container),
              _bind(lxc_actions.stop, cfg.container), _bind(lxc_actions.monitor, cfg.container),
              check=_bind(lxc_actions.check_host, cfg.container),
              ready=_bind(lxc_actions.check_environment, cfg.container),
              reload=_bind(lxc_actions.reload, cfg.container)),
    ]
    if cfg.vip is not None:
        vip = cfg.vip

        def vip_start(ctx: Context) -> Optional[ExitCode]:
            return vip_actions.start(vip, ctx, early)
        found.append(Layer(VIP, vip_start,
                           _bind(vip_actions.stop, cfg.vip), _bind(vip_actions.monitor, cfg.vip),
                           check=_bind(vip_resolve.check_environment, cfg.vip),
                           namespace=cfg.vip.namespace))
    return found

