"""The pure parts of ocf:hakit:lvs, fed generated input (hypothesis): the service
definition parser, the IPVS netlink encoding, the health state, and the check pool against
real sockets (one real server that never answers must not hold the others back)."""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hakit.agents.lvs import AGENT
from hakit.deadline import Deadline
from hakit.errors import ParamError
from hakit.ocf.dispatch import run
from hakit.ocf.params import parse_values
from hakit.os import ipvs
from hakit.os.runner import Runner
from hakit.steps.lvs import config as lvs_config
from hakit.steps.lvs import definition as lvsconf
from hakit.steps.lvs import healthcheck
from hakit.steps.lvs.definition import Check, ConfigSyntaxError, Real, Virtual
from hakit.steps.lvs.table import desired_dests
from tests.harness.ocf import agent_env

v4 = st.builds(ipaddress.IPv4Address, st.integers(1, 2**32 - 1)).filter(
    lambda a: not a.is_multicast and not a.is_unspecified)
v6 = st.builds(ipaddress.IPv6Address, st.integers(1, 2**128 - 1)).filter(
    lambda a: not a.is_multicast and not a.is_unspecified)
ports = st.integers(1, 65535)
durations = st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 30.0])


@st.composite
def checks(draw: st.DrawFn) -> Check:
    kind = draw(st.sampled_from(lvsconf.CHECK_KINDS))
    interval = draw(durations)
    timeout = draw(st.sampled_from([0.25, 0.5, 1.0, 3.0]).filter(
        lambda t: not interval or t <= interval))
    http = kind in ("http", "https")
    return Check(kind=kind, port=draw(st.none() | ports),
                 path=draw(st.sampled_from(["/", "/health", "/a/b?c=d"])) if http else "/",
                 status=draw(st.integers(100, 599)) if http else 200,
                 host=draw(st.sampled_from(["", "www.example.org"])) if http else "",
                 command="/usr/local/bin/check" if kind == "command" else "",
                 interval=interval, timeout=timeout,
                 rise=draw(st.integers(1, 100)), fall=draw(st.integers(1, 100)))


@st.composite
def virtuals(draw: st.DrawFn, line: int) -> Virtual:
    fwmark = draw(st.sampled_from([0, 0, 0, 7]))
    six = draw(st.booleans())
    addresses = v6 if six else v4
    forward = draw(st.sampled_from(["dr", "nat", "tun"]))
    if fwmark:
        address, port, protocol = None, 0, ""
    else:
        address, port = draw(addresses), draw(ports)
        protocol = draw(st.sampled_from(sorted(ipvs.PROTOCOLS)))
    real_port = port if (forward != "nat" and not fwmark) else None
    reals = draw(st.lists(st.builds(Real, addresses, st.just(real_port) if real_port
                                    else ports, st.integers(0, 65535)),
                          min_size=1, max_size=4, unique_by=lambda r: (r.address, r.port)))
    sorry = draw(st.none() | st.builds(Real, addresses, st.just(real_port) if real_port
                                       else ports, st.integers(0, 65535)))
    if sorry is not None and any((r.address, r.port) == (sorry.address, sorry.port)
                                 for r in reals):
        sorry = None
    return Virtual(line, lvsconf.AF_INET6 if six else lvsconf.AF_INET, protocol, address,
                   port, fwmark, draw(st.sampled_from(lvsconf.SCHEDULERS)), forward,
                   draw(st.integers(0, lvsconf.PERSISTENCE_MAX)), tuple(reals), sorry,
                   draw(checks()))


def _renumber(services: tuple[Virtual, ...]) -> tuple[Virtual, ...]:
    """The line numbers ``render`` gives each virtual (one line each, then its members)."""
    out, line = [], 1
    for svc in services:
        out.append(Virtual(line, *[getattr(svc, f) for f in (
            "family", "protocol", "address", "port", "fwmark", "scheduler", "forward",
            "persistence", "reals", "sorry", "check")]))
        line += 1 + len(svc.reals) + (svc.sorry is not None) + 1
    return tuple(out)


