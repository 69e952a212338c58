"""What decides whether an lvs director may be promoted, and the sync tuning that feeds it.

A director is promotable once its backup sync daemon has listened for ``sync_warmup``
(the warm-up): only then does it know the connections the other director forwards.  Its
promotion score tells Pacemaker so; the sync link and the re-sync period decide whether
the warm-up can have heard every connection at all.
"""

from __future__ import annotations

import os

from hakit.errors import GenericError
from hakit.os import ipvs, netlink
from hakit.steps.lvs import sync
from hakit.steps.lvs.runtime import SCORE
from hakit.steps.lvs.table import timeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.steps.lvs.config import LvsConfig

#: The promotion score of a director that has learned the connections (crm_master's usual).
PROMOTION_SCORE = 100


def tune_sync(cfg: LvsConfig) -> None:
    """Time-based re-sync (see SYNC_REFRESH): sync_period 0 hands the choice of when to
    send a connection again to sync_refresh_period (Documentation/networking/ipvs-sysctl)."""
    refresh = cfg.sync_refresh
    if not refresh:
        return
    seconds = str(max(1, round(refresh)))
    threshold = ipvs.read_sysctl("sync_threshold") or "3 50"
    first = threshold.split()[0]
    if threshold.split()[1:] != ["0"]:
        ipvs.write_sysctl("sync_threshold", f"{first} 0")
    if ipvs.read_sysctl("sync_refresh_period") != seconds:
        ipvs.write_sysctl("sync_refresh_period", seconds)


def _promotable_clone(ctx: Context) -> bool:
    """Whether Pacemaker runs this as a promotable clone (it passes promoted-max)."""
    meta = ctx.env.meta
    return "promoted_max" in meta or "master_max" in meta


def set_score(ctx: Context, directory: str, score: Optional[int]) -> None:
    """Set (or with None delete) this node's promotion score, once per change; outside a
    promotable clone (ocf-tester, tests) there is none to set."""
    if not _promotable_clone(ctx):
        return
    path = os.path.join(directory, SCORE)
    text = "" if score is None else str(score)
    try:
        with open(path) as handle:
            if handle.read().strip() == text:
                return
    except OSError:
        pass
    argv = ["crm_attribute", f"--promotion={ctx.instance.split(':', 1)[0]}"]
    node = ctx.env.meta.get("on_node")
    if node:
        argv += ["--node", node]
    argv += ["--delete"] if score is None else ["--update", text]
    result = ctx.runner.run(argv, ctx.deadline, timeout=10, check=False)
    if result.returncode != 0:
        ctx.log.warning("cannot set the promotion score: %s", result.stderr.strip()[-200:])
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        ctx.log.warning("cannot record the promotion score: %s", exc.strerror)


def learning_left(cfg: LvsConfig, directory: str) -> float:
    """Seconds until this director's backup has listened for sync_warmup (0: ready).  A
    backup daemon without a record (it outlived /run/hakit, or start found it running)
    counts from now: never promotable would be worse than one warm-up too many."""
    age = sync.backup_age(directory)
    if age is None:
        sync.mark_backup_since(directory)
        age = 0.0
    return max(0.0, cfg.sync_warmup - age)


def check_sync_link(cfg: LvsConfig, ctx: Context) -> None:
    """Say loudly when the sync link is down: the daemons keep running, but no connection
    state crosses it, and a failover would then reset every connection (keepalived's users
    find this out only then).  An interface that is gone is a failure: its daemon is dead."""
    name = cfg.sync_interface
    link = netlink.link_by_name(name, timeout(ctx))
    if link is None:
        raise GenericError(f"the sync interface {name} no longer exists: connection state is "
                           "not synced")
    if not link.up:
        ctx.log.warning("the sync interface %s is down (no carrier or not up): connection "
                        "state does not reach the other director, so a failover now would "
                        "reset established connections", name)
