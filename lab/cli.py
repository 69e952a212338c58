"""The lab's command line: ``python3 -m lab [options] COMMAND``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from ipaddress import IPv4Network
from pathlib import Path
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import HakitError
from lab import bmcfault, deadbmc, hub, scalecli, soak, stack
from lab.cluster import Lab
from lab.demo import Demo, stack_state, summary
from lab.layout import (
    DEFAULT_NAME,
    DEFAULT_STATE_DIR,
    DEFAULT_SUBNET,
    LabLayout,
    layout_from_manifest,
    make_layout,
)
from lab.progress import Progress
from lab.services import LabServices
from lab.status import ClusterState, VipView, render, render_vip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m lab",
                                description="A three-node Pacemaker cluster in namespaces.")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help=f"where the lab keeps everything (default {DEFAULT_STATE_DIR})")
    p.add_argument("--name", default=DEFAULT_NAME,
                   help=f"prefix of the lab's namespaces, for 'up' (default {DEFAULT_NAME})")
    p.add_argument("--subnet", type=IPv4Network, default=DEFAULT_SUBNET,
                   help=f"inside 198.18.0.0/15, for 'up' (default {DEFAULT_SUBNET})")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="create the nodes and start the cluster")
    st = sub.add_parser("status", help="nodes and resources, from a live node")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (("crash", "kill every process on a node"),
                       ("hang", "freeze every process on a node (SIGSTOP)"),
                       ("resume", "let a hung node carry on (SIGCONT)"),
                       ("partition", "cut a node's link to the bridge"),
                       ("bmc-fail", "make a node's BMC unreachable (power lost with it)"),
                       ("bmc-repair", "start a node's BMC again")):
        sub.add_parser(name, help=text).add_argument("node")
    boot = sub.add_parser("boot", help="power a crashed node on again")
    boot.add_argument("node")
    boot.add_argument("--delay", type=float, default=0.0,
                      help="seconds to wait first (a BMC's power-on delay)")
    sub.add_parser("heal", help="reconnect partitioned nodes").add_argument("node", nargs="?")
    sub.add_parser("down", help="remove everything the lab made (idempotent)")
    demo = sub.add_parser("demo", help="lab + Ceph + BMCs + the hakit stack; crash its "
                          "node and time the failover; then down")
    demo.add_argument("--keep", action="store_true",
                      help="leave the lab running afterwards (remove it with 'down')")
    demo.add_argument("--move", action="store_true",
                      help="also time a planned move (crm_resource --move) first")
    demo.add_argument("--bmc-dead", action="store_true",
                      help="fence_hakit_ceph as every node's second fencing level, and the "
                           "crash takes the node's BMC with it: fenced through the Ceph "
                           "blocklist, then the BMC repaired, the node booted and unfenced")
    scalecli.add_parser(sub)
    soak.add_parser(sub)
    return p


def _layout(args: argparse.Namespace) -> LabLayout:
    """The layout recorded by 'up' when there is one, else the one the options describe."""
    if (args.state_dir / "lab.json").exists():
        return layout_from_manifest(args.state_dir)
    return make_layout(args.name, args.state_dir, args.subnet)


def vip_view(lab: Lab, state: ClusterState) -> Optional[VipView]:
    """Where the VIP answers from, when the lab runs the stack (None otherwise).

    The page is fetched from the hub first: that also makes the hub resolve the VIP
    afresh, so its neighbour entry names the node that answers now.
    """
    names = stack.stack_names(lab.layout)
    if state.resource(names.resources()[-1]) is None:
        return None
    page = hub.get(lab.runner, lab.layout, names.url())
    return VipView(address=str(names.vip.ip), stack_node=stack_state(state, names),
                   answering=hub.answering_node(lab.runner, lab.layout, names.vip.ip),
                   served=page is not None)


def _status(lab: Lab, *, as_json: bool) -> None:
    power = lab.power_states()
    if not as_json:
        print("lab: " + "  ".join(f"{n} {st}" for n, st in power.items()))
    state = lab.status()
    vip = vip_view(lab, state)
    if as_json:
        print(json.dumps({"lab": power, **asdict(state),
                          "vip": asdict(vip) if vip else None}, indent=2))
        return
    print(render(state))
    if vip is not None:
        print(render_vip(vip))


def _demo(args: argparse.Namespace, progress: Progress) -> int:
    services = LabServices(ceph_fencing=args.bmc_dead)
    lab = Lab(make_layout(args.name, args.state_dir, args.subnet), progress, services)
    ok = False
    try:
        result = Demo(lab).run(move=args.move,
                               failover=deadbmc.crash_and_rejoin if args.bmc_dead else None)
        for line in summary(result):
            print(line)
        ok = True
    finally:
        if not args.keep:
            progress.note("tearing the lab down")
            lab.down()
        elif ok:
            print(f"the lab is still up: python3 -m lab --state-dir {args.state_dir} "
                  "status | down")
    return 0


#: Commands that do one thing to one node.
_NODE_FAULTS: dict[str, Callable[[Lab, str], object]] = {
    "crash": Lab.crash,
    "hang": Lab.hang,
    "resume": Lab.resume,
    "partition": Lab.partition,
    "bmc-fail": bmcfault.fail,
    "bmc-repair": bmcfault.repair,
}


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    progress = Progress(sys.stdout)
    try:
        if args.command == "up":
            lab = Lab(make_layout(args.name, args.state_dir, args.subnet), progress)
            lab.up()
            print(render(lab.status()))
            return 0
        lab = Lab(_layout(args), progress)
        if args.command == "status":
            _status(lab, as_json=args.json)
        elif args.command in _NODE_FAULTS:
            _NODE_FAULTS[args.command](lab, args.node)
        elif args.command == "boot":
            # The BMC's power-on delay (lab.bmc.POWER_ON_DELAY): the deliberate wait of a
            # machine that is only now powering up.
            delay = max(0.0, args.delay)
            Deadline(delay).sleep(delay)
            lab.boot(args.node)
        elif args.command == "heal":
            lab.heal(args.node)
        elif args.command == "down":
            lab.down()
        elif args.command == "scale":
            return scalecli.run(lambda services, totem: Lab(make_layout(
                args.name, args.state_dir, args.subnet), progress, services,
                totem=totem), args)
        elif args.command == "soak":
            return soak.run(lambda services: Lab(make_layout(
                args.name, args.state_dir, args.subnet), progress, services), args)
        else:  # demo
            return _demo(args, progress)
    except (HakitError, KeyError, ValueError, OSError) as exc:
        reason = exc.reason if isinstance(exc, HakitError) else str(exc).strip("'\"")
        print(f"hakit-lab: error: {reason}", file=sys.stderr)
        if args.command in ("up", "demo", "scale", "soak"):
            print("hakit-lab: run 'down' to remove what was made", file=sys.stderr)
        return 1
    return 0
