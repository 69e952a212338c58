"""ocf:hakit:fs vs ocf:heartbeat:Filesystem on the same ext4 loop device, side by side.

Monitor at depths 0, 10 and 20 on the mounted filesystem, and stop while three processes
hold the mount (cwd, an open file, a memory mapping): the cost Pacemaker pays per action.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
from pathlib import Path

from tests.bench.common import Stats, ext4_on_loop, measure, ratio, run_once, table
from tests.harness.ocf import AGENTS, LIB, OCF_ROOT

FILESYSTEM = Path(OCF_ROOT) / "resource.d" / "heartbeat" / "Filesystem"
HAKIT = AGENTS / "fs"
PY = "/usr/bin/python3"
HOLDERS = (
    "import time; print('ready', flush=True); time.sleep(600)",
    "import sys, time; f = open(sys.argv[1], 'a'); print('ready', flush=True); time.sleep(600)",
    "import mmap, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
    "m = mmap.mmap(fd, 4096); os.close(fd); print('ready', flush=True); time.sleep(600)",
)


def _env(device: str, directory: str, level: int, action_extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB), "OCF_ROOT": OCF_ROOT,
        "OCF_RESOURCE_INSTANCE": "bench", "OCF_RESKEY_CRM_meta_timeout": "60000",
        "OCF_RESKEY_CRM_meta_interval": "20000", "OCF_CHECK_LEVEL": str(level),
        "OCF_RESKEY_device": device, "OCF_RESKEY_directory": directory,
        "OCF_RESKEY_fstype": "ext4",
    }
    env.update(action_extra)
    return env


def _holders(directory: str) -> list[subprocess.Popen[str]]:
    Path(directory, "work").mkdir(exist_ok=True)
    Path(directory, "open.txt").write_text("x")
    Path(directory, "mapped.bin").write_bytes(b"\0" * 4096)
    procs = []
    for code, cwd, arg in ((HOLDERS[0], f"{directory}/work", []),
                           (HOLDERS[1], "/", [f"{directory}/open.txt"]),
                           (HOLDERS[2], "/", [f"{directory}/mapped.bin"])):
        proc = subprocess.Popen([PY, "-c", code, *arg], cwd=cwd, stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return procs


def _reap(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _busy_stop(label: str, agent: Path, env: dict[str, str], runs: int) -> Stats:
    walls, cpus = [], []
    for _ in range(runs):
        run_once([str(agent), "start"], env)
        procs = _holders(env["OCF_RESKEY_directory"])
        try:
            wall, cpu = run_once([str(agent), "stop"], env)
        finally:
            _reap(procs)
        walls.append(wall)
        cpus.append(cpu)
    return Stats(label, runs, statistics.median(walls) * 1000, statistics.median(cpus) * 1000)


def main() -> str:
    if os.geteuid() != 0:
        return "## fs\n\nSkipped: needs root (loop devices, mounts).\n"
    with ext4_on_loop("fs") as (device, directory):
        rows: list[Stats] = []
        pairs: list[tuple[Stats, Stats]] = []
        floor = measure("python3 -S + import hakit.ocf.dispatch (no action)",
                        [PY, "-S", "-c", "import hakit.ocf.dispatch"],
                        _env(device, directory, 0, {}), runs=40)
        run_once([str(HAKIT), "start"], _env(device, directory, 0, {}))
        for level in (0, 10, 20):
            ours = measure(f"hakit fs monitor depth {level}", [str(HAKIT), "monitor"],
                           _env(device, directory, level, {}), runs=40)
            theirs = measure(f"Filesystem monitor depth {level}",
                             [str(FILESYSTEM), "monitor"],
                             _env(device, directory, level, {}), runs=40)
            rows += [ours, theirs]
            pairs.append((ours, theirs))
        run_once([str(HAKIT), "stop"], _env(device, directory, 0, {}))
        ours = _busy_stop("hakit fs stop, 3 holders", HAKIT,
                          _env(device, directory, 0, {"OCF_RESKEY_signal_delay": "1s"}),
                          runs=8)
        theirs = _busy_stop("Filesystem stop, 3 holders", FILESYSTEM,
                            _env(device, directory, 0, {"OCF_RESKEY_signal_delay": "1"}),
                            runs=8)
        rows += [ours, theirs, floor]
        pairs.append((ours, theirs))
    lines = [
        "## fs (ocf:hakit:fs vs ocf:heartbeat:Filesystem)", "",
        "Same 64 MiB ext4 loop device and mount point; monitors with the filesystem "
        "mounted; stop with three holders (cwd, open file, mmap), signal_delay 1 s for both.",
        "", table(rows), "",
        *(f"- {ratio(a, b)}" for a, b in pairs),
    ]
    return "\n".join(lines) + "\n"
