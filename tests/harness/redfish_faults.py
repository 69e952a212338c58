"""A small Redfish BMC over HTTPS whose answers a test scripts: 429, 5xx, redirects, 404s,
a renewed certificate.

sushy-emulator (``redfish_sim``) is the real thing for the protocol; it cannot be made to
answer 429 with Retry-After, fail with 500 once, redirect, or change its certificate while
the port stays, which real BMCs do.  This server serves one or more systems whose power
changes at once, with HTTP Basic auth; ``script`` queues answers for a (method, path)
that are given before the normal one.  It runs on a thread of the test process and is
stopped (socket closed) by ``stop``.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import threading
from base64 import b64encode
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from tests.harness.redfish_sim import free_port

ROOT = "/redfish/v1"
#: A scripted "answer as usual", to place a fault after some normal answers.
NORMAL = 0
RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle", "Nmi"]


@dataclass
class Answer:
    """One scripted answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Optional[dict[str, Any]] = None


class FaultyBmc:
    """A scripted Redfish BMC on 127.0.0.1; ``start``/``stop``, or use as a context."""

    def __init__(self, workdir: Path, systems: tuple[str, ...] = ("1",),
                 username: str = "admin", password: str = "faulty-pw") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.username = username
        self.password = password
        self.power = {s: "On" for s in systems}
        self.gone: set[str] = set()  # systems listed in the collection but answering 404
        self.script: dict[tuple[str, str], deque[Answer]] = {}
        self.seen: list[tuple[str, str]] = []  # every request, in order
        self.resets: list[tuple[str, str]] = []  # (system, ResetType) carried out
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.new_certificate()

    # -- set-up ------------------------------------------------------------------------
    def new_certificate(self) -> None:
        """A fresh self-signed certificate for 127.0.0.1 (used from the next ``start``)."""
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60)

    @property
    def fingerprint(self) -> str:
        der = ssl.PEM_cert_to_DER_cert(self.cert.read_text())
        return hashlib.sha256(der).hexdigest()

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        """Give these answers to the next requests ``method path``, then the normal one."""
        with self._lock:
            self.script.setdefault((method, path), deque()).extend(answers)

    def fence_params(self, **extra: str) -> dict[str, str]:
        params = {"ip": "127.0.0.1", "ipport": str(self.port), "username": self.username,
                  "password": self.password, "ssl_ca_file": str(self.cert)}
        params.update(extra)
        return params

    def count(self, method: str, path: str) -> int:
        return self.seen.count((method, path))

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FaultyBmc:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def restart_with_new_certificate(self) -> None:
        """The BMC's certificate is renewed: same address and port, another certificate."""
        self.stop()
        self.new_certificate()
        self.start()

    def __enter__(self) -> FaultyBmc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the Redfish tree --------------------------------------------------------------
    def resource(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        path = path.rstrip("/") or "/"
        if method == "GET" and path == ROOT:
            return Answer(200, body={"Systems": {"@odata.id": f"{ROOT}/Systems"}})
        if method == "GET" and path == f"{ROOT}/Systems":
            return Answer(200, body={"Members": [{"@odata.id": f"{ROOT}/Systems/{s}"}
                                                 for s in self.power]})
        return self._system(method, path, body)

    def _system(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        for system in self.power:
            uri = f"{ROOT}/Systems/{system}"
            if path in (uri, f"{uri}/Actions/ComputerSystem.Reset") and system in self.gone:
                return Answer(404, body={"error": {"message": f"{system} not found"}})
            if method == "GET" and path == uri:
                return Answer(200, body={
                    "Id": system, "Name": f"node{system}", "UUID": f"uuid-{system}",
                    "PowerState": self.power[system],
                    "Actions": {"#ComputerSystem.Reset": {
                        "target": f"{uri}/Actions/ComputerSystem.Reset",
                        "ResetType@Redfish.AllowableValues": RESET_TYPES}}})
            if method == "POST" and path == f"{uri}/Actions/ComputerSystem.Reset":
                kind = str(body.get("ResetType"))
                if kind not in RESET_TYPES:
                    return Answer(400)
                self.resets.append((system, kind))
                if kind in ("On", "ForceOff", "GracefulShutdown"):
                    self.power[system] = "Off" if "Off" in kind or "Shutdown" in kind \
                        else "On"
                return Answer(204)
        return Answer(404)


def _handler(bmc: FaultyBmc) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + b64encode(f"{bmc.username}:{bmc.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test reads bmc.seen instead

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            with bmc._lock:
                bmc.seen.append((method, self.path))
                queue = bmc.script.get((method, self.path))
                if self.headers.get("Authorization") != expected:
                    answer = Answer(401, {"WWW-Authenticate": 'Basic realm="bmc"'})
                elif queue and queue[0].status != NORMAL:
                    answer = queue.popleft()
                else:
                    if queue:
                        queue.popleft()
                    answer = bmc.resource(method, self.path, body if isinstance(body, dict)
                                          else {})
            data = json.dumps(answer.body).encode() if answer.body is not None else b""
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
