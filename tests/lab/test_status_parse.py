"""crm_mon XML parsing (pure; hypothesis)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.status import ClusterState, NodeState, ResourceState, parse_crm_mon, render

# Trimmed from a real `crm_mon --one-shot --output-as=xml` of the lab (Pacemaker 2.1.5).
SAMPLE = """<pacemaker-result api-version="2.25" request="crm_mon -1 --output-as=xml">
  <pacemakerd sys_from="pacemakerd" state="running" last_updated="2026-11-23 20:00:53Z"/>
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5" name="n2" id="2" with_quorum="true"
      mixed_version="false"/>
    <nodes_configured number="3"/>
    <resources_configured number="1" disabled="0" blocked="0"/>
  </summary>
  <nodes>
    <node name="n1" id="1" online="false" standby="false" unclean="false" is_dc="false"/>
    <node name="n2" id="2" online="true" standby="false" unclean="false" is_dc="true"/>
    <node name="n3" id="3" online="true" standby="true" unclean="false" is_dc="false"/>
  </nodes>
  <resources>
    <resource id="dummy" resource_agent="ocf:pacemaker:Dummy" role="Started" active="true"
      failed="false" nodes_running_on="1">
      <node name="n2" id="2" cached="true"/>
    </resource>
    <group id="g" number_resources="1">
      <resource id="inner" resource_agent="ocf:pacemaker:Dummy" role="Stopped" failed="false"
        nodes_running_on="0"/>
    </group>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>"""


def test_parses_a_real_crm_mon_answer() -> None:
    state = parse_crm_mon(SAMPLE)
    assert state.dc == "n2" and state.quorate
    assert state.online == ("n2", "n3")
    assert state.where("dummy") == "n2"
    assert state.where("inner") is None
    assert state.resource("missing") is None
    text = render(state)
    assert "node n1: OFFLINE" in text and "node n3: online (standby)" in text
    assert "resource dummy (ocf:pacemaker:Dummy): Started on n2" in text


def test_no_dc_means_no_quorum() -> None:
    text = SAMPLE.replace('present="true"', 'present="false"')
    state = parse_crm_mon(text)
    assert state.dc is None and not state.quorate


@pytest.mark.parametrize("text", ["", "not xml", "<other/>"])
def test_refuses_what_is_not_crm_mon_output(text: str) -> None:
    with pytest.raises(ValueError):
        parse_crm_mon(text)


node_names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
node_states = st.builds(NodeState, name=node_names, online=st.booleans(), is_dc=st.booleans(),
                        unclean=st.booleans(), standby=st.booleans())
resource_states = st.builds(
    ResourceState, id=node_names, agent=st.sampled_from(["ocf:pacemaker:Dummy", "ocf:hakit:x"]),
    role=st.sampled_from(["Started", "Stopped", "Starting"]), failed=st.booleans(),
    nodes=st.lists(node_names, max_size=3).map(tuple))


def _b(value: bool) -> str:
    return "true" if value else "false"


def _to_xml(state: ClusterState) -> str:
    root = ET.Element("pacemaker-result")
    summary = ET.SubElement(root, "summary")
    dc = ET.SubElement(summary, "current_dc", present=_b(state.dc is not None))
    if state.dc is not None:
        dc.set("name", state.dc)
        dc.set("with_quorum", _b(state.quorate))
    nodes = ET.SubElement(root, "nodes")
    for n in state.nodes:
        ET.SubElement(nodes, "node", name=n.name, online=_b(n.online), is_dc=_b(n.is_dc),
                      unclean=_b(n.unclean), standby=_b(n.standby))
    resources = ET.SubElement(root, "resources")
    for r in state.resources:
        elem = ET.SubElement(resources, "resource", id=r.id, resource_agent=r.agent,
                             role=r.role, failed=_b(r.failed))
        for where in r.nodes:
            ET.SubElement(elem, "node", name=where)
    return ET.tostring(root, encoding="unicode")


@given(dc=st.none() | node_names, quorate=st.booleans(),
       nodes=st.lists(node_states, max_size=5).map(tuple),
       resources=st.lists(resource_states, max_size=5).map(tuple))
def test_round_trips_any_state(dc: str | None, quorate: bool, nodes: tuple[NodeState, ...],
                               resources: tuple[ResourceState, ...]) -> None:
    state = ClusterState(dc=dc, quorate=quorate and dc is not None, nodes=nodes,
                         resources=resources)
    assert parse_crm_mon(_to_xml(state)) == state
    render(state)  # never fails
