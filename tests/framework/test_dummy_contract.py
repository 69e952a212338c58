"""The agent contract, run against the framework's sample agent."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.harness.contract import AgentContract
from tests.harness.ocf import ROOT, run_agent

DUMMY = ROOT / "tests" / "sample" / "dummy"


class TestDummyContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return DUMMY

    @pytest.fixture
    def golden_name(self) -> str:
        return "sample-dummy.xml"

    @pytest.fixture
    def good_params(self, tmp_path: Path) -> Mapping[str, str]:
        return {"state": str(tmp_path / "dummy.state"), "note": "hello"}

    @pytest.fixture
    def bad_params(self, tmp_path: Path) -> list[tuple[Mapping[str, str], str]]:
        state = str(tmp_path / "s")
        return [
            ({}, "state"),
            ({"state": "relative/path"}, "state"),
            ({"state": state, "count": "eleven"}, "count"),
            ({"state": state, "count": "0"}, "count"),
            ({"state": state, "mode": "frantic"}, "mode"),
            ({"state": state, "flag": "perhaps"}, "flag"),
            ({"state": state, "delay": "soon"}, "delay"),
            ({"state": state, "address": "198.18.0.300/24"}, "address"),
            ({"state": state, "tags": "ok,not ok!"}, "tags"),
        ]


def test_validate_depth_10_checks_the_host(tmp_path: Path) -> None:
    params = {"state": str(tmp_path / "missing-dir" / "s")}
    assert run_agent(DUMMY, "validate-all", params).rc == 0
    deep = run_agent(DUMMY, "validate-all", params, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 2
    assert "state" in deep.reason


def test_start_checks_the_host(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "start", {"state": str(tmp_path / "missing-dir" / "s")})
    assert result.rc == 2
    assert "does not exist" in result.reason


def test_cross_parameter_check(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "validate-all",
                       {"state": str(tmp_path / "s"), "mode": "busy", "count": "1"})
    assert result.rc == 6
    assert "mode=busy" in result.reason


def test_crash_is_rc1_with_reason_and_masked_secret(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "crash", {"state": str(tmp_path / "s"), "password": "s3cr3t-pw"})
    assert result.rc == 1
    assert "RuntimeError" in result.reason
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stdout


def test_reload_agent_applies_reloadable_parameter(tmp_path: Path) -> None:
    state = tmp_path / "s"
    assert run_agent(DUMMY, "start", {"state": str(state), "note": "one"}).rc == 0
    assert run_agent(DUMMY, "reload-agent", {"state": str(state), "note": "two"}).rc == 0
    assert state.read_text() == "two\n"


def test_monitor_depth_10(tmp_path: Path) -> None:
    state = tmp_path / "s"
    assert run_agent(DUMMY, "start", {"state": str(state)}).rc == 0
    state.write_text("")
    shallow = run_agent(DUMMY, "monitor", {"state": str(state)}, interval_ms=10000)
    deep = run_agent(DUMMY, "monitor", {"state": str(state)}, interval_ms=10000,
                     extra_env={"OCF_CHECK_LEVEL": "10"})
    assert (shallow.rc, deep.rc) == (0, 6)


def test_recurring_monitor_of_vanished_resource_gives_reason(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "monitor", {"state": str(tmp_path / "s")}, interval_ms=10000)
    assert result.rc == 7
    assert "absent" in result.reason
    probe = run_agent(DUMMY, "monitor", {"state": str(tmp_path / "s")}, interval_ms=0)
    assert probe.rc == 7
    assert probe.reasons == []  # a probe finding it stopped is not a failure


def test_deadline_bounds_the_action(tmp_path: Path) -> None:
    # start sleeps 30 s, but the timeout is 3 s: the deadline cuts the sleep short.
    result = run_agent(DUMMY, "start", {"state": str(tmp_path / "s"), "delay": "30"},
                       timeout_ms=3000, limit=10)
    assert result.rc == 0


def test_usage_and_methods() -> None:
    assert run_agent(DUMMY, "usage", {}).rc == 0
    methods = run_agent(DUMMY, "methods", {}).stdout.split()
    assert {"start", "stop", "monitor", "validate-all", "meta-data", "reload-agent"} <= set(methods)
    assert run_agent(DUMMY, "", {}).rc == 2


def test_unsupported_api_major_version(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "monitor", {"state": str(tmp_path / "s")},
                       extra_env={"OCF_RA_VERSION_MAJOR": "2"})
    assert result.rc == 3


def test_logging_to_ha_logfile_masks_secrets(tmp_path: Path) -> None:
    logfile = tmp_path / "ha.log"
    result = run_agent(DUMMY, "crash", {"state": str(tmp_path / "s"), "password": "pw-9f8e7d"},
                       extra_env={"HA_LOGFILE": str(logfile), "HA_debug": "1",
                                  "OCF_RESOURCE_INSTANCE": "dummy-1"},)
    assert result.rc == 1
    text = logfile.read_text()
    assert "hakit-dummy(test)" in text or "hakit-dummy(dummy-1)" in text
    assert "pw-9f8e7d" not in text
    assert "Traceback" in text  # the traceback goes to the debug log, not to stdout


def test_pacemakers_crm_feature_set_is_not_an_unknown_parameter(tmp_path: Path) -> None:
    result = run_agent(DUMMY, "validate-all", {"state": str(tmp_path / "s"),
                                               "crm_feature_set": "3.16.2", "stat": "typo"})
    assert result.rc == 0
    assert "crm_feature_set" not in result.stderr
    assert "ignoring unknown parameter 'stat'" in result.stderr
