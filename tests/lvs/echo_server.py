"""A real server for the LVS guest tests: greets each connection with its name, then echoes.

Run as ``echo_server.py NAME PORT PIDFILE``: it listens on every address (direct routing
delivers packets for the VIP, which the test puts on ``lo``), writes its PID, and serves each
connection on a thread until the peer closes it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def serve(conn: socket.socket, name: str) -> None:
    with conn:
        conn.sendall(f"HELLO {name}\n".encode())
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)


def main() -> None:
    name, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))  # noqa: S104 - a test namespace, reached through the VIP
    listener.listen(64)
    with open(pidfile, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, name), daemon=True).start()


if __name__ == "__main__":
    main()
