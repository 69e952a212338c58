"""The lab: a real three-node Pacemaker + corosync cluster on one machine, in namespaces.

Each node is a network namespace plus a private mount (and UTS) namespace held open by a
long-lived holder process; the nodes hang off a bridge in a hub namespace.  ``lab.cluster``
builds and tears it down, ``python3 -m lab`` drives it from a shell (see docs/lab.md).
"""
