"""hakit: Pacemaker resource agents and fencing for LXC containers on Ceph RBD."""

__version__ = "0.1.0"
