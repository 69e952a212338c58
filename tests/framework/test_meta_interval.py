"""CRM_meta_interval that is negative or not a number is an error, never a guess.

Read as 0 it made a recurring monitor a probe (whose "not running" hides a failure); a
negative one made a probe a recurring monitor. Monitor (and every action but stop) now
fails with OCF_ERR_CONFIGURED naming CRM_meta_interval; stop does not depend on it.
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hakit.ocf.dispatch import run
from hakit.ocf.environment import OcfEnvironment
from tests.sample.dummy_agent import AGENT


def _is_milliseconds(text: str) -> bool:
    digits = text.strip()
    return not digits or (digits.isascii() and digits.isdigit() and len(digits) <= 12)


BAD = st.one_of(
    st.integers(max_value=-1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=20).filter(lambda s: "\0" not in s),
).filter(lambda s: not _is_milliseconds(s))


@settings(max_examples=150, deadline=None)
@given(interval=BAD, action=st.sampled_from(["monitor", "start", "validate-all"]))
def test_a_bad_interval_is_a_configuration_error(interval: str, action: str) -> None:
    state = Path("/nonexistent-hakit-dir/state")  # nothing is created: the check comes first
    environ = {"OCF_RESKEY_state": str(state), "OCF_RESKEY_CRM_meta_interval": interval}
    out, err = io.StringIO(), io.StringIO()
    code = run(AGENT, ["dummy", action], environ, out, err)
    assert code == 6, err.getvalue()
    assert "ocf-exit-reason:CRM_meta_interval must be a non-negative" in err.getvalue()
    env = OcfEnvironment.read("monitor", "dummy", environ)
    assert not env.is_probe


@settings(max_examples=50, deadline=None)
@given(interval=BAD)
def test_stop_does_not_depend_on_the_interval(interval: str) -> None:
    environ = {"OCF_RESKEY_state": "/nonexistent-hakit-dir/state",
               "OCF_RESKEY_CRM_meta_interval": interval}
    assert run(AGENT, ["dummy", "stop"], environ, io.StringIO(), io.StringIO()) == 0


@settings(max_examples=100, deadline=None)
@given(ms=st.integers(min_value=0, max_value=10**12 - 1))
def test_milliseconds_are_read(ms: int) -> None:
    env = OcfEnvironment.read("monitor", "dummy", {"OCF_RESKEY_CRM_meta_interval": str(ms)})
    assert env.interval == ms / 1000.0
    assert env.interval_problem == ""
    assert env.is_probe == (ms == 0)
