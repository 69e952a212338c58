"""make install / uninstall lay out exactly the documented files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.ocf import ROOT


def _make(*args: str) -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT), *args], check=True, capture_output=True,
                   timeout=120)


def test_install_and_uninstall(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    _make("install", f"DESTDIR={dest}")
    site = dest / "usr/lib/python3/dist-packages/hakit"
    assert (site / "__init__.py").is_file()
    assert (site / "ocf" / "dispatch.py").is_file()
    assert (site / "py.typed").is_file()
    assert (dest / "usr/lib/ocf/resource.d/hakit").is_dir()
    for agent in (a for a in (ROOT / "agents").iterdir() if not a.name.startswith(".")):
        where = (dest / "usr/sbin" if agent.name.startswith("fence_")
                 else dest / "usr/lib/ocf/resource.d/hakit")
        installed = where / agent.name
        assert installed.is_file()
        assert installed.stat().st_mode & 0o777 == 0o755
    _make("uninstall", f"DESTDIR={dest}")
    leftovers = [p for p in dest.rglob("*") if p.is_file()]
    assert leftovers == []
