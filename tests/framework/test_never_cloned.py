"""rbd, fs and container own one thing on one node: as a clone they refuse to start (rc 6,
naming the clone), while stop succeeds and a probe says "not running"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.harness.ocf import AGENTS, run_agent

PARAMS = {
    "rbd": {"pool": "rbd", "image": "web"},
    "fs": {"device": "/dev/hakit/rbd/web", "directory": "/srv/web"},
    "container": {"name": "web", "pool": "rbd"},
}
CLONE_META = st.dictionaries(st.sampled_from(["clone_max", "clone", "clone_node_max"]),
                             st.integers(0, 64).map(str), min_size=1).filter(
    lambda meta: "clone_max" in meta or "clone" in meta)


@pytest.mark.parametrize("agent", sorted(PARAMS))
@settings(max_examples=5, deadline=None)
@given(meta=CLONE_META)
def test_cloned_start_is_refused_stop_and_probe_are_not(agent: str, meta: dict[str, str]) -> None:
    extra = {f"OCF_RESKEY_CRM_meta_{k}": v for k, v in meta.items()}
    start = run_agent(AGENTS / agent, "start", PARAMS[agent], extra_env=extra)
    assert start.rc == 6
    assert "must not be cloned" in start.reason and f"ocf:hakit:{agent}" in start.reason
    assert run_agent(AGENTS / agent, "validate-all", PARAMS[agent], extra_env=extra).rc == 6
    assert run_agent(AGENTS / agent, "stop", PARAMS[agent], extra_env=extra).rc == 0
    probe = run_agent(AGENTS / agent, "monitor", PARAMS[agent], interval_ms=0, extra_env=extra)
    assert probe.rc == 7
