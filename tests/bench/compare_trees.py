"""Old tree against new tree, pair by pair: what a refactoring that must not slow the agents did.

``python -m tests.bench.compare_trees OLD_TREE [NEW_TREE] [PAIRS]`` (NEW_TREE defaults to
this checkout) measures the whole-process CPU (rusage of the process and its children) of

- importing each OCF agent's module with the dispatcher, as ``agents/<name>`` does under
  ``python3 -S``: what every action of that agent pays before it does anything;
- a real vip start, stop and monitor, on a veth in a throwaway network namespace
  (198.18.0.0/15);
- a real fs monitor at depth 0, on an ext4 loop device mounted by the new tree's agent;
- every OCF agent's monitor of a resource that is not running here (what a probe and the
  monitors of the nodes not running it do): the import of the agent with the steps its
  monitor imports when it runs, which the import rows above leave out,

each time running the old and the new tree in turn (old, new, old, new ...), so that a
loaded machine weighs on both alike; it prints the median of each and the median of the
pairwise new/old ratios as markdown.  Not a ``bench_*`` module: ``make bench`` compares
against the anchors, this compares two checkouts.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.bench.common import ext4_on_loop, run_once
from tests.harness.netns import Netns, NetnsPool

PY = "/usr/bin/python3"
DIST = "/usr/lib/python3/dist-packages"
OCF_AGENTS = ("vip", "fs", "lxc", "rbd", "container", "lvs")

#: argv and environment of one run, given a tree.
Command = Callable[[Path], tuple[Sequence[str], Mapping[str, str]]]


def _env(tree: Path, params: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(tree / "lib"),
           "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "bench",
           "OCF_RESKEY_CRM_meta_timeout": "20000", "OCF_RESKEY_CRM_meta_interval": "10000"}
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    env.update(extra)
    return env


def _pairs(label: str, command: Command, old: Path, new: Path, pairs: int, *,
           expect: Sequence[int] = (0,)) -> str:
    """One markdown row: medians of old and new CPU ms, and of the pairwise ratios."""
    cpu: dict[Path, list[float]] = {old: [], new: []}
    for _ in range(pairs + 1):
        for tree in (old, new):
            argv, env = command(tree)
            cpu[tree].append(run_once(argv, env, expect)[1] * 1000)
    return _row(label, cpu[old][1:], cpu[new][1:])  # the first pair is the warm-up


def _row(label: str, old_ms: Sequence[float], new_ms: Sequence[float]) -> str:
    ratios = [n / o for o, n in zip(old_ms, new_ms) if o > 0]
    return (f"| {label} | {len(old_ms)} | {statistics.median(old_ms):.1f} | "
            f"{statistics.median(new_ms):.1f} | {statistics.median(ratios):.2f}x |")


def _import_agent(name: str) -> Command:
    def command(tree: Path) -> tuple[Sequence[str], Mapping[str, str]]:
        code = (f"import sys; sys.path[:0] = [{str(tree / 'lib')!r}, {DIST!r}]; "
                f"from hakit.agents.{name} import AGENT; from hakit.ocf.dispatch import main")
        return [PY, "-S", "-c", code], {"PATH": "/usr/bin:/bin"}
    return command


def _agent(name: str, prefix: Sequence[str], params: Mapping[str, str],
           extra: Mapping[str, str]) -> Command:
    def command(tree: Path) -> tuple[Sequence[str], Mapping[str, str]]:
        return [*prefix, str(tree / "agents" / name), "monitor"], _env(tree, params, extra)
    return command


#: Parameters of a resource that is not running on this machine, per agent (its monitor
#: answers "not running" after its first look: no address, no mount, no mapping).
NOT_RUNNING = {
    "vip": {"ip": "198.18.9.9", "cidr_netmask": "24", "nic": "lo"},
    "fs": {"device": "/dev/hakit-bench-none", "directory": "/nonexistent/hakit-bench",
           "fstype": "ext4"},
    "lxc": {"name": "hakitbench", "lxcpath": "/nonexistent/hakit-bench"},
    "rbd": {"pool": "rbd", "image": "hakitbench"},
    "container": {"name": "hakitbench", "pool": "rbd", "image": "hakitbench"},
    "lvs": {"services": "virtual 198.18.9.9:80 scheduler=rr forward=dr; "
                        "real 198.18.9.10:80; check tcp timeout=1 rise=1 fall=1",
            "sync_interface": "lo"},
}


def _not_running(old: Path, new: Path, pairs: int) -> list[str]:
    return [_pairs(f"{name} monitor, not running here", _agent(name, [], params, {}),
                   old, new, pairs, expect=(7,)) for name, params in NOT_RUNNING.items()]


def _vip_cycles(ns: Netns, params: Mapping[str, str], old: Path, new: Path,
                pairs: int) -> list[str]:
    """Rows for vip start and stop: each tree starts and stops the address in turn."""
    cpu: dict[tuple[Path, str], list[float]] = {}
    for _ in range(pairs + 1):
        for tree in (old, new):
            for action in ("start", "stop"):
                argv = ns.exec_argv([str(tree / "agents" / "vip"), action])
                used = run_once(argv, _env(tree, params, {}))[1] * 1000
                cpu.setdefault((tree, action), []).append(used)
    return [_row(f"vip IPv4 {action} (dad=false, ip netns exec, veth)",
                 cpu[old, action][1:], cpu[new, action][1:]) for action in ("start", "stop")]


def _vip(old: Path, new: Path, pairs: int) -> list[str]:
    pool = NetnsPool()
    try:
        ns, peer = pool.create(), pool.create()
        pool.veth(ns, "eth0", peer, "eth0")  # as bench_vip (this kernel has no dummy module)
        ns.ip("addr", "add", "198.18.2.1/24", "dev", "eth0")
        params = {"ip": "198.18.2.10", "cidr_netmask": "24", "nic": "eth0", "dad": "false"}
        rows = _vip_cycles(ns, params, old, new, pairs)
        run_once(ns.exec_argv([str(new / "agents" / "vip"), "start"]), _env(new, params, {}))
        return [*rows, _pairs("vip IPv4 monitor (ip netns exec, veth)",
                              _agent("vip", ns.exec_argv([]), params, {}), old, new, pairs)]
    finally:
        pool.cleanup()


def _fs_monitor(old: Path, new: Path, pairs: int) -> str:
    with ext4_on_loop("trees") as (device, directory):
        params = {"device": device, "directory": directory, "fstype": "ext4"}
        run_once([str(new / "agents" / "fs"), "start"], _env(new, params, {}))
        return _pairs("fs monitor depth 0 (ext4 on a loop device)",
                      _agent("fs", [], params, {"OCF_CHECK_LEVEL": "0"}), old, new, pairs)


def main(argv: list[str]) -> int:
    old = Path(argv[1]).resolve()
    new = Path(argv[2]).resolve() if len(argv) > 2 else Path(__file__).parents[2]
    pairs = int(argv[3]) if len(argv) > 3 else 40
    print(f"Old: {old}; new: {new}; {pairs} pairs each (plus one warm-up), taking turns.\n")
    print("| what | pairs | old CPU ms (median) | new CPU ms (median) "
          "| new/old (median of pairs) |")
    print("|---|---|---|---|---|")
    for name in OCF_AGENTS:
        print(_pairs(f"python3 -S importing hakit.agents.{name} + dispatcher",
                     _import_agent(name), old, new, pairs), flush=True)
    print(*_not_running(old, new, pairs), sep="\n", flush=True)
    if os.geteuid() == 0:
        print(*_vip(old, new, pairs), sep="\n", flush=True)
        print(_fs_monitor(old, new, pairs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
