"""An lvs resource's runtime directory: the services it created, kept between actions.

Each action is a new process, and stop must remove exactly what start created (not a
service keepalived or an admin made), so the keys of the services a resource created are
written down as it creates them.  The directory is on /run: gone at reboot, as is the
kernel's IPVS table.  The health state (``checkround``), the warm-up record (``sync``) and
the promotion score (``role``) live beside it.
"""

from __future__ import annotations

import os

from hakit.errors import GenericError
from hakit.os import ipvs
from hakit.steps.lvs import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Optional

#: Where each resource keeps what it created and what it learned (/run: gone at reboot,
#: as is the kernel's IPVS table).
RUNTIME_DIR = "/run/hakit/lvs"
#: What a directory holds: the owned services, the health state, the warm-up record and
#: the promotion score last set.
OWNED, HEALTH, SCORE = "owned", "health", "score"


def state_dir(instance: str, namespace: Optional[str]) -> str:
    """One directory per resource (not per clone instance: ``lvs:0`` may be ``lvs:1`` after
    a restart) and namespace."""
    rid = instance.split(":", 1)[0]
    name = f"{rid}@{namespace}" if namespace else rid
    return os.path.join(RUNTIME_DIR, name.replace("/", "%2F"))


def key_text(key: ipvs.ServiceKey) -> str:
    return f"{key.family} {key.protocol} {key.address or '-'} {key.port} {key.fwmark}"


def _parse_key(line: str) -> Optional[ipvs.ServiceKey]:
    import ipaddress  # already loaded by the parameters

    parts = line.split()
    if len(parts) != 5 or not all(p.isdigit() for p in (parts[0], parts[1], parts[3], parts[4])):
        return None
    try:
        address = None if parts[2] == "-" else ipaddress.ip_address(parts[2])
    except ValueError:
        return None
    return ipvs.ServiceKey(int(parts[0]), int(parts[1]), address, int(parts[3]), int(parts[4]))


def owned(directory: str) -> Optional[set[ipvs.ServiceKey]]:
    """The services this resource created, or None when it has no record (never started)."""
    try:
        with open(os.path.join(directory, OWNED)) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GenericError(f"cannot read {directory}/owned: {exc.strerror}") from exc
    return {key for key in map(_parse_key, lines) if key is not None}


def save_owned(directory: str, keys: Iterable[ipvs.ServiceKey]) -> None:
    path = os.path.join(directory, OWNED)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(f"{path}.tmp", "w") as handle:
            handle.write("".join(key_text(k) + "\n" for k in sorted(keys, key=key_text)))
        os.replace(f"{path}.tmp", path)
    except OSError as exc:
        raise GenericError(f"cannot write {path}: {exc.strerror}") from exc


def forget(directory: str) -> None:
    """Remove the directory and what it holds (after a stop)."""
    for name in (OWNED, HEALTH, sync.BACKUP_SINCE, SCORE):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass
