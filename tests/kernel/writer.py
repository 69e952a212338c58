"""A node's application in a kernel guest: appends numbered records, each fsync'd.

``writer.py DATA ACKS PREFIX [COUNT]``: appends ``PREFIX-N`` lines to DATA; after each
fsync returns, appends N to ACKS (fsync'd too, on the guest's output share), so every number
in ACKS is a record the filesystem promised to keep.  A failed write or fsync is recorded in
``ACKS.errors`` and retried every 0.2 s: after a takeover, a zombie node's writer shows here
that the cluster refuses it.  Runs forever unless COUNT is given.
"""

from __future__ import annotations

import os
import sys
import time


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> None:
    data, acks, prefix = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else None
    number = 1
    while count is None or number <= count:
        try:
            _append(data, f"{prefix}-{number}\n")
        except OSError as exc:
            _append(acks + ".errors", f"{number} {exc.errno} {exc.strerror}\n")
            time.sleep(0.2)
            continue
        _append(acks, f"{number}\n")
        number += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main()
