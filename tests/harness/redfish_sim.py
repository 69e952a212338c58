"""A real Redfish BMC for tests: sushy-emulator's fake driver over HTTPS, with Basic auth.

The emulator (PyPI's sushy-tools, in its own venv ``.venv-sushy`` made by ``make deps``)
serves on 127.0.0.1 with a self-signed certificate and a bcrypt htpasswd file. Its fake driver
applies power changes after a random 1-11 s, which exercises the agent's polling. Stopped by
PID; everything lives in the given directory.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import time
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.harness.ocf import ROOT

SUSHY_VENV = ROOT / ".venv-sushy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class FakeSystem:
    name: str
    uuid: str
    power_state: str = "On"


class RedfishSimulator:
    """One emulated BMC; ``start()`` it, ``stop()`` it (also on failure)."""

    def __init__(self, workdir: Path, systems: Optional[list[FakeSystem]] = None,
                 username: str = "admin", password: str = "s3cret-redfish-pw",
                 wrap: Sequence[str] = ()) -> None:
        """``wrap`` prefixes the emulator's argv, e.g. to run it inside a namespace."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.systems = systems or [FakeSystem("node1", str(uuidlib.uuid4()))]
        self.username = username
        self.password = password
        self.port = free_port()
        self._wrap = list(wrap)
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        self._proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def fingerprint(self) -> str:
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        return hashlib.sha256(der).hexdigest()

    def _prepare(self) -> Path:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60)
        digest = subprocess.run(
            [str(SUSHY_VENV / "bin" / "python"), "-c",
             "import bcrypt,sys; print(bcrypt.hashpw(sys.stdin.read().encode(), "
             "bcrypt.gensalt(rounds=4)).decode())"],
            input=self.password, capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        htpasswd = self.dir / "htpasswd"
        htpasswd.write_text(f"{self.username}:{digest}\n")
        state = self.dir / "state"
        state.mkdir(exist_ok=True)
        systems = [{"uuid": s.uuid, "name": s.name, "power_state": s.power_state,
                    "external_notifier": False, "nics": []} for s in self.systems]
        config = self.dir / "sushy.conf"
        config.write_text(
            f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}\n"
            f"SUSHY_EMULATOR_STATE_DIR = {str(state)!r}\n"
            f"SUSHY_EMULATOR_FAKE_SYSTEMS = {systems!r}\n")
        return config

    def start(self, timeout: float = 30.0) -> None:
        config = self._prepare()
        log = open(self.dir / "sushy.log", "wb")  # noqa: SIM115 - lives with the process
        self._proc = subprocess.Popen(
            [*self._wrap, str(SUSHY_VENV / "bin" / "sushy-emulator"), "--config", str(config),
             "--fake", "-i", "127.0.0.1", "-p", str(self.port), "--ssl-certificate", str(self.cert),
             "--ssl-key", str(self.key)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        (self.dir / "sushy.pid").write_text(str(self._proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("sushy-emulator exited: "
                                   + (self.dir / "sushy.log").read_text()[-2000:])
            if self._listening():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("sushy-emulator did not start listening")

    def _listening(self) -> bool:
        """Whether the emulator listens on its port, read from its own network namespace's
        /proc/PID/net/tcp (it may run in a namespace the tests cannot connect into)."""
        assert self._proc is not None
        try:
            lines = Path(f"/proc/{self._proc.pid}/net/tcp").read_text().splitlines()[1:]
        except OSError:
            return False
        wanted = f":{self.port:04X}"
        return any(f[1].endswith(wanted) and f[3] == "0A" for f in (ln.split() for ln in lines))

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._proc = None
