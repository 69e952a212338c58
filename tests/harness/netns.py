"""Throwaway network namespaces, veth pairs and bridges for tests.

Everything lives in namespaces these helpers create (names ``hkt-<random>``), with no route
out; addresses come from 198.18.0.0/15 and fd00::/8.  ``NetnsPool.cleanup`` kills what runs
in them and deletes them, even after a failed test.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Sequence

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/sbin/ip"


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30)


class Netns:
    """One network namespace."""

    def __init__(self, name: str) -> None:
        self.name = name

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ip -n NAME ARGS``."""
        return _run([IP, "-n", self.name, *args], check=check)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` wrapped to run inside this namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(self.exec_argv(argv), check=check)

    def pids(self) -> list[int]:
        out = _run([IP, "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split()]


class NetnsPool:
    """Creates namespaces and links between them; removes all of them on cleanup."""

    def __init__(self) -> None:
        self._spaces: list[Netns] = []

    def create(self) -> Netns:
        ns = Netns(f"hkt-{secrets.token_hex(4)}")
        _run([IP, "netns", "add", ns.name])
        self._spaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    def bridge(self, ns: Netns, name: str = "br0") -> str:
        """A bridge inside ``ns``, up, with no address."""
        ns.ip("link", "add", name, "type", "bridge")
        ns.ip("link", "set", name, "up")
        return name

    def veth(self, a: Netns, a_if: str, b: Netns, b_if: str) -> None:
        """A veth pair with one end in each namespace, both up."""
        tmp = f"hv{secrets.token_hex(5)}"
        a.ip("link", "add", tmp, "type", "veth", "peer", "name", b_if, "netns", b.name)
        a.ip("link", "set", tmp, "name", a_if)
        a.ip("link", "set", a_if, "up")
        b.ip("link", "set", b_if, "up")

    def attach(self, hub: Netns, bridge: str, host: Netns, host_if: str = "eth0") -> None:
        """Plug ``host`` into ``bridge`` in ``hub`` through a veth pair."""
        port = f"p{secrets.token_hex(4)}"
        self.veth(hub, port, host, host_if)
        hub.ip("link", "set", port, "master", bridge)

    def cleanup(self) -> None:
        for ns in reversed(self._spaces):
            for pid in ns.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _run([IP, "netns", "del", ns.name], check=False)
        self._spaces.clear()
