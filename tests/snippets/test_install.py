"""make install puts an executable hakit-snippet in $(BINDIR) that runs on the staged
library; make uninstall removes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.ocf import ROOT


def _make(*args: str) -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT), *args], check=True, capture_output=True,
                   timeout=120)


def test_installed_hakit_snippet_runs(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    _make("install", f"DESTDIR={dest}")
    try:
        program = dest / "usr/bin/hakit-snippet"
        assert program.stat().st_mode & 0o777 == 0o755
        env = {"PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(dest / "usr/lib/python3/dist-packages")}
        out = subprocess.run([str(program), "stack", "--name", "web", "--image", "rbd/web",
                              "--nodes", "n1,n2"], capture_output=True, text=True, env=env,
                             timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        assert "group web-stack web-rbd web-fs web-lxc" in out.stdout
        bad = subprocess.run([str(program), "stack", "--name", "web", "--image", "web",
                              "--nodes", "n1"], capture_output=True, text=True, env=env,
                             timeout=30, check=False)
        assert bad.returncode == 2
        assert "argument --image: 'web' is not an RBD image" in bad.stderr
    finally:
        _make("uninstall", f"DESTDIR={dest}")
    assert not (dest / "usr/bin/hakit-snippet").exists()
