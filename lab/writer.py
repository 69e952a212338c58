"""The "nothing lost" client: appends numbered records through the VIP, logs the acknowledged.

Run in the lab's hub namespace (``python3 -m lab.writer URL ACKED``), detached, and
stopped by PID.  It asks the container's CGI (``lab.stack.APPEND_CGI``) to append
record 1, 2, 3, ... in sequence; a request that fails or times out is retried with the same
number until it is acknowledged (``ok N``, sent only after the container's fsync), so a
number may be stored twice but never skipped.  Each acknowledged number is appended to the
ACKED file at once: every number in that file must be among the records the VIP serves
afterwards, whatever failed over in between.

``WriterProcess`` starts it (with the system python3 and this hakit on PYTHONPATH), stops it
by PID, and reads back what it logged.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout
from hakit.os.runner import Runner
from lab import checkout, procs
from lab.layout import LabLayout

#: Per request: short, so a dead or frozen node costs little before the retry.
REQUEST_TIMEOUT = 1.0
#: Between two appends (and retries): keeps the lab's two CPUs for the cluster.
PAUSE = 0.1


def acknowledged(body: str, number: int) -> bool:
    """Whether the CGI's answer acknowledges exactly ``number`` (pure)."""
    return body.strip() == f"ok {number}"


def parse_numbers(text: str) -> list[int]:
    """The numbers of a records or acked file, one per line, in order (pure).

    A last line without its newline may be a write cut short (the writer killed mid-line):
    it is left out, as is anything that is not a plain decimal number.
    """
    lines = text.split("\n")
    complete = lines[:-1]  # the part after the last newline is unfinished (or empty)
    return [int(line) for line in complete if line.isdigit() and line.isascii()]


def missing(acked: Iterable[int], records: Iterable[int]) -> list[int]:
    """Acknowledged numbers absent from the records, sorted (pure)."""
    return sorted(set(acked) - set(records))


def append(base_url: str, number: int, timeout: float = REQUEST_TIMEOUT) -> bool:
    """One append request; True only when the container acknowledged it."""
    url = f"{base_url}?{number}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - lab URL
            return acknowledged(resp.read().decode("ascii", "replace"), number)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def run(base_url: str, acked: Path, *, first: int = 1, pause: float = PAUSE,
        timeout: float = REQUEST_TIMEOUT,
        keep_going: Callable[[], bool] = lambda: True) -> int:
    """Append records from ``first`` on until ``keep_going`` says stop; returns the next."""
    number = first
    with open(acked, "a", encoding="ascii") as log:
        while keep_going():
            if append(base_url, number, timeout):
                log.write(f"{number}\n")
                log.flush()  # the test reads the file while this runs
                number += 1
            Deadline(pause).sleep(pause)
    return number


class WriterProcess:
    """The writer of one lab, run detached in its hub; files under ``workdir``."""

    def __init__(self, runner: Runner, layout: LabLayout, url: str, workdir: Path, *,
                 pause: float = PAUSE, timeout: float = REQUEST_TIMEOUT) -> None:
        self.runner = runner
        self.pause = pause
        self.timeout = timeout
        self.layout = layout
        self.url = url
        self.workdir = workdir
        self.proc: Optional[procs.Proc] = None

    @property
    def acked_file(self) -> Path:
        return self.workdir / "acked"

    def start(self) -> procs.Proc:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [self.runner.require("ip"), "netns", "exec", self.layout.hub_netns,
                "/usr/bin/python3", "-m", "lab.writer", self.url, str(self.acked_file),
                "--pause", repr(self.pause), "--timeout", repr(self.timeout)]
        self.proc = procs.spawn_detached(self.runner, argv, self.workdir / "writer.out",
                                         checkout.child_env())
        return self.proc

    def stop(self) -> None:
        """Kill it by PID (a line cut short is ignored by ``parse_numbers``)."""
        if self.proc is not None:
            procs.kill_all([self.proc], Deadline(10), "stopping the writer")
            self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and procs.is_alive(self.proc)

    def acked(self) -> list[int]:
        """Every number acknowledged so far, in order."""
        try:
            return parse_numbers(self.acked_file.read_text(encoding="ascii"))
        except OSError:
            return []

    def wait_for_more(self, than: int, timeout: float) -> list[int]:
        """Wait until more than ``than`` numbers are acknowledged; returns them all."""
        def more() -> Optional[list[int]]:
            got = self.acked()
            return got if len(got) > than else None

        try:
            return Deadline(timeout).poll(more, "waiting for the writer", 0.1, 0.5)
        except ActionTimeout as exc:
            raise ActionTimeout(f"the writer acknowledged nothing beyond {than} records "
                                f"within {timeout:g}s (see {self.workdir})") from exc


def wait_all_for_more(writers: Sequence[WriterProcess], more: int, timeout: float) -> None:
    """Wait until each writer has acknowledged ``more`` records beyond what it had when
    called, all in one wait: waiting for them one after another costs the sum of their
    pauses (70 paced writers: minutes per fault), this costs the slowest one's."""
    wanted = [(w, len(w.acked()) + more) for w in writers]

    def done() -> Optional[bool]:
        nonlocal wanted
        wanted = [(w, n) for w, n in wanted if len(w.acked()) < n]
        return True if not wanted else None

    try:
        Deadline(timeout).poll(done, "waiting for the writers", 0.1, 0.5)
    except ActionTimeout as exc:
        late = ", ".join(str(w.workdir) for w, _ in wanted[:5])
        raise ActionTimeout(f"{len(wanted)} writers acknowledged fewer than {more} more "
                            f"records within {timeout:g}s (see {late})") from exc


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m lab.writer",
                                description="append numbered records through the VIP")
    p.add_argument("url", help="the append CGI, e.g. http://VIP/cgi-bin/append")
    p.add_argument("acked", type=Path, help="file to append each acknowledged number to")
    p.add_argument("--pause", type=float, default=PAUSE)
    p.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT)
    args = p.parse_args(argv)
    run(args.url, args.acked, pause=args.pause, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
