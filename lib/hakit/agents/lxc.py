"""ocf:hakit:lxc — start, stop and monitor an LXC container whose rootfs is on shared storage.

State, shutdown and kill use python3-lxc (``hakit.os.containers``); starting uses ``lxc-start``
and the health check ``lxc-attach``, both through the runner so the action's deadline bounds
them.  A start marker (``hakit.steps.startmarker``) tells a container that died on its own (rc 1)
from one the cluster stopped (rc 7).
"""

from __future__ import annotations

import os

from hakit.deadline import Deadline
from hakit.errors import (
    ActionTimeout,
    ArgsError,
    ConfigError,
    ExitCode,
    GenericError,
    HakitError,
    NotInstalledError,
    NotRunningError,
)
from hakit.formats import procstat
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import AbsolutePath, Duration, Param, Select, Signal
from hakit.os import containers
from hakit.os.containers import Container
from hakit.os.runner import CommandFailed
from hakit.steps.lxcconf import (
    CommandLine,
    ContainerName,
    excerpt,
    is_layered,
    log_errors,
    rootfs_source,
)
from hakit.steps.startmarker import StartMarker

# A monitor is a new process every few seconds: what only stop needs (signal, contextlib)
# is imported where it is used (start-up cost: see docs/developing.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

NAME = Param("name", ContainerName(), "Container name",
             "The container's name, as in lxc-start -n.", required=True,
             unique_group="container")
LXCPATH = Param("lxcpath", AbsolutePath(), "LXC path",
                "The directory holding the container (lxc-start -P). With hakit's layout the "
                "container's own filesystem (from ocf:hakit:fs) is mounted at LXCPATH/NAME.",
                default="/var/lib/lxc", unique_group="container")
CONFIG = Param("config", AbsolutePath(), "Configuration file",
               "An explicit configuration file (lxc-start -f) instead of LXCPATH/NAME/config.")
LOG_FILE = Param("log_file", AbsolutePath(), "LXC log file",
                 "Where lxc-start logs (lxc-start -o). When not set: the container's own "
                 "lxc.log.file, else /var/log/lxc/NAME.log. Errors found there are quoted "
                 "in the exit reason of a failed start.", reloadable=True)
LOG_LEVEL = Param("log_level", Select("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR",
                                      "CRIT", "ALERT", "FATAL"),
                  "LXC log level", "lxc-start's log priority (lxc-start -l).",
                  default="NOTICE", reloadable=True)
START_TIMEOUT = Param("start_timeout", Duration(minimum=1), "Start timeout",
                      "How long start may take in all: lxc-start, RUNNING, wait_for_ip and "
                      "health_command. When not set, the start action's own timeout.",
                      reloadable=True)
STOP_TIMEOUT = Param("stop_timeout", Duration(), "Clean shutdown timeout",
                     "How long stop waits for a clean shutdown before it kills the container; "
                     "0 kills at once. When not set, all of the stop action's timeout but a "
                     "reserve for the kill.", reloadable=True)
SHUTDOWN_SIGNAL = Param("shutdown_signal", Signal(), "Shutdown signal",
                        "The signal that asks the container's init to shut down cleanly. When "
                        "not set, the container's lxc.signal.halt (LXC's default: SIGPWR).",
                        reloadable=True)
HEALTH_COMMAND = Param("health_command", CommandLine(), "Health command",
                       "A command run inside the container with lxc-attach (e.g. pidof nginx, "
                       "or curl -fsS http://localhost/). A monitor at depth 10 fails when it "
                       "exits non-zero, quoting its output; start waits until it succeeds.",
                       reloadable=True)
HEALTH_TIMEOUT = Param("health_timeout", Duration(minimum=0.1), "Health command timeout",
                       "How long one run of health_command may take.", default="10s",
                       reloadable=True)
WAIT_FOR_IP = Param("wait_for_ip", Select("no", "ipv4", "ipv6", "any"), "Wait for an address",
                    "Start returns only once the container has a global address of this "
                    "family (within the start timeout).", default="no", reloadable=True)

#: Keep this much of stop's time for the kill after an ignored clean shutdown.
KILL_RESERVE_MAX = 5.0
#: Where lxc-start logs when neither log_file nor lxc.log.file say.
DEFAULT_LOG_DIR = "/var/log/lxc"

_FAMILIES = {"ipv4": "inet", "ipv6": "inet6", "any": None}


def _marker(ctx: Context) -> StartMarker:
    return StartMarker(ctx.params[LXCPATH], ctx.params[NAME])


