"""Run inside a kernel guest by bench_lvs (after tests.lvs.lab's prelude built the site):
the monitor's cost against ldirectord's, and how hakit's cost grows with the table.

``python3 -m tests.bench.lvs_guest OUT.json RUNS``.  Every figure is a whole process (wall,
and user+system CPU of it and everything it waited for) run in the director's namespace
with ``ip netns exec``, or for the ldirectord daemon its CPU over many check rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.common import run_once
from tests.harness.ocf import AGENTS, LIB, OCF_ROOT
from tests.lvs import lab

LDIRECTORD_RA = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"
HERE = Path("/run/vmout")
#: Check interval of both sides: hakit's monitor interval, ldirectord's checkinterval.
INTERVAL = 1
LD_ROUNDS = 20
#: Seconds one command may take: TCG on a loaded 2-CPU host runs perl and python tens of
#: times slower than the host (ldirectord's start took over 120 s once).
TIMEOUT = 900


def _once(argv: list[str], env: dict[str, str], expect: tuple[int, ...] = (0,)
          ) -> tuple[float, float]:
    return run_once(argv, env, expect, TIMEOUT)


def _env(params: dict[str, str], instance: str, interval_ms: int = 5000) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": OCF_ROOT, "OCF_RESOURCE_INSTANCE": instance,
           "OCF_RESKEY_CRM_meta_timeout": "120000",
           "OCF_RESKEY_CRM_meta_interval": str(interval_ms)}
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env


def _ns(name: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]


def _cpu_of(pid: int) -> float:
    """user+system CPU seconds of a process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def monitor_vs_ldirectord(runs: int) -> dict[str, object]:
    """One virtual service, two real servers, TCP connect checks, both sides the same."""
    samples: dict[str, object] = {}
    lvs = str(AGENTS / "lvs")
    params = {"services": lab.SERVICES, "sync_interface": "eth0", "sync_warmup": "1s",
              "sync_refresh": "1s"}
    env = _env(params, "bench")
    _once(_ns("d1", lvs, "start"), {**env, "OCF_RESKEY_CRM_meta_interval": "0"})
    time.sleep(1.2)
    _once(_ns("d1", lvs, "promote"), env)
    samples["hakit monitor (promoted, 2 TCP checks)"] = [
        _once(_ns("d1", lvs, "monitor"), env, (8,)) for _ in range(runs)]
    _once(_ns("d1", lvs, "stop"), env)
    conf = HERE / "ld.cf"
    conf.write_text(f"checktimeout=1\ncheckinterval={INTERVAL}\nautoreload=no\nquiescent=yes\n"
                    f"logfile=\"{HERE}/ldirectord.log\"\n"
                    f"virtual={lab.VIP}:{lab.PORT}\n\treal=198.18.0.11:{lab.PORT} gate\n"
                    f"\treal=198.18.0.12:{lab.PORT} gate\n"
                    f"\tfallback=198.18.0.13:{lab.PORT} gate\n\tchecktype=connect\n"
                    "\tscheduler=rr\n\tprotocol=tcp\n")
    ld_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": OCF_ROOT,
              "OCF_RESKEY_configfile": str(conf), "OCF_RESKEY_CRM_meta_timeout": "60000",
              "OCF_RESKEY_CRM_meta_interval": "20000", "OCF_RESOURCE_INSTANCE": "ld"}
    samples["ldirectord RA start"] = [_once(_ns("d2", LDIRECTORD_RA, "start"), ld_env)]
    pid = int(Path("/run/ldirectord.ld.cf.pid").read_text().split()[0])
    time.sleep(3 * INTERVAL)
    begin_cpu, begin = _cpu_of(pid), time.monotonic()
    time.sleep(LD_ROUNDS * INTERVAL)
    rounds = (time.monotonic() - begin) / INTERVAL
    samples["ldirectord daemon, CPU per check round"] = (_cpu_of(pid) - begin_cpu) / rounds
    samples["ldirectord RA monitor"] = [_once(_ns("d2", LDIRECTORD_RA, "monitor"), ld_env)
                                        for _ in range(runs)]
    _once(_ns("d2", LDIRECTORD_RA, "stop"), ld_env)
    return samples


def _definition(services: int, reals: int) -> str:
    lines = []
    for i in range(services):
        port = 10000 + i
        lines.append(f"virtual {lab.VIP}:{port} scheduler=wlc forward=dr")
        lines += [f"  real 198.18.1.{j + 1}:{port}" for j in range(reals)]
        lines.append("  check tcp timeout=2")
    return "\n".join(lines) + "\n"


