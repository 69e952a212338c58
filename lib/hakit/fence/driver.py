"""The generic fence driver: deadline, verification polling and the power sequences.

A protocol only opens a ``PowerDevice``; everything about waiting lives here, so every
protocol verifies the same way.  The fence-agent API's rules followed here:
"Verifiable operation" (query the device after a change) and "Timeout is a failure, not
success".  ``power_timeout`` is measured in real seconds on the monotonic clock.
"""

from __future__ import annotations

from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, ConfigError, UnimplementedError
from hakit.fence.agent import FenceAgent
from hakit.fence.context import FenceContext
from hakit.fence.device import DiagnosticDevice, PowerDevice, PowerState
from hakit.fence.errors import FenceError, StateUnchanged
from hakit.fence.options import (
    DELAY,
    LOGIN_TIMEOUT,
    METHOD,
    NODENAME,
    POWER_TIMEOUT,
    POWER_WAIT,
    REQUEST_TIMEOUT,
    RETRY_ON,
    STATUS_SLEEP,
)
from hakit.ocf.params import Values

#: fence-agent API exit codes.
SUCCESS = 0
FAILED = 1
STATUS_OFF = 2


def overall_seconds(params: Values, action: str) -> float:
    """The one overall time budget of ``action``, from the options.

    Login, the delay, and for each power change its request, verification window
    (``power_timeout``) and settling time; reboot has an off and up to ``retry_on`` ons.
    """
    request = params[REQUEST_TIMEOUT]
    change = request + params[POWER_TIMEOUT] + params[POWER_WAIT] + request
    changes = {"on": 1, "off": 1, "reboot": 1 + params[RETRY_ON]}.get(action, 0)
    if action == "reboot" and params[METHOD] == "cycle":
        changes = 2
    delay = params[DELAY] if action in ("off", "reboot") else 0.0
    return params[LOGIN_TIMEOUT] + delay + 2 * request + changes * change


def _target(ctx: FenceContext) -> str:
    node = ctx.params.get(NODENAME)
    return f"node {node}" if node else "the node"


def wait_for(ctx: FenceContext, device: PowerDevice, want: PowerState,
             requested: str) -> None:
    """Poll until the device reports ``want``, within ``power_timeout`` real seconds."""
    seconds = ctx.params[POWER_TIMEOUT]
    window = ctx.deadline.within(seconds)
    last: list[Optional[PowerState]] = [None]
    errors: list[FenceError] = []

    def probe() -> Optional[PowerState]:
        try:
            state = device.get_power(window)
        except FenceError as exc:  # a lost packet is not the end: keep asking until the end
            ctx.log.debug("while waiting for power %s: %s", want.value, exc.reason)
            errors.append(exc)
            return None
        last[0] = state
        return state if state is want else None

    try:
        window.poll(probe, f"waiting for power {want.value}", interval=0.05,
                    max_interval=ctx.params[STATUS_SLEEP])
    except ActionTimeout:
        if last[0] is None and errors:
            raise type(errors[-1])(
                f"{requested} for {_target(ctx)} was accepted, but the power state could not "
                f"be read afterwards: {errors[-1].reason}") from None
        raise StateUnchanged(
            f"{requested} for {_target(ctx)} was accepted, but the device still reported "
            f"power {last[0].value if last[0] else 'unknown'} after {seconds:g}s "
            f"(power_timeout)") from None
    ctx.log.debug("device reports power %s", want.value)
    if ctx.params[POWER_WAIT] > 0:
        ctx.deadline.sleep(ctx.params[POWER_WAIT])


def power_off(ctx: FenceContext, device: PowerDevice, *, check_first: bool = True) -> None:
    """Off, verified: read, request off unless already off, poll until off.

    ``check_first=False`` (fabric agents) always sends the request: a node partly cut
    off reads as not fenced yet, and the request completes it."""
    if check_first and device.get_power(ctx.deadline) is PowerState.OFF:
        ctx.log.info("%s is already powered off", _target(ctx))
        return
    device.request_power(PowerState.OFF, ctx.deadline)
    wait_for(ctx, device, PowerState.OFF, "power off")


def power_on(ctx: FenceContext, device: PowerDevice, *, check_first: bool = True) -> None:
    """On, verified; ``check_first`` as for ``power_off``."""
    if check_first and device.get_power(ctx.deadline) is PowerState.ON:
        ctx.log.info("%s is already powered on", _target(ctx))
        return
    device.request_power(PowerState.ON, ctx.deadline)
    wait_for(ctx, device, PowerState.ON, "power on")


