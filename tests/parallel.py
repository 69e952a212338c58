"""`make test`'s runner: the suites in a few pytest sessions side by side, every failure shown.

Most of the suite's time is spent waiting, not computing: QEMU guests booting, corosync
forming and failing over in the lab, BMCs answering late, agents sleeping out retry intervals.
One pytest session leaves a 2-CPU machine mostly idle; three sessions over disjoint sets of
suites overlap those waits.  Each shard is an ordinary pytest session with its own session
fixtures (its own one-node Ceph on free ports in its own directory) and its own skip guard
(tests/harness/skipguard.py).  The suites were already safe to run beside other runs: labs,
namespaces, pools and containers carry random names and Ceph listens on free ports.

The last shard runs ``tests`` minus the others' paths, so a new suite runs without being
listed here.  Each shard writes its output to ``build/test/NAME.log`` and a JUnit report to
``build/test/NAME.xml``; the runner prints each log whole when its shard ends (failures and
pytest's short summary included), then one line per shard, and fails if any shard failed.

A SIGINT or SIGTERM is passed on to every shard as one SIGINT (pytest's KeyboardInterrupt,
which still runs every fixture's teardown), and the runner waits for them to clean up.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Optional

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "build" / "test"
#: How often the runner says which shards are still running (a CI log that stays silent for
#: a quarter of an hour looks hung).
STATUS_EVERY = 120.0


@dataclass(frozen=True)
class Shard:
    name: str
    paths: tuple[str, ...]  # empty: every test the other shards do not run


#: Balanced on measured durations (docs/developing.md, "How make test runs"): the QEMU guest
#: suites with the package build, the lab (three-node clusters) with the BMC suites, then
#: everything else.  A module's or session's shared fixture stays inside one shard (the lvs
#: guests serve both lvs files), so a directory is never split.
SHARDS = (
    Shard("guests", ("tests/kernel", "tests/lvs", "tests/package")),
    Shard("lab", ("tests/lab", "tests/redfish", "tests/fence")),
    Shard("rest", ()),
)


def shard_argv(shard: Shard, shards: tuple[Shard, ...], extra: list[str]) -> list[str]:
    """The pytest command line of ``shard``; the catch-all shard ignores the others' paths."""
    if shard.paths:
        targets = list(shard.paths)
    else:
        taken = [p for other in shards for p in other.paths]
        targets = ["tests", *(f"--ignore={p}" for p in taken)]
    return [sys.executable, "-m", "pytest", "-q", *targets,
            f"--junitxml={OUT_DIR / shard.name}.xml", *extra]


@dataclass
class Running:
    shard: Shard
    proc: subprocess.Popen[bytes]
    log: Path
    argv: list[str]
    started: float
    rc: Optional[int] = None
    ended: float = 0.0

    def minutes(self) -> str:
        seconds = int((self.ended or time.monotonic()) - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def summary_line(self) -> str:
        lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip("= ") if lines else "(no output)"


def check_paths(shards: tuple[Shard, ...]) -> None:
    """A misspelt path would make pytest fail, but an ignored one would silently run twice
    or not at all: every listed path must exist and belong to one shard only."""
    seen: set[str] = set()
    for shard in shards:
        for path in shard.paths:
            if not (REPO / path).exists():
                raise SystemExit(f"tests/parallel.py: shard {shard.name}: no {path}")
            if path in seen:
                raise SystemExit(f"tests/parallel.py: {path} is in two shards")
            seen.add(path)
    if sum(1 for s in shards if not s.paths) != 1:
        raise SystemExit("tests/parallel.py: exactly one shard must take the rest")


def start(shard: Shard, shards: tuple[Shard, ...], extra: list[str]) -> Running:
    log = OUT_DIR / f"{shard.name}.log"
    # A session of its own: a Ctrl-C at the terminal reaches the runner only, which passes
    # on exactly one SIGINT (a second one would interrupt pytest's teardown).  The child
    # keeps its own descriptor of the log.
    argv = shard_argv(shard, shards, extra)
    with open(log, "wb") as handle:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return Running(shard, proc, log, argv, time.monotonic())


def interrupt(running: list[Running]) -> None:
    for run in running:
        if run.rc is None:
            try:
                os.kill(run.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass


def report(run: Running, out: IO[str]) -> None:
    out.write(f"\n{'#' * 30} shard {run.shard.name}: exit {run.rc} after {run.minutes()} "
              f"(pytest {shlex.join(run.argv[3:])})\n")
    out.write(run.log.read_text(errors="replace"))
    out.flush()


def main(argv: list[str], shards: tuple[Shard, ...] = SHARDS) -> int:
    check_paths(shards)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    running = [start(shard, shards, argv) for shard in shards]
    print(f"make test: {len(running)} pytest sessions side by side: "
          + ", ".join(f"{r.shard.name} (pid {r.proc.pid})" for r in running)
          + f"; logs in {OUT_DIR.relative_to(REPO)}/", flush=True)

    def on_signal(signum: int, _frame: Optional[FrameType]) -> None:
        print(f"\nmake test: {signal.Signals(signum).name}: interrupting every shard, "
              "waiting for their cleanup", flush=True)
        interrupt(running)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    last_status = time.monotonic()
    while any(r.rc is None for r in running):
        time.sleep(1.0)
        for run in running:
            if run.rc is None and run.proc.poll() is not None:
                run.rc, run.ended = run.proc.returncode, time.monotonic()
                report(run, sys.stdout)
        if time.monotonic() - last_status >= STATUS_EVERY:
            last_status = time.monotonic()
            busy = [f"{r.shard.name} ({r.minutes()})" for r in running if r.rc is None]
            if busy:
                print(f"make test: still running: {', '.join(busy)}", flush=True)
    print(f"\n{'#' * 30} make test: every shard")
    for run in running:
        verdict = "ok" if run.rc == 0 else "FAILED"
        print(f"{verdict:6} {run.shard.name:8} exit {run.rc} after {run.minutes()}: "
              f"{run.summary_line()}")
    # The first failed shard's pytest status (1 tests failed, 2 interrupted...); 1 if it died
    # of a signal.
    failed = [r.rc for r in running if r.rc != 0]
    if not failed:
        return 0
    return failed[0] if failed[0] is not None and failed[0] > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
