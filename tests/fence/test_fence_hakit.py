"""fence_hakit against a real BMC simulator (ipmi_sim), run the way pacemaker-fenced runs it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fence.conftest import FENCE_HAKIT, WRONG_PASSWORD, fence_env, run_fence
from tests.harness.bmc import IpmiSim, free_udp_port
from tests.harness.ocf import SCHEMAS, assert_golden, validate_rng


def _metadata() -> str:
    result = run_fence(FENCE_HAKIT, {"action": "metadata"})
    assert result.rc == 0, result.stderr
    return result.stdout


def test_metadata_valid_against_fence_agents_rng() -> None:
    assert validate_rng(_metadata(), SCHEMAS / "fence-agents-metadata.rng") == []


def test_metadata_matches_golden() -> None:
    assert_golden(_metadata(), "fence_hakit.xml")


def test_metadata_keeps_fence_ipmilan_names() -> None:
    text = _metadata()
    for name in ("ip", "ipaddr", "ipport", "username", "login", "password", "passwd",
                 "password_script", "passwd_script", "lanplus", "cipher", "privlvl",
                 "hexadecimal_kg", "method", "power_wait", "power_timeout", "delay", "plug",
                 "port", "verbose", "debug_file", "nodename", "action", "option"):
        assert f'name="{name}"' in text, name
    assert 'name="ip" unique="0" required="0" obsoletes="ipaddr"' in text
    assert 'name="ipaddr" unique="0" required="0" deprecated="1"' in text


def test_metadata_from_command_line_too() -> None:
    result = run_fence(FENCE_HAKIT, {}, argv=["-o", "metadata"])
    assert result.rc == 0 and result.stdout == _metadata()


def test_manpage_lists_every_option() -> None:
    result = run_fence(FENCE_HAKIT, {}, argv=["-o", "manpage"])
    assert result.rc == 0
    assert ".TH FENCE_HAKIT 8" in result.stdout
    assert "password_script" in result.stdout.replace("\\-", "-")


def test_validate_all_accepts_good_options() -> None:
    result = run_fence(FENCE_HAKIT, {"action": "validate-all", "ip": "192.0.2.1",
                                     "username": "admin", "password": "x"})
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(("params", "name"), [
    ({}, "ip"),
    ({"ip": "192.0.2.1", "ipport": "70000"}, "ipport"),
    ({"ip": "192.0.2.1", "lanplus": "perhaps"}, "lanplus"),
    ({"ip": "192.0.2.1", "cipher": "0"}, "cipher"),
    ({"ip": "192.0.2.1", "cipher": "7"}, "cipher"),
    ({"ip": "192.0.2.1", "privlvl": "root"}, "privlvl"),
    ({"ip": "192.0.2.1", "method": "yank"}, "method"),
    ({"ip": "192.0.2.1", "power_timeout": "soon"}, "power_timeout"),
    ({"ip": "192.0.2.1", "hexadecimal_kg": "abc"}, "hexadecimal_kg"),
])
def test_validate_all_rejects_bad_options(params: dict[str, str], name: str) -> None:
    result = run_fence(FENCE_HAKIT, {"action": "validate-all", **params})
    assert result.rc == 1
    assert f"parameter '{name}'" in result.stderr
    assert "Traceback" not in result.out


def test_cipher_zero_is_refused_with_a_reason() -> None:
    result = run_fence(FENCE_HAKIT, {"action": "status", "ip": "192.0.2.1", "cipher": "0"})
    assert result.rc == 1
    assert "without authentication" in result.stderr


def test_list_is_not_offered_for_a_single_machine() -> None:
    result = run_fence(FENCE_HAKIT, {"action": "list", "ip": "192.0.2.1"})
    assert result.rc == 1 and "pcmk_host_list" in result.stderr


_junk = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(st.tuples(st.sampled_from(["action", "ip", "ipport", "lanplus", "cipher",
                                        "power_timeout", "delay", "privlvl", "x y", ""]),
                       st.text(max_size=12)), max_size=6)
    .map(lambda pairs: "".join(f"{k}={v}\n" for k, v in pairs).encode("utf-8",
                                                                     "surrogatepass")),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_junk)
def test_stdin_junk_fails_cleanly(data: bytes) -> None:
    """Whatever arrives on stdin: exit 1 (or a harmless action) and a clear message."""
    # Appended last, so they win: nothing but loopback port 9 (discard, no BMC) is ever
    # contacted, no host name is resolved, and no junk delay is slept.
    safe = b"\nip=127.0.0.1\nipport=9\nlogin_timeout=0.2\ndelay=0\npassword_script=\ndebug_file=\n"
    proc = subprocess.run([str(FENCE_HAKIT)], input=data + safe, capture_output=True,
                          env=fence_env(), timeout=60, check=False)
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err and "Traceback" not in proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        assert proc.returncode == 1
        assert "ERROR: " in err, err
        assert "internal error" not in err, err


# -- against a real BMC ----------------------------------------------------------------------

def test_status_on_and_off(sim: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="status"))
    assert (result.rc, result.stdout.strip()) == (0, "Status: ON"), result.stderr
    sim.set_power(False)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="status"))
    assert (result.rc, result.stdout.strip()) == (2, "Status: OFF")
    assert run_fence(FENCE_HAKIT, sim.fence_params(action="monitor")).rc == 0


def test_off_on_reboot(sim: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off"))
    assert result.rc == 0, result.stderr
    assert sim.power is False
    assert "set power 0" in sim.calls()
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="on"))
    assert result.rc == 0, result.stderr
    assert sim.power is True
    started = time.time()
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="reboot"))
    assert result.rc == 0, result.stderr
    changes = [on for t, on in sim.history() if t >= started]
    assert changes == [False, True]  # went through off, verified, and came back


def test_off_of_an_off_node_succeeds_without_a_request(sim: IpmiSim) -> None:
    sim.set_power(False)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off"))
    assert result.rc == 0
    assert "set power 0" not in sim.calls()


def test_old_option_names_and_command_line(sim: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, {"option": "off", "ipaddr": sim.host,
                                     "ipport": str(sim.port), "login": sim.username,
                                     "passwd": sim.password, "lanplus": "1"})
    assert result.rc == 0, result.stderr
    result = run_fence(FENCE_HAKIT, {}, argv=["-o", "status", "-a", sim.host, "-u",
                                              str(sim.port), "-l", sim.username,
                                              "--password-env", "BMC_PW", "-P"],
                       env={"BMC_PW": sim.password})
    assert (result.rc, result.stdout.strip()) == (2, "Status: OFF"), result.stderr


def test_cycle_verified_through_off(sim: IpmiSim) -> None:
    started = time.time()
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="reboot", method="cycle"))
    assert result.rc == 0, result.stderr
    assert [on for t, on in sim.history() if t >= started] == [False, True]


def test_wrong_password_is_called_an_authentication_failure(sim: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="status", password=WRONG_PASSWORD))
    assert result.rc == 1
    assert "refused the login of user 'admin'" in result.stderr
    assert "password" in result.stderr


def test_unreachable_bmc_fails_within_login_timeout() -> None:
    port = free_udp_port()  # nothing listens there
    result = run_fence(FENCE_HAKIT, {"action": "off", "ip": "127.0.0.1", "ipport": str(port),
                                     "username": "admin", "password": "pw",
                                     "login_timeout": "1.5"})
    assert result.rc == 1
    assert "did not answer" in result.stderr
    assert result.seconds < 1.5 + 1.5  # the timeout plus interpreter start-up


def test_bmc_stuck_on_is_a_failure(sim: IpmiSim) -> None:
    sim.behave(stuck_on=True)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off", power_timeout="2"))
    assert result.rc == 1
    assert "still reported power on after 2s" in result.stderr
    assert result.seconds < 2 + 2
    assert sim.power is True


def test_cycle_on_a_bmc_that_never_powers_off_fails(sim: IpmiSim) -> None:
    sim.behave(stuck_on=True)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="reboot", method="cycle",
                                                     power_timeout="1"))
    assert result.rc == 1
    assert "never seen powered off" in result.stderr


def test_delayed_power_off_is_waited_for(sim: IpmiSim) -> None:
    sim.behave(off_delay=1.5)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off", power_timeout="10"))
    assert result.rc == 0, result.stderr
    assert sim.power is False
    assert result.seconds >= 1.5
    assert sim.calls().count("get power") >= 3  # polled, not slept


def test_delay_longer_than_power_timeout_fails(sim: IpmiSim) -> None:
    sim.behave(off_delay=3)
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="off", power_timeout="1"))
    assert result.rc == 1
    assert "power_timeout" in result.stderr


def test_password_never_on_a_command_line_nor_in_logs(sim: IpmiSim, tmp_path: Path) -> None:
    debug = tmp_path / "debug.log"
    script = tmp_path / "pw.sh"
    script.write_text(f"#!/bin/sh\necho '{sim.password}'\n")
    script.chmod(0o700)
    params = sim.fence_params(verbose="1", debug_file=str(debug))
    for action in ("status", "off", "on", "reboot"):
        result = run_fence(FENCE_HAKIT, {**params, "action": action}, watch=sim.password)
        assert result.rc in (0, 2), result.stderr
        assert result.leaked == ()
        assert sim.password not in result.out
    del params["password"]
    result = run_fence(FENCE_HAKIT, {**params, "action": "reboot", "password_script":
                                     str(script)}, watch=sim.password)
    assert result.rc == 0, result.stderr
    assert result.leaked == () and sim.password not in result.out
    # A failure quoting what the BMC said must not quote the password either.
    result = run_fence(FENCE_HAKIT, {**params, "action": "status", "password": sim.password,
                                     "username": sim.password}, watch=sim.password)
    assert result.rc == 1 and sim.password not in result.out
    text = debug.read_text()
    assert "logged out" in text and "cipher suite" in text
    assert sim.password not in text


def _active_sessions(sim: IpmiSim) -> int:
    """The BMC's count of open sessions, asked with ipmitool (password from the
    environment, -E), whose own session is the one counted."""
    proc = subprocess.run(["/usr/bin/ipmitool", "-I", "lanplus", "-C", "3", "-H", sim.host,
                           "-p", str(sim.port), "-U", sim.username, "-E", "session", "info",
                           "active"], capture_output=True, text=True, timeout=30,
                          env={**fence_env(), "IPMI_PASSWORD": sim.password}, check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("active sessions"):
            return int(line.split(":")[1])
    raise AssertionError(proc.stdout)


def test_sessions_are_logged_out(sim: IpmiSim) -> None:
    """BMCs have few session slots: every run, failed or not, logs out."""
    for action in ("status", "off", "on"):
        assert run_fence(FENCE_HAKIT, sim.fence_params(action=action)).rc == 0
    sim.behave(stuck_on=True)
    assert run_fence(FENCE_HAKIT, sim.fence_params(action="off", power_timeout="0.5")).rc == 1
    assert _active_sessions(sim) == 1  # ipmitool's own


def test_required_cipher_17_refuses_a_bmc_offering_only_3(sim: IpmiSim) -> None:
    # ipmi_sim has no SHA-256 suites: the session falls back to 3, which cipher=17 forbids.
    result = run_fence(FENCE_HAKIT, sim.fence_params(action="status", cipher="17",
                                                     verbose="1"))
    assert result.rc == 1
    assert "negotiated cipher suite 3 but cipher=17 was required" in result.stderr
    assert _active_sessions(sim) == 1  # refused, and still logged out


def test_password_sources_fail_clearly(sim: IpmiSim, tmp_path: Path) -> None:
    params = sim.fence_params(action="status")
    del params["password"]
    failing = tmp_path / "no-password"
    failing.write_text("#!/bin/sh\necho 'vault sealed' >&2\nexit 3\n")
    failing.chmod(0o700)
    result = run_fence(FENCE_HAKIT, {**params, "password_script": str(failing)})
    assert result.rc == 1 and "exited 3: vault sealed" in result.stderr
    result = run_fence(FENCE_HAKIT, {**params, "password_env": "NO_SUCH_VARIABLE"})
    assert result.rc == 1 and "NO_SUCH_VARIABLE which is not set" in result.stderr
    result = run_fence(FENCE_HAKIT, {**params, "password_env": "BMC_PW"},
                       env={"BMC_PW": sim.password})
    assert (result.rc, result.stdout.strip()) == (0, "Status: ON"), result.stderr
