"""New connections through the VIP for the LVS guest tests: which real server answers.

``new_conns.py HOST PORT COUNT [INTERVAL] [TIMEOUT]`` opens COUNT connections one after the
other and prints ``T NAME`` for each greeting, ``T error TEXT`` for each failure (T is
CLOCK_BOOTTIME).  COUNT 0 runs until killed (the benchmark's "first new connection").
"""

from __future__ import annotations

import socket
import sys
import time


def now() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def main() -> None:
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
    done = 0
    while count == 0 or done < count:
        done += 1
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                words = sock.makefile("rb").readline().decode().split()
                name = words[1] if len(words) > 1 and words[0] == "HELLO" else "?"
            print(f"{now():.3f} {name}", flush=True)
        except OSError as exc:
            print(f"{now():.3f} error {exc}", flush=True)
        if interval:
            time.sleep(interval)


if __name__ == "__main__":
    main()
