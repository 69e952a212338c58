"""Real-server health checks for ocf:hakit:lvs: probes, a bounded pool, and rise/fall state.

A check round runs every due probe at once on a small pool of threads, each probe bounded by
its own timeout and by the action's deadline, so one real server that accepts and never
answers costs its own timeout and nothing more: the other probes finish beside it, and what
has not answered when the deadline comes is reported "unknown" (its state is left as it
was) rather than holding the action back.  A server's state between monitors (each a new
process) lives in a small file on /run: up or down, how many results in a row disagree with
that (for ``rise``/``fall``), and when it was last probed (for ``interval``).
"""

from __future__ import annotations

import _socket
import os
import time

from hakit.errors import GenericError
from hakit.lean import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Callable, Optional, Union

    from hakit.deadline import Deadline
    from hakit.os.runner import Runner
    from hakit.steps.lvs.definition import Check

    IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: Probes running at once: enough that a few hanging servers never delay the rest, few
#: enough that 1000 real servers do not mean 1000 threads.
WORKERS = 32
#: The most of an HTTP reply read to find the status line.
STATUS_LINE_MAX = 4096


@frozen
class Probe:
    """One thing to check: a real server's endpoint with a service's check settings."""

    address: IPAddress
    port: int  # the port checked (the check's own port, or the server's)
    check: Check

    @property
    def key(self) -> str:
        """Identifies the probe in the state file (no whitespace)."""
        c = self.check
        host = str(self.address) if self.address.version == 4 else f"[{self.address}]"
        detail = {"http": c.path, "https": c.path, "command": c.command}.get(c.kind, "")
        return f"{c.kind}:{host}:{self.port}{detail}"


# -- probes ----------------------------------------------------------------------------------


