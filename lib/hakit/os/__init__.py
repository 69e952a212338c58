"""The OS boundaries: the only modules that touch the kernel, Ceph, LXC and other programs.

One module per boundary; each owns its binding and turns its errors into ``hakit.errors``.
See docs/developing.md, "Where things live".
"""