def _open(ctx: Context, with_config: bool = True) -> Container:
    config = ctx.params.get(CONFIG) if with_config else None
    return Container(ctx.params[NAME], ctx.params[LXCPATH], config)


def _unusable_lxcpath(lxcpath: str) -> Optional[str]:
    """Why no container can live under ``lxcpath`` (a regular file, a path through one, a
    symlink loop...), or None when it can; a missing directory can, once it is mounted.

    lxc-start cannot have started a container there, and liblxc refuses to even open one,
    so stop and monitor answer "stopped" from the start marker alone: bad configuration
    never fails a stop or a probe (OCF; Pacemaker fences after a failed stop).
    """
    import stat  # already loaded by os: no start-up cost

    try:
        mode = os.stat(lxcpath).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if stat.S_ISDIR(mode) else "is not a directory"


def _lxcpath_usable(ctx: Context) -> bool:
    """Whether ``lxcpath`` can hold containers; says why not in the log."""
    lxcpath = ctx.params[LXCPATH]
    why = _unusable_lxcpath(lxcpath)
    if why is not None:
        ctx.log.warning("parameter 'lxcpath': %s: %s; no container can run under it",
                        lxcpath, why)
    return why is None


def _open_for_state(ctx: Context) -> Optional[Container]:
    """The container for state queries (no configuration needed), or None when
    ``lxcpath`` cannot hold one: then only the start marker can tell what ran."""
    return _open(ctx, with_config=False) if _lxcpath_usable(ctx) else None


def _check_environment(ctx: Context) -> None:
    """Before start and at validate-all depth 10: programs, lxcpath, config and rootfs.

    A missing config or rootfs is rc 5 (ERR_INSTALLED): on hakit's layout it means the
    container's filesystem is not mounted on this node, so Pacemaker should start it
    elsewhere, not give up cluster-wide.
    """
    ctx.runner.require("lxc-start")
    if ctx.params.get(HEALTH_COMMAND) is not None:
        ctx.runner.require("lxc-attach")
    lxcpath = ctx.params[LXCPATH]
    config = ctx.params.get(CONFIG)
    if not os.path.exists(lxcpath):
        raise NotInstalledError(f"parameter 'lxcpath': {lxcpath} does not exist on this node")
    if not os.path.isdir(lxcpath):
        raise ArgsError(f"parameter 'lxcpath': {lxcpath} is not a directory")
    if config is not None and not os.path.isfile(config):
        raise NotInstalledError(f"parameter 'config': {config} does not exist on this node")
    ct = _open(ctx)
    if not ct.defined:
        raise NotInstalledError(f"container {ct.name} is not defined: {ct.config_file} does "
                                f"not exist (is its filesystem mounted?)")
    rootfs = ct.config_item("lxc.rootfs.path")
    if not rootfs:
        raise ConfigError(f"{ct.config_file} sets no lxc.rootfs.path")
    source = rootfs_source(rootfs)
    if source is None and not is_layered(rootfs):
        raise ConfigError(f"{ct.config_file}: cannot understand lxc.rootfs.path = {rootfs}")
    if source is not None and not os.path.exists(source):
        raise NotInstalledError(f"rootfs {source} of container {ct.name} does not exist "
                                f"(is its filesystem mounted?)")


def _log_path(ctx: Context, ct: Container) -> str:
    return (ctx.params.get(LOG_FILE) or ct.config_item("lxc.log.file")
            or os.path.join(DEFAULT_LOG_DIR, f"{ct.name}.log"))


def _log_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _new_log_errors(path: str, offset: int) -> str:
    """LXC's error lines written to ``path`` since ``offset``, on one line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            text = handle.read(1 << 20)
    except OSError:
        return ""
    return "; ".join(log_errors(text))


def _run_health(ctx: Context, ct: Container, deadline: Deadline) -> Optional[str]:
    """Run health_command once inside the container; None when healthy, else why not."""
    argv = ctx.params[HEALTH_COMMAND]
    shown = " ".join(argv)
    result = ctx.runner.run(
        ["lxc-attach", "-P", ct.lxcpath, "-n", ct.name, "--clear-env", "--", *argv],
        deadline, timeout=ctx.params[HEALTH_TIMEOUT], check=False, cwd="/")
    if result.ok:
        return None
    output = excerpt(result.stdout + "\n" + result.stderr)
    return (f"health command '{shown}' exited {result.returncode}"
            + (f": {output}" if output else " with no output"))


def _halt_signal(ctx: Context, ct: Container) -> Optional[int]:
    """The signal stop will send: shutdown_signal, else the config's lxc.signal.halt."""
    given = ctx.params.get(SHUTDOWN_SIGNAL)
    if given is not None:
        return int(given)
    configured = ct.config_item("lxc.signal.halt").strip()
    try:
        return int(Signal().parse(configured)) if configured else None
    except ValueError:
        return None


