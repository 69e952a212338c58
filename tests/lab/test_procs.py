"""Detached processes, pidfiles with start times, and kill by verified identity."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.deadline import Deadline
from hakit.errors import GenericError
from hakit.os.runner import Runner
from lab import procs


@given(comm=st.text(st.characters(blacklist_characters="\x00\n"), max_size=16),
       state=st.sampled_from("RSDZTtXI"), start=st.integers(min_value=0, max_value=2**63))
def test_parse_stat_survives_any_command_name(comm: str, state: str, start: int) -> None:
    middle = " ".join(["1"] * 18)  # fields 4..21
    text = f"42 ({comm}) {state} {middle} {start} 0 0\n"
    assert procs.parse_stat(text) == (state, start)


@pytest.mark.parametrize("text", ["", "42 comm S 1 2", "42 (x) S 1 2 3"])
def test_parse_stat_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        procs.parse_stat(text)


def test_identify_this_process_and_not_a_dead_one() -> None:
    me = procs.identify(os.getpid())
    assert me is not None and me.pid == os.getpid()
    assert procs.identify(2**22 + 12345) is None


def test_pidfile_round_trip_and_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x.pid"
    assert procs.read_pidfile(path) is None
    procs.write_pidfile(path, procs.Proc(12, 34))
    assert procs.read_pidfile(path) == procs.Proc(12, 34)
    path.write_text("not a pid\n")
    assert procs.read_pidfile(path) is None


RUNNER = Runner(logging.getLogger("tests.lab.procs"))


def test_spawn_detached_is_not_our_child_and_is_killed_by_identity(tmp_path: Path) -> None:
    out = tmp_path / "sleep.out"
    proc = procs.spawn_detached(RUNNER, ["/bin/sleep", "60"], out, {"PATH": "/usr/bin:/bin"})
    try:
        assert os.readlink(f"/proc/{proc.pid}/cwd") == "/"  # holds no directory busy
        assert procs.is_alive(proc)
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[1]) != os.getpid()  # reparented
        assert os.getsid(proc.pid) == proc.pid  # its own session (setsid)
        impostor = procs.Proc(proc.pid, proc.start + 1)  # same PID, other start time
        procs.kill_all([impostor], Deadline(5), "killing an impostor")
        assert procs.is_alive(proc)
    finally:
        procs.kill_all([proc], Deadline(5), "killing sleep")
    assert not procs.is_alive(proc)


def test_spawn_detached_reports_a_program_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(GenericError, match="cannot start"):
        procs.spawn_detached(RUNNER, ["/nonexistent/prog"], tmp_path / "x.out", {})
    assert "is not installed" in (tmp_path / "x.out").read_text()
