"""A long-lived client for the LVS guest tests: one TCP connection through the VIP that
exchanges a numbered line every 500 ms until told to stop, and says whether it survived.

The pace is an interactive session's: the kernel's default packet-count sync (every 50
packets) resends such a connection to the standby only every 25 s.

``stream_client.py HOST PORT OUT STOPFILE``: OUT gets one line per event (``T hello NAME``,
``T echo N``, ``T error TEXT``, ``T done SENT RECEIVED``); T is CLOCK_BOOTTIME, which the
guest's shell reads as /proc/uptime.  Every echo must match what was sent, in order.
"""

from __future__ import annotations

import os
import socket
import sys
import time

PERIOD = 0.5


def now() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def main() -> None:
    host, port, out, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    log = open(out, "w", buffering=1)  # noqa: SIM115 - the process's whole life
    sent = received = 0
    try:
        sock = socket.create_connection((host, port), timeout=5)
        # A failover stalls the stream and TCP's retransmissions bridge it; under emulation
        # on a loaded host a switch has taken 40 s (two agent processes), and TCP's backoff
        # doubles a stall, so only a silence far beyond that counts as a lost connection.
        sock.settimeout(180)
        reader = sock.makefile("rb")
        hello = reader.readline().decode().split()
        log.write(f"{now():.3f} hello {hello[1] if len(hello) > 1 else '?'}\n")
        while not os.path.exists(stop):
            sock.sendall(f"{sent}\n".encode())
            sent += 1
            line = reader.readline()
            if not line:
                raise ConnectionError("closed by the peer")
            if int(line) != received:
                raise ValueError(f"echo {line!r}, expected {received}")
            received += 1
            log.write(f"{now():.3f} echo {received}\n")
            time.sleep(PERIOD)
        sock.close()
    except (OSError, ValueError) as exc:
        log.write(f"{now():.3f} error {type(exc).__name__}: {exc}\n")
    log.write(f"{now():.3f} done {sent} {received}\n")


if __name__ == "__main__":
    main()
