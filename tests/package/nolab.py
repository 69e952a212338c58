"""What counts as lab code in an installed tree (``make install`` or the Debian package).

The lab (``lab/``) runs from a checkout only; a cluster node gets none of it.  Lab code is
any path with a ``lab`` directory in it, any installed Python file that imports ``lab`` or
``hakit.lab``, and any installed file whose bytes are those of a module under ``lab/``
(a copy under another name).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from tests.harness.ocf import ROOT


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_python(path: Path, data: bytes) -> bool:
    return path.suffix == ".py" or (data.startswith(b"#!") and b"python" in data.split(b"\n")[0])


def _imports_lab(data: bytes) -> bool:
    try:
        tree = ast.parse(data)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(n == "lab" or n.startswith(("lab.", "hakit.lab")) for n in names):
            return True
    return False


def lab_code(tree: Path) -> list[str]:
    """Every file under ``tree`` that is lab code, as a path relative to ``tree``."""
    lab_digests = {_digest(p.read_bytes()) for p in (ROOT / "lab").rglob("*.py")
                   if p.stat().st_size > 0}
    found = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(tree)
        data = path.read_bytes()
        if ("lab" in rel.parts[:-1] or _digest(data) in lab_digests
                or (_is_python(path, data) and _imports_lab(data))):
            found.append(str(rel))
    return found