def scaling(runs: int) -> dict[str, object]:
    """1, 10 and 100 virtual services of 10 real servers each (every check due)."""
    for j in range(10):
        subprocess.run(["ip", "-n", "r1", "addr", "add", f"198.18.1.{j + 1}/24", "dev", "eth0"],
                       check=True)
    subprocess.run(["ip", "-n", "d1", "route", "add", "198.18.1.0/24", "dev", "eth0"],
                   check=True)
    pidfile = HERE / "many.pid"
    server = subprocess.Popen(_ns("r1", "python3", str(Path(__file__).parents[1] / "lvs" /
                                                       "many_ports.py"), "10000", "100",
                                  str(pidfile)))
    while not pidfile.exists():
        time.sleep(0.1)
    samples: dict[str, object] = {}
    lvs = str(AGENTS / "lvs")
    try:
        for count in (1, 10, 100):
            conf = HERE / f"lvs-{count}.conf"
            conf.write_text(_definition(count, 10))
            env = _env({"config_file": str(conf), "sync_interface": "eth0",
                        "sync_warmup": "1s", "sync_refresh": "1s"}, f"scale{count}")
            samples[f"{count} start"] = [_once(_ns("d1", lvs, "start"),
                                                  {**env, "OCF_RESKEY_CRM_meta_interval": "0"})]
            time.sleep(1.2)
            _once(_ns("d1", lvs, "promote"), env)
            samples[f"{count} monitor"] = [_once(_ns("d1", lvs, "monitor"), env, (8,))
                                           for _ in range(runs)]
            samples[f"{count} probe"] = [_once(
                _ns("d1", lvs, "monitor"), {**env, "OCF_RESKEY_CRM_meta_interval": "0"}, (8,))
                for _ in range(runs)]
            samples[f"{count} stop"] = [_once(_ns("d1", lvs, "stop"), env)]
    finally:
        server.kill()
    return samples


def interpreter(runs: int) -> list[tuple[float, float]]:
    """``python3 -S -c pass`` here: with the same on the host, how much slower the guest's
    emulated CPU runs what every agent action starts with."""
    return [_once(["python3", "-S", "-c", "pass"], {"PATH": "/usr/bin:/bin"})
            for _ in range(runs)]


def dead_server(interval: float = 1.0) -> dict[str, object]:
    """How fast a killed real server stops getting new connections: monitors every
    ``interval`` s (Pacemaker's recurring monitor), new connections every 50 ms."""
    lvs = str(AGENTS / "lvs")
    env = _env({"services": lab.SERVICES, "sync_interface": "eth0", "sync_warmup": "1s",
                "sync_refresh": "1s"}, "dead")
    vip = _env({"ip": lab.VIP, "cidr_netmask": "24", "nic": "eth0"}, "vip")
    _once(_ns("d1", lvs, "start"), {**env, "OCF_RESKEY_CRM_meta_interval": "0"})
    time.sleep(1.2)
    _once(_ns("d1", lvs, "promote"), env)
    _once(_ns("d1", str(AGENTS / "vip"), "start"), vip)
    log = HERE / "dead_conns.log"
    with open(log, "w") as handle:
        client = subprocess.Popen(_ns("c", "python3", str(Path(lab.HERE) / "new_conns.py"),
                                      lab.VIP, str(lab.PORT), "0", "0.05", "0.5"),
                                  stdout=handle)
    monitors: list[float] = []
    try:
        # Until the client has served a connection (its start-up under emulation), then a
        # second of steady state.
        for _ in range(300):
            if log.stat().st_size:
                break
            time.sleep(0.1)
        time.sleep(1)
        pid = int((HERE / "r1.pid").read_text())
        killed = time.clock_gettime(time.CLOCK_BOOTTIME)
        os.kill(pid, 9)
        end = time.monotonic() + 8
        while time.monotonic() < end:
            started = time.monotonic()
            wall, _ = _once(_ns("d1", lvs, "monitor"), env, (8,))
            monitors.append(wall)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        client.kill()
        client.wait()
        _once(_ns("d1", str(AGENTS / "vip"), "stop"), vip)
        _once(_ns("d1", lvs, "stop"), env)
    failures = [t for t, kind, _ in lab.events(log.read_text()) if kind == "error"
                and t > killed]
    return {"interval": interval, "out_after": (failures[-1] - killed) if failures else 0.0,
            "failed_connections": len(failures), "monitor_walls": monitors}


def main(argv: list[str]) -> int:
    runs = int(argv[2])
    out = {"interpreter": interpreter(runs), "monitor": monitor_vs_ldirectord(runs),
           "dead": dead_server(), "scaling": scaling(runs)}
    Path(argv[1]).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
