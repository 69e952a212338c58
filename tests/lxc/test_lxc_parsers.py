"""The LXC agent's pure helpers and start markers, with hypothesis."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.steps.lxc.config import CommandLine
from hakit.steps.lxc.marker import StartMarker, marker_name, parse_record
from hakit.steps.lxc.parsers import excerpt, is_layered, log_errors, rootfs_source, stat_starttime

PATHS = st.lists(st.text("abcxyz-_.0123", min_size=1, max_size=8), min_size=1,
                 max_size=5).map(lambda parts: "/" + "/".join(parts))
WORDS = st.text(st.characters(blacklist_characters="\n\0", blacklist_categories=("Cs",)),
                min_size=1, max_size=20)


@given(PATHS)
def test_rootfs_directory_forms(path: str) -> None:
    assert rootfs_source(path) == path
    assert rootfs_source(f"dir:{path}") == path
    assert rootfs_source(f"btrfs:{path}") == path
    assert rootfs_source(f"lvm:{path}") == path


@given(st.text(max_size=60))
def test_rootfs_source_never_raises(value: str) -> None:
    result = rootfs_source(value)
    assert result is None or result.startswith("/")


def test_rootfs_layered_and_odd_values() -> None:
    assert rootfs_source("overlay:/lower:/upper") is None
    assert is_layered("overlay:/lower:/upper")
    assert rootfs_source("") is None
    assert rootfs_source("relative/rootfs") is None
    assert rootfs_source("dir:relative") is None
    assert not is_layered("dir:/x")


def _log(level: str, module: str, text: str) -> str:
    return (f"lxc-start ct1 20261123200325.875 {level:<8} {module} - "
            f"../src/lxc/{module}.c:func:12 - {text}")


def test_log_errors_keeps_cause_and_outcome() -> None:
    text = "\n".join([
        _log("INFO", "conf", "fine"),
        _log("ERROR", "utils", "No such file or directory - Failed to mount \"/x\""),
        _log("ERROR", "conf", "Failed to setup mount entries"),
        _log("WARN", "cgfsng", "Failed to destroy"),
        _log("ERROR", "lxccontainer", "Received container state \"ABORTING\""),
        _log("ERROR", "lxc_start", "The container failed to start"),
    ])
    assert log_errors(text) == ["No such file or directory - Failed to mount \"/x\"",
                                "Received container state \"ABORTING\""]


def test_log_errors_without_errors() -> None:
    assert log_errors(_log("NOTICE", "start", "Exec'ing /sbin/init")) == []
    assert log_errors(_log("ERROR", "conf", "only one")) == ["only one"]


@given(st.lists(st.text(max_size=80), max_size=20))
def test_log_errors_never_raises(lines: list[str]) -> None:
    assert len(log_errors("\n".join(lines))) <= 2


@given(st.text(max_size=1000), st.integers(min_value=10, max_value=400))
def test_excerpt_is_one_bounded_line(text: str, limit: int) -> None:
    out = excerpt(text, limit)
    assert len(out) <= limit
    assert "\n" not in out
    assert out.split("...")[-1] in " ".join(text.split())


@given(st.lists(WORDS, min_size=1, max_size=6))
def test_command_line_round_trips(words: list[str]) -> None:
    assert CommandLine().parse(shlex.join(words)) == tuple(words)


def test_command_line_rejects() -> None:
    for raw in ("", "   ", "curl 'unbalanced", "a\nb"):
        with pytest.raises(ValueError):
            CommandLine().parse(raw)


@given(PATHS, st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,30}", fullmatch=True))
def test_marker_name_is_one_file_name(lxcpath: str, name: str) -> None:
    file_name = marker_name(lxcpath, name)
    assert "/" not in file_name
    assert file_name not in (".", "..")
    assert marker_name(lxcpath + "/", name) == file_name


@given(st.lists(st.text(alphabet="abc%/_", min_size=1, max_size=255).filter(
                    lambda c: c.strip("/") == c and c not in (".", "..")),
                min_size=1, max_size=20).map(lambda parts: "/" + "/".join(parts)),
       st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}", fullmatch=True))
def test_marker_name_fits_one_directory_entry_for_any_lxcpath(lxcpath: str, name: str) -> None:
    """A long lxcpath or name (each up to NAME_MAX per component) still gives a marker
    file name the kernel takes; stop and probe read it (they must not fail)."""
    file_name = marker_name(lxcpath, name)
    assert len(file_name.encode()) <= 255 and "/" not in file_name
    assert marker_name(lxcpath, name + "x") != file_name


def test_marker_names_differ() -> None:
    assert marker_name("/a/b", "c") != marker_name("/a", "b/c".replace("/", "_"))
    assert marker_name("/var/lib/lxc", "ct1") != marker_name("/srv/lxc", "ct1")


def test_marker_round_trip(tmp_path: Path) -> None:
    marker = StartMarker("/var/lib/lxc", "ct1", directory=str(tmp_path / "run"))
    assert marker.read() is None
    marker.write()
    assert marker.read() is not None
    marker.write(init_pid=1234, init_start=None)
    record = marker.read()
    assert record is not None and record["init_pid"] == 1234
    Path(marker.path).write_text("not a record")
    assert marker.read() == {}  # a damaged marker still says "started by the cluster"
    marker.remove()
    marker.remove()
    assert marker.read() is None



@given(st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
                       st.integers(min_value=0, max_value=2**40), max_size=5))
def test_marker_record_round_trips(record: dict[str, int]) -> None:
    text = "".join(f"{k}={v}\n" for k, v in record.items())
    assert parse_record(text) == record


@given(st.text(max_size=200))
def test_marker_record_never_raises(text: str) -> None:
    assert all(isinstance(v, int) for v in parse_record(text).values())


@given(st.text(st.characters(blacklist_characters="\n\0", blacklist_categories=("Cs",)),
               max_size=16), st.integers(min_value=0, max_value=2**50))
def test_stat_starttime_with_any_command_name(comm: str, start: int) -> None:
    fields = ["S", "1", "1", "1", "0", "-1", "4194560", "0", "0", "0", "0", "0", "0", "0",
              "0", "20", "0", "1", "0", str(start), "1000", "100"]
    assert stat_starttime(f"1234 ({comm}) " + " ".join(fields)) == start


def test_stat_starttime_of_this_process() -> None:
    assert stat_starttime(Path("/proc/self/stat").read_text()) is not None
    assert stat_starttime("") is None
    assert stat_starttime("12 (x) S 1") is None
