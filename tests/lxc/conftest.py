"""Real busybox containers for the LXC agent's tests, always stopped and destroyed afterwards.

Containers are made with ``lxc-create -t busybox`` (busybox-static, no download) in a
temporary lxcpath, with ``lxc.net.0.type = empty`` unless a test asks otherwise: nothing is
ever plugged into the host's network namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from tests.harness.netns import IP
from tests.harness.ocf import AGENTS, Result, run_agent

from hakit.steps.lxc.marker import StartMarker

AGENT = AGENTS / "lxc"
LXC_CREATE = "/usr/bin/lxc-create"

BASE_CONFIG = """\
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
"""

#: An init that ignores every polite signal; only SIGKILL from outside ends it.
STUBBORN_INIT = """\
#!/bin/sh
trap '' USR1 TERM PWR INT HUP QUIT
while :; do sleep 1; done
"""


def _lxc(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=60)


def _remove_leftover_cgroups(name: str) -> None:
    """LXC leaves empty ``lxc.monitor.NAME`` cgroups behind after a failed start; remove
    them (rmdir only succeeds on an empty cgroup)."""
    for pattern in (f"*/lxc.*.{name}", f"lxc.*.{name}"):
        for directory in sorted(Path("/sys/fs/cgroup").glob(pattern), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()


@dataclass
class BusyboxContainer:
    """A busybox container created for one test."""

    name: str
    lxcpath: Path
    log: Path
    netns: Optional[str] = None  # set when the container is started inside a test namespace

    @property
    def directory(self) -> Path:
        return self.lxcpath / self.name

    @property
    def config(self) -> Path:
        return self.directory / "config"

    @property
    def rootfs(self) -> Path:
        return self.directory / "rootfs"

    def params(self, **extra: str) -> dict[str, str]:
        values = {"name": self.name, "lxcpath": str(self.lxcpath), "log_file": str(self.log)}
        values.update(extra)
        return values

    def set_config(self, key: str, value: str) -> None:
        """Replace (or add) ``key = value`` in the container's config file."""
        lines = [line for line in self.config.read_text().splitlines()
                 if line.split("=")[0].strip() != key]
        lines.append(f"{key} = {value}")
        self.config.write_text("\n".join(lines) + "\n")

    def write_rootfs_file(self, relative: str, text: str, mode: int = 0o644) -> None:
        path = self.rootfs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)

    def state(self) -> str:
        out = _lxc("/usr/bin/lxc-info", "-P", str(self.lxcpath), "-n", self.name, "-sH").stdout
        return out.strip() or "STOPPED"

    def init_pid(self) -> int:
        out = _lxc("/usr/bin/lxc-info", "-P", str(self.lxcpath), "-n", self.name, "-pH").stdout
        return int(out.strip())

    def agent(self, action: str, params: Optional[Mapping[str, str]] = None,
              **kwargs: object) -> Result:
        return run_agent(AGENT, action, params if params is not None else self.params(),
                         **kwargs)  # type: ignore[arg-type]


class ContainerPool:
    """Creates containers in one temporary lxcpath; ``cleanup`` kills and destroys them."""

    def __init__(self, lxcpath: Path) -> None:
        self.lxcpath = lxcpath
        self._made: list[BusyboxContainer] = []

    def create(self, lxcpath: Optional[Path] = None, base_config: str = BASE_CONFIG,
               name: Optional[str] = None) -> BusyboxContainer:
        where = lxcpath or self.lxcpath
        where.mkdir(parents=True, exist_ok=True)
        ct = BusyboxContainer(name or f"hk-{secrets.token_hex(4)}", where,
                           where / f"lxc-{secrets.token_hex(2)}.log")
        self._made.append(ct)  # before creating, so a half-made one is cleaned up too
        base = where / f".{ct.name}.conf"
        base.write_text(base_config)
        _lxc(LXC_CREATE, "-t", "busybox", "-P", str(where), "-n", ct.name, "-f", str(base),
             check=True)
        return ct

    def cleanup(self) -> None:
        for ct in reversed(self._made):
            path = str(ct.lxcpath)
            # liblxc's command socket is an abstract socket, scoped to the network
            # namespace lxc-start ran in: stop it from there.
            inside = [IP, "netns", "exec", ct.netns] if ct.netns else []
            _lxc(*inside, "/usr/bin/lxc-stop", "-k", "-P", path, "-n", ct.name)
            _lxc("/usr/bin/lxc-destroy", "-f", "-P", path, "-n", ct.name)
            StartMarker(path, ct.name).remove()
            _remove_leftover_cgroups(ct.name)
            if ct.directory.exists() and not os.path.ismount(ct.directory):
                shutil.rmtree(ct.directory, ignore_errors=True)
        self._made.clear()


@pytest.fixture
def container_pool(tmp_path: Path) -> Iterator[ContainerPool]:
    if os.geteuid() != 0:
        pytest.skip("needs root (LXC containers)")
    pool = ContainerPool(tmp_path / "lxc")
    try:
        yield pool
    finally:
        pool.cleanup()


@pytest.fixture
def container(container_pool: ContainerPool) -> BusyboxContainer:
    return container_pool.create()
