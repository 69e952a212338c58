"""ocf:hakit:lxc vs ocf:heartbeat:lxc on the same busybox container: monitor, start, stop.

ocf:heartbeat:lxc has no lxcpath: it runs ``lxc-start -n NAME`` and ``lxc-info -n NAME`` with
LXC's default path, so the container is made in /var/lib/lxc under a unique name and
destroyed afterwards.  Its start and stop write 1 to ``notify_on_release`` of the first
cgroup v1 mount (its ``cgroup_mounted``); the value is put back afterwards.
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Optional

from tests.bench.common import Stats, cgroup_release_kept, measure, ratio, run_once, table
from tests.harness.ocf import AGENTS, LIB, OCF_ROOT

HAKIT = str(AGENTS / "lxc")
HEARTBEAT = f"{OCF_ROOT}/resource.d/heartbeat/lxc"
DEFAULT_LXCPATH = "/var/lib/lxc"
BASE_CONFIG = "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n"
CYCLES = 5


def _env(params: Mapping[str, str], interval_ms: int = 0,
         extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": OCF_ROOT, "OCF_RESOURCE_INSTANCE": "bench",
           "OCF_RESKEY_CRM_meta_timeout": "60000",
           "OCF_RESKEY_CRM_meta_interval": str(interval_ms)}
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    env.update(extra or {})
    return env


@contextmanager
def _bench_container() -> Iterator[str]:
    name = f"hakit-bench-{secrets.token_hex(4)}"
    with cgroup_release_kept():
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as base:
            base.write(BASE_CONFIG)
            base.flush()
            subprocess.run(["/usr/bin/lxc-create", "-t", "busybox", "-n", name, "-f",
                            base.name], capture_output=True, check=True, timeout=120)
        try:
            yield name
        finally:
            subprocess.run(["/usr/bin/lxc-stop", "-k", "-n", name], capture_output=True,
                           check=False, timeout=60)
            subprocess.run(["/usr/bin/lxc-destroy", "-f", "-n", name], capture_output=True,
                           check=False, timeout=60)


def _cycles(label: str, argv_start: Sequence[str], argv_stop: Sequence[str],
            env: Mapping[str, str]) -> tuple[Stats, Stats]:
    starts: list[tuple[float, float]] = []
    stops: list[tuple[float, float]] = []
    for _ in range(CYCLES):
        starts.append(run_once(argv_start, env))
        stops.append(run_once(argv_stop, env))

    def stats(what: str, runs: list[tuple[float, float]]) -> Stats:
        return Stats(f"{label} {what}", len(runs),
                     statistics.median(w for w, _ in runs) * 1000,
                     statistics.median(c for _, c in runs) * 1000)

    return stats("start", starts), stats("stop", stops)


def main() -> str:
    if os.geteuid() != 0:
        return "## lxc\n\nskipped: needs root\n"
    with _bench_container() as name:
        config = f"{DEFAULT_LXCPATH}/{name}/config"
        ours = _env({"name": name, "log_file": f"/tmp/{name}.hakit.log"}, 30000)
        deep = _env({"name": name, "log_file": f"/tmp/{name}.hakit.log",
                     "health_command": "pidof init"}, 60000, {"OCF_CHECK_LEVEL": "10"})
        theirs = _env({"container": name, "config": config, "log": f"/tmp/{name}.hb.log"},
                      30000)
        probe = _env({"name": name, "log_file": f"/tmp/{name}.hakit.log"}, 0)
        theirs_probe = _env({"container": name, "config": config,
                             "log": f"/tmp/{name}.hb.log"}, 0)
        try:
            # The probe (interval 0) is how Pacemaker meets a stopped container: on every
            # node but the one running it, at every cluster start and resource change.
            stopped = [
                measure("hakit probe (stopped)", [HAKIT, "monitor"], probe, expect=(7,)),
                measure("heartbeat probe (stopped)", [HEARTBEAT, "monitor"], theirs_probe,
                        expect=(7,)),
                # A recurring monitor finding it stopped (a failure, with its reason logged).
                measure("hakit monitor (stopped)", [HAKIT, "monitor"], ours, expect=(7,)),
                measure("heartbeat monitor (stopped)", [HEARTBEAT, "monitor"], theirs,
                        expect=(7,)),
            ]
            hk_start, hk_stop = _cycles("hakit", [HAKIT, "start"], [HAKIT, "stop"], ours)
            hb_start, hb_stop = _cycles("heartbeat", [HEARTBEAT, "start"],
                                        [HEARTBEAT, "stop"], theirs)
            run_once([HAKIT, "start"], ours)
            running = [
                measure("hakit monitor (running)", [HAKIT, "monitor"], ours),
                measure("heartbeat monitor (running)", [HEARTBEAT, "monitor"], theirs),
                measure("hakit monitor depth 10 (lxc-attach pidof init)", [HAKIT, "monitor"],
                        deep),
            ]
            run_once([HAKIT, "stop"], ours)
            dist = "import sys; sys.path.append('/usr/lib/python3/dist-packages'); "
            snippets = [
                ("", "pass (interpreter floor)", "pass"),
                ("-S ", "pass (interpreter floor, as the agent starts)", "pass"),
                ("-S ", "import _lxc; Container(NAME).state (the work itself)",
                 f"{dist}import _lxc; _lxc.Container({name!r}, {DEFAULT_LXCPATH!r}).state"),
                ("-S ", "import lxc (python3-lxc's wrapper, no longer used)",
                 f"{dist}import lxc"),
                ("-S ", "import hakit.agents.lxc, hakit.ocf.dispatch",
                 f"{dist}import hakit.agents.lxc, hakit.ocf.dispatch"),
                ("-S ", "import logging.handlers", "import logging.handlers"),
                ("-S ", "import subprocess", "import subprocess"),
            ]
            floor = [measure(f"python3 {flag}-c '{label}'",
                             ["/usr/bin/python3", *flag.split(), "-c", code], ours)
                     for flag, label, code in snippets]
            floor.append(measure("lxc-info -s -n NAME", ["/usr/bin/lxc-info", "-s", "-n", name],
                                 ours))
        finally:
            for suffix in ("hakit", "hb"):
                path = f"/tmp/{name}.{suffix}.log"
                if os.path.exists(path):
                    os.unlink(path)
    rows = [*running, *stopped, hk_start, hb_start, hk_stop, hb_stop]
    lines = [
        "## lxc (ocf:hakit:lxc vs ocf:heartbeat:lxc)", "",
        f"Busybox container ({CYCLES} start/stop cycles per agent, monitors 30 runs; "
        "busybox init takes about 2 s to shut down cleanly).", "",
        table(rows), "",
        f"- {ratio(running[0], running[1])}",
        f"- {ratio(stopped[0], stopped[1])}",
        f"- {ratio(stopped[2], stopped[3])}",
        f"- {ratio(hk_start, hb_start)}",
        f"- {ratio(hk_stop, hb_stop)}", "",
        "Where a hakit monitor's CPU goes:", "",
        table(floor), "",
    ]
    return "\n".join(lines)
