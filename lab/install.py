"""hakit as ``make install`` lays it out, visible only inside chosen mount namespaces.

``stage`` runs ``make install DESTDIR=STAGE`` from a checkout.  ``overlay_mounts`` gives the
``mount`` argv that lay the staged directories over /usr/lib/ocf/resource.d, /usr/sbin and
/usr/lib/python3/dist-packages as read-only overlays (staged files first, the host's
underneath): run inside a private mount namespace (a lab node, ``unshare --mount``), they
let Pacemaker, pacemaker-fenced and crm find the agents where an admin's install puts them,
and the host's own directories are never changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import NotInstalledError
from hakit.os.runner import Runner
from lab import checkout

#: Where ``make install`` puts agents, fence agents and the library (Debian paths).
TARGETS = ("/usr/lib/ocf/resource.d", "/usr/sbin", "/usr/lib/python3/dist-packages")


def checkout_root() -> Optional[Path]:
    """The source checkout the lab runs from (it has the Makefile and agents/), if any."""
    root = checkout.root()
    return root if (root / "Makefile").is_file() and (root / "agents").is_dir() else None


def stage(runner: Runner, deadline: Deadline, dest: Path) -> Path:
    """``make install DESTDIR=dest`` from the checkout; returns ``dest``."""
    root = checkout_root()
    if root is None:
        raise NotInstalledError("staging hakit needs its source checkout (Makefile, agents/)")
    runner.run([runner.require("make"), "-s", "-C", str(root), "install", f"DESTDIR={dest}"],
               deadline)
    return dest


def staged_dirs(dest: Path) -> list[tuple[Path, str]]:
    """(staged directory, target) for every target the stage has files for."""
    pairs = []
    for target in TARGETS:
        upper = dest / target.lstrip("/")
        if upper.is_dir() and any(upper.iterdir()):
            pairs.append((upper, target))
    return pairs


def overlay_mount(lower_first: Path, target: str) -> list[str]:
    """argv mounting ``lower_first`` over ``target`` as a read-only overlay.

    With two lower layers and no upper one, the overlay is read-only and needs no work
    directory, so several namespaces (the lab's nodes) can share one staged tree.
    """
    return ["mount", "-t", "overlay", "overlay", "-o",
            f"ro,lowerdir={lower_first}:{target}", target]


def overlay_mounts(dest: Path) -> list[list[str]]:
    """The ``mount`` argv for every staged target (run them in a private mount namespace)."""
    return [overlay_mount(upper, target) for upper, target in staged_dirs(dest)]
