"""OCF 1.1 metadata built from an agent's declaration, written by ``hakit.envelope.xmldoc``.

The document carries an internal DTD subset describing OCF 1.1.  ocf-tester checks metadata
with ``xmllint --valid`` against whatever DTD the document names, and its default
``ra-api-1.dtd`` (OCF 1.0) rejects the 1.1 attributes (``unique-group``, ``reloadable``,
``<deprecated>``).  The internal subset lets xmllint validate the document against 1.1 rules
on any host, from the source tree or installed, while RNG-based tools (Pacemaker, pcs)
ignore it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hakit.envelope.xmldoc import element, write
from hakit.ocf.agent import Action, Agent
from hakit.ocf.params import Param

OCF_VERSION = "1.1"

#: OCF 1.1 (ra/1.1/ra-api.rng) expressed as a DTD, for xmllint --valid.
OCF_1_1_DTD = """\
<!ELEMENT resource-agent (version, longdesc*, shortdesc*, parameters, actions, special?)>
<!ATTLIST resource-agent name CDATA #REQUIRED version CDATA #IMPLIED>
<!ELEMENT version (#PCDATA)>
<!ELEMENT longdesc (#PCDATA)>
<!ATTLIST longdesc lang CDATA #REQUIRED>
<!ELEMENT shortdesc (#PCDATA)>
<!ATTLIST shortdesc lang CDATA #REQUIRED>
<!ELEMENT parameters (parameter+)>
<!ELEMENT parameter (deprecated?, longdesc+, shortdesc+, content)>
<!ATTLIST parameter name CDATA #REQUIRED unique-group CDATA #IMPLIED unique (0|1) #IMPLIED
  required (0|1) #IMPLIED reloadable (0|1) #IMPLIED>
<!ELEMENT deprecated (replaced-with|desc)*>
<!ELEMENT replaced-with EMPTY>
<!ATTLIST replaced-with name CDATA #REQUIRED>
<!ELEMENT desc (#PCDATA)>
<!ATTLIST desc lang CDATA #REQUIRED>
<!ELEMENT content (option*)>
<!ATTLIST content type (boolean|string|integer|select) #REQUIRED default CDATA #IMPLIED>
<!ELEMENT option EMPTY>
<!ATTLIST option value CDATA #REQUIRED>
<!ELEMENT actions (action+)>
<!ELEMENT action EMPTY>
<!ATTLIST action name CDATA #REQUIRED timeout CDATA #REQUIRED interval CDATA #IMPLIED
  start-delay CDATA #IMPLIED depth CDATA #IMPLIED role CDATA #IMPLIED>
<!ELEMENT special (#PCDATA)>
<!ATTLIST special tag CDATA #REQUIRED>
"""


def seconds_text(seconds: float) -> str:
    """Pacemaker's duration syntax: ``20s``, or ``500ms`` when not whole seconds."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def _text(parent: ET.Element, tag: str, text: str) -> None:
    element(parent, tag, {"lang": "en"}, text)


def _parameter(param: Param[object]) -> ET.Element:
    elem = ET.Element("parameter", name=param.name)
    if param.unique_group:
        elem.set("unique-group", param.unique_group)
    elem.set("required", "1" if param.required else "0")
    if param.reloadable:
        elem.set("reloadable", "1")
    if param.deprecated:
        dep = element(elem, "deprecated")
        for name in param.replaced_with:
            element(dep, "replaced-with", {"name": name})
    hint = param.kind.hint()
    _text(elem, "longdesc", f"{param.longdesc} {hint}".strip())
    _text(elem, "shortdesc", param.shortdesc)
    content = element(elem, "content", {"type": param.kind.ocf_type})
    if param.default is not None:
        content.set("default", param.default)
    for option in param.kind.options():
        element(content, "option", {"value": option})
    return elem


def _action(action: Action) -> ET.Element:
    elem = ET.Element("action", name=action.name, timeout=seconds_text(action.timeout))
    if action.interval is not None:
        elem.set("interval", seconds_text(action.interval))
    if action.depth is not None:
        elem.set("depth", str(action.depth))
    if action.role is not None:
        elem.set("role", action.role)
    return elem


def build(agent: Agent) -> str:
    """The agent's ``meta-data`` document."""
    root = ET.Element("resource-agent", name=agent.name, version=agent.version)
    element(root, "version", text=OCF_VERSION)
    _text(root, "longdesc", agent.longdesc)
    _text(root, "shortdesc", agent.shortdesc)
    element(root, "parameters").extend(_parameter(p) for p in agent.params)
    element(root, "actions").extend(_action(a) for a in agent.advertised())
    return write(root, f'<?xml version="1.0"?>\n<!DOCTYPE resource-agent [\n{OCF_1_1_DTD}]>\n',
                 "  ")
