"""Entering a named network namespace (``ip netns add NAME``, bound at /run/netns/NAME).

The whole agent process moves into the namespace before it opens any socket, so netlink,
packet and ICMPv6 sockets all act inside it without further ado.
"""

from __future__ import annotations

import os

from hakit import shown
from hakit.errors import ArgsError, GenericError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing on the monitor path
if TYPE_CHECKING:
    from typing import Optional

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000


class NamespaceMissing(ArgsError):
    """The named namespace does not exist on this host (rc 2)."""


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    # Only when a namespace is used, and only before Python 3.12.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def enter(name: str) -> None:
    """Move this process into network namespace ``name``."""
    path = os.path.join(NETNS_RUN_DIR, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NamespaceMissing(
            f"parameter 'network_namespace': {shown.value(name)} does not exist ({path})") from exc
    except OSError as exc:
        raise GenericError(f"cannot open network namespace {path}: {exc.strerror}") from exc
    try:
        _setns(fd)
    except OSError as exc:
        raise GenericError(f"cannot enter network namespace {shown.value(name)}: "
                           f"{exc.strerror}") from exc
    finally:
        os.close(fd)


class _Inside:
    """The context manager ``inside`` returns (a class, not contextlib: start-up cost)."""

    def __init__(self, name: Optional[str]) -> None:
        self._name = name
        self._home: Optional[int] = None

    def __enter__(self) -> None:
        if not self._name:
            return
        # setns(2) moves only the calling thread: remember this thread's namespace.
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            enter(self._name)
        except BaseException:
            os.close(self._home)
            self._home = None
            raise

    def __exit__(self, *exc: object) -> None:
        if self._home is None:
            return
        try:
            _setns(self._home)
        except OSError as err:
            raise GenericError("cannot return from network namespace "
                               f"{shown.value(self._name or '')}: "
                               f"{err.strerror}") from err
        finally:
            os.close(self._home)
            self._home = None


def inside(name: Optional[str]) -> _Inside:
    """Run the body in network namespace ``name`` (when given), then come back.

    For agents that do more than networking (ocf:hakit:container): liblxc's command socket
    is an abstract socket, scoped to the network namespace, and Ceph must be reached from
    the host's, so only the VIP's own step may run inside the namespace.
    """
    return _Inside(name)