@settings(max_examples=200)
@given(st.lists(virtuals(1), min_size=1, max_size=4, unique_by=lambda v: v.key))
def test_rendered_definitions_parse_back_to_the_same_services(services: list[Virtual]) -> None:
    expected = _renumber(tuple(services))
    assert lvsconf.parse(lvsconf.render(expected)) == expected
    # The inline form of the parameter: ';' instead of newlines.
    assert lvsconf.parse(lvsconf.render(expected).replace("\n", ";")) == expected


WORDS = ["virtual", "real", "sorry", "check", "198.18.0.10:80", "198.18.0.11:80",
         "[fd00::1]:80", "fwmark:5", "scheduler=wlc", "scheduler=xx", "forward=dr",
         "forward=nat", "weight=3", "weight=-1", "tcp", "http", "path=/x", "port=0",
         "rise=2", "fall=0", "timeout=1", "interval=0.5", "protocol=udp", "family=ipv6",
         ";", "\n", "#", "=", ":", "[", "]", "1.2.3.4", "persistence=60", "status=204"]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=30))
def test_parser_rejects_junk_only_with_a_named_field(words: list[str]) -> None:
    text = " ".join(words)
    try:
        services = lvsconf.parse(text)
    except ConfigSyntaxError as exc:
        assert exc.field and exc.line >= 1
        assert f"field '{exc.field}'" in str(exc)
        return
    for svc in services:  # what parses is consistent
        assert svc.reals or svc.sorry
        assert len({(r.address, r.port) for r in svc.reals}) == len(svc.reals)
        assert all((r.address.version == 4) == (svc.family == lvsconf.AF_INET)
                   for r in svc.reals)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_validate_all_never_crashes_on_junk_services(text: str) -> None:
    err = io.StringIO()
    env = agent_env({"services": text, "sync_interface": "lo"})
    rc = run(AGENT, ["lvs", "validate-all"], env, stdout=io.StringIO(), stderr=err)
    assert rc in (0, 6), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if rc == 6:
        assert "ocf-exit-reason:parameter 'services'" in err.getvalue()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 255), st.integers(0, 3600), st.integers(0, 3600),
       st.sampled_from(["quiesce", "remove"]), st.sampled_from(["", "lb", "ns-1"]))
def test_the_record_holds_the_parsed_values(syncid: int, refresh: int, warmup: int,
                                            failure_action: str, namespace: str) -> None:
    raw = {"services": "virtual 198.18.0.10:80; real 198.18.0.11:80", "sync_interface": "lo",
           "syncid": str(syncid), "sync_refresh": f"{refresh}s", "sync_warmup": f"{warmup}s",
           "failure_action": failure_action, "network_namespace": namespace}
    values = parse_values(lvs_config.PARAMS, raw)
    if refresh and warmup < refresh:
        with pytest.raises(ParamError, match="sync_warmup"):
            lvs_config.from_values(values)
        return
    cfg = lvs_config.from_values(values)
    assert cfg.services == lvsconf.parse(raw["services"])
    assert (cfg.sync_interface, cfg.syncid, cfg.failure_action) == ("lo", syncid,
                                                                     failure_action)
    assert (cfg.sync_refresh, cfg.sync_warmup) == (refresh, warmup)
    assert cfg.network_namespace == (namespace or None)


# -- IPVS netlink encoding ----------------------------------------------------------------


def _reply(cmd: int, attr_type: int, attrs: list[bytes]) -> bytes:
    return ipvs._GENLMSGHDR.pack(cmd, 1, 0) + ipvs.nested(attr_type, attrs)


@given(st.lists(virtuals(1), min_size=1, max_size=1))
def test_service_encoding_parses_back(services: list[Virtual]) -> None:
    service = services[0].service()
    parsed = ipvs.parse_service(_reply(ipvs.CMD_GET_SERVICE, ipvs.ATTR_SERVICE,
                                       ipvs.service_attrs(service)))
    assert parsed.key == service.key
    assert (parsed.scheduler, parsed.timeout, parsed.netmask) == (
        service.scheduler, service.timeout, service.netmask)
    assert parsed.persistent == bool(services[0].persistence)


