"""The steps of ocf:hakit:lxc (and of ocf:hakit:container's container layer).

``config`` declares the parameters and parses them into ``LxcConfig``; ``start``, ``stop``,
``monitor`` and ``reload`` are the actions, over ``host`` (lxcpath, configuration, rootfs),
``health`` (health_command), ``marker`` (start markers) and ``orphan`` (an init that
outlived LXC's monitor); ``parsers`` holds the pure text helpers.
"""
