"""Processes the lab starts: detached launch, pidfiles with start times, kill by PID.

Every process is started by the shared runner (``hakit.os.runner.Runner.spawn``); what the lab
adds is the detaching, so a daemon outlives the command that started it.

A PID alone can be reused after its process dies, so every pidfile also records the
process's start time (``/proc/PID/stat`` field 22) and nothing is signalled unless both match.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError, HakitError
from hakit.formats import procstat
from hakit.os.runner import Runner


@dataclass(frozen=True)
class Proc:
    """A process identity that survives PID reuse."""

    pid: int
    start: int  # clock ticks after boot, /proc/PID/stat field 22


def parse_stat(text: str) -> tuple[str, int]:
    """(state, start time) from the text of /proc/PID/stat; ValueError when malformed."""
    return procstat.parse(text)


def identify(pid: int) -> Optional[Proc]:
    """The running (non-zombie) process ``pid``, or None."""
    try:
        state, start = parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError):
        return None
    if state in ("Z", "X"):
        return None
    return Proc(pid, start)


def is_alive(proc: Proc) -> bool:
    return identify(proc.pid) == proc


def write_pidfile(path: Path, proc: Proc) -> None:
    path.write_text(f"{proc.pid} {proc.start}\n")


def read_pidfile(path: Path) -> Optional[Proc]:
    """The process recorded in ``path``, or None when the file is missing or malformed."""
    try:
        pid, start = path.read_text().split()
        return Proc(int(pid), int(start))
    except (OSError, ValueError):
        return None


def spawn_detached(runner: Runner, argv: Sequence[str], output: Path,
                   env: Mapping[str, str]) -> Proc:
    """Start ``argv`` with ``runner`` in its own session, not a child of this process.

    An intermediate child (double fork) has the runner start the program (its own session,
    stdout and stderr appended to ``output``, working directory /) and exits at once, so
    the program outlives this command and is reaped by init rather than left a zombie of a
    long-lived caller such as a test run.
    """
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - runs in the intermediate child
        code = 1
        try:
            os.close(read_end)
            pid = runner.spawn(argv, env=env, output=str(output), cwd="/")
            os.write(write_end, str(pid).encode())
            code = 0
        except HakitError as exc:  # not installed, cannot run: told in the output file
            with open(output, "a", encoding="utf-8") as out:
                out.write(f"{exc.reason}\n")
        finally:  # never return into the caller's code from the intermediate child
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(middle, 0)
    if not data:
        raise GenericError(f"cannot start {argv[0]} (see {output})")
    pid = int(data)
    proc = identify(pid)
    if proc is None:
        raise GenericError(f"{argv[0]} exited at once (see {output})")
    return proc


def signal_if_alive(proc: Proc, sig: int) -> bool:
    """Send ``sig`` to ``proc`` if it is still that process; True when sent."""
    if not is_alive(proc):
        return False
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def kill_all(procs: Iterable[Proc], deadline: Deadline, doing: str) -> None:
    """SIGKILL every process still matching its identity and wait until all are gone."""
    targets = list(procs)
    for proc in targets:
        signal_if_alive(proc, signal.SIGKILL)

    def all_gone() -> Optional[bool]:
        return True if not any(is_alive(p) for p in targets) else None

    try:
        deadline.poll(all_gone, doing, interval=0.02, max_interval=0.2)
    except ActionTimeout as exc:
        left = " ".join(str(p.pid) for p in targets if is_alive(p))
        raise ActionTimeout(f"timed out {doing}: still running {left}") from exc