@given(v4 | v6, st.integers(0, 65535), st.sampled_from(sorted(ipvs.FORWARD_METHODS.values())),
       st.integers(0, 65535))
def test_dest_encoding_parses_back(address: ipvs.IPAddress, port: int, forward: int,
                                   weight: int) -> None:
    dest = ipvs.Dest(address, port, forward, weight, 0, 0)
    family = ipvs.family_of(address)
    assert ipvs.parse_dest(_reply(ipvs.CMD_GET_DEST, ipvs.ATTR_DEST, ipvs.dest_attrs(dest)),
                           family) == dest


@given(st.binary(max_size=120))
def test_ipvs_parsers_reject_junk_only_with_value_error(data: bytes) -> None:
    for parse in (ipvs.parse_service, lambda d: ipvs.parse_dest(d, 2), ipvs.parse_daemons):
        try:
            parse(data)
        except ValueError:
            pass


def test_daemon_reply_is_read() -> None:
    payload = _reply(ipvs.CMD_GET_DAEMON, ipvs.ATTR_DAEMON, [
        ipvs._u32(ipvs.DAEMON_STATE, ipvs.STATE_BACKUP),
        ipvs._string(ipvs.DAEMON_MCAST_IFN, "eth1"), ipvs._u32(ipvs.DAEMON_SYNC_ID, 9)])
    assert ipvs.parse_daemons(payload) == [ipvs.Daemon(ipvs.STATE_BACKUP, "eth1", 9)]


# -- health state ----------------------------------------------------------------------------


@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(1, 5), st.integers(1, 5))
def test_rise_and_fall_count_consecutive_results(results: list[bool], rise: int, fall: int
                                                 ) -> None:
    check = Check(rise=rise, fall=fall)
    state = None
    up = results[0]
    run_length = 0
    for n, ok in enumerate(results):
        state = healthcheck.advance(state, ok, check, float(n))
        if n == 0:
            continue
        run_length = run_length + 1 if ok != up else 0
        if run_length >= (fall if up else rise):
            up, run_length = ok, 0
        assert state.up == up
        assert state.streak == run_length


@given(st.dictionaries(st.from_regex(r"[a-z]+:[0-9.]+:[0-9]+(/[a-z]*)?", fullmatch=True),
                       st.builds(healthcheck.Health, st.booleans(), st.integers(0, 100),
                                 st.floats(0, 1e6).map(lambda f: round(f, 3)),
                                 st.text(alphabet="abc xyz:", max_size=20).map(
                                     lambda t: " ".join(t.split()))),
                       max_size=10))
def test_health_state_file_round_trips(states: dict[str, healthcheck.Health]) -> None:
    assert healthcheck.parse_state(healthcheck.render_state(states)) == states


@given(st.text(max_size=300))
def test_health_state_file_ignores_junk(text: str) -> None:
    healthcheck.parse_state(text)


def test_desired_dests_quiesce_remove_and_sorry() -> None:
    svc = lvsconf.parse("virtual 198.18.0.10:80; real 198.18.0.11:80 weight=3; "
                        "real 198.18.0.12:80; sorry 198.18.0.13:80")[0]
    r1, r2, sorry = (ipaddress.ip_address(f"198.18.0.{n}") for n in (11, 12, 13))
    key1 = healthcheck.Probe(r1, 80, svc.check).key
    key2 = healthcheck.Probe(r2, 80, svc.check).key
    down = healthcheck.Health(False, 0, 0.0)
    up = healthcheck.Health(True, 0, 0.0)
    assert desired_dests(svc, {}, "quiesce") == {(r1, 80): 3, (r2, 80): 1}
    assert desired_dests(svc, {key1: down, key2: up}, "quiesce") == {(r1, 80): 0, (r2, 80): 1}
    assert desired_dests(svc, {key1: down, key2: up}, "remove") == {(r2, 80): 1}
    assert desired_dests(svc, {key1: down, key2: down}, "remove") == {(sorry, 80): 1}
    assert desired_dests(svc, {key1: down, key2: down}, "quiesce") == {
        (r1, 80): 0, (r2, 80): 0, (sorry, 80): 1}


