"""Fence agents: a declared option set and a power transport over one generic driver.

``options`` declares fence-agents-style options, ``args`` reads them from stdin or the
command line, ``metadata`` renders fence-agents metadata and a man page, ``driver`` owns
the deadline and verification, ``dispatch`` is the one place that turns outcomes into the
fence-agent exit codes.  A protocol (``ipmi``) only has to open a ``PowerDevice``.
"""
