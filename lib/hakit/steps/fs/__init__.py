"""ocf:hakit:fs's steps: check and mount an ext4 or XFS filesystem, unmount it freeing it from
its holders, and monitor it at depths 0, 10 and 20.

``config`` declares the parameters and parses them into ``FsConfig``; every step takes that
record (never the raw values), so the container agent can compose it for its mount layer.
"""
