"""How an agent is declared: parameters, actions and handlers in one frozen value."""

from __future__ import annotations

from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import logging
    from typing import Callable, Optional, TypeVar

    from hakit.deadline import Deadline
    from hakit.errors import ExitCode
    from hakit.ocf.environment import OcfEnvironment
    from hakit.ocf.params import Param, Values
    from hakit.os.runner import Runner

    C = TypeVar("C")  # an agent's configuration record


@frozen
class Action:
    """An action as advertised in the metadata (OCF 1.1 ``<action>``)."""

    name: str
    timeout: float  # seconds; the recommended minimum timeout
    interval: Optional[float] = None  # seconds, for recurring monitors
    depth: Optional[int] = None  # OCF_CHECK_LEVEL this entry recommends
    role: Optional[str] = None  # "Promoted"/"Unpromoted", for promotable agents


@frozen
class Context:
    """Everything a handler needs for one action; made by ``dispatch`` and passed down."""

    env: OcfEnvironment
    params: Values
    deadline: Deadline
    log: logging.Logger
    runner: Runner

    @property
    def check_level(self) -> int:
        return self.env.check_level

    @property
    def is_probe(self) -> bool:
        return self.env.is_probe

    @property
    def instance(self) -> str:
        return self.env.instance

    def under(self, deadline: Deadline) -> Context:
        """This context with a shorter deadline: a part of the action (a layer of the
        container agent's stack, a thread's probe) that must leave time to the rest."""
        return Context(self.env, self.params, deadline, self.log, self.runner)


if TYPE_CHECKING:  # type aliases: for annotations only, never evaluated at run time
    #: A handler does the action and returns its exit code (None means success), or
    #: raises one of ``hakit.errors``.
    Handler = Callable[[Context], Optional[ExitCode]]
    #: Pure cross-parameter checks (validate-all depth 0); raise ConfigError/ParamError.
    Validator = Callable[[Values], None]
    #: Checks of this host (validate-all depth 10, and before start); raise ArgsError etc.
    EnvironmentCheck = Callable[[Context], None]
    #: (action, OCF_CHECK_LEVEL) -> whether it does device I/O that may hang.
    IoPredicate = Callable[[str, int], bool]


def configured(make: Callable[[Values], C],
               step: Callable[[C, Context], Optional[ExitCode]]) -> Handler:
    """A handler that parses the action's parameters into the agent's typed configuration
    record (``make``, the one place an agent's values become a record) and runs a library
    step on it.  Steps never read ``ctx.params``: they take the record, so the container
    agent can compose the records of its layers instead of rebuilding parameter strings.
    """
    def handler(ctx: Context) -> Optional[ExitCode]:
        return step(make(ctx.params), ctx)
    return handler


def always(action: str, check_level: int) -> bool:
    """An ``Agent.device_io`` for agents whose every action may touch the device."""
    return True


@frozen
class Agent:
    """A resource agent, declared."""

    name: str  # the resource type, e.g. "vip" for ocf:hakit:vip
    version: str
    shortdesc: str
    longdesc: str
    params: tuple[Param[object], ...]
    actions: tuple[Action, ...]  # start, stop, monitor entries with their default timeouts
    start: Handler
    stop: Handler
    monitor: Handler
    validate: Optional[Validator] = None
    check_environment: Optional[EnvironmentCheck] = None
    reload_agent: Optional[Handler] = None  # default: nothing to do, reloadable values apply
    extra: tuple[tuple[str, Handler], ...] = ()  # further actions, e.g. ("notify", handler)
    # Never as a clone: one instance owns one thing (an RBD image, a filesystem) on one node.
    exclusive: bool = False
    # Its actions do I/O that can block in the kernel (hung storage): those run in a child
    # the dispatcher answers for at the timeout (hakit.ocf.guard).  A forked child costs a
    # few ms of CPU, so this says which: (action, OCF_CHECK_LEVEL) -> guard it?
    device_io: Optional[IoPredicate] = None

    def param(self, name: str) -> Param[object]:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def advertised(self) -> tuple[Action, ...]:
        """The actions in the metadata: the declared ones plus those the framework provides."""
        names = {a.name for a in self.actions}
        added = [Action("meta-data", 5), Action("validate-all", 20)]
        if any(p.reloadable for p in self.params):
            added.append(Action("reload-agent", 20))
        return self.actions + tuple(a for a in added if a.name not in names)

    def default_timeout(self, action: str) -> float:
        """The advertised timeout for ``action`` (first entry), or 20 s."""
        for entry in self.advertised():
            if entry.name == action:
                return entry.timeout
        return 20.0

    def handler(self, action: str) -> Optional[Handler]:
        fixed: dict[str, Optional[Handler]] = {
            "start": self.start, "stop": self.stop, "monitor": self.monitor,
            "status": self.monitor,
        }
        if action in fixed:
            return fixed[action]
        return dict(self.extra).get(action)
