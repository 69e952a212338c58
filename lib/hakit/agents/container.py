"""ocf:hakit:container — one resource per container: RBD map, ext4 mount, LXC, optional VIP.

Each layer is run by the primitive agent that owns it (ocf:hakit:rbd, fs, lxc, vip): its
declared handlers get a ``Context`` whose values are that agent's own parameters, derived
from this agent's.  So mapping, fsck/mount, unmount-with-holders, container start/stop and
the VIP have one implementation, and one deadline (this action's) covers every step.
"""

from __future__ import annotations

import os

from hakit.agents import fs, lxc, rbd, vip
from hakit.errors import (
    ArgsError,
    ConfigError,
    ExitCode,
    GenericError,
    HakitError,
    NotInstalledError,
    NotRunningError,
)
from hakit.ocf.agent import Action, Agent, Context, always
from hakit.ocf.params import AbsolutePath, Address, Name, Param, Values
from hakit.os import netns
from hakit.steps.fs import config as fs_config
from hakit.steps.lxc import config as lxc_config
from hakit.steps.rbd import config as rbd_config
from hakit.steps.rbd.layout import Layout
from hakit.steps.vip import actions as vip_actions
from hakit.steps.vip import config as vip_config
from hakit.steps.vip.dad import EarlyProbe

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Callable, Optional

    from hakit.deadline import Deadline

#: Part of start's time kept back for undoing the steps that succeeded (at most this much).
UNDO_RESERVE_MAX = 30.0
#: Part of stop's time a layer leaves to the layers below it (at most this much): the
#: container's clean shutdown would otherwise use it all, leaving nothing for the unmount.
LOWER_RESERVE_MAX = 30.0

NAME = Param("name", Name("a container name"), "Container name",
             "The container's name (lxc-start -n). Its filesystem is mounted at "
             "LXCPATH/NAME, and unless image is set the RBD image has the same name.",
             required=True, unique_group="container")
LXCPATH = Param("lxcpath", AbsolutePath(), "LXC path",
                "The directory holding the container (lxc-start -P); the image's filesystem "
                "is mounted at LXCPATH/NAME (the directory is created when missing) and "
                "holds the container's config and rootfs.", default="/var/lib/lxc",
                unique_group="container")
IMAGE = Param("image", Name("an RBD image name"), "RBD image",
              "The image holding the container's filesystem (default: the container's "
              "name).", unique_group="image")
MOUNT_OPTIONS = Param("mount_options", fs_config.MountOptionsType(), "Mount options",
                      "Mount options of the container's filesystem, as ocf:hakit:fs's "
                      "options (remount, bind and move are refused).", default="")
IP = Param("ip", Address(), "Virtual IP address",
           "An IPv4 or IPv6 address added after the container starts and removed before it "
           "stops (ocf:hakit:vip, with duplicate-address detection). None when unset.",
           unique_group="address")

PARAMS: tuple[Param[object], ...] = (
    NAME, rbd_config.POOL, IMAGE, rbd_config.NAMESPACE, rbd_config.CEPHCONF, rbd_config.USER,
    rbd_config.KEYRING, rbd_config.DEVICE_TYPE, rbd_config.MS_MODE, rbd_config.BREAK_LOCK,
    fs_config.FSCK, MOUNT_OPTIONS, LXCPATH,
    lxc_config.HEALTH_COMMAND, lxc_config.STOP_TIMEOUT, lxc_config.LOG_FILE, IP,
    vip_config.CIDR_NETMASK, vip_config.NIC, vip_config.NETWORK_NAMESPACE,
)

#: The layers, bottom first: start runs them in this order, stop in reverse.
MAP, MOUNT, CONTAINER, VIP = "map", "mount", "container", "vip"


class StepFailed(HakitError):
    """A step failed; the reason names it and the exit code is the step's own."""

    def __init__(self, reason: str, exit_code: ExitCode) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


class Layer:
    """One step: a primitive agent and its parameter values for this container."""

    def __init__(self, name: str, agent: Agent, values: Values,
                 namespace: Optional[str] = None) -> None:
        self.name = name
        self.agent = agent
        self.values = values
        self.namespace = namespace  # the VIP's network namespace, entered only for its step

    def context(self, ctx: Context, deadline: Optional[Deadline] = None) -> Context:
        return Context(ctx.env, self.values, deadline or ctx.deadline, ctx.log, ctx.runner)

    def call(self, handler: Callable[[Context], Optional[ExitCode]], ctx: Context,
             deadline: Optional[Deadline] = None) -> Optional[ExitCode]:
        """The handler's result: None, or an exit code it returned instead of raising."""
        with netns.inside(self.namespace):
            return handler(self.context(ctx, deadline))


