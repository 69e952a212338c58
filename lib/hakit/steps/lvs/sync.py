"""The IPVS connection-sync daemons of a director: which role runs, and since when.

The kernel runs at most one master and one backup sync daemon per network namespace.  A
promoted director runs the master (it multicasts every connection it forwards); an
unpromoted one runs the backup (it learns them).  The kernel cannot say since when a backup
has been listening, and that is what decides whether a recovered director has learned the
current connections yet, so the start time is kept in the resource's runtime directory.

Only daemons with this resource's interface and sync id are touched: a daemon that differs
belongs to someone else (keepalived, an admin's ipvsadm) and is reported, never stopped.
"""

from __future__ import annotations

import os

from hakit.errors import GenericError
from hakit.os.ipvs import STATE_BACKUP, STATE_MASTER, Connection, Daemon
from hakit.steps.lvs.healthcheck import now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

ROLE_NAMES = {STATE_MASTER: "master", STATE_BACKUP: "backup"}
BACKUP_SINCE = "backup-since"


def _ours(daemon: Daemon, interface: str, syncid: int) -> bool:
    return daemon.interface == interface and daemon.syncid == syncid


def running_roles(conn: Connection, interface: str, syncid: int) -> set[int]:
    """The roles (STATE_*) this resource's daemons run in; GenericError for a daemon of a
    role we need that someone else started with other settings."""
    return {d.state for d in conn.daemons() if _ours(d, interface, syncid)}


def foreign(conn: Connection, interface: str, syncid: int) -> list[Daemon]:
    return [d for d in conn.daemons() if not _ours(d, interface, syncid)]


def switch(conn: Connection, role: int, interface: str, syncid: int) -> bool:
    """Run only the ``role`` daemon (STATE_MASTER or STATE_BACKUP); True if it was started
    now (False: it already ran).  Refuses when another manager's daemon holds that role."""
    other = STATE_BACKUP if role == STATE_MASTER else STATE_MASTER
    daemons = conn.daemons()
    for daemon in daemons:
        if daemon.state in (role, other) and not _ours(daemon, interface, syncid):
            raise GenericError(
                f"a {ROLE_NAMES[daemon.state]} sync daemon with another configuration runs "
                f"here (interface {daemon.interface}, syncid {daemon.syncid}; this resource "
                f"has {interface}, syncid {syncid}): is keepalived or ipvsadm managing this "
                "director too?")
    if any(d.state == other for d in daemons):
        conn.stop_daemon(other)
    if any(d.state == role for d in daemons):
        return False
    conn.start_daemon(role, interface, syncid)
    return True


def stop(conn: Connection, interface: str, syncid: int) -> list[str]:
    """Stop this resource's daemons; the roles stopped."""
    stopped = []
    for daemon in conn.daemons():
        if _ours(daemon, interface, syncid) and conn.stop_daemon(daemon.state):
            stopped.append(ROLE_NAMES[daemon.state])
    return stopped


def mark_backup_since(directory: str, when: Optional[float] = None) -> None:
    """Record when this director's backup daemon began learning connections."""
    path = os.path.join(directory, BACKUP_SINCE)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(f"{path}.tmp", "w") as handle:
            handle.write(f"{now() if when is None else when:.3f}\n")
        os.replace(f"{path}.tmp", path)
    except OSError as exc:
        raise GenericError(f"cannot write {path}: {exc.strerror}") from exc


def backup_age(directory: str) -> Optional[float]:
    """Seconds the backup daemon has been learning connections, or None when unknown."""
    try:
        with open(os.path.join(directory, BACKUP_SINCE)) as handle:
            since = float(handle.read().strip())
    except (OSError, ValueError):
        return None
    return max(0.0, now() - since)
