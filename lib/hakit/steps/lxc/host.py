"""This node's side of a container: its lxcpath, configuration file and rootfs.

A missing configuration or rootfs is rc 5 (ERR_INSTALLED): on hakit's layout it means the
container's filesystem is not mounted on this node, so Pacemaker should start it elsewhere,
not give up cluster-wide.
"""

from __future__ import annotations

import os

from hakit.errors import ArgsError, ConfigError, NotInstalledError
from hakit.ocf.params import Signal
from hakit.os.containers import Container
from hakit.steps.lxc.marker import StartMarker
from hakit.steps.lxc.parsers import is_layered, rootfs_source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.steps.lxc.config import LxcConfig


def marker(cfg: LxcConfig) -> StartMarker:
    """The start marker of ``cfg``'s container."""
    return StartMarker(cfg.lxcpath, cfg.name)


def open_container(cfg: LxcConfig, with_config: bool = True) -> Container:
    """liblxc's handle on the container, with ``cfg.config`` loaded unless ``with_config``
    is False (state queries need no configuration)."""
    return Container(cfg.name, cfg.lxcpath, cfg.config if with_config else None)


def unusable_lxcpath(lxcpath: str) -> Optional[str]:
    """Why no container can live under ``lxcpath`` (a regular file, a path through one, a
    symlink loop...), or None when it can; a missing directory can, once it is mounted.

    lxc-start cannot have started a container there, and liblxc refuses to even open one,
    so stop and monitor answer "stopped" from the start marker alone: bad configuration
    never fails a stop or a probe (OCF; Pacemaker fences after a failed stop).
    """
    import stat  # already loaded by os: no start-up cost

    try:
        mode = os.stat(lxcpath).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if stat.S_ISDIR(mode) else "is not a directory"


def lxcpath_usable(cfg: LxcConfig, ctx: Context) -> bool:
    """Whether ``lxcpath`` can hold containers; says why not in the log."""
    why = unusable_lxcpath(cfg.lxcpath)
    if why is not None:
        ctx.log.warning("parameter 'lxcpath': %s: %s; no container can run under it",
                        cfg.lxcpath, why)
    return why is None


def open_for_state(cfg: LxcConfig, ctx: Context) -> Optional[Container]:
    """The container for state queries (no configuration needed), or None when
    ``lxcpath`` cannot hold one: then only the start marker can tell what ran."""
    return open_container(cfg, with_config=False) if lxcpath_usable(cfg, ctx) else None


def check_host(cfg: LxcConfig, ctx: Context) -> None:
    """The checks that hold before the container's filesystem is mounted: the programs and
    lxcpath (ocf:hakit:container runs these before its lower layers, the rest after)."""
    ctx.runner.require("lxc-start")
    if cfg.health_command is not None:
        ctx.runner.require("lxc-attach")
    lxcpath = cfg.lxcpath
    if not os.path.exists(lxcpath):
        raise NotInstalledError(f"parameter 'lxcpath': {lxcpath} does not exist on this node")
    if not os.path.isdir(lxcpath):
        raise ArgsError(f"parameter 'lxcpath': {lxcpath} is not a directory")


def check_environment(cfg: LxcConfig, ctx: Context) -> None:
    """Before start and at validate-all depth 10: programs, lxcpath, config and rootfs."""
    check_host(cfg, ctx)
    config = cfg.config
    if config is not None and not os.path.isfile(config):
        raise NotInstalledError(f"parameter 'config': {config} does not exist on this node")
    ct = open_container(cfg)
    if not ct.defined:
        raise NotInstalledError(f"container {ct.name} is not defined: {ct.config_file} does "
                                f"not exist (is its filesystem mounted?)")
    rootfs = ct.config_item("lxc.rootfs.path")
    if not rootfs:
        raise ConfigError(f"{ct.config_file} sets no lxc.rootfs.path")
    source = rootfs_source(rootfs)
    if source is None and not is_layered(rootfs):
        raise ConfigError(f"{ct.config_file}: cannot understand lxc.rootfs.path = {rootfs}")
    if source is not None and not os.path.exists(source):
        raise NotInstalledError(f"rootfs {source} of container {ct.name} does not exist "
                                f"(is its filesystem mounted?)")


def halt_signal(cfg: LxcConfig, ct: Container) -> Optional[int]:
    """The signal stop will send: shutdown_signal, else the config's lxc.signal.halt."""
    if cfg.shutdown_signal is not None:
        return cfg.shutdown_signal
    configured = ct.config_item("lxc.signal.halt").strip()
    try:
        return int(Signal().parse(configured)) if configured else None
    except ValueError:
        return None
