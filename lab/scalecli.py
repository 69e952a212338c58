"""``python3 -m lab scale``'s command line: deploy (``lab.scaledeploy``), then, with
``--crash``, the timed crash (``lab.scalefail``).  Apart from both so that neither imports
the other (scalefail works on a deployed ScaleLab)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from lab import scale, scalefail
from lab.bmc import POWER_ON_DELAY
from lab.cluster import Lab
from lab.scaledeploy import CRASH_POWER_ON_DELAY, FAST_TOTEM, ScaleLab, report, services_for
from lab.services import LabServices


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scale", help="lab + Ceph + BMCs + N containers spread over the "
                       "nodes; report what each costs; then down")
    p.add_argument("--count", type=int, default=6, help=f"containers, 1-{scale.MAX_COUNT} "
                   "(default 6)")
    p.add_argument("--shape", choices=scale.SHAPES, default="composite",
                   help="one ocf:hakit:container per container (default), the group of "
                        "rbd, fs, lxc, vip, or the ClusterLabs agents' group (anchors)")
    p.add_argument("--cache-dir", type=Path, default=scale.DEFAULT_CACHE,
                   help=f"where built images are kept (default {scale.DEFAULT_CACHE})")
    p.add_argument("--keep", action="store_true",
                   help="leave the lab running afterwards (remove it with 'down')")
    p.add_argument("--pacemaker-defaults", action="store_true",
                   help="leave Pacemaker's options at their defaults instead of loading "
                        "hakit-snippet cluster")
    p.add_argument("--fast-corosync", action="store_true",
                   help="corosync's fast profile: token 1000 ms, consensus 1200 ms")
    p.add_argument("--crash", action="store_true",
                   help="then crash the node with the most containers and time each "
                        "container's page back")


def run(lab_for: Callable[[LabServices, dict[str, str]], Lab],
        args: argparse.Namespace) -> int:
    """``scale``: ``lab_for(services, totem)`` makes the Lab (the CLI's layout and
    progress)."""
    spec = scale.Scale(args.count, args.shape)
    delay = CRASH_POWER_ON_DELAY if args.crash else POWER_ON_DELAY
    lab = lab_for(services_for(spec.count, power_on_delay=delay),
                  FAST_TOTEM if args.fast_corosync else {})
    ok = False
    try:
        lab.up()
        scaled = ScaleLab(lab, spec, args.cache_dir, recommended=not args.pacemaker_defaults)
        found = scaled.deploy()
        for line in report(found):
            print(line)
        if args.crash:
            for line in scalefail.report(scalefail.crash_timed(scaled)):
                print(line)
        ok = True
    finally:
        if not args.keep:
            lab.progress.note("tearing the lab down")
            lab.down()
        elif ok:
            print(f"the lab is still up: python3 -m lab --state-dir {args.state_dir} "
                  "status | down")
    return 0 if ok else 1
