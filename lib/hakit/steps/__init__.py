"""Domain steps: what an agent's actions do, over the boundaries in ``hakit.os``.

Pure where they can be (configuration records and their parsers), else calls on boundaries.
See docs/developing.md, "Where things live".
"""