def power_cycle(ctx: FenceContext, device: PowerDevice) -> None:
    """One cycle request, accepted only when the node is seen off and then on again.

    A BMC's "power cycle" may be acknowledged and never carried out (fence_ipmilan reports
    success without checking); here success needs evidence that power went away.
    """
    if device.get_power(ctx.deadline) is PowerState.OFF:
        ctx.log.info("%s is already powered off; powering on", _target(ctx))
        power_on(ctx, device)
        return
    device.request_cycle(ctx.deadline)
    seconds = ctx.params[POWER_TIMEOUT]
    window = ctx.deadline.within(2 * seconds)
    seen_off = [False]

    def probe() -> Optional[bool]:
        try:
            state = device.get_power(window)
        except FenceError as exc:
            ctx.log.debug("while waiting for the cycle: %s", exc.reason)
            return None
        if state is PowerState.OFF:
            seen_off[0] = True
            return None
        return True if seen_off[0] else None

    try:
        # Poll fast: a BMC may keep the power off for about a second only.
        window.poll(probe, "waiting for the power cycle", interval=0.05, max_interval=0.1)
    except ActionTimeout:
        if not seen_off[0]:
            raise StateUnchanged(
                f"power cycle for {_target(ctx)} was accepted, but the node was never seen "
                f"powered off within {2 * seconds:g}s, so the fence cannot be verified; "
                f"use method=onoff") from None
        ctx.log.warning("%s went off but did not come back on", _target(ctx))


def reboot(ctx: FenceContext, device: PowerDevice) -> None:
    """Off verified, then on with retries; only the off part decides success (API)."""
    if ctx.params[METHOD] == "cycle":
        power_cycle(ctx, device)
        return
    power_off(ctx, device)
    attempts = ctx.params[RETRY_ON]
    for attempt in range(1, attempts + 1):
        try:
            device.request_power(PowerState.ON, ctx.deadline)
            wait_for(ctx, device, PowerState.ON, "power on")
            return
        except FenceError as exc:
            ctx.log.warning("power on attempt %d of %d failed: %s", attempt, attempts,
                            exc.reason)
    # The fence-agent API: reboot "0 if the off portion was successful (the on portion
    # failing is a don't-care case for the cluster)".
    ctx.log.warning("%s was fenced (verified off) but did not power on again", _target(ctx))


def diagnostic_interrupt(ctx: FenceContext, device: PowerDevice) -> None:
    """A diagnostic interrupt (NMI), as fence_ipmilan's and fence_redfish's ``diag``.

    Success means the device accepted the request: a machine set to panic on NMI dumps its
    kernel (kdump) and reboots, but nothing here can observe that, so the result is not
    verified (fence-agents: "Diag is a special action that can't be verified").  No
    ``delay``, as fence-agents applies it to off and reboot only.
    """
    if not isinstance(device, DiagnosticDevice):
        raise UnimplementedError("this device cannot send a diagnostic interrupt")
    device.request_diag(ctx.deadline)
    ctx.log.info("diagnostic interrupt accepted for %s (not verifiable: the node dumps "
                 "and reboots only if it is set to panic on NMI)", _target(ctx))


def perform(agent: FenceAgent, ctx: FenceContext) -> int:
    """Run a power action against the agent's device; returns the fence exit code."""
    action = ctx.action
    if action == "list" and agent.lister is not None:
        for plug, alias in agent.lister(ctx):
            ctx.say(f"{plug},{alias}")
        return SUCCESS
    if action in ("list", "list-status"):
        raise UnimplementedError(f"{agent.name} controls a single machine: '{action}' is not "
                                 "supported; set pcmk_host_list instead")
    if action not in ("on", "off", "reboot", "status", "monitor", "diag"):
        raise ConfigError(f"unknown action '{action}'")
    if action not in agent.device_actions:
        raise UnimplementedError(f"{agent.name} does not support '{action}' (it supports "
                                 f"{', '.join(agent.device_actions)})")
    delay = ctx.params[DELAY]
    if action in ("off", "reboot") and delay > 0:
        ctx.log.info("delay: waiting %gs before fencing", delay)
        ctx.deadline.sleep(delay)
    with agent.connect(ctx) as device:
        if action in ("status", "monitor"):
            state = device.get_power(ctx.deadline)
            ctx.log.debug("power is %s", state.value)
            if action == "monitor":
                return SUCCESS  # the device answered; a powered-off node is not a fault
            ctx.say(f"Status: {state.label}")
            return SUCCESS if state is PowerState.ON else STATUS_OFF
        if action == "diag":
            diagnostic_interrupt(ctx, device)
            ctx.say("Success: Diagnostic interrupt sent")
        elif action == "off":
            power_off(ctx, device, check_first=not agent.fabric)
            ctx.say("Success: Powered OFF")
        elif action == "on":
            power_on(ctx, device, check_first=not agent.fabric)
            ctx.say("Success: Powered ON")
        else:
            reboot(ctx, device)
            ctx.say("Success: Rebooted")
    return SUCCESS


def deadline_for(params: Values, action: str) -> Deadline:
    return Deadline(overall_seconds(params, action))
