"""The split-brain watch: who has the service's filesystem mounted, who holds its RBD lock.

A sampler runs detached in the hub namespace (where Ceph is) during a failover and writes
one JSON line about every ``interval`` seconds, looking from outside every node:

- ``mounted``: the nodes whose mount namespace (their holder's ``/proc/PID/mountinfo``,
  read with ``hakit.os.mountinfo``) has a filesystem on the container's directory;
- ``owners``: the client addresses holding the image's exclusive lock (librbd's
  ``lock_get_owners`` through ``hakit.os.ceph``).

``violations`` is the verdict: no sample may show two nodes with it mounted, or two lock
owners.  A frozen (hung) node still counts as mounting it until its power is cut, which is
the point: nobody else may mount it before.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, TextIO

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, HakitError
from hakit.os import ceph, mountinfo
from hakit.os.runner import Runner
from lab import checkout, node, procs
from lab.layout import LabLayout, layout_from_manifest

INTERVAL = 0.15
#: A sampler left behind by a failed test stops by itself after this long.
LIFETIME = 900.0


@dataclass(frozen=True)
class Sample:
    """One look at the lab."""

    t: float  # unix time
    mounted: tuple[str, ...]  # nodes with a filesystem on the directory
    owners: tuple[str, ...]  # exclusive lock owners' client addresses
    error: str = ""  # why the lock owners could not be read this time (owners then empty)


def mounts_directory(mountinfo_text: str, directory: str) -> bool:
    """Whether anything is mounted on exactly ``directory`` in this mountinfo (pure)."""
    return bool(mountinfo.mounted_at(mountinfo.parse_known(mountinfo_text), directory))


def mounted_on(layout: LabLayout, directory: str) -> tuple[str, ...]:
    """The nodes whose mount namespace has a filesystem on ``directory``."""
    found = []
    for n in layout.nodes:
        holder = node.holder_of(n)
        if holder is None:
            continue
        try:
            text = Path(f"/proc/{holder.pid}/mountinfo").read_text()
        except OSError:
            continue  # powered off between the two reads
        if mounts_directory(text, directory):
            found.append(n.name)
    return tuple(found)


def parse_samples(text: str) -> list[Sample]:
    """The sampler's output, skipping a last line cut short (pure)."""
    samples = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
            samples.append(Sample(float(doc["t"]), tuple(doc["mounted"]), tuple(doc["owners"]),
                                  str(doc.get("error", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return samples


def parse_lock_list(text: str) -> list[str]:
    """Client addresses in ``rbd lock ls --format json`` (pure; [] when nothing is locked)."""
    try:
        doc = json.loads(text) if text.strip() else []
    except ValueError:
        return []
    if isinstance(doc, dict):  # older releases: {"lock id": {"locker": ..., "address": ...}}
        doc = list(doc.values())
    if not isinstance(doc, list):
        return []
    return [str(item["address"]) for item in doc
            if isinstance(item, dict) and isinstance(item.get("address"), str)]


def violations(samples: Sequence[Sample]) -> list[str]:
    """Every sample where two nodes had it mounted or two clients held the lock (pure)."""
    found = []
    for s in samples:
        if len(set(s.mounted)) > 1:
            found.append(f"{s.t:.3f}: mounted on {', '.join(s.mounted)}")
        if len(set(s.owners)) > 1:
            found.append(f"{s.t:.3f}: lock held by {', '.join(s.owners)}")
    return found


def _changes(sightings: Iterable[tuple[str, ...]]) -> list[str]:
    """The successive single values seen (one entry per change, gaps skipped) (pure)."""
    seen: list[str] = []
    for found in sightings:
        if len(found) == 1 and (not seen or seen[-1] != found[0]):
            seen.append(found[0])
    return seen


def owner_history(samples: Sequence[Sample]) -> list[str]:
    """The successive lock owners seen (pure)."""
    return _changes(s.owners for s in samples)


def mount_history(samples: Sequence[Sample]) -> list[str]:
    """The successive nodes seen mounting it (pure)."""
    return _changes(s.mounted for s in samples)


def run(layout: LabLayout, access: ceph.Access, spec: ceph.ImageSpec, directory: str,
        out: Path, *, interval: float = INTERVAL, lifetime: float = LIFETIME,
        keep_going: Callable[[], bool] = lambda: True) -> None:
    """Sample until ``keep_going`` says stop or ``lifetime`` has passed."""
    end = Deadline(lifetime)
    with open(out, "a", encoding="utf-8") as log:
        while keep_going() and not end.expired():
            next_sample = end.within(interval)  # one sample per interval, whatever it took
            try:
                with ceph.connect(access, Deadline(10)) as cluster:
                    while keep_going() and not end.expired():
                        next_sample = end.within(interval)
                        _write(log, Sample(time.time(), mounted_on(layout, directory),
                                           tuple(cluster.lock_owners(spec))))
                        next_sample.sleep(interval)
            except HakitError as exc:  # Ceph slow or a client timeout: note it, reconnect
                _write(log, Sample(time.time(), mounted_on(layout, directory), (),
                                   exc.reason))
                next_sample.sleep(interval)


def _write(log: TextIO, sample: Sample) -> None:
    log.write(json.dumps(asdict(sample)) + "\n")
    log.flush()


class Sampler:
    """The sampler of one lab, run detached in its hub, writing to ``out``."""

    def __init__(self, runner: Runner, layout: LabLayout, *, access: ceph.Access,
                 spec: ceph.ImageSpec, directory: str, out: Path,
                 interval: float = INTERVAL, lifetime: float = LIFETIME) -> None:
        self.runner = runner
        self.interval = interval
        self.lifetime = lifetime
        self.layout = layout
        self.access = access
        self.spec = spec
        self.directory = directory
        self.out = out
        self.proc: Optional[procs.Proc] = None

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait for its first successful sample."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        argv = [self.runner.require("ip"), "netns", "exec", self.layout.hub_netns,
                "/usr/bin/python3", "-m", "lab.splitbrain",
                "--state-dir", str(self.layout.state_dir), "--user", self.access.user,
                "--conf", self.access.cephconf or "", "--keyring", self.access.keyring or "",
                "--pool", self.spec.pool, "--image", self.spec.image,
                "--directory", self.directory, "--out", str(self.out),
                "--interval", repr(self.interval), "--lifetime", repr(self.lifetime)]
        self.proc = procs.spawn_detached(self.runner, argv, self.out.with_suffix(".stderr"),
                                         checkout.child_env())

        def first() -> Optional[bool]:
            if self.proc is None or not procs.is_alive(self.proc):
                raise ActionTimeout(f"the sampler exited (see {self.out}.stderr)")
            return True if any(not s.error for s in self.samples()) else None

        Deadline(timeout).poll(first, "waiting for the split-brain sampler", 0.1, 0.5)

    def stop(self) -> list[Sample]:
        """Kill it by PID; returns every sample it took."""
        if self.proc is not None:
            procs.kill_all([self.proc], Deadline(10), "stopping the sampler")
            self.proc = None
        return self.samples()

    @property
    def running(self) -> bool:
        return self.proc is not None and procs.is_alive(self.proc)

    def samples(self) -> list[Sample]:
        try:
            return parse_samples(self.out.read_text(encoding="utf-8"))
        except OSError:
            return []


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m lab.splitbrain",
                                description="sample mounts and RBD lock owners of a lab")
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--user", default="admin")
    p.add_argument("--conf", required=True)
    p.add_argument("--keyring", required=True)
    p.add_argument("--pool", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--directory", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--interval", type=float, default=INTERVAL)
    p.add_argument("--lifetime", type=float, default=LIFETIME,
                   help="stop by itself after this many seconds (a sampler left behind)")
    args = p.parse_args(argv)
    run(layout_from_manifest(args.state_dir),
        ceph.Access(user=args.user, cephconf=args.conf, keyring=args.keyring),
        ceph.ImageSpec(args.pool, args.image), args.directory, args.out,
        interval=args.interval, lifetime=args.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
