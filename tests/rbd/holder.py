"""A second Ceph client standing for a dead node: it holds an image's exclusive lock.

Run with /usr/bin/python3 (python3-rados/rbd):
``holder.py CONF USER KEYRING POOL IMAGE [managed|cooperative]``.  ``managed`` (the default)
takes the lock with lock_acquire, refusing to hand it over; ``cooperative`` takes it the way
any librbd writer does, by writing.  Prints ``locked ADDRESS`` once it holds the lock, then
for each line on stdin tries a write and prints ``write ok`` or ``write failed ERRNO``.
"""

from __future__ import annotations

import sys

import rados  # type: ignore[import-not-found]

import rbd  # type: ignore[import-not-found]


def main() -> None:
    conf, user, keyring, pool, image = sys.argv[1:6]
    mode = sys.argv[6] if len(sys.argv) > 6 else "managed"
    cluster = rados.Rados(conffile=conf, rados_id=user,
                          conf={"keyring": keyring, "rados_osd_op_timeout": "10",
                                "rados_mon_op_timeout": "10"})
    cluster.connect(timeout=10)
    ioctx = cluster.open_ioctx(pool)
    img = rbd.Image(ioctx, image)
    if mode == "managed":
        img.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)
    else:
        img.write(b"cooperative", 4096)
        img.flush()
    print(f"locked {cluster.get_addrs()}", flush=True)
    for _ in sys.stdin:
        try:
            img.write(b"stale-node" * 51, 0)
            img.flush()
            print("write ok", flush=True)
        except rbd.Error as exc:
            print(f"write failed {getattr(exc, 'errno', '?')}", flush=True)
    # Exits without closing: a dead node does not clean up either.


if __name__ == "__main__":
    main()
