"""Options that choose the machine or the action are honoured or refused, never ignored.

fence_ipmilan's ``target`` (bridge to a controller behind the BMC) and ``port_as_ip`` (the
plug is the BMC's address) change which machine loses power; ``diag`` is a different
action (an NMI); ``auth`` decides whether IPMI 1.5 authenticates.  Tested against ipmi_sim
with a second controller on its IPMB (a blade behind a chassis BMC), and against
fence_ipmilan on the same simulator.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.agents.fence_hakit import AGENT
from hakit.errors import ParamError
from hakit.fence import dispatch
from hakit.fence.ipmi_kinds import HexKey, IpmbAddress
from hakit.fence.options import IP, PLUG
from hakit.fence.port_as_ip import PORT_AS_IP, device_address
from hakit.ocf.params import parse_values
from tests.fence.conftest import FENCE_HAKIT, run_fence
from tests.harness.bmc import IPMI_SIM, IpmiSim

BLADE = 0x82
#: TEST-NET-1: nothing answers there, so reaching the simulator proves the address came
#: from the plug.
NOWHERE = "192.0.2.1"


@pytest.fixture
def chassis(tmp_path: Path) -> IpmiSim:
    """A BMC (its own machine on) with a blade controller at 0x82 behind it (also on)."""
    if not os.access(IPMI_SIM, os.X_OK):
        pytest.fail("ipmi_sim (Debian package openipmi) is not installed: run `make deps`")
    bmc = IpmiSim(tmp_path / "bmc", satellites=(BLADE,))
    bmc.start()
    yield bmc  # type: ignore[misc]
    bmc.stop()


def _run(params: dict[str, str]) -> tuple[int, str, str]:
    """fence_hakit in process, fed on stdin as pacemaker-fenced does."""
    out, err = io.StringIO(), io.StringIO()
    text = "".join(f"{k}={v}\n" for k, v in params.items())
    rc = dispatch.run(AGENT, ["fence_hakit"], io.BytesIO(text.encode()), {}, stdout=out,
                      stderr=err)
    return rc, out.getvalue(), err.getvalue()


# -- target: bridged to the controller behind the BMC -----------------------------------

def test_target_powers_off_the_bridged_machine_and_no_other(chassis: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, chassis.fence_params(action="off", target="0x82"))
    assert result.rc == 0, result.out
    assert not chassis.satellite_power(BLADE)
    assert chassis.power, "the BMC's own machine was powered off instead of the blade"
    assert not any(c.startswith("set") for c in chassis.calls())


def test_target_status_and_reboot_use_the_bridged_machine(chassis: IpmiSim) -> None:
    assert run_fence(FENCE_HAKIT, chassis.fence_params(action="status", target="130")).rc == 0
    chassis.set_power(False)  # the BMC's own machine: must not matter
    result = run_fence(FENCE_HAKIT, chassis.fence_params(action="reboot", target="0x82"))
    assert result.rc == 0, result.out
    assert chassis.satellite_calls(BLADE).count("set power 0") == 1
    assert chassis.satellite_power(BLADE)
    assert not chassis.power


def test_target_with_no_controller_there_is_a_clear_error(chassis: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, chassis.fence_params(action="off", target="0x84"))
    assert result.rc == 1
    assert "target 0x84" in result.stderr and "no controller answered" in result.stderr
    assert "Traceback" not in result.out
    assert chassis.power and chassis.satellite_power(BLADE)


def test_target_0x20_is_the_bmc_itself(chassis: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, chassis.fence_params(action="off", target="0x20"))
    assert result.rc == 0, result.out
    assert not chassis.power and chassis.satellite_power(BLADE)


def test_fence_ipmilan_bridges_target_the_same_way(chassis: IpmiSim,
                                                   fence_ipmilan: Path) -> None:
    # The anchor on the same simulator: target powers off the blade, not the BMC's machine.
    # cipher 3: ipmitool otherwise asks ipmi_sim for its suites, which it never answers.
    result = run_fence(fence_ipmilan, chassis.fence_params(action="off", target="0x82",
                                                           cipher="3", power_wait="0"))
    assert result.rc == 0, result.out
    assert not chassis.satellite_power(BLADE) and chassis.power


@given(st.integers(0, 0xFF))
def test_target_accepts_even_addresses_in_hex_and_decimal(value: int) -> None:
    kind = IpmbAddress()
    for text in (f"0x{value:x}", f"0X{value:02X}", str(value)):
        if value % 2:
            with pytest.raises(ValueError, match="even"):
                kind.parse(text)
        else:
            assert kind.parse(text) == value


@given(st.text(max_size=12))
def test_target_refuses_anything_else_with_a_reason(text: str) -> None:
    try:
        value = IpmbAddress().parse(text)
    except ValueError as exc:
        assert str(exc).startswith(("must be", f"{text.strip()!r} is ambiguous"))
    else:
        assert 0 <= value <= 0xFE and value % 2 == 0


@pytest.mark.parametrize("text", ["0202", "010", "00"])
def test_target_with_a_leading_zero_is_ambiguous(text: str) -> None:
    rc, _, err = _run({"action": "validate-all", "ip": NOWHERE, "target": text})
    assert rc == 1 and "parameter 'target'" in err and "octal" in err


# -- port_as_ip: the plug is the BMC's address -----------------------------------------

def test_port_as_ip_fences_the_bmc_named_by_the_plug(chassis: IpmiSim) -> None:
    params = chassis.fence_params(action="off", ip=NOWHERE, port_as_ip="1",
                                  plug=chassis.host, login_timeout="2")
    result = run_fence(FENCE_HAKIT, params)
    assert result.rc == 0, result.out
    assert not chassis.power


def test_without_port_as_ip_the_plug_is_only_the_node_name(chassis: IpmiSim) -> None:
    result = run_fence(FENCE_HAKIT, chassis.fence_params(action="off", plug="node1"))
    assert result.rc == 0, result.out
    assert not chassis.power


def test_port_as_ip_needs_a_plug_or_an_ip() -> None:
    rc, _, err = _run({"action": "validate-all", "port_as_ip": "1"})
    assert rc == 1 and "parameter 'plug'" in err and "port_as_ip" in err


hosts = st.one_of(st.ip_addresses().map(str),
                  st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True))


@given(ip=st.one_of(st.none(), hosts),
       plug=st.one_of(st.none(), hosts, st.text(st.characters(blacklist_categories=("Cc", "Cs")),
                                                 max_size=30)),
       on=st.booleans())
def test_device_address_follows_fence_agents(ip: Optional[str], plug: Optional[str],
                                             on: bool) -> None:
    raw = {"port_as_ip": "1" if on else "0"}
    if ip:
        raw["ip"] = ip
    if plug:
        raw["plug"] = plug
    params = parse_values((IP, PLUG, PORT_AS_IP), raw)
    try:
        address = device_address(params)
    except ParamError as exc:
        if on and plug:
            assert exc.param == "plug"  # a plug that cannot be an address is named
        else:
            assert not ip and exc.param in ("ip", "plug")
        return
    # fencing.py process_input: with --port-as-ip, --plug replaces --ip.
    assert address == (plug if on and plug else ip)


# -- diag: an NMI, where the BMC allows it ----------------------------------------------

def test_diag_is_offered_in_the_metadata() -> None:
    result = run_fence(FENCE_HAKIT, {"action": "metadata"})
    assert '<action name="diag" />' in result.stdout


def test_diag_sends_chassis_control_diagnostic_interrupt(chassis: IpmiSim) -> None:
    # ipmi_sim does not implement the diagnostic interrupt and says so (completion code
    # 0xcc): the agent sent exactly that request, reports the refusal, and changes nothing.
    for extra in ({}, {"target": "0x82"}):
        result = run_fence(FENCE_HAKIT, chassis.fence_params(action="diag", **extra))
        assert result.rc == 1
        assert "refused requesting a diagnostic interrupt" in result.stderr
        assert "0xcc" in result.stderr and "Traceback" not in result.out
    assert chassis.power and chassis.satellite_power(BLADE)
    assert not any(c.startswith("set") for c in chassis.calls())


# -- auth: IPMI 1.5 authentication ------------------------------------------------------

@pytest.mark.parametrize("auth", ["none", "password"])
def test_unauthenticated_ipmi15_is_refused(auth: str) -> None:
    rc, _, err = _run({"action": "validate-all", "ip": NOWHERE, "lanplus": "0", "auth": auth})
    assert rc == 1 and "parameter 'auth'" in err


@pytest.mark.parametrize(("lanplus", "auth"), [("0", "md5"), ("1", "none"), ("1", "md5")])
def test_auth_that_changes_nothing_is_accepted(lanplus: str, auth: str) -> None:
    rc, _, err = _run({"action": "validate-all", "ip": NOWHERE, "lanplus": lanplus,
                       "auth": auth})
    assert rc == 0, err


# -- hexadecimal_kg: the required length, never the key ---------------------------------

@given(st.text("0123456789abcdefABCDEF", min_size=0, max_size=60), st.booleans())
def test_kg_length_errors_say_the_required_length(digits: str, prefix: bool) -> None:
    text = ("0x" if prefix else "") + digits
    try:
        assert HexKey().parse(text) == digits
    except ValueError as exc:
        assert "2 to 40 hexadecimal digits" in str(exc)
        assert f"it has {len(digits)}" in str(exc)
        assert len(digits) < 2 or len(digits) > 40 or len(digits) % 2
    else:
        assert 2 <= len(digits) <= 40 and len(digits) % 2 == 0


@given(st.from_regex(r"(0x)?[0-9a-fA-F]{0,60}[g-z!%]?", fullmatch=True))
def test_kg_errors_never_quote_the_key(text: str) -> None:
    rc, _, err = _run({"action": "validate-all", "ip": NOWHERE, "hexadecimal_kg": text})
    digits = text[2:] if text.startswith("0x") else text
    good = all(c in "0123456789abcdefABCDEF" for c in digits) and \
        2 <= len(digits) <= 40 and len(digits) % 2 == 0
    assert rc == (0 if good or not text else 1), err
    assert "Traceback" not in err
    if rc and len(text) >= 6:  # a shorter key is masked in every word that contains it
        assert "parameter 'hexadecimal_kg'" in err
        assert digits not in err