def _starttime(pid: int) -> Optional[int]:
    return procstat.starttime(pid)


def _orphaned_init(record: dict[str, int]) -> Optional[int]:
    """The PID of the container's init if it still runs although LXC reports STOPPED.

    LXC 5 does not kill the container when its monitor process (``[lxc monitor]``) dies;
    liblxc then finds no command socket and says STOPPED while the container's processes
    still use its filesystem.  The marker's PID and starttime identify that init.
    """
    pid, start = record.get("init_pid"), record.get("init_start")
    if not pid or start is None:
        return None
    return pid if _starttime(pid) == start else None


def _kill_orphan(ctx: Context, pid: int, start: int, name: str) -> None:
    """SIGKILL the orphaned init through a pidfd (no PID-reuse race) and wait for it.

    Killing a PID namespace's init kills every process in it (pid_namespaces(7)).
    """
    import contextlib
    import signal

    ctx.log.warning("container %s: LXC's monitor is gone but its init (PID %d) still "
                    "runs; killing it", name, pid)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _starttime(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    ctx.deadline.poll(lambda: True if _starttime(pid) != start else None,
                      f"waiting for the orphaned init (PID {pid}) of {name} to die",
                      0.02, 0.25)


def _wait_settled(ct: Container, deadline: Deadline) -> str:
    """Wait out a transition (STARTING, STOPPING...) and return RUNNING, STOPPED or FROZEN."""
    settled = (containers.RUNNING, containers.STOPPED, containers.FROZEN)

    def probe() -> Optional[str]:
        state = ct.state()
        return state if state in settled else None

    return deadline.poll(probe, f"waiting for container {ct.name} to settle", 0.05, 0.5)


def _start(ctx: Context) -> Optional[ExitCode]:
    deadline = ctx.deadline
    if ctx.params.get(START_TIMEOUT) is not None:
        deadline = deadline.within(ctx.params[START_TIMEOUT])
    ct = _open(ctx)
    marker = _marker(ctx)
    state = _wait_settled(ct, deadline)
    if state == containers.FROZEN:
        raise GenericError(f"container {ct.name} is frozen; thaw or stop it first")
    if state == containers.RUNNING:
        ctx.log.info("container %s is already running", ct.name)
    else:
        record = marker.read()
        orphan = _orphaned_init(record) if record else None
        if orphan is not None:
            # A second copy on the same rootfs would corrupt it; stop kills the orphan.
            raise GenericError(f"container {ct.name} has lost its LXC monitor process but its "
                               f"init (PID {orphan}) still runs; stop it first")
        # Written before lxc-start: if the agent is killed mid-start, the next monitor
        # still reports a failure (rc 1) rather than a clean stop.
        marker.write()
        log = _log_path(ctx, ct)
        os.makedirs(os.path.dirname(log), mode=0o750, exist_ok=True)
        offset = _log_size(log)
        argv = ["lxc-start", "-d", "-P", ct.lxcpath, "-n", ct.name, "-o", log,
                "-l", ctx.params[LOG_LEVEL]]
        if ct.config is not None:
            argv += ["-f", ct.config]
        try:
            ctx.runner.run(argv, deadline, cwd="/")
        except CommandFailed as exc:
            why = _new_log_errors(log, offset) or exc.reason
            raise GenericError(f"container {ct.name} failed to start: {why}") from exc
        state = ct.state()
        if state != containers.RUNNING:
            why = _new_log_errors(log, offset)
            raise GenericError(f"container {ct.name} is {state} right after lxc-start"
                               + (f": {why}" if why else f" (see {log})"))
    pid = ct.init_pid()
    marker.write(init_pid=pid, init_start=_starttime(pid) if pid else None,
                 halt_signal=_halt_signal(ctx, ct))
    _await_address(ctx, ct, deadline)
    _await_health(ctx, ct, deadline)
    ctx.log.info("container %s started (init PID %s)", ct.name, ct.init_pid())
    return None


def _await_address(ctx: Context, ct: Container, deadline: Deadline) -> None:
    wanted = ctx.params[WAIT_FOR_IP]
    if wanted == "no":
        return
    family = _FAMILIES[wanted]

    def probe() -> Optional[tuple[str, ...]]:
        if ct.state() != containers.RUNNING:
            raise GenericError(f"container {ct.name} stopped while waiting for an address")
        return ct.addresses(family) or None

    found = deadline.poll(probe, f"waiting for container {ct.name} to get an {wanted} "
                                 f"address", 0.1, 0.5)
    ctx.log.info("container %s has address %s", ct.name, ", ".join(found))


def _await_health(ctx: Context, ct: Container, deadline: Deadline) -> None:
    if ctx.params.get(HEALTH_COMMAND) is None:
        return
    last = ""

    def probe() -> Optional[bool]:
        nonlocal last
        if ct.state() != containers.RUNNING:
            raise GenericError(f"container {ct.name} stopped while waiting for it to be "
                               f"healthy" + (f" ({last})" if last else ""))
        try:
            why = _run_health(ctx, ct, deadline)
        except ActionTimeout as exc:
            # The run the deadline cut short says less than the last one that finished.
            why = last or exc.reason
        if why is None:
            return True
        last = why
        return None

    try:
        # First checks close together: a service usually answers within a few tenths of a
        # second of init starting, and every poll interval spent waiting is failover time.
        deadline.poll(probe, f"waiting for container {ct.name} to be healthy", 0.05, 1.0)
    except ActionTimeout as exc:
        raise ActionTimeout(exc.reason + (f"; last check: {last}" if last else "")) from exc


def _monitor(ctx: Context) -> Optional[ExitCode]:
    found = _open_for_state(ctx)
    if found is None:
        return _monitor_stopped(ctx, ctx.params[NAME], unusable=True)
    ct = found
    state = ct.state()
    if state in (containers.RUNNING, containers.THAWED):
        if ctx.check_level >= 10 and ctx.params.get(HEALTH_COMMAND) is not None:
            why = _run_health(ctx, ct, ctx.deadline)
            if why is not None:
                raise GenericError(f"container {ct.name} is unhealthy: {why}")
        return None
    if state == containers.STOPPED:
        return _monitor_stopped(ctx, ct.name)
    raise GenericError(f"container {ct.name} is {state}")


def _monitor_stopped(ctx: Context, name: str, unusable: bool = False) -> Optional[ExitCode]:
    """A container LXC reports STOPPED (or cannot be asked about: ``unusable`` lxcpath):
    cleanly stopped, or failed (the marker says)."""
    record = _marker(ctx).read()
    if record is None:
        if ctx.is_probe:
            # The expected answer of a probe on every node but one: said at debug level
            # only, since an INFO line costs the logging import (9 ms of CPU, a third
            # of the probe: start-up cost, see docs/developing.md).
            ctx.log.debug("container %s is stopped", name)
            return ExitCode.NOT_RUNNING
        raise NotRunningError(f"container {name} is stopped")
    orphan = _orphaned_init(record)
    if orphan is not None:
        if unusable:
            raise GenericError(f"container {name} still runs (init PID {orphan}) but "
                               f"parameter 'lxcpath' ({ctx.params[LXCPATH]}) is no longer "
                               "a directory LXC can use")
        raise GenericError(f"container {name} has lost its LXC monitor process; its "
                           f"init (PID {orphan}) still runs")
    pid = record.get("init_pid")
    raise GenericError(f"container {name} stopped, but not by the cluster"
                       + (f" (its init, PID {pid}, is gone)" if pid else ""))


def _stop(ctx: Context) -> Optional[ExitCode]:
    marker = _marker(ctx)
    if not _lxcpath_usable(ctx):
        _stopped(ctx, marker, ctx.params[NAME])
        return None
    halt_signal: Optional[int] = None
    try:
        ct = _open(ctx)
        halt_signal = _halt_signal(ctx, ct)
    except HakitError as exc:
        # The configuration only supplies the halt signal, also kept in the marker at
        # start: a broken or vanished file must not keep stop (which never fails on bad
        # configuration) from working.
        ctx.log.warning("stopping without the configuration file: %s", exc.reason)
        ct = _open(ctx, with_config=False)
        halt_signal = (marker.read() or {}).get("halt_signal") or _halt_signal(ctx, ct)
    deadline = ctx.deadline
    state = ct.state()
    if state == containers.STOPPED:
        _stopped(ctx, marker, ct.name)
        return None
    if state not in (containers.FROZEN, containers.FREEZING):
        _shut_down(ctx, ct, deadline, halt_signal)
    if ct.state() != containers.STOPPED:
        ctx.log.warning("container %s did not shut down cleanly; killing it", ct.name)
        if not ct.kill() and ct.state() != containers.STOPPED:
            raise GenericError(f"LXC could not kill container {ct.name}")
        deadline.poll(lambda: True if ct.state() == containers.STOPPED else None,
                      f"waiting for container {ct.name} to die after the kill", 0.02, 0.25)
    marker.remove()
    ctx.log.info("container %s stopped", ct.name)
    return None


def _stopped(ctx: Context, marker: StartMarker, name: str) -> None:
    """Stop of a container LXC reports STOPPED: kill an init that outlived its LXC
    monitor (the marker identifies it), then forget the start."""
    record = marker.read()
    orphan = _orphaned_init(record) if record else None
    if record and orphan is not None:
        _kill_orphan(ctx, orphan, record["init_start"], name)
    marker.remove()
    ctx.log.info("container %s is already stopped", name)


def _shut_down(ctx: Context, ct: Container, deadline: Deadline,
               halt_signal: Optional[int]) -> None:
    """Ask init to shut down and wait, bounded by stop_timeout and the kill reserve.

    The halt signal is sent again after 1, 3, 7... seconds: the init of a PID namespace
    drops signals it has no handler for yet (pid_namespaces(7)), so one sent right after
    start can be lost, and waiting out the whole timeout for it would only delay the kill.
    An init already shutting down ignores the repeats.
    """
    left = deadline.remaining()
    budget = left - min(KILL_RESERVE_MAX, left / 4)
    wanted = ctx.params.get(STOP_TIMEOUT)
    if wanted is not None:
        budget = min(budget, wanted)
    if budget < 1:  # liblxc waits in whole seconds; too little time to bother
        return
    if halt_signal is not None:
        ct.set_halt_signal(halt_signal)
    ctx.log.info("shutting container %s down (waiting up to %ds)", ct.name, int(budget))
    window = deadline.within(budget)
    step = 1
    while True:
        wait = min(step, int(window.remaining()))
        if wait < 1:
            return
        if ct.shutdown(wait) or ct.state() == containers.STOPPED:
            return
        step *= 2
        ctx.log.info("container %s is still %s; sending the halt signal again", ct.name,
                     ct.state())


def _reload(ctx: Context) -> Optional[ExitCode]:
    """reload-agent: every reloadable value is read afresh by the action that uses it
    (start, stop, monitor), so nothing restarts; what start recorded for later (the halt
    signal, for a stop that cannot read the configuration) is updated now."""
    if ctx.params.get(HEALTH_COMMAND) is not None:
        ctx.runner.require("lxc-attach")
    marker = _marker(ctx)
    if marker.read() is None or not _lxcpath_usable(ctx):
        return None  # not started by the cluster here: nothing recorded to update
    halt_signal: Optional[int]
    try:
        halt_signal = _halt_signal(ctx, _open(ctx))
    except HakitError as exc:  # a broken config: keep what start recorded from it
        ctx.log.warning("reload without the configuration file: %s", exc.reason)
        given = ctx.params.get(SHUTDOWN_SIGNAL)
        if given is None:
            return None
        halt_signal = int(given)
    marker.update(halt_signal=halt_signal)
    ctx.log.info("container %s: parameters reloaded (halt signal %s)", ctx.params[NAME],
                 halt_signal)
    return None


AGENT = Agent(
    name="lxc",
    version="0.1.0",
    shortdesc="Manages an LXC container",
    longdesc=(
        "Starts, stops and monitors an LXC container, typically one whose rootfs lives on "
        "shared storage mounted by ocf:hakit:fs at LXCPATH/NAME. start checks that the "
        "configuration and rootfs exist, runs lxc-start and waits until the container is "
        "RUNNING and, optionally, has an address and passes health_command. stop asks for a "
        "clean shutdown (sending the halt signal again after 1, 3, 7... s), waits a bounded "
        "time, then kills; it also kills a container whose LXC monitor process died. "
        "monitor (depth 0) asks liblxc for the state without running any program; depth 10 "
        "also runs health_command. "
        "A container that stopped without the cluster stopping it is reported as failed, "
        "not as stopped. No cgroup is mounted or touched: cgroup v1, hybrid and v2-only "
        "hosts work alike. migrate_to/migrate_from are not supported: Pacemaker moves the "
        "container by stopping and starting it."),
    params=(NAME, LXCPATH, CONFIG, LOG_FILE, LOG_LEVEL, START_TIMEOUT, STOP_TIMEOUT,
            SHUTDOWN_SIGNAL, HEALTH_COMMAND, HEALTH_TIMEOUT, WAIT_FOR_IP),
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=30),
        Action("monitor", 30, interval=60, depth=10),
    ),
    start=_start,
    stop=_stop,
    monitor=_monitor,
    check_environment=_check_environment,
    reload_agent=_reload,
)
