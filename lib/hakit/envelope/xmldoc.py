"""Writing a metadata document: the one writer under both agents' ``meta-data``.

Both documents are built with ElementTree from the declarations (so every value is escaped)
and written the same way: a prolog, the tree indented, a final newline.  What they hold is
the adapters': ``hakit.ocf.metadata`` (OCF 1.1) and ``hakit.fence.metadata``
(fence-agents' ``metadata.rng``).  Imported only for ``meta-data``: ``xml.etree`` is not
on the monitor path.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional


def element(parent: ET.Element, tag: str, attrs: Optional[Mapping[str, str]] = None,
            text: Optional[str] = None) -> ET.Element:
    """A child of ``parent``, with its attributes in the order given and its text."""
    child = ET.SubElement(parent, tag, dict(attrs or {}))
    if text is not None:
        child.text = text
    return child


def write(root: ET.Element, prolog: str, indent: str) -> str:
    """The document: ``prolog``, then ``root`` indented by ``indent`` per level, then a
    newline."""
    ET.indent(root, space=indent)
    return prolog + ET.tostring(root, encoding="unicode") + "\n"