# ----- parameters -----------------------------------------------------------------------
def _values(params: tuple[Param[object], ...], given: dict[str, object]) -> Values:
    """A primitive's values: those derived from ours, and its own defaults for the rest."""
    parsed: dict[str, object] = {}
    for param in params:
        value = given.get(param.name)
        if value is not None:
            parsed[param.name] = value
        elif param.default is not None:
            parsed[param.name] = param.parse(param.default)
    return Values(parsed, [name for name, value in given.items() if value is not None])


def layers(values: Values) -> list[Layer]:
    """The steps for this container, bottom first (the VIP only when ``ip`` is set)."""
    name = values[NAME]
    map_values = _values(rbd_config.PARAMS, {
        "pool": values[rbd_config.POOL], "image": values.get(IMAGE) or name,
        "namespace": values.get(rbd_config.NAMESPACE),
        "cephconf": values[rbd_config.CEPHCONF], "user": values[rbd_config.USER],
        "keyring": values.get(rbd_config.KEYRING),
        "device_type": values[rbd_config.DEVICE_TYPE],
        "break_lock": values[rbd_config.BREAK_LOCK],
        "ms_mode": values[rbd_config.MS_MODE],
    })
    device = str(Layout().link(rbd_config.spec_of(map_values)))
    found: list[Layer] = [
        Layer(MAP, rbd.AGENT, map_values),
        Layer(MOUNT, fs.AGENT, _values(fs_config.PARAMS, {
            "device": fs_config.DEVICE.parse(device),
            "directory": os.path.join(values[LXCPATH], name),
            "fsck": values[fs_config.FSCK], "options": values[MOUNT_OPTIONS],
            "create_directory": True,
        })),
        Layer(CONTAINER, lxc.AGENT, _values(lxc.AGENT.params, {
            "name": name, "lxcpath": values[LXCPATH],
            "health_command": values.get(lxc_config.HEALTH_COMMAND),
            "stop_timeout": values.get(lxc_config.STOP_TIMEOUT),
            "log_file": values.get(lxc_config.LOG_FILE),
        })),
    ]
    if values.get(IP) is not None:
        namespace = values.get(vip_config.NETWORK_NAMESPACE)
        found.append(Layer(VIP, vip.AGENT, _values(vip_config.PARAMS, {
            "ip": values[IP], "cidr_netmask": values.get(vip_config.CIDR_NETMASK),
            "nic": values.get(vip_config.NIC), "network_namespace": namespace,
        }), namespace))
    return found


def validate(values: Values) -> None:
    """The primitives' own cross-parameter checks, on the values derived for them."""
    if values.get(IP) is None:
        for param in (vip_config.CIDR_NETMASK, vip_config.NIC, vip_config.NETWORK_NAMESPACE):
            if values.get(param) is not None:
                raise ConfigError(f"parameter '{param.name}' is set but ip is not")
    for layer in layers(values):
        if layer.agent.validate is not None:
            layer.agent.validate(layer.values)


def check_environment(ctx: Context) -> None:
    """This host, before start and at validate-all depth 10: everything the steps need
    before the filesystem is mounted (the container's config is checked after the mount)."""
    for layer in layers(ctx.params):
        if layer.name == CONTAINER:
            _check_lxc_host(ctx)
        elif layer.agent.check_environment is not None:
            layer.call(layer.agent.check_environment, ctx)


def _check_lxc_host(ctx: Context) -> None:
    """ocf:hakit:lxc's host checks that hold before the container's filesystem is mounted."""
    ctx.runner.require("lxc-start")
    if ctx.params.get(lxc_config.HEALTH_COMMAND) is not None:
        ctx.runner.require("lxc-attach")
    lxcpath = ctx.params[LXCPATH]
    if not os.path.exists(lxcpath):
        raise NotInstalledError(f"parameter 'lxcpath': {lxcpath} does not exist on this node")
    if not os.path.isdir(lxcpath):
        raise ArgsError(f"parameter 'lxcpath': {lxcpath} is not a directory")


