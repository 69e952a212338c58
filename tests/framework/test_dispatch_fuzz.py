"""Arbitrary OCF environments never produce a traceback, only OCF exit codes."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from hakit.ocf.dispatch import run
from tests.sample.dummy_agent import AGENT

VALID_CODES = {0, 1, 2, 3, 4, 5, 6, 7}
NAMES = st.sampled_from(["state", "mode", "count", "flag", "delay", "address", "tags", "note",
                         "password", "statefile", "bogus", "CRM_meta_timeout",
                         "CRM_meta_interval"])
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                 max_size=40)


@settings(max_examples=200, deadline=None)
@given(action=st.sampled_from(["validate-all", "monitor", "stop", "status", "reload-agent",
                               "frobnicate"]),
       params=st.dictionaries(NAMES, VALUES, max_size=8),
       level=st.sampled_from(["", "0", "10", "20", "x"]))
def test_junk_environment_gives_an_exit_code_not_a_traceback(
        action: str, params: dict[str, str], level: str) -> None:
    environ = {f"OCF_RESKEY_{k}": v for k, v in params.items()}
    environ["OCF_CHECK_LEVEL"] = level
    # keep state away from real files: junk paths are fine, but never a real start
    out, err = io.StringIO(), io.StringIO()
    code = run(AGENT, ["dummy", action], environ, out, err)
    assert code in VALID_CODES
    assert "Traceback" not in out.getvalue() + err.getvalue()
    if action == "stop":
        assert code in (0, 1)  # bad configuration never fails a stop
    if code not in (0, 7):
        assert "ocf-exit-reason:" in err.getvalue()
