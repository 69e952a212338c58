"""Real servers for the LVS cost benchmark: accept (and close) TCP connections on a range
of ports, on every address of the namespace.  ``many_ports.py FIRST COUNT PIDFILE``."""

from __future__ import annotations

import os
import selectors
import socket
import sys


def main() -> None:
    first, count, pidfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    selector = selectors.DefaultSelector()
    for port in range(first, first + count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))  # noqa: S104 - a test namespace
        sock.listen(256)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    with open(pidfile, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    while True:
        for key, _ in selector.select():
            try:
                conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                conn.close()
            except OSError:
                pass


if __name__ == "__main__":
    main()
