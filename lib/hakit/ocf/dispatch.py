"""Running one resource-agent action: the OCF adapter of the envelope (``hakit.envelope``).

The exit code and reason come from ``hakit.envelope.settle``, as for the fence
agents; what is OCF's is here: the environment, the parameters' rules and the
``ocf-exit-reason:`` line.

Rules enforced here, for every agent:
- ``meta-data``, ``usage`` and ``methods`` need no parameters and touch nothing.
- Bad configuration never fails a ``stop`` (the resource cannot have been started with it:
  rc 0) or a probe (rc 7); elsewhere it is rc 6 with a reason naming the parameter.
- ``validate-all`` checks the parameters at depth 0 and also this host at depth 10.
- Unknown actions are rc 3; a crash in a handler is rc 1 with a reason, never a traceback
  on stdout.
- Every action runs against a deadline taken from ``OCF_RESKEY_CRM_meta_timeout``.
"""

from __future__ import annotations

import os
import sys

from hakit import shown
from hakit.deadline import Deadline, process_age
from hakit.envelope import declared_secrets, settle
from hakit.envelope.log import for_resource_agent
from hakit.errors import (
    ConfigError,
    ExitCode,
    HakitError,
    NotInstalledError,
    UnimplementedError,
)
from hakit.ocf.agent import Context
from hakit.ocf.environment import OcfEnvironment
from hakit.ocf.params import parse_values
from hakit.os.runner import Runner

# Every action is a new process: what only some actions need (metadata's xml.etree,
# traceback, logging) is imported where it is used (start-up cost: see BENCHMARKS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence
    from typing import Optional, TextIO

    from hakit.ocf.agent import Agent
    from hakit.ocf.params import Values

#: Actions the framework answers without parameters.
INFO_ACTIONS = ("meta-data", "usage", "help", "methods")


def _timeout_and_margin(agent: Agent, env: OcfEnvironment) -> tuple[float, float]:
    """Pacemaker's timeout for this action (its default when not given) and the margin kept
    before it: 10%, between 0.5 s and 5 s."""
    total = env.timeout if env.timeout is not None else agent.default_timeout(env.action)
    return total, min(5.0, max(0.5, total * 0.1))


def deadline_for(agent: Agent, env: OcfEnvironment) -> Deadline:
    """The action's deadline, a little before Pacemaker's own timeout.

    Pacemaker kills an agent at its timeout with no chance to report; finishing a margin
    early (10%, between 0.5 s and 5 s) leaves time to print a clear exit reason.
    """
    total, margin = _timeout_and_margin(agent, env)
    return Deadline(max(0.5, total - margin - process_age()))


#: The actions a ``device_io`` agent runs in a guarded child (hakit.ocf.guard).
GUARDED_ACTIONS = ("start", "stop", "monitor", "status", "reload-agent")


def guard_seconds(agent: Agent, env: OcfEnvironment) -> float:
    """How long a guarded action's parent waits: halfway into the margin that
    ``deadline_for`` keeps, so the child's own deadline comes first."""
    total, margin = _timeout_and_margin(agent, env)
    return max(0.75, total - margin / 2 - process_age())


def _guarded(agent: Agent, env: OcfEnvironment, log: logging.Logger,
             err: TextIO) -> Optional[int]:
    """Fork for a guarded action: None in the child (which goes on to run it), the exit
    code in the parent (the child's, or OCF_ERR_GENERIC with a reason if it hung)."""
    from hakit.ocf import guard  # only agents doing device I/O

    child = guard.fork()
    if child is None:
        return None
    answered = guard.wait(child, guard_seconds(agent, env))
    if answered is not None:
        return answered
    reason = f"{shown.word(env.action)} {guard.HUNG}"
    log.error("%s", reason)
    err.write(f"{env.exit_reason_prefix}{reason}\n")
    err.flush()
    return int(ExitCode.ERR_GENERIC)


def supported_actions(agent: Agent) -> list[str]:
    names = ["start", "stop", "monitor", "status", "validate-all", "meta-data", "usage",
             "methods"]
    if any(p.reloadable for p in agent.params):
        names.append("reload-agent")
    names.extend(name for name, _ in agent.extra)
    return names


def usage(agent: Agent) -> str:
    return f"usage: {agent.name} {{{'|'.join(supported_actions(agent))}}}\n"


def _parse(agent: Agent, env: OcfEnvironment, log: logging.Logger) -> Values:
    # Pacemaker passes crm_feature_set to every agent: not a parameter anyone mistyped.
    known = {p.name for p in agent.params} | {"crm_feature_set"}
    for name in sorted(set(env.raw_params) - known):
        log.warning("ignoring unknown parameter %s", shown.value(name))
    values = parse_values(agent.params, env.raw_params)
    if agent.validate is not None:
        agent.validate(values)
    if agent.exclusive and ("clone_max" in env.meta or "clone" in env.meta):
        # Pacemaker passes clone meta-attributes to every instance of a clone.
        raise ConfigError(f"ocf:hakit:{agent.name} must not be cloned (clone-max="
                          f"{env.meta.get('clone_max', '?')}): it would run on several nodes "
                          "at once, which is what it exists to prevent")
    return values


