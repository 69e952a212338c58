"""A resource agent's man page, ocf_hakit_NAME(7), made from its own ``meta-data`` output.

resource-agents builds its pages the same way (metadata XML through ``ra2refentry.xsl``), so
the page can never disagree with what Pacemaker, pcs and crmsh read from the agent.  The
package build runs ``AGENT meta-data | python3 -m hakit.ocf.manpage > ocf_hakit_NAME.7``.

``render`` is pure: metadata text in, troff out.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: The provider directory the agents are installed under (resource.d/hakit).
PROVIDER = "hakit"


class MetadataError(ValueError):
    """The input is not an OCF resource-agent metadata document."""


def _esc(text: str) -> str:
    """Text as troff prints it literally: backslashes, minus signs, leading control chars."""
    text = " ".join(text.split())
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def _text(element: ET.Element, tag: str) -> str:
    """The English ``tag`` child's text (OCF allows one per language)."""
    found = element.findall(tag)
    for child in found:
        if child.get("lang", "en") == "en":
            return child.text or ""
    return (found[0].text or "") if found else ""


def _param_lines(param: ET.Element) -> list[str]:
    name = param.get("name", "")
    content = param.find("content")
    lines = [".TP", f"\\fB{_esc(name)}\\fR (\\fI{_esc(_kind(param))}\\fR)"]
    body = _text(param, "longdesc") or _text(param, "shortdesc")
    lines.append(_esc(body))
    facts = ["Required." if param.get("required") == "1" else "Optional."]
    if content is not None and content.get("default") is not None:
        shown = " ".join((content.get("default") or "").split())
        facts.append(f"Default: {shown or '(empty)'}.")
    options = [o.get("value", "") for o in content.iter("option")] if content is not None else []
    if options:
        facts.append(f"One of: {', '.join(options)}.")
    if param.get("unique-group"):
        facts.append(f"Unique among resources of this agent (group {param.get('unique-group')}).")
    if param.get("reloadable") == "1":
        facts.append("Reloadable without a restart.")
    deprecated = param.find("deprecated")
    if deprecated is not None:
        replaced = [r.get("name", "") for r in deprecated.iter("replaced-with")]
        facts.append("Deprecated" + (f"; use {', '.join(replaced)}." if replaced else "."))
    lines += [".br", _esc(" ".join(facts))]
    return lines


def _action_lines(actions: Iterable[ET.Element]) -> list[str]:
    lines = []
    for action in actions:
        attrs = [f"{key}={action.get(key)}" for key in
                 ("timeout", "interval", "depth", "role", "start-delay") if action.get(key)]
        lines += [".TP", f"\\fB{_esc(action.get('name', ''))}\\fR", _esc(" ".join(attrs))]
    return lines


def _kind(param: ET.Element) -> str:
    content = param.find("content")
    return content.get("type", "string") if content is not None else "string"


def _examples(name: str, required: list[ET.Element], monitor: ET.Element | None) -> list[str]:
    """crmsh and pcs lines creating a resource with the required parameters, as the
    resource-agents pages show them."""
    values = " ".join(f"{p.get('name')}={_kind(p)}" for p in required)
    interval = monitor.get("interval", "10s") if monitor is not None else "10s"
    timeout = monitor.get("timeout", "20s") if monitor is not None else "20s"
    rsc = f"{name}-1"
    op = f"op monitor interval={interval} timeout={timeout}"
    crm = [_esc(f"primitive {rsc} ocf:{PROVIDER}:{name}") + " \\e"]
    if values:
        crm.append(_esc(f"  params {values}") + " \\e")
    crm.append(_esc(f"  {op}"))
    pcs = " ".join(w for w in ("pcs resource create", rsc, f"ocf:{PROVIDER}:{name}", values, op)
                   if w)
    return [".SH EXAMPLE CRM SHELL", ".nf", *crm, ".fi",
            ".SH EXAMPLE PCS", ".nf", _esc(pcs), ".fi"]


def render(metadata: str) -> str:
    """The troff page for the agent whose ``meta-data`` output is ``metadata``."""
    try:
        root = ET.fromstring(metadata)  # noqa: S314 - the agent's own output, at build time
    except ET.ParseError as exc:
        raise MetadataError(f"metadata is not XML: {exc}") from exc
    if root.tag != "resource-agent" or not root.get("name"):
        raise MetadataError("metadata has no <resource-agent name=...> root")
    name = root.get("name", "")
    version = root.get("version", "")
    params = root.findall("parameters/parameter")
    actions = root.findall("actions/action")
    page = f"ocf_{PROVIDER}_{name}"
    lines = [
        f'.TH {page.upper()} 7 "" "hakit {_esc(version)}" "OCF resource agents"',
        ".SH NAME", f"{_esc(page)} \\- {_esc(_text(root, 'shortdesc'))}",
        ".SH SYNOPSIS",
    ]
    for param in params:
        word = f"\\fBOCF_RESKEY_{_esc(param.get('name', ''))}\\fR=\\fI{_esc(_kind(param))}\\fR"
        lines.append(word if param.get("required") == "1" else f"[{word}]")
    lines.append(f"\\fB{_esc(name)}\\fR [{' | '.join(_esc(a.get('name', '')) for a in actions)}]")
    lines += [".SH DESCRIPTION", _esc(_text(root, "longdesc")),
              ".P", f"Pacemaker names this agent \\fBocf:{PROVIDER}:{_esc(name)}\\fR; it is "
              f"installed as /usr/lib/ocf/resource.d/{PROVIDER}/{_esc(name)}."]
    lines.append(".SH SUPPORTED PARAMETERS")
    for param in params:
        lines += _param_lines(param)
    lines.append(".SH SUPPORTED ACTIONS")
    lines += _action_lines(actions)
    monitor = next((a for a in actions if a.get("name") == "monitor"), None)
    lines += _examples(name, [p for p in params if p.get("required") == "1"], monitor)
    lines += [".SH SEE ALSO",
              f"/usr/share/doc/hakit/agents/{_esc(name)}.md, crm(8), pcs(8), "
              "crm_resource(8), ocf\\-tester(8)"]
    return "\n".join(lines) + "\n"


def main() -> int:
    """``python3 -m hakit.ocf.manpage < METADATA > PAGE``."""
    try:
        sys.stdout.write(render(sys.stdin.read()))
    except MetadataError as exc:
        sys.stderr.write(f"hakit.ocf.manpage: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
