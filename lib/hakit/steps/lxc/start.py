"""Start a container: lxc-start, then wait for RUNNING, an address and health_command.

The start marker is written before lxc-start, so a start the agent did not finish is still
seen as a failure by the next monitor; it then records init's PID and starttime (to find an
init that outlives LXC's monitor) and the halt signal (for a stop that cannot read the
configuration).
"""

from __future__ import annotations

import os

from hakit.errors import GenericError
from hakit.formats import procstat
from hakit.os import containers
from hakit.os.runner import CommandFailed
from hakit.steps.lxc import host
from hakit.steps.lxc.health import await_health
from hakit.steps.lxc.orphan import orphaned_init
from hakit.steps.lxc.parsers import log_errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.os.containers import Container
    from hakit.steps.lxc.config import LxcConfig

#: Where lxc-start logs when neither log_file nor lxc.log.file say.
DEFAULT_LOG_DIR = "/var/log/lxc"

_FAMILIES = {"ipv4": "inet", "ipv6": "inet6", "any": None}


def start(cfg: LxcConfig, ctx: Context) -> Optional[ExitCode]:
    deadline = ctx.deadline
    if cfg.start_timeout is not None:
        deadline = deadline.within(cfg.start_timeout)
    ct = host.open_container(cfg)
    marker = host.marker(cfg)
    state = wait_settled(ct, deadline)
    if state == containers.FROZEN:
        raise GenericError(f"container {ct.name} is frozen; thaw or stop it first")
    if state == containers.RUNNING:
        ctx.log.info("container %s is already running", ct.name)
    else:
        record = marker.read()
        orphan = orphaned_init(record) if record else None
        if orphan is not None:
            # A second copy on the same rootfs would corrupt it; stop kills the orphan.
            raise GenericError(f"container {ct.name} has lost its LXC monitor process but its "
                               f"init (PID {orphan}) still runs; stop it first")
        # Written before lxc-start: if the agent is killed mid-start, the next monitor
        # still reports a failure (rc 1) rather than a clean stop.
        marker.write()
        _lxc_start(cfg, ctx, ct, deadline)
    pid = ct.init_pid()
    marker.write(init_pid=pid, init_start=procstat.starttime(pid) if pid else None,
                 halt_signal=host.halt_signal(cfg, ct))
    _await_address(cfg, ctx, ct, deadline)
    await_health(cfg, ctx, ct, deadline)
    ctx.log.info("container %s started (init PID %s)", ct.name, ct.init_pid())
    return None


def _lxc_start(cfg: LxcConfig, ctx: Context, ct: Container, deadline: Deadline) -> None:
    """Run lxc-start; a failure quotes the errors it logged (its stderr says only that it
    failed)."""
    log = log_path(cfg, ct)
    os.makedirs(os.path.dirname(log), mode=0o750, exist_ok=True)
    offset = _log_size(log)
    argv = ["lxc-start", "-d", "-P", ct.lxcpath, "-n", ct.name, "-o", log,
            "-l", cfg.log_level]
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


def log_path(cfg: LxcConfig, ct: Container) -> str:
    """Where lxc-start logs: log_file, else the container's lxc.log.file, else
    DEFAULT_LOG_DIR/NAME.log."""
    return (cfg.log_file or ct.config_item("lxc.log.file")
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


def wait_settled(ct: Container, deadline: Deadline) -> str:
    """Wait out a transition (STARTING, STOPPING...) and return RUNNING, STOPPED or FROZEN."""
    settled = (containers.RUNNING, containers.STOPPED, containers.FROZEN)

    def probe() -> Optional[str]:
        state = ct.state()
        return state if state in settled else None

    return deadline.poll(probe, f"waiting for container {ct.name} to settle", 0.05, 0.5)


def _await_address(cfg: LxcConfig, ctx: Context, ct: Container, deadline: Deadline) -> None:
    wanted = cfg.wait_for_ip
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
