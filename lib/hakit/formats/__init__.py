"""Pure decoders of what the kernel and the disks say (superblocks, /proc/PID/stat, mon_host).

No I/O: the boundaries in ``hakit.os`` read the bytes and text, these turn them into values.
See docs/developing.md, "Where things live".
"""
