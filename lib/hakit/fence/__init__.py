"""Fence agents: a declared option set and a power transport over one generic driver.

``options`` declares fence-agents-style options, ``args`` reads them from stdin or the
command line, ``metadata`` renders fence-agents metadata and a man page, ``driver`` owns
the deadline and verification, ``dispatch`` and ``log`` adapt the envelope every agent runs
in (``hakit.envelope``: outcomes, logger, metadata writer) to the fence-agent API.  A
protocol (``ipmi``) only has to open a ``PowerDevice``.
"""
