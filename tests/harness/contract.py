"""The contract every hakit OCF agent must keep, as a reusable test class.

An agent's test module subclasses ``AgentContract`` and provides fixtures:

- ``agent_path``: the executable (e.g. ``AGENTS / "vip"``);
- ``good_params``: parameters of a real, startable resource (a fixture, so it can set up
  namespaces, loop devices, ...);
- ``bad_params``: a list of ``(params, parameter_name)`` that validate-all must reject with
  rc 6 or 2 and a reason naming the parameter;
- ``golden_name``: the file in ``tests/data/metadata/`` (set ``UPDATE_GOLDEN=1`` to write it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.harness.installed import StagedInstall
from tests.harness.ocf import (
    PCS_RNG,
    SCHEMAS,
    assert_golden,
    ocf_tester,
    run_agent,
    validate_rng,
    xmllint_valid,
)

NOT_RUNNING = 7


class AgentContract:
    """Inherit, and supply the fixtures named in the module docstring."""

    def _metadata(self, agent_path: Path) -> str:
        result = run_agent(agent_path, "meta-data", {})
        assert result.rc == 0, result.stderr
        return result.stdout

    def test_metadata_valid_against_ocf_rng(self, agent_path: Path) -> None:
        errors = validate_rng(self._metadata(agent_path), SCHEMAS / "ocf-1.1-ra-api.rng")
        assert errors == []

    def test_metadata_valid_against_pcs_rng(self, agent_path: Path) -> None:
        if not PCS_RNG.exists():
            pytest.skip("pcs is not installed")
        assert validate_rng(self._metadata(agent_path), PCS_RNG) == []

    def test_metadata_valid_for_xmllint(self, agent_path: Path) -> None:
        proc = xmllint_valid(self._metadata(agent_path))
        assert proc.returncode == 0, proc.stderr

    def test_metadata_matches_golden(self, agent_path: Path, golden_name: str) -> None:
        assert_golden(self._metadata(agent_path), golden_name)

    def test_pcs_describes_the_installed_agent(self, agent_path: Path,
                                               staged_install: StagedInstall) -> None:
        proc = staged_install.run(["/usr/sbin/pcs", "resource", "describe",
                                   f"ocf:hakit:{agent_path.name}"])
        assert proc.returncode == 0, proc.stderr
        assert f"ocf:hakit:{agent_path.name}" in proc.stdout

    def test_unknown_action_is_unimplemented(self, agent_path: Path,
                                             good_params: Mapping[str, str]) -> None:
        assert run_agent(agent_path, "no-such-action", good_params).rc == 3

    def test_probe_of_stopped_resource_is_not_running(
            self, agent_path: Path, good_params: Mapping[str, str]) -> None:
        probe = run_agent(agent_path, "monitor", good_params, interval_ms=0)
        assert probe.rc == NOT_RUNNING, probe.stderr

    def test_stop_of_stopped_resource_succeeds(self, agent_path: Path,
                                               good_params: Mapping[str, str]) -> None:
        assert run_agent(agent_path, "stop", good_params).rc == 0

    def test_stop_with_no_parameters_succeeds(self, agent_path: Path) -> None:
        assert run_agent(agent_path, "stop", {}).rc == 0

    def test_probe_with_no_parameters_is_not_running(self, agent_path: Path) -> None:
        assert run_agent(agent_path, "monitor", {}, interval_ms=0).rc == NOT_RUNNING

    def test_lifecycle(self, agent_path: Path, good_params: Mapping[str, str]) -> None:
        try:
            assert run_agent(agent_path, "validate-all", good_params).rc == 0
            first = run_agent(agent_path, "start", good_params)
            assert first.rc == 0, first.stderr
            assert run_agent(agent_path, "start", good_params).rc == 0  # idempotent
            mon = run_agent(agent_path, "monitor", good_params, interval_ms=10000)
            assert mon.rc == 0, mon.stderr
            assert run_agent(agent_path, "monitor", good_params, interval_ms=0).rc == 0
            stop = run_agent(agent_path, "stop", good_params)
            assert stop.rc == 0, stop.stderr
            assert run_agent(agent_path, "monitor", good_params,
                             interval_ms=10000).rc == NOT_RUNNING
            assert run_agent(agent_path, "stop", good_params).rc == 0  # idempotent
        finally:
            run_agent(agent_path, "stop", good_params)

    def test_bad_parameters_are_rejected_with_a_reason(
            self, agent_path: Path,
            bad_params: list[tuple[Mapping[str, str], str]]) -> None:
        for params, name in bad_params:
            result = run_agent(agent_path, "validate-all", params)
            assert result.rc in (2, 6), (params, result)
            assert name in result.reason, (params, result.reason)
            assert "Traceback" not in result.stderr + result.stdout

    def test_ocf_tester_passes(self, agent_path: Path, good_params: Mapping[str, str]) -> None:
        try:
            result = ocf_tester(agent_path, good_params)
            assert result.rc == 0, result.stdout + result.stderr
            assert "passed all tests" in result.stdout
        finally:
            run_agent(agent_path, "stop", good_params)
