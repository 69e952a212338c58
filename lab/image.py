"""What every lab node sees beyond the bare cluster: hakit installed, and the lab's /etc files.

A lab with an image has ``STATE/image/``: ``stage/`` (``make install DESTDIR=...``) and
``etc/`` (files such as the Ceph client configuration and the BMC password script).  When a
node boots, before its own bind mounts, it gets inside its private mount namespace:

- read-only overlays of the staged tree over /usr/lib/ocf/resource.d, /usr/sbin and
  /usr/lib/python3/dist-packages, and of ``etc/`` over /etc (the host's files underneath);
- its own tmpfs over /var/lib/lxc (where ocf:hakit:fs mounts container filesystems) and
  /dev/hakit (ocf:hakit:rbd's device links): /dev is the host's devtmpfs, shared by every
  node, and a link made by one node must not be seen by another.

None of this changes the host: every mount lives and dies with the node's namespace.
"""

from __future__ import annotations

from pathlib import Path

from lab.install import overlay_mount, overlay_mounts

IMAGE = "image"
#: Directories every node gets its own empty tmpfs over (they must exist on the host).
PRIVATE_DIRS = ("/var/lib/lxc", "/dev/hakit")
#: The mount point of each node's private /dev/hakit: an empty directory in the host's
#: devtmpfs, made by the lab when missing and removed again by ``down``.
DEV_HAKIT = Path("/dev/hakit")
DEV_HAKIT_MARKER = "made-dev-hakit"  # in the state dir: down removes /dev/hakit if empty


def image_dir(state_dir: Path) -> Path:
    return state_dir / IMAGE


def stage_dir(state_dir: Path) -> Path:
    return image_dir(state_dir) / "stage"


def etc_dir(state_dir: Path) -> Path:
    return image_dir(state_dir) / "etc"


def node_mounts(state_dir: Path) -> list[list[str]]:
    """The mount argv a booting node runs first; none when the lab has no image."""
    if not image_dir(state_dir).is_dir():
        return []
    cmds = []
    if stage_dir(state_dir).is_dir():
        cmds.extend(overlay_mounts(stage_dir(state_dir)))
    if etc_dir(state_dir).is_dir():
        cmds.append(overlay_mount(etc_dir(state_dir), "/etc"))
    for target in PRIVATE_DIRS:
        cmds.append(["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs", target])
    return cmds


def make_dev_hakit(state_dir: Path) -> None:
    """Make /dev/hakit if it is missing, and remember (in the state dir) that this lab did."""
    if not DEV_HAKIT.exists():
        DEV_HAKIT.mkdir(mode=0o755)
        (state_dir / DEV_HAKIT_MARKER).touch()


def undo_dev_hakit(state_dir: Path) -> None:
    """Remove /dev/hakit if this lab made it and it is empty."""
    if (state_dir / DEV_HAKIT_MARKER).exists():
        try:
            DEV_HAKIT.rmdir()
        except OSError:
            pass
