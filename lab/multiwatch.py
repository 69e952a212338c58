"""Wait for many pages at once, from the hub: when is each served again?

``python3 -m lab.multiwatch OUT TIMEOUT URL...`` (run in the hub namespace) tries
every URL in its own thread about every 50 ms (each try times out after 0.3 s) until it
answers, then writes ``<unix time> <url>`` to OUT (one line, flushed) and stops asking that
one.  Started right after a crash, the first answer of each page is when its container is
back; a page that is up costs one request, so two dozen watchers do not load the nodes
while they recover.  It exits once every page answered, or after TIMEOUT seconds.
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from typing import TextIO

INTERVAL = 0.05
TRY_TIMEOUT = 0.3


def _watch(url: str, out: TextIO, lock: threading.Lock, end: float) -> None:
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=TRY_TIMEOUT) as reply:  # noqa: S310
                reply.read()
        except OSError:
            time.sleep(INTERVAL)
            continue
        with lock:
            out.write(f"{time.time():.3f} {url}\n")
            out.flush()
        return


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        sys.stderr.write("usage: multiwatch OUT TIMEOUT URL...\n")
        return 2
    end = time.monotonic() + float(argv[1])
    lock = threading.Lock()
    with open(argv[0], "a", encoding="utf-8") as out:
        threads = [threading.Thread(target=_watch, args=(url, out, lock, end), daemon=True)
                   for url in argv[2:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return 0


def read_times(text: str) -> dict[str, float]:
    """OUT's lines as url -> unix time (pure; a torn last line is skipped)."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                found[parts[1]] = float(parts[0])
            except ValueError:
                continue
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
