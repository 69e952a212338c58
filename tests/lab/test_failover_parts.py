"""The failover checks' own parts, without a lab: the writer's CGI and client, the split-brain
verdicts, the image check, the hub's view of the VIP and its rendering in ``status``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout
from hakit.os import mountinfo
from hakit.os.runner import Runner
from lab import hub, imagecheck, network, splitbrain, stack, writer
from lab.layout import make_layout
from lab.status import VipView, render_vip

numbers = st.lists(st.integers(min_value=0, max_value=10**9), max_size=50)
nodes = st.sampled_from(["n1", "n2", "n3"])
addresses = st.sampled_from(["198.18.42.11:0/1", "198.18.42.12:0/2", "198.18.42.13:0/3"])


# -- the writer ---------------------------------------------------------------------------


@given(numbers)
def test_numbers_round_trip(values: list[int]) -> None:
    text = "".join(f"{v}\n" for v in values)
    assert writer.parse_numbers(text) == values


@given(numbers, st.text(alphabet="0123456789", min_size=1, max_size=5))
def test_a_line_cut_short_is_not_counted(values: list[int], partial: str) -> None:
    text = "".join(f"{v}\n" for v in values) + partial
    assert writer.parse_numbers(text) == values


def test_junk_lines_are_not_numbers() -> None:
    assert writer.parse_numbers("1\n\nx\n-2\n٣\n3\n") == [1, 3]


@given(numbers, numbers)
def test_missing(acked: list[int], records: list[int]) -> None:
    gone = writer.missing(acked, records)
    assert set(gone) == set(acked) - set(records) and gone == sorted(gone)


def test_acknowledged_means_exactly_that_number() -> None:
    assert writer.acknowledged("ok 12\n", 12)
    assert not writer.acknowledged("ok 1\n", 12)
    assert not writer.acknowledged("failed\n", 12)


def _cgi(records: Path, query: str) -> str:
    script = stack.APPEND_CGI.replace(stack.RECORDS_PATH, str(records))
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    return subprocess.run([busybox, "sh", "-c", script], env={"QUERY_STRING": query,
                          "PATH": "/usr/bin:/bin"}, capture_output=True,
                          check=True, timeout=10).stdout.decode()


def test_append_cgi_appends_and_acknowledges(tmp_path: Path) -> None:
    records = tmp_path / "records.txt"
    records.touch()
    assert _cgi(records, "7") == "Content-Type: text/plain\r\n\r\nok 7\n"
    assert _cgi(records, "8").endswith("ok 8\n")
    bad = _cgi(records, "8;rm -rf /")
    assert bad.startswith("Status: 400") and "ok" not in bad
    assert _cgi(records, "").startswith("Status: 400")
    assert records.read_text() == "7\n8\n"
    records.chmod(0o400)
    if os.geteuid() != 0:  # root writes anyway
        assert _cgi(records, "9").startswith("Status: 500")


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server acknowledging appends, except every third request."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            number = self.path.partition("?")[2]
            body = b"failed\n" if len(seen) % 3 == 0 else f"ok {number}\n".encode()
            self.send_response(500 if len(seen) % 3 == 0 else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/append", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_writer_retries_the_same_number(tmp_path: Path,
                                            flaky_server: tuple[str, list[str]]) -> None:
    url, seen = flaky_server
    acked = tmp_path / "acked"
    budget = iter(range(12))
    nxt = writer.run(url, acked, pause=0.0, keep_going=lambda: next(budget, None) is not None)
    assert writer.parse_numbers(acked.read_text()) == list(range(1, nxt))
    assert [p.partition("?")[2] for p in seen] == ["1", "2", "3", "3", "4", "5", "5", "6",
                                                   "7", "7", "8", "9"]


# -- the split-brain watch ------------------------------------------------------------------


samples = st.builds(splitbrain.Sample, st.floats(0, 2e9, allow_nan=False),
                    st.lists(nodes, max_size=3).map(tuple),
                    st.lists(addresses, max_size=2).map(tuple), st.sampled_from(["", "x"]))


@given(st.lists(samples, max_size=20))
def test_samples_round_trip(found: list[splitbrain.Sample]) -> None:
    text = "".join(json.dumps(asdict(s)) + "\n" for s in found) + '{"t": 1, "mou'
    assert splitbrain.parse_samples(text) == found


@given(st.lists(samples, max_size=20))
def test_violations_are_the_samples_with_two(found: list[splitbrain.Sample]) -> None:
    bad = [s for s in found if len(set(s.mounted)) > 1 or len(set(s.owners)) > 1]
    assert bool(splitbrain.violations(found)) == bool(bad)


def test_histories_skip_gaps_and_repeats() -> None:
    seq = [splitbrain.Sample(float(i), m, o) for i, (m, o) in enumerate([
        (("n1",), ("a",)), (("n1",), ("a",)), ((), ()), ((), ("a",)), ((), ()),
        (("n2",), ()), (("n2",), ("b",))])]
    assert splitbrain.mount_history(seq) == ["n1", "n2"]
    assert splitbrain.owner_history(seq) == ["a", "b"]
    assert splitbrain.violations(seq) == []
    two = [splitbrain.Sample(0.0, ("n1", "n2"), ("a", "b"))]
    assert len(splitbrain.violations(two)) == 2


def test_lock_list_parse() -> None:
    listed = ('[{"id":"auto 1","locker":"client.4146","address":"198.18.42.13:0/31"}]')
    assert splitbrain.parse_lock_list(listed) == ["198.18.42.13:0/31"]
    old = '{"auto 1": {"locker": "client.1", "address": "1.2.3.4:0/5"}}'
    assert splitbrain.parse_lock_list(old) == ["1.2.3.4:0/5"]
    assert splitbrain.parse_lock_list("") == [] == splitbrain.parse_lock_list("[]")
    assert splitbrain.parse_lock_list("not json") == []


@given(st.text(alphabet="abc \t\\", min_size=1, max_size=8))
def test_mounts_directory_reads_escaped_paths(name: str) -> None:
    directory = f"/var/lib/lxc/{name}"
    line = f"72 438 7:1 / {mountinfo.escape(directory)} rw,relatime - ext4 /dev/x rw\n"
    assert splitbrain.mounts_directory("1 0 0:1 / / rw - tmpfs t rw\n" + line, directory)
    assert not splitbrain.mounts_directory(line, directory + "x")


# -- the image check --------------------------------------------------------------------------


def test_check_copy_reads_a_clean_image(tmp_path: Path) -> None:
    top = tmp_path / "top"
    records = top / stack.RECORDS_IN_IMAGE.lstrip("/")
    records.parent.mkdir(parents=True)
    records.write_text("1\n2\n3\n")
    image = tmp_path / "web.ext4"
    runner = Runner(logging.getLogger("test"))
    runner.run([runner.require("mkfs.ext4"), "-q", "-F", "-d", str(top), str(image), "8M"],
               Deadline(60))
    report = imagecheck.check_copy(runner, image, stack.RECORDS_IN_IMAGE, replay=True)
    assert report.clean and not report.needed_recovery and report.replay_status == 0
    assert report.records == (1, 2, 3)
    assert not imagecheck.needs_recovery(image)


# -- where the VIP answers --------------------------------------------------------------------


macs = st.lists(st.integers(0, 2**48 - 1), min_size=1, max_size=4, unique=True).map(
    lambda ints: [":".join(f"{(i >> s) & 0xff:02x}" for s in range(40, -1, -8)) for i in ints])


@given(macs, st.data())
def test_the_node_with_the_mac(found: list[str], data: st.DataObject) -> None:
    table = {f"n{i + 1}": mac for i, mac in enumerate(found)}
    pick = data.draw(st.sampled_from(sorted(table)))
    neigh = json.dumps([{"dst": "198.18.42.100", "dev": "br0",
                         "lladdr": table[pick].upper(), "state": ["REACHABLE"]}])
    assert hub.node_with_mac(hub.neighbour_mac(neigh), table) == pick
    assert hub.node_with_mac(None, table) is None
    assert hub.node_with_mac("02:00:00:00:00:00", {"n1": None}) is None


def test_neighbour_and_link_json() -> None:
    assert hub.neighbour_mac("") is None
    assert hub.neighbour_mac('[{"dst": "198.18.42.100", "state": ["FAILED"]}]') is None
    assert hub.neighbour_mac("garbage") is None
    link = '[{"ifname": "eth0", "address": "5A:11:22:33:44:55"}]'
    assert network.link_mac(link) == "5a:11:22:33:44:55"
    assert network.link_mac("[]") is None


@given(st.sampled_from(["n1", "n2", None]), st.sampled_from(["n1", "n2", None]),
       st.booleans())
def test_render_vip(stack_node: str | None, answering: str | None, served: bool) -> None:
    view = VipView("198.18.42.100", stack_node, answering, served)
    line = render_vip(view)
    assert line.startswith("  VIP 198.18.42.100: ")
    assert (f"answers from {answering}" in line) == (answering is not None)
    assert ("MISMATCH" in line) == (served and not view.consistent)
    assert view.consistent == (served and stack_node is not None and answering == stack_node)


def test_waiting_for_many_writers_costs_the_slowest_not_the_sum(tmp_path: Path) -> None:
    """The soak waits for 70 writers after each fault: one wait for all of them."""
    layout = make_layout("wt", tmp_path / "state")
    runner = Runner(logging.getLogger("test"))
    writers = [writer.WriterProcess(runner, layout, "http://unused", tmp_path / f"w{i}")
               for i in range(3)]
    for w in writers:
        w.workdir.mkdir()
        w.acked_file.write_text("1\n", encoding="ascii")

    def acknowledge_later() -> None:
        for n in (2, 3):
            Deadline(0.3).sleep(0.3)
            for w in writers:
                with open(w.acked_file, "a", encoding="ascii") as f:
                    f.write(f"{n}\n")

    t = threading.Thread(target=acknowledge_later)
    t.start()
    writer.wait_all_for_more(writers, 2, timeout=10)
    t.join()
    assert all(len(w.acked()) == 3 for w in writers)
    with pytest.raises(ActionTimeout, match="3 writers acknowledged fewer than 1 more"):
        writer.wait_all_for_more(writers, 1, timeout=0.5)
