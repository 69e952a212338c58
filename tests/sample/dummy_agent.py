"""A test-only agent on the hakit framework, in the spirit of ocf:pacemaker:Dummy.

It exercises every parameter type, a secret, a reloadable parameter, depths and the
environment check, so the framework's contract can be tested without real resources.
"""

from __future__ import annotations

import contextlib
import os
from typing import Optional

from hakit.errors import ArgsError, ConfigError, ExitCode, NotRunningError
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import (
    AbsolutePath,
    Boolean,
    Duration,
    Integer,
    Interface,
    ListOf,
    Name,
    Param,
    Select,
    String,
    Values,
)

STATE = Param("state", AbsolutePath(), "State file", "Where the dummy records that it runs.",
              required=True, unique_group="state")
MODE = Param("mode", Select("calm", "busy"), "Mode", "How the dummy behaves.", default="calm")
COUNT = Param("count", Integer(1, 10), "Count", "How many things.", default="3")
FLAG = Param("flag", Boolean(), "Flag", "A switch.", default="false")
DELAY = Param("delay", Duration(maximum=60), "Delay", "How long start takes.", default="0")
ADDRESS = Param("address", Interface(), "Address", "An address with prefix.")
TAGS = Param("tags", ListOf(Name("a tag")), "Tags", "Tags to record.")
NOTE = Param("note", String(), "Note", "Free text; may be changed with reload-agent.",
             reloadable=True)
PASSWORD = Param("password", String(), "Password", "A secret that must never be shown.",
                 secret=True)
OLD_STATE = Param("statefile", AbsolutePath(), "State file (old name)", "Use 'state'.",
                  deprecated=True, replaced_with=("state",))


def _validate(values: Values) -> None:
    if values[MODE] == "busy" and values[COUNT] < 2:
        raise ConfigError("mode=busy needs count of at least 2")


def _check_environment(ctx: Context) -> None:
    parent = os.path.dirname(ctx.params[STATE])
    if not os.path.isdir(parent):
        raise ArgsError(f"parameter 'state': directory {parent} does not exist")


def _start(ctx: Context) -> Optional[ExitCode]:
    if ctx.params[DELAY]:
        ctx.deadline.sleep(ctx.params[DELAY])
    with open(ctx.params[STATE], "w", encoding="utf-8") as handle:
        handle.write(f"{ctx.params.get(NOTE) or ''}\n")
    ctx.log.info("started")
    return None


def _stop(ctx: Context) -> Optional[ExitCode]:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ctx.params[STATE])
    return None


def _monitor(ctx: Context) -> Optional[ExitCode]:
    if not os.path.exists(ctx.params[STATE]):
        raise NotRunningError(f"{ctx.params[STATE]} is absent")
    if ctx.check_level >= 10 and os.path.getsize(ctx.params[STATE]) == 0:
        raise ConfigError("state file is empty")
    return None


def _reload(ctx: Context) -> Optional[ExitCode]:
    if os.path.exists(ctx.params[STATE]):
        with open(ctx.params[STATE], "w", encoding="utf-8") as handle:
            handle.write(f"{ctx.params.get(NOTE) or ''}\n")
    return None


def _crash(ctx: Context) -> Optional[ExitCode]:
    raise RuntimeError(f"deliberate crash with {ctx.params.get(PASSWORD)}")


AGENT = Agent(
    name="dummy",
    version="0.1.0",
    shortdesc="Test agent",
    longdesc="A test-only agent that records its state in a file.",
    params=(STATE, MODE, COUNT, FLAG, DELAY, ADDRESS, TAGS, NOTE, PASSWORD, OLD_STATE),
    actions=(
        Action("start", 20),
        Action("stop", 20),
        Action("monitor", 20, interval=10),
        Action("monitor", 30, interval=60, depth=10),
    ),
    start=_start,
    stop=_stop,
    monitor=_monitor,
    validate=_validate,
    check_environment=_check_environment,
    reload_agent=_reload,
    extra=(("crash", _crash),),
)
