"""Metadata: generated, parsed back, and equal to the declaration."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hakit.ocf import metadata
from hakit.ocf.agent import Action, Agent
from hakit.ocf.params import Boolean, Integer, Param, Select, String
from tests.harness.ocf import SCHEMAS, validate_rng, xmllint_valid
from tests.sample.dummy_agent import AGENT

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
               max_size=40)


def _parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode(), etree.XMLParser(load_dtd=False, no_network=True))


def test_round_trip_of_sample_agent() -> None:
    root = _parse(metadata.build(AGENT))
    names = [p.get("name") for p in root.iter("parameter")]
    assert names == [p.name for p in AGENT.params]
    state = root.find("parameters/parameter[@name='state']")
    assert state is not None
    assert state.get("required") == "1"
    assert state.get("unique-group") == "state"
    note = root.find("parameters/parameter[@name='note']")
    assert note is not None and note.get("reloadable") == "1"
    old = root.find("parameters/parameter[@name='statefile']/deprecated/replaced-with")
    assert old is not None and old.get("name") == "state"
    options = [o.get("value") for o in root.iterfind("parameters/parameter[@name='mode']//option")]
    assert options == ["calm", "busy"]
    actions = {(a.get("name"), a.get("depth")) for a in root.iter("action")}
    assert ("monitor", "10") in actions
    assert ("reload-agent", None) in actions
    assert ("meta-data", None) in actions


@given(desc=TEXT, default=TEXT, choice=TEXT)
def test_arbitrary_text_is_escaped_and_valid(desc: str, default: str, choice: str) -> None:
    agent = Agent(
        name="t", version="1", shortdesc=desc, longdesc=desc,
        params=(Param("a", String(), desc, desc, default=default),
                Param("b", Select(choice, "x"), desc, desc),
                Param("c", Integer(), desc, desc), Param("d", Boolean(), desc, desc)),
        actions=(Action("start", 20), Action("stop", 20), Action("monitor", 20, interval=10)),
        start=lambda ctx: None, stop=lambda ctx: None, monitor=lambda ctx: None,
    )
    text = metadata.build(agent)
    assert validate_rng(text, SCHEMAS / "ocf-1.1-ra-api.rng") == []
    root = _parse(text)
    param = root.find("parameters/parameter[@name='a']")
    assert param is not None
    content = param.find("content")
    assert content is not None and content.get("default") == default
    shortdesc = param.find("shortdesc")
    assert shortdesc is not None and shortdesc.text == desc


def test_internal_dtd_satisfies_xmllint_valid() -> None:
    assert xmllint_valid(metadata.build(AGENT)).returncode == 0


def test_seconds_text() -> None:
    assert metadata.seconds_text(20) == "20s"
    assert metadata.seconds_text(0.5) == "500ms"
