"""debug_file holds protocol traces: only its owner may read it, and a link is not followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.fence.conftest import FENCE_HAKIT, run_fence
from tests.harness.bmc import IpmiSim


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_debug_file_is_created_0600_whatever_the_umask(sim: IpmiSim, tmp_path: Path) -> None:
    debug = tmp_path / "fence.debug"
    old = os.umask(0o022)  # the child inherits it: a plain open() would make 0644
    try:
        result = run_fence(FENCE_HAKIT, sim.fence_params(action="status", debug_file=str(debug)))
    finally:
        os.umask(old)
    assert result.rc == 0, result.out
    assert _mode(debug) == 0o600
    text = debug.read_text()
    assert "logging in to" in text and sim.password not in text


def test_an_existing_debug_file_is_narrowed_to_0600(sim: IpmiSim, tmp_path: Path) -> None:
    debug = tmp_path / "fence.debug"
    debug.write_text("earlier run\n")
    debug.chmod(0o644)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="status", debug_file=str(debug)))
    assert result.rc == 0, result.out
    assert _mode(debug) == 0o600
    assert debug.read_text().startswith("earlier run\n")  # appended, as fence-agents does


def test_a_symlink_as_debug_file_is_refused_and_fencing_goes_on(sim: IpmiSim,
                                                                tmp_path: Path) -> None:
    victim = tmp_path / "precious"
    victim.write_text("keep\n")
    link = tmp_path / "fence.debug"
    link.symlink_to(victim)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off", debug_file=str(link)))
    assert result.rc == 0, result.out
    assert "cannot open debug_file" in result.stderr
    assert victim.read_text() == "keep\n" and not sim.power