def _check_invocation(agent: Agent, env: OcfEnvironment) -> None:
    """The action, the API version and CRM_meta_interval are ones this agent can honour."""
    action = env.action
    if action not in supported_actions(agent):
        raise UnimplementedError(f"action {shown.word(action)} is not supported by {agent.name}")
    if env.ra_version_major not in (None, "", "1"):
        raise UnimplementedError(f"OCF API version {shown.word(env.ra_version_major)}.x is "
                                 "not supported")
    if env.interval_problem and action != "stop":
        # Whether a monitor is a probe or recurring cannot be told (OCF_ERR_CONFIGURED: the
        # operation's definition is wrong wherever it runs); a stop does not depend on it.
        raise ConfigError(env.interval_problem)


def _perform(agent: Agent, env: OcfEnvironment, log: logging.Logger, runner: Runner,
             deadline: Deadline) -> ExitCode:
    """Parse, check and run the handler; exceptions propagate to ``run``."""
    action = env.action
    _check_invocation(agent, env)
    try:
        values = _parse(agent, env, log)
    except HakitError as exc:
        if action == "stop":
            # A resource cannot have been started with parameters that do not parse, so
            # it is not running as far as this configuration is concerned.
            log.warning("stop with invalid configuration (%s): nothing to stop",
                        shown.reason(exc.reason))
            return ExitCode.SUCCESS
        if env.is_probe:
            log.warning("probe with invalid configuration (%s): reporting not running",
                        shown.reason(exc.reason))
            return ExitCode.NOT_RUNNING
        raise
    ctx = Context(env, values, deadline, log, runner)
    if action == "validate-all":
        if env.check_level >= 10 and agent.check_environment is not None:
            agent.check_environment(ctx)
        return ExitCode.SUCCESS
    if action == "reload-agent":
        handler = agent.reload_agent
        return ExitCode.SUCCESS if handler is None else (handler(ctx) or ExitCode.SUCCESS)
    handler = agent.handler(action)
    if handler is None:  # pragma: no cover - supported_actions lists only handled ones
        raise UnimplementedError(f"action '{action}' is not supported by {agent.name}")
    if action == "start" and agent.check_environment is not None:
        agent.check_environment(ctx)
    try:
        return handler(ctx) or ExitCode.SUCCESS
    except NotInstalledError:
        if env.is_probe:  # a node without the software cannot be running the resource
            return ExitCode.NOT_RUNNING
        raise


def run(agent: Agent, argv: Sequence[str], environ: Mapping[str, str],
        stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Run the action named in ``argv[1]`` and return its exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    action = argv[1] if len(argv) > 1 else ""
    if action == "meta-data":
        from hakit.ocf import metadata

        out.write(metadata.build(agent))
        return ExitCode.SUCCESS
    if action in ("usage", "help", "--help"):
        out.write(usage(agent))
        return ExitCode.SUCCESS
    if action == "methods":
        out.write("\n".join(supported_actions(agent)) + "\n")
        return ExitCode.SUCCESS
    if not action:
        err.write(usage(agent))
        return ExitCode.ERR_ARGS

    env = OcfEnvironment.read(action, agent.name, environ)
    secrets = declared_secrets(agent.params, env.raw_params)
    log = for_resource_agent(f"hakit-{agent.name}({env.instance})", env.logging, secrets, err)
    runner = Runner(log, secrets=secrets, fail_which=env.fail_have_binary)
    # Taken before any fork: the clock runs from this process's start, as Pacemaker's does.
    deadline = deadline_for(agent, env)
    if (agent.device_io is not None and stderr is None and action in GUARDED_ACTIONS
            and agent.device_io(action, env.check_level)):
        answered = _guarded(agent, env, log, err)
        if answered is not None:  # the parent, answering for the child
            return answered
    code, reason = settle(lambda: _perform(agent, env, log, runner, deadline), action, log,
                          runner.secrets, f"internal error during {shown.word(action)}")
    # Pacemaker shows this line as the failure's reason; a probe finding the resource
    # stopped is expected, not a failure.
    if reason and (code != ExitCode.NOT_RUNNING or not env.is_probe):
        err.write(f"{env.exit_reason_prefix}{reason}\n")
    err.flush()
    return code


def main(agent: Agent) -> int:
    """Entry point for an agent executable: ``sys.exit(main(AGENT))``."""
    return run(agent, sys.argv, os.environ)