# -- the check pool, against real sockets --------------------------------------------------


@pytest.fixture
def servers() -> Iterator[tuple[list[int], int, int]]:
    """Good HTTP servers, one that accepts and never answers, and a closed port."""
    sockets: list[socket.socket] = []
    stop = threading.Event()

    def good(listener: socket.socket) -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nok")

    def listen() -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sockets.append(sock)
        return sock

    good_ports = []
    for _ in range(5):
        sock = listen()
        good_ports.append(sock.getsockname()[1])
        threading.Thread(target=good, args=(sock,), daemon=True).start()
    hanging = listen().getsockname()[1]  # accepted by the kernel, never answered
    closed_sock = socket.socket()
    closed_sock.bind(("127.0.0.1", 0))
    closed = closed_sock.getsockname()[1]
    closed_sock.close()
    try:
        yield good_ports, hanging, closed
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def test_one_hanging_server_does_not_hold_back_the_others(
        servers: tuple[list[int], int, int]) -> None:
    good_ports, hanging, closed = servers
    check = Check(kind="http", timeout=1.0)
    local = ipaddress.ip_address("127.0.0.1")
    probes = [healthcheck.Probe(local, p, check) for p in [hanging, *good_ports, closed]]
    begun = time.monotonic()
    results = healthcheck.run_round(probes, Deadline(10), Runner(_quiet()), workers=3)
    took = time.monotonic() - begun
    assert all(results[healthcheck.Probe(local, p, check).key] is None for p in good_ports)
    assert "no HTTP answer" in str(results[healthcheck.Probe(local, hanging, check).key])
    assert "refused" in str(results[healthcheck.Probe(local, closed, check).key])
    assert took < 2.0, took


def test_the_deadline_bounds_a_round_even_with_long_check_timeouts(
        servers: tuple[list[int], int, int]) -> None:
    _, hanging, _ = servers
    check = Check(kind="http", timeout=30.0)
    local = ipaddress.ip_address("127.0.0.1")
    begun = time.monotonic()
    results = healthcheck.run_round([healthcheck.Probe(local, hanging, check)], Deadline(0.5),
                                    Runner(_quiet()))
    assert time.monotonic() - begun < 1.5
    assert results in ({}, {healthcheck.Probe(local, hanging, check).key: results.get(
        healthcheck.Probe(local, hanging, check).key)})


def test_command_check_gets_address_and_port() -> None:
    check = Check(kind="command", command="/bin/sh", timeout=2.0)
    probe = healthcheck.Probe(ipaddress.ip_address("127.0.0.1"), 80, check)
    # /bin/sh 127.0.0.1 80: sh tries to run a script called "127.0.0.1" and fails.
    reason = healthcheck.run_probe(probe, Deadline(5), Runner(_quiet()))
    assert reason is not None and "exited" in reason


def _quiet() -> logging.Logger:
    log = logging.getLogger("hakit-test-lvs")
    log.addHandler(logging.NullHandler())
    return log


def test_https_check_expects_the_status(tmp_path: Path) -> None:
    """A TLS real server with a self-signed certificate (as reached by address): the check
    passes on the expected status and names the status it got otherwise."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=real", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve() -> None:
        for status in (b"200 OK", b"503 Busy"):
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 " + status + b"\r\n\r\n")
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        probe = healthcheck.Probe(ipaddress.ip_address("127.0.0.1"), port,
                                  Check(kind="https", path="/health", timeout=5.0))
        assert healthcheck.run_probe(probe, Deadline(10), Runner(_quiet())) is None
        reason = healthcheck.run_probe(probe, Deadline(10), Runner(_quiet()))
        assert reason == "HTTP status 503, expected 200"
    finally:
        listener.close()
        thread.join(5)
