"""The pure parts of ``hakit-snippet --apply`` (the lab test, tests/lab/test_apply.py, runs the
whole of it against a live cluster): the pcs calls, the CIB version, crm_simulate's summary,
the answer to the question, and the arguments."""

from __future__ import annotations

import io
import shlex
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.snippets import apply, pcs
from hakit.snippets.cli import _build, _parser, run
from tests.snippets.conftest import generate

STACK = ["stack", "--name", "web", "--image", "rbd/web", "--ip", "198.18.0.10/24",
         "--nodes", "n1,n2,n3"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


def test_pcs_commands_are_the_scripts_lines() -> None:
    """--apply runs exactly the calls the printed pcs script makes, unquoted."""
    parser = _parser()
    config = _build(parser, parser.parse_args([*STACK, "--format", "pcs"]))
    script = generate(*STACK, "--format", "pcs")
    body = script.replace("\\\n    ", "")
    lines = [line for line in body.splitlines() if line.startswith('pcs -f "$cib" ')]
    from_script = [tuple(shlex.split(line.removesuffix(" 2>/dev/null || :"))[3:])
                   for line in lines]
    assert [c.words for c in pcs.commands(config)] == from_script


@given(admin=st.integers(0, 2**31), epoch=st.integers(0, 2**31),
       updates=st.integers(0, 2**31))
def test_version_is_admin_epoch_and_epoch(admin: int, epoch: int, updates: int) -> None:
    cib = ET.Element("cib", admin_epoch=str(admin), epoch=str(epoch),
                     num_updates=str(updates))
    version = apply.cib_version(ET.tostring(cib, encoding="unicode"))
    assert version == apply.Version(admin, epoch)
    assert str(version) == f"{admin}:{epoch}"


@given(st.text(max_size=40))
def test_a_bad_cib_is_refused_not_a_traceback(text: str) -> None:
    try:
        apply.cib_version(text)
    except apply.ApplyRefused as exc:
        assert "CIB" in exc.reason


@given(resource=TEXT, node=TEXT, source=TEXT, dest=TEXT)
def test_transition_summary(resource: str, node: str, source: str, dest: str) -> None:
    result = ET.Element("pacemaker-result")
    actions = ET.SubElement(result, "actions")
    ET.SubElement(actions, "rsc_action", action="start", resource=resource, node=node)
    ET.SubElement(actions, "rsc_action", action="move", resource=resource, source=source,
                  dest=dest)
    ET.SubElement(result, "transition")
    summary = apply.transition_summary(ET.tostring(result, encoding="unicode"))
    assert summary == [" ".join(w for w in ("start", resource, "on", node) if w),
                       " ".join(w for w in ("move", resource, "from", source, "to", dest)
                                if w)]


def test_nothing_to_do_is_an_empty_summary() -> None:
    assert apply.transition_summary("<pacemaker-result><actions/></pacemaker-result>") == []
    with pytest.raises(apply.ApplyRefused):
        apply.transition_summary("crm_simulate: error")


@pytest.mark.parametrize(("reply", "yes"), [("y\n", True), ("YES\n", True), ("n\n", False),
                                            ("\n", False), ("", False), ("yess\n", False)])
def test_only_y_or_yes_pushes(reply: str, yes: bool) -> None:
    prompt = io.StringIO()
    ask = apply.asker(io.StringIO(reply), prompt)
    assert ask("Push?") is yes
    assert prompt.getvalue() == "Push? [y/N] "


def test_yes_without_apply_is_a_usage_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run([*STACK, "--yes"], out, err) == 2
    assert "--yes: only with --apply" in err.getvalue()
    assert out.getvalue() == ""


def test_diff_shows_added_lines() -> None:
    diff = apply.cib_diff("<a>\n</a>\n", "<a>\n  <b/>\n</a>\n")
    assert diff[:2] == [f"--- {apply.LIVE_LABEL}", f"+++ {apply.NEW_LABEL}"]
    assert "+  <b/>" in diff
