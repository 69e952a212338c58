"""Benchmark ocf:hakit:lvs in a Debian kernel guest (the host kernel has no ip_vs).

1. Failover and failback of a director pair with a long-lived connection and a stream of
   new connections, hakit (ocf:hakit:lvs + ocf:hakit:vip, driven as Pacemaker would once it
   has decided) against keepalived's LVS mode (VRRP decides by itself), in one guest
   (tests/lvs/lab.py): from the director's death to the first byte flowing again on the
   established connection and to the first new connection served.
2. The recurring monitor's cost against ldirectord (its daemon's CPU per check round plus
   its resource agent's monitor), for the same service and checks.
3. How hakit's start, monitor and stop grow with 1, 10 and 100 virtual services of 10 real
   servers each, and how fast a killed real server stops getting new connections.

QEMU TCG (emulated, 1 vCPU): absolute figures are several times a real host's.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bench.common import Stats, measure, table
from tests.harness.ocf import LIB, ROOT
from tests.harness.vm import Guest, GuestKernel, prepare
from tests.lvs import lab

RUNS = 10
#: Failover rounds, one fresh guest each (hakit, then keepalived, in each).
ROUNDS = 3


def _run(kernel: GuestKernel, work: Path, name: str, script: str) -> Guest:
    guest = Guest(kernel, work / name, name=name, memory_mb=384)
    try:
        result = guest.start(script).wait(1800)
    finally:
        guest.kill()
    if result.rc != 0:
        raise RuntimeError(f"benchmark guest {name} failed: {result.output[-2000:]}")
    return guest


def _text(guest: Guest, name: str) -> str:
    path = guest.path(name)
    return path.read_text() if path.exists() else ""


def _failover(kernel: GuestKernel, work: Path, round_: int) -> dict[str, float]:
    guest = _run(kernel, work, f"failover{round_}", lab.failover_script(anchor=True,
                                                                        probes=True))
    figures: dict[str, float] = {}
    for side in ("hakit", "keepalived"):
        crash = float(_text(guest, f"{side}_crash.t"))
        log = lab.events(_text(guest, f"{side}.log"))
        figures[f"{side} first byte"] = lab.first_after(log, crash)
        figures[f"{side} first new connection"] = lab.first_served_after(
            _text(guest, f"{side}_new1.log"), crash)
        if side == "hakit":
            figures["hakit promote done"] = float(_text(guest, "hakit_promoted.t")) - crash
        figures[f"{side} switch"] = float(_text(guest, f"{side}_switched.t")) - crash
        back = float(_text(guest, f"{side}_failback.t"))
        kept = not any(k == "error" for _, k, _ in log)
        figures[f"{side} failback kept (1 yes, 0 reset)"] = float(kept)
        figures[f"{side} failback: first byte after its start"] = (
            lab.first_after(log, back) if kept else float("inf"))
    return figures


def _cost(kernel: GuestKernel, work: Path) -> dict[str, object]:
    script = lab.prelude() + (f"cd {ROOT}\nPYTHONPATH={ROOT}:{LIB} /usr/bin/python3 -m "
                              f"tests.bench.lvs_guest /run/vmout/cost.json {RUNS}\n")
    guest = _run(kernel, work, "cost", script)
    return dict(json.loads(_text(guest, "cost.json")))


def _stats(label: str, samples: list[list[float]]) -> Stats:
    return Stats(label, len(samples), statistics.median(w for w, _ in samples) * 1000,
                 statistics.median(c for _, c in samples) * 1000)


def main() -> str:
    kernel = prepare()
    host_python = measure("python3 -S -c pass, host", ["python3", "-S", "-c", "pass"],
                          {"PATH": "/usr/bin:/bin"}, runs=RUNS)
    # Kept afterwards (its path on stderr): the guests' logs behind every figure.
    work = Path(tempfile.mkdtemp(prefix="hakit-bench-lvs-"))
    print(f"bench_lvs: guest logs in {work}", file=sys.stderr)
    cost = _cost(kernel, work)
    rounds = [_failover(kernel, work, n) for n in range(ROUNDS)]
    lines = ["## LVS director pair (ocf:hakit:lvs vs keepalived and ldirectord)", "",
             f"Debian {kernel.version} under QEMU TCG (1 vCPU), namespaces in one guest "
             "(tests/lvs/lab.py): client, two directors, two real servers and a sorry "
             "server, direct routing; the director is killed by cutting its link.", "",
             "| seconds after the director's death | " + " | ".join(
                 f"round {n + 1}" for n in range(len(rounds))) + " |",
             "|---|" + "---|" * len(rounds)]
    for key in rounds[0]:
        lines.append(f"| {key} | " + " | ".join(f"{r[key]:.2f}" for r in rounds) + " |")
    lines.append("")
    for what in ("first byte", "first new connection"):
        ours = statistics.median(r[f"hakit {what}"] for r in rounds)
        theirs = statistics.median(r[f"keepalived {what}"] for r in rounds)
        lines.append(f"- {what} after the director's death, median: hakit {ours:.2f} s, "
                     f"keepalived {theirs:.2f} s, {ours / theirs:.2f}x")
    lines.append("- failback: hakit kept the connection in "
                 f"{sum(int(r['hakit failback kept (1 yes, 0 reset)']) for r in rounds)} of "
                 f"{len(rounds)} rounds, keepalived in "
                 f"{sum(int(r['keepalived failback kept (1 yes, 0 reset)']) for r in rounds)}"
                 f" of {len(rounds)}")
    guest_python = _stats("python3 -S -c pass, guest", cost["interpreter"])
    lines += ["", "The guest's emulated CPU, against the host's: "
              f"{guest_python.wall_ms:.0f} ms vs {host_python.wall_ms:.0f} ms for an empty "
              f"interpreter ({guest_python.wall_ms / host_python.wall_ms:.0f}x): hakit's switch "
              "is two agent processes (lvs promote, vip start), keepalived's is in a running "
              "daemon, so emulation weighs on hakit's figures far more."]
    monitor = cost["monitor"]
    assert isinstance(monitor, dict)
    hakit = _stats("hakit monitor (promoted, 3 TCP checks)",
                   monitor["hakit monitor (promoted, 3 TCP checks)"])
    ld_ra = _stats("ldirectord RA monitor", monitor["ldirectord RA monitor"])
    per_round = float(monitor["ldirectord daemon, CPU per check round"]) * 1000
    lines += ["", table([hakit, ld_ra]), "",
              f"ldirectord's daemon: {per_round:.1f} ms CPU per check round. Per check "
              f"interval, hakit spends {hakit.cpu_ms:.1f} ms (one monitor: checks and "
              f"table); ldirectord {per_round + ld_ra.cpu_ms:.1f} ms (a round plus "
              "Pacemaker's monitor of it), "
              f"{hakit.cpu_ms / (per_round + ld_ra.cpu_ms):.2f}x."]
    dead = cost["dead"]
    assert isinstance(dead, dict)
    lines += ["", f"Killed real server, monitors every {dead['interval']:g} s: no new "
              f"connection failed after {float(dead['out_after']):.2f} s "
              f"({dead['failed_connections']} failed before; monitor wall "
              f"{statistics.median(dead['monitor_walls']):.2f} s median)."]
    scaling = cost["scaling"]
    assert isinstance(scaling, dict)
    rows = [_stats(f"{n} services x 10 real servers: {what}", scaling[f"{n} {what}"])
            for n in (1, 10, 100) for what in ("start", "monitor", "probe", "stop")]
    lines += ["", table(rows), ""]
    one, hundred = (statistics.median(c for _, c in scaling[f"{n} monitor"]) for n in (1, 100))
    lines += [f"Monitor CPU from 1 to 100 services (10 to 1000 real servers, every check "
              f"due): {one * 1000:.0f} -> {hundred * 1000:.0f} ms, "
              f"{(hundred - one) * 1000 / 99:.1f} ms per further service of 10.", ""]
    return "\n".join(lines)
