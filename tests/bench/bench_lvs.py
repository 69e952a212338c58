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
#: The check interval of the per-minute comparison: hakit's promoted monitor (5 s), and
#: ldirectord's RA monitor at its metadata's default interval (20 s).
CHECK_EVERY = 5
LD_RA_INTERVAL = 20
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


def _text(directory: Path, name: str) -> str:
    path = directory / name
    return path.read_text() if path.exists() else ""


def _failover(kernel: GuestKernel, work: Path, round_: int) -> dict[str, float]:
    guest = _run(kernel, work, f"failover{round_}", lab.failover_script(anchor=True,
                                                                        probes=True))
    return failover_figures(guest.dir)


def failover_figures(directory: Path) -> dict[str, float]:
    """The figures of one failover guest, from the files it left in ``directory``."""
    figures: dict[str, float] = {}
    for side in ("hakit", "keepalived"):
        crash = float(_text(directory, f"{side}_crash.t"))
        log = lab.events(_text(directory, f"{side}.log"))
        back = float(_text(directory, f"{side}_failback.t"))
        figures[f"{side} first byte"] = lab.first_after(log, crash, until=back)
        figures[f"{side} first new connection"] = lab.first_served_after(
            _text(directory, f"{side}_new1.log"), crash)
        if side == "hakit":
            figures["hakit promote done"] = float(_text(directory, "hakit_promoted.t")) - crash
        figures[f"{side} switch"] = float(_text(directory, f"{side}_switched.t")) - crash
        lost = [t for t, k, _ in log if k == "error"]
        figures[f"{side} connection kept through the failover (1 yes, 0 lost)"] = float(
            not any(t < back for t in lost))
        figures[f"{side} connection kept through the failback (1 yes, 0 lost)"] = float(
            not lost)
        figures[f"{side} failback: first byte after its start"] = (
            float("inf") if lost else lab.first_after(log, back))
    return figures


def _cost(kernel: GuestKernel, work: Path) -> dict[str, object]:
    script = lab.prelude() + (f"cd {ROOT}\nPYTHONPATH={ROOT}:{LIB} /usr/bin/python3 -m "
                              f"tests.bench.lvs_guest /run/vmout/cost.json {RUNS}\n")
    guest = _run(kernel, work, "cost", script)
    return dict(json.loads(_text(guest.dir, "cost.json")))


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
    return render(kernel.version, host_python, rounds, cost)


def render(version: str, host_python: Stats, rounds: list[dict[str, float]],
           cost: dict[str, object]) -> str:
    """The markdown of one run (also from a kept work directory's files)."""
    lines = ["## LVS director pair (ocf:hakit:lvs vs keepalived and ldirectord)", "",
             f"Debian {version} under QEMU TCG (1 vCPU), namespaces in one guest "
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
    for stage in ("failover", "failback"):
        key = f"connection kept through the {stage} (1 yes, 0 lost)"
        lines.append(f"- {stage}: hakit kept the connection in "
                     f"{sum(int(r['hakit ' + key]) for r in rounds)} of {len(rounds)} "
                     f"rounds, keepalived in {sum(int(r['keepalived ' + key]) for r in rounds)}"
                     f" of {len(rounds)}")
    guest_python = _stats("python3 -S -c pass, guest", cost["interpreter"])
    lines += ["", "The guest's emulated CPU, against the host's: "
              f"{guest_python.wall_ms:.0f} ms vs {host_python.wall_ms:.0f} ms for an empty "
              f"interpreter ({guest_python.wall_ms / host_python.wall_ms:.0f}x): hakit's switch "
              "is two agent processes (lvs promote, vip start), keepalived's is in a running "
              "daemon, so emulation weighs on hakit's figures far more."]
    monitor = cost["monitor"]
    assert isinstance(monitor, dict)
    hakit = _stats("hakit monitor (promoted, 2 TCP checks)",
                   monitor["hakit monitor (promoted, 2 TCP checks)"])
    ld_ra = _stats("ldirectord RA monitor", monitor["ldirectord RA monitor"])
    per_round = float(monitor["ldirectord daemon, CPU per check round"]) * 1000
    hakit_minute = 60 / CHECK_EVERY * hakit.cpu_ms / 1000
    ld_minute = (60 / CHECK_EVERY * per_round + 60 / LD_RA_INTERVAL * ld_ra.cpu_ms) / 1000
    lines += ["", table([hakit, ld_ra]), "",
              f"ldirectord's daemon: {per_round:.1f} ms CPU per check round. Per check "
              f"interval, hakit spends {hakit.cpu_ms:.1f} ms (one monitor: checks and "
              f"table); ldirectord {per_round + ld_ra.cpu_ms:.1f} ms (a round plus "
              "Pacemaker's monitor of it), "
              f"{hakit.cpu_ms / (per_round + ld_ra.cpu_ms):.2f}x. Per minute with both "
              f"checking every {CHECK_EVERY} s and each agent monitored at its default "
              f"interval (hakit's monitor is its check; ldirectord's RA every "
              f"{LD_RA_INTERVAL} s): hakit {60 / CHECK_EVERY * hakit.cpu_ms / 1000:.1f} s, "
              f"ldirectord {ld_minute:.1f} s, {hakit_minute / ld_minute:.2f}x."]
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