def _connect(address: IPAddress, port: int, timeout: float) -> _socket.socket:
    family = _socket.AF_INET if address.version == 4 else _socket.AF_INET6
    sock = _socket.socket(family, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(max(timeout, 0.001))
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def check_tcp(probe: Probe, timeout: float) -> Optional[str]:
    """None when a TCP connection is accepted within ``timeout``, else why not."""
    try:
        _connect(probe.address, probe.port, timeout).close()
    except _socket.timeout:
        return f"no TCP answer within {timeout:g}s"
    except OSError as exc:
        return f"TCP connect failed: {exc.strerror or exc}"
    return None


def status_of(head: bytes) -> Optional[int]:
    """The status code of an HTTP status line (``HTTP/1.1 200 OK``), or None."""
    line = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() \
            and len(parts[1]) == 3:
        return int(parts[1])
    return None


def http_request(probe: Probe) -> bytes:
    c = probe.check
    host = c.host or (str(probe.address) if probe.address.version == 4
                      else f"[{probe.address}]")
    return (f"GET {c.path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: hakit-lvs\r\n"
            "Connection: close\r\n\r\n").encode()


def check_http(probe: Probe, timeout: float) -> Optional[str]:
    """None when GET answers with the expected status within ``timeout``."""
    end = time.monotonic() + timeout
    try:
        if probe.check.kind == "https":
            stream = _tls(probe, timeout)
        else:
            stream = _connect(probe.address, probe.port, timeout)
        try:
            stream.sendall(http_request(probe))
            head = b""
            while b"\n" not in head and len(head) < STATUS_LINE_MAX:
                left = end - time.monotonic()
                if left <= 0:
                    raise _socket.timeout
                stream.settimeout(left)
                chunk = stream.recv(1024)
                if not chunk:
                    break
                head += chunk
        finally:
            stream.close()
    except _socket.timeout:
        return f"no HTTP answer within {timeout:g}s"
    except OSError as exc:
        return f"HTTP request failed: {exc.strerror or exc}"
    status = status_of(head)
    if status is None:
        return "no HTTP status line in the answer"
    if status != probe.check.status:
        return f"HTTP status {status}, expected {probe.check.status}"
    return None


def _tls(probe: Probe, timeout: float) -> _socket.socket:
    """A TLS connection for https checks, unverified: a real server is reached by address,
    which its certificate does not name (keepalived's SSL_GET and ldirectord do the same);
    the check is of health, not identity."""
    import socket  # only https checks need socket and ssl
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((str(probe.address), probe.port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname=probe.check.host or None)
    except BaseException:
        raw.close()
        raise


def check_command(probe: Probe, timeout: float, runner: Runner, deadline: Deadline
                  ) -> Optional[str]:
    """None when ``COMMAND ADDRESS PORT`` exits 0 within ``timeout``."""
    try:
        result = runner.run([probe.check.command, str(probe.address), str(probe.port)],
                            deadline, timeout=timeout, check=False)
    except GenericError as exc:
        return exc.reason
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        return f"check command exited {result.returncode}" + (
            f": {detail[-1][:200]}" if detail else "")
    return None


def run_probe(probe: Probe, deadline: Deadline, runner: Runner) -> Optional[str]:
    """None when healthy, else the reason (a probe never raises)."""
    timeout = deadline.timeout(probe.check.timeout)
    if timeout <= 0:
        return "the action's deadline left no time to check"
    kind = probe.check.kind
    try:
        if kind == "tcp":
            return check_tcp(probe, timeout)
        if kind in ("http", "https"):
            return check_http(probe, timeout)
        if kind == "command":
            return check_command(probe, timeout, runner, deadline)
    except Exception as exc:  # a probe must not take the action down with it
        return f"check failed: {type(exc).__name__}: {exc}"
    return None  # "none": always healthy


def run_round(probes: Sequence[Probe], deadline: Deadline, runner: Runner,
              check: Optional[Callable[[Probe, Deadline, Runner], Optional[str]]] = None,
              workers: int = WORKERS) -> dict[str, Optional[str]]:
    """Run ``probes`` in parallel; probe key -> None (healthy) or the failure's reason.

    A probe still running when ``deadline`` passes is missing from the result (unknown);
    its thread is a daemon and is abandoned, never waited for.
    """
    import threading  # only monitors with checks

    work = check or run_probe
    results: dict[str, Optional[str]] = {}
    pending = list(reversed(probes))
    lock = threading.Lock()
    done = threading.Condition(lock)
    busy = [0]

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                probe = pending.pop()
                busy[0] += 1
            outcome = work(probe, deadline, runner)
            with lock:
                results[probe.key] = outcome
                busy[0] -= 1
                done.notify_all()

    for n in range(min(workers, len(probes))):
        threading.Thread(target=worker, name=f"hakit-check-{n}", daemon=True).start()
    with lock:
        while (pending or busy[0]) and not deadline.expired():
            done.wait(deadline.timeout(1.0))
    with lock:
        return dict(results)


# -- rise/fall state -----------------------------------------------------------------------


@frozen
class Health:
    """What the agent knows about one probe between monitors."""

    up: bool
    streak: int  # consecutive results contradicting ``up`` (towards rise or fall)
    last: float  # CLOCK_BOOTTIME seconds of the last result
    reason: str = ""  # the last failure's reason ("" when the last check passed)


def advance(previous: Optional[Health], ok: bool, check: Check, now: float,
            reason: str = "") -> Health:
    """The state after one result.  A server's first result decides its state; after that
    ``fall`` failures in a row take it out and ``rise`` successes in a row bring it back."""
    if previous is None:
        return Health(ok, 0, now, reason)
    if ok == previous.up:
        return Health(ok, 0, now, reason)
    streak = previous.streak + 1
    if streak >= (check.fall if previous.up else check.rise):
        return Health(ok, 0, now, reason)
    return Health(previous.up, streak, now, reason)


def due(previous: Optional[Health], check: Check, now: float) -> bool:
    return previous is None or now - previous.last >= check.interval - 0.05


def now() -> float:
    """CLOCK_BOOTTIME: comparable across monitor processes, and /run dies with the boot."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def parse_state(text: str) -> dict[str, Health]:
    """The state file: ``KEY UP STREAK LAST [REASON...]`` lines; malformed lines skipped."""
    found: dict[str, Health] = {}
    for line in text.splitlines():
        parts = line.split(" ", 4)
        if len(parts) < 4 or parts[1] not in ("up", "down") \
                or not (parts[2].isascii() and parts[2].isdigit()):
            continue
        try:
            last = float(parts[3])
        except ValueError:
            continue
        found[parts[0]] = Health(parts[1] == "up", int(parts[2]), last,
                                 parts[4] if len(parts) > 4 else "")
    return found


def render_state(states: Mapping[str, Health]) -> str:
    lines = []
    for key in sorted(states):
        h = states[key]
        reason = " ".join(h.reason.split())
        lines.append(f"{key} {'up' if h.up else 'down'} {h.streak} {h.last:.3f} {reason}"
                     .rstrip())
    return "\n".join(lines) + ("\n" if lines else "")


def load_state(path: str) -> dict[str, Health]:
    try:
        with open(path) as handle:
            return parse_state(handle.read())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GenericError(f"cannot read health state {path}: {exc.strerror}") from exc


def save_state(path: str, states: Mapping[str, Health]) -> None:
    """Written to a temporary file and renamed, so a killed monitor leaves the old state."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as handle:
            handle.write(render_state(states))
        os.replace(tmp, path)
    except OSError as exc:
        raise GenericError(f"cannot write health state {path}: {exc.strerror}") from exc


def probes_for(targets: Iterable[tuple[IPAddress, int, Check]]) -> list[Probe]:
    """One probe per distinct (address, checked port, check): services sharing a real
    server and a check probe it once."""
    seen: dict[str, Probe] = {}
    for address, port, check in targets:
        probe = Probe(address, check.port or port, check)
        seen.setdefault(probe.key, probe)
    return list(seen.values())
