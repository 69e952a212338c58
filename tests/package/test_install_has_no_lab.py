"""``make install`` lays out no lab code (the Debian package is checked in test_deb.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.ocf import ROOT
from tests.package.nolab import lab_code


def test_make_install_has_no_lab(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", f"DESTDIR={dest}"], check=True,
                   capture_output=True, timeout=120)
    assert (dest / "usr/lib/python3/dist-packages/hakit/ocf/dispatch.py").is_file()
    assert lab_code(dest) == []


def test_the_check_finds_lab_code(tmp_path: Path) -> None:
    """The check itself: a lab directory, an import of the lab, a renamed copy of a module."""
    (tmp_path / "site/hakit/lab").mkdir(parents=True)
    (tmp_path / "site/hakit/lab/x.py").write_text("")
    (tmp_path / "site/imports.py").write_text("import os\nfrom lab.cluster import Lab\n")
    (tmp_path / "site/hakit/old.py").write_text("from hakit.lab import node\n")
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin/tool").write_text("#!/usr/bin/python3\nimport lab\n")
    (tmp_path / "site/copy.py").write_bytes((ROOT / "lab/cluster.py").read_bytes())
    (tmp_path / "site/clean.py").write_text("from hakit.ocf import dispatch\n# lab\n")
    assert lab_code(tmp_path) == ["sbin/tool", "site/copy.py", "site/hakit/lab/x.py",
                                  "site/hakit/old.py", "site/imports.py"]
