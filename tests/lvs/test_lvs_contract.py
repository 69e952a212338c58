"""ocf:hakit:lvs against the agent contract.

What needs no IPVS runs on the host (metadata, probes and stops without ip_vs, bad
parameters); the lifecycle and ocf-tester run where IPVS exists, in the contract guest
(tests/lvs/conftest.py), and are checked here from its recorded steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.harness.contract import AgentContract
from tests.harness.ocf import run_agent
from tests.lvs.conftest import LVS_AGENT, GuestRun
from tests.lvs.lab import SERVICES

GOOD = {"services": SERVICES, "sync_interface": "lo"}
V = "virtual 198.18.0.10:80"


class TestLvsContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return LVS_AGENT

    @pytest.fixture
    def golden_name(self) -> str:
        return "lvs.xml"

    @pytest.fixture
    def good_params(self) -> Mapping[str, str]:
        return GOOD

    @pytest.fixture
    def bad_params(self) -> list[tuple[Mapping[str, str], str]]:
        def svc(text: str) -> dict[str, str]:
            return {"services": text, "sync_interface": "lo"}
        return [
            ({}, "sync_interface"),
            ({"sync_interface": "lo"}, "services"),
            ({"sync_interface": "lo", "services": SERVICES, "config_file": "/etc/lvs.conf"},
             "services"),
            (svc(f"{V} scheduler=fastest; real 198.18.0.11:80"), "scheduler"),
            (svc(f"{V} forward=magic; real 198.18.0.11:80"), "forward"),
            (svc("virtual 198.18.0.10:0; real 198.18.0.11:80"), "virtual"),
            (svc("virtual 198.18.0.10:65536; real 198.18.0.11:80"), "virtual"),
            (svc(f"{V} forward=nat; real 198.18.0.11:99999"), "real"),
            (svc(f"{V}; real 198.18.0.11:80; real 198.18.0.11:80"), "real"),
            (svc(f"{V}; real [fd00::11]:80"), "real"),
            (svc("virtual [fd00::10]:80; real 198.18.0.11:80"), "real"),
            (svc(f"{V}; real 198.18.0.11:8080"), "real"),  # dr cannot change the port
            (svc(f"{V}; real 198.18.0.11:80 weight=-1"), "weight"),
            (svc(f"{V} protocol=icmp; real 198.18.0.11:80"), "protocol"),
            (svc(f"{V} persistence=forever; real 198.18.0.11:80"), "persistence"),
            (svc(f"{V}; real 198.18.0.11:80; check ping"), "check"),
            (svc(f"{V}; real 198.18.0.11:80; check http status=999"), "status"),
            (svc(f"{V}; real 198.18.0.11:80; check command command=relative"), "command"),
            (svc(f"{V}; real 198.18.0.11:80; check tcp rise=0"), "rise"),
            (svc(f"{V}; real 198.18.0.11:80; check tcp interval=1 timeout=5"), "timeout"),
            (svc(f"{V}; real 198.18.0.11:80; {V}; real 198.18.0.12:80"), "virtual"),
            (svc("real 198.18.0.11:80"), "real"),
            (svc(f"{V}; colour=blue"), "colour"),
            ({**GOOD, "syncid": "256"}, "syncid"),
            ({**GOOD, "sync_refresh": "2s", "sync_warmup": "1s"}, "sync_warmup"),
            ({**GOOD, "failure_action": "ignore"}, "failure_action"),
            ({**GOOD, "sync_interface": "eth0/evil"}, "sync_interface"),
            ({**GOOD, "network_namespace": "../x"}, "network_namespace"),
        ]

    def test_lifecycle(self, agent_path: Path, good_params: Mapping[str, str],
                       contract_guest: GuestRun) -> None:
        """validate, start (twice), monitors and probes in both roles, promote (twice),
        demote, stop (twice): recorded in the guest, where ip_vs exists."""
        steps = contract_guest.steps
        expected = {"lc_validate": 0, "lc_start": 0, "lc_start_again": 0, "lc_monitor": 0,
                    "lc_probe": 0, "lc_promote": 0, "lc_promote_again": 0,
                    "lc_monitor_promoted": 8, "lc_probe_promoted": 8, "lc_demote": 0,
                    "lc_monitor_demoted": 0, "lc_stop": 0, "lc_monitor_stopped": 7,
                    "lc_stop_again": 0}
        got = {name: steps.rc(name) for name in expected}
        assert got == expected, {n: steps.out(n) for n in expected if got[n] != expected[n]}
        table = contract_guest.text("lc_after_stop.txt")
        assert "198.18.0.10" not in table, table
        assert contract_guest.text("lc_daemons_after_stop.txt").strip() == ""

    def test_ocf_tester_passes(self, agent_path: Path, good_params: Mapping[str, str],
                               contract_guest: GuestRun) -> None:
        steps = contract_guest.steps
        assert steps.rc("ocf_tester") == 0, steps.out("ocf_tester")
        assert "passed all tests" in steps.out("ocf_tester")


def test_no_ip_vs_is_not_installed() -> None:
    """The host kernel has no ip_vs module: start says so (rc 5), probes say stopped."""
    result = run_agent(LVS_AGENT, "start", GOOD)
    assert result.rc == 5, result
    assert "ip_vs" in result.reason
    assert "Traceback" not in result.stderr
    assert run_agent(LVS_AGENT, "monitor", GOOD, interval_ms=0).rc == 7
    assert run_agent(LVS_AGENT, "stop", GOOD).rc == 0


def test_missing_sync_interface_is_a_configuration_error() -> None:
    params = {**GOOD, "sync_interface": "nosuch0"}
    for action in ("start", "validate-all"):
        result = run_agent(LVS_AGENT, action, params, extra_env={"OCF_CHECK_LEVEL": "10"})
        assert result.rc == 6, result
        assert "sync_interface" in result.reason and "nosuch0" in result.reason


def test_config_file_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    conf = tmp_path / "lvs.conf"
    conf.write_text(f"# site\n{V} scheduler=wlc\n  real 198.18.0.11:80\n"
                    "  real 198.18.0.12:80 weight=lots\n")
    result = run_agent(LVS_AGENT, "validate-all",
                       {"config_file": str(conf), "sync_interface": "lo"})
    assert result.rc == 6, result
    assert str(conf) in result.reason and "line 4" in result.reason
    assert "'weight'" in result.reason
    conf.write_text(f"{V}\n  real 198.18.0.11:80\n")
    assert run_agent(LVS_AGENT, "validate-all",
                     {"config_file": str(conf), "sync_interface": "lo"}).rc == 0
    missing = run_agent(LVS_AGENT, "validate-all",
                        {"config_file": str(tmp_path / "nope"), "sync_interface": "lo"})
    assert missing.rc == 2 and "config_file" in missing.reason