# ----- actions --------------------------------------------------------------------------
def _start_layer(layer: Layer, ctx: Context, deadline: Deadline,
                 early: Optional[EarlyProbe]) -> None:
    if layer.name == CONTAINER and layer.agent.check_environment is not None:
        # The config and rootfs exist only now that the filesystem is mounted.
        layer.call(layer.agent.check_environment, ctx, deadline)
    if layer.name == VIP:
        layer.call(lambda layer_ctx: vip_actions.start(vip_config.from_values(layer_ctx.params),
                                                        layer_ctx, early), ctx, deadline)
        return
    layer.call(layer.agent.start, ctx, deadline)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HakitError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def start(ctx: Context) -> None:
    """Each step in order; on a failure, stop the steps begun so far in reverse."""
    steps = layers(ctx.params)
    left = ctx.deadline.remaining()
    # Undoing needs time too: the steps may use all but a reserve of start's timeout.
    steps_deadline = ctx.deadline.within(left - min(UNDO_RESERVE_MAX, left / 4))
    # The VIP's conflict probing runs while the lower layers start (EarlyProbe).
    top = steps[-1] if steps[-1].name == VIP else None
    early = (EarlyProbe.begin(vip_config.from_values(top.values),
                              top.context(ctx, steps_deadline))
             if top is not None else None)
    begun: list[Layer] = []
    for layer in steps:
        begun.append(layer)  # a failed step may have left part of itself behind
        try:
            _start_layer(layer, ctx, steps_deadline, early)
        except Exception as exc:
            ctx.log.error("step %s failed: %s; undoing %s", layer.name, _reason(exc),
                          ", ".join(b.name for b in reversed(begun)))
            undo = _stop_layers(ctx, begun)
            code = exc.exit_code if isinstance(exc, HakitError) else ExitCode.ERR_GENERIC
            undone = ", ".join(b.name for b in reversed(begun[:-1])) or "nothing to undo"
            if undo is not None:
                # Something is left behind: a failure Pacemaker must see as such.
                raise StepFailed(f"start failed at step {layer.name}: {_reason(exc)}; then "
                                 f"{undo}", ExitCode.ERR_GENERIC) from exc
            raise StepFailed(f"start failed at step {layer.name}: {_reason(exc)} "
                             f"(undone: {undone})", code) from exc
    ctx.log.info("container %s is up: %s", ctx.params[NAME],
                 ", ".join(layer.name for layer in steps))


def _stop_layers(ctx: Context, steps: list[Layer]) -> Optional[str]:
    """Stop ``steps`` top first; None when all stopped, else why the first one could not."""
    for index in range(len(steps) - 1, -1, -1):
        layer = steps[index]
        deadline = ctx.deadline
        if index > 0:
            left = deadline.remaining()
            deadline = deadline.within(left - min(LOWER_RESERVE_MAX, left / 3))
        try:
            layer.call(layer.agent.stop, ctx, deadline)
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


def stop(ctx: Context) -> None:
    """Every step in reverse; each is idempotent, so stopping what is down succeeds."""
    why = _stop_layers(ctx, layers(ctx.params))
    if why is not None:
        # OCF: a stop that cannot complete must fail, so that Pacemaker fences the node
        # rather than start the container elsewhere on a still-mapped image.
        raise GenericError(why)


def reload_agent(ctx: Context) -> None:
    """Each layer's reload-agent with its derived values (parameters that only the next
    start, stop or monitor reads need nothing more); the stack keeps running."""
    for layer in layers(ctx.params):
        if layer.agent.reload_agent is not None:
            layer.call(layer.agent.reload_agent, ctx)


def monitor(ctx: Context) -> None:
    """One pass over the layers, bottom first; the reason names the failing one.

    All down is stopped (rc 7); all up is running; anything in between is a failure.
    """
    up: list[str] = []
    down: list[tuple[str, str]] = []
    for layer in layers(ctx.params):
        try:
            code = layer.call(layer.agent.monitor, ctx)
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
        # A primitive may return its code instead of raising (lxc's probe does: cheaper).
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
        raise NotRunningError(f"container {ctx.params[NAME]} is stopped ({name}: {why})")
    raise GenericError(f"{name} is down while {', '.join(up)} "
                       f"{'is' if len(up) == 1 else 'are'} up: {why}")


AGENT = Agent(
    name="container",
    version="0.1.0",
    shortdesc="An LXC container on a Ceph RBD image, as one resource",
    longdesc=(
        "One resource per container: maps the container's RBD image (as ocf:hakit:rbd), "
        "checks and mounts its ext4 filesystem at LXCPATH/NAME (as ocf:hakit:fs), starts the "
        "container (as ocf:hakit:lxc) and optionally adds a VIP (as ocf:hakit:vip), all "
        "within the start timeout, using those agents' own code. When a step fails, the "
        "steps begun are stopped in reverse and the exit reason names the failed step. stop "
        "runs the steps in reverse; it fails, naming the step, when one cannot complete "
        "(Pacemaker then fences). monitor depth 0 checks every layer cheaply (mapping, "
        "mount, container state, address) and names the failing layer; depth 10 adds the "
        "RBD lock check, the device read and health_command; depth 20 the write check."),
    params=PARAMS,
    actions=(
        Action("start", 240),
        Action("stop", 240),
        Action("monitor", 30, interval=10, depth=0),
        Action("monitor", 60, interval=60, depth=10),
        Action("monitor", 60, interval=120, depth=20),
    ),
    start=start,
    stop=stop,
    monitor=monitor,
    validate=validate,
    check_environment=check_environment,
    reload_agent=reload_agent,
    exclusive=True,
    device_io=always,
)
