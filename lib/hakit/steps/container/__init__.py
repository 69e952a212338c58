"""ocf:hakit:container's steps: the rbd, fs, lxc and vip kinds composed into one stack.

``config`` composes the four kinds' records from the container's own parameters, ``layers``
turns them into the stack's layers (bottom first), ``actions`` runs them: start in order
with undo on failure, stop in reverse, one monitor pass naming the failing layer.
"""
