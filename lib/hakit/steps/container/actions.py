"""ocf:hakit:container's actions over its layers: start in order with undo, stop in reverse,
one monitor pass; one deadline (the action's) covers every layer."""

from __future__ import annotations

from hakit.errors import (
    ExitCode,
    GenericError,
    HakitError,
    NotInstalledError,
    NotRunningError,
)
from hakit.os import netns
from hakit.steps.container.layers import Layer, layers

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.steps.container.config import ContainerConfig

#: Part of start's time kept back for undoing the steps that succeeded (at most this much).
UNDO_RESERVE_MAX = 30.0
#: Part of stop's time a layer leaves to the layers below it (at most this much): the
#: container's clean shutdown would otherwise use it all, leaving nothing for the unmount.
LOWER_RESERVE_MAX = 30.0


class StepFailed(HakitError):
    """A step failed; the reason names it and the exit code is the step's own."""

    def __init__(self, reason: str, exit_code: ExitCode) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HakitError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def check_environment(cfg: ContainerConfig, ctx: Context) -> None:
    """This host, before start and at validate-all depth 10: everything the layers need
    before the filesystem is mounted (the container's config is checked after the mount)."""
    for layer in layers(cfg):
        if layer.check is not None:
            layer.call(layer.check, ctx)


def start(cfg: ContainerConfig, ctx: Context) -> None:
    """Each layer in order; on a failure, stop the layers begun so far in reverse."""
    left = ctx.deadline.remaining()
    # Undoing needs time too: the steps may use all but a reserve of start's timeout.
    steps_deadline = ctx.deadline.within(left - min(UNDO_RESERVE_MAX, left / 4))
    # The VIP's conflict probing runs while the lower layers start (EarlyProbe; start
    # only, like every start step: the monitor path does not import it).
    from hakit.steps.vip.dad import EarlyProbe
    early = (EarlyProbe.begin(cfg.vip, ctx.under(steps_deadline))
             if cfg.vip is not None else None)
    steps = layers(cfg, early)
    begun: list[Layer] = []
    for layer in steps:
        begun.append(layer)  # a failed step may have left part of itself behind
        try:
            if layer.ready is not None:
                # The container's config and rootfs exist only now that it is mounted.
                layer.call(layer.ready, ctx, steps_deadline)
            layer.call(layer.start, ctx, steps_deadline)
        except Exception as exc:
            ctx.log.error("step %s failed: %s; undoing %s", layer.name, _reason(exc),
                          ", ".join(b.name for b in reversed(begun)))
            undo = stop_layers(ctx, begun)
            code = exc.exit_code if isinstance(exc, HakitError) else ExitCode.ERR_GENERIC
            undone = ", ".join(b.name for b in reversed(begun[:-1])) or "nothing to undo"
            if undo is not None:
                # Something is left behind: a failure Pacemaker must see as such.
                raise StepFailed(f"start failed at step {layer.name}: {_reason(exc)}; then "
                                 f"{undo}", ExitCode.ERR_GENERIC) from exc
            raise StepFailed(f"start failed at step {layer.name}: {_reason(exc)} "
                             f"(undone: {undone})", code) from exc
    ctx.log.info("container %s is up: %s", cfg.name, ", ".join(layer.name for layer in steps))


def stop_layers(ctx: Context, steps: list[Layer]) -> Optional[str]:
    """Stop ``steps`` top first; None when all stopped, else why the first one could not."""
    for index in range(len(steps) - 1, -1, -1):
        layer = steps[index]
        deadline = ctx.deadline
        if index > 0:
            left = deadline.remaining()
            deadline = deadline.within(left - min(LOWER_RESERVE_MAX, left / 3))
        try:
            layer.call(layer.stop, ctx, deadline)
        except netns.NamespaceMissing:
            # As ocf:hakit:vip's own stop: the address went with its namespace (or never
            # could be there: bad configuration never fails a stop).
            ctx.log.info("network namespace %s does not exist: no address to remove",
                         layer.namespace)
        except Exception as exc:
            # The layers below cannot go while this one holds them (a running container
            # keeps its filesystem busy, a mount keeps the mapping): stop here, loudly.
            ctx.log.error("stop of step %s failed: %s", layer.name, _reason(exc))
            return f"stop failed at step {layer.name}: {_reason(exc)}"
    return None


def stop(cfg: ContainerConfig, ctx: Context) -> None:
    """Every layer in reverse; each is idempotent, so stopping what is down succeeds."""
    why = stop_layers(ctx, layers(cfg))
    if why is not None:
        # OCF: a stop that cannot complete must fail, so that Pacemaker fences the node
        # rather than start the container elsewhere on a still-mapped image.
        raise GenericError(why)


def reload(cfg: ContainerConfig, ctx: Context) -> None:
    """Each layer's reload with its record (values that only the next start, stop or
    monitor reads need nothing more); the stack keeps running."""
    for layer in layers(cfg):
        if layer.reload is not None:
            layer.call(layer.reload, ctx)


def monitor(cfg: ContainerConfig, ctx: Context) -> None:
    """One pass over the layers, bottom first; the reason names the failing one.

    All down is stopped (rc 7); all up is running; anything in between is a failure.
    """
    up: list[str] = []
    down: list[tuple[str, str]] = []
    for layer in layers(cfg):
        try:
            code = layer.call(layer.monitor, ctx)
        except (NotRunningError, netns.NamespaceMissing) as exc:
            # (no namespace, no address in it: ocf:hakit:vip's own monitor says the same)
            down.append((layer.name, exc.reason))
            continue
        except NotInstalledError as exc:
            # Kept as such: the dispatcher turns it into rc 7 for a probe (a node without
            # the software cannot be running the resource).
            raise NotInstalledError(f"{layer.name}: {exc.reason}") from exc
        except HakitError as exc:
            raise StepFailed(f"{layer.name}: {exc.reason}", exc.exit_code) from exc
        # A layer may return its code instead of raising (lxc's probe does: cheaper).
        if code == ExitCode.NOT_RUNNING:
            down.append((layer.name, "not running"))
            continue
        if code is not None and code != ExitCode.SUCCESS:
            raise StepFailed(f"{layer.name}: monitor returned {int(code)}", code)
        up.append(layer.name)
    if not down:
        return
    name, why = down[0]
    if not up:
        raise NotRunningError(f"container {cfg.name} is stopped ({name}: {why})")
    raise GenericError(f"{name} is down while {', '.join(up)} "
                       f"{'is' if len(up) == 1 else 'are'} up: {why}")

