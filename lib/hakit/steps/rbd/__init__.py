"""Mapping a Ceph RBD image on this node, exclusively (what ocf:hakit:rbd does).

``config``: the parameters and the ``RbdConfig`` record; ``actions``: start, stop, monitor;
``lock``: the exclusive lock's takeover and checks; ``kernel`` (krbd, nbd) and ``fuse``
(rbd-fuse + loop): the device types; ``layout``: the stable link and the per-image state.
"""
