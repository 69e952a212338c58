"""Whether this host can run an ocf:hakit:fs instance: its mount point, device node, kernel
filesystem and check programs (validate-all depth 10, before start, and reload-agent)."""

from __future__ import annotations

import os

from hakit.errors import ArgsError, NotInstalledError
from hakit.os import blockdev

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.os.runner import Runner
    from hakit.steps.fs.config import FsConfig


def _fs_supported(fstype: str) -> bool:
    try:
        with open("/proc/filesystems", encoding="ascii") as handle:
            if fstype in (line.split()[-1] for line in handle if line.strip()):
                return True
    except OSError:
        pass
    # Not registered yet: mount(2) loads the module on demand if it is installed.
    module = "xfs" if fstype == "xfs" else "ext4"
    return os.path.isdir(f"/lib/modules/{os.uname().release}/kernel/fs/{module}")


def check(cfg: FsConfig, runner: Runner) -> None:
    """Raise ArgsError or NotInstalledError, naming the parameter, for what is missing."""
    directory = cfg.directory
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise ArgsError(f"parameter 'directory': {directory} exists but is not a directory")
    if not os.path.exists(directory) and not cfg.create_directory:
        raise ArgsError(f"parameter 'directory': {directory} does not exist "
                        "(create it, or set create_directory=true)")
    spec = cfg.device
    if spec.kind == "path":
        blockdev.stat_device(spec.value)  # ArgsError when it exists but is not a device
    if not _fs_supported(cfg.fstype):
        raise NotInstalledError(f"parameter 'fstype': this kernel does not support "
                                f"{cfg.fstype}")
    if cfg.fstype == "xfs":
        if cfg.fsck == "force":
            runner.require("xfs_repair")
    elif cfg.fsck != "never":
        runner.require("e2fsck")


def reload(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    """reload-agent: the reloadable values (fsck, mmp, create_directory and device_wait for
    the next start; the unmount's signals and delay for the next stop) are read by the
    action that uses them, so the mount stays; check this host for them now (e2fsck
    installed for fsck, the mount point), as start would."""
    check(cfg, ctx.runner)
    return None
