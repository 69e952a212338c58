"""fence-agents metadata (``lib/metadata.rng``) and a man page, from the declaration.

The document is written by the envelope's writer (``hakit.envelope.xmldoc``), as the OCF
agents' is; what is fence-agents' is its shape, here.

Each alias is listed as its own ``deprecated="1"`` parameter right after the canonical one,
which carries ``obsoletes="alias"``, as fence-agents does, so Pacemaker and pcs accept old
configurations and tell admins the new name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hakit.envelope.xmldoc import element, write
from hakit.fence.agent import FenceAgent
from hakit.fence.options import Option
from hakit.ocf.params import Duration

#: ``on`` is not run by the fencer on its own: "automatic" tells Pacemaker it is unfencing
#: only when asked (fence-agents marks it automatic="0" for power agents).
_ACTION_ATTRS = {"on": {"automatic": "0"}}
#: A fabric agent's ``on`` is unfencing: run on the node itself (on_target) and by
#: Pacemaker automatically before resources with requires=unfencing start (fence_scsi).
_UNFENCING_ATTRS = {"on": {"on_target": "1", "automatic": "1"}}


def _content_type(opt: Option[object]) -> str:
    if isinstance(opt.kind, Duration):
        return "second"
    return opt.kind.ocf_type


def _parameter(parent: ET.Element, opt: Option[object], name: str, *,
               deprecated: bool, obsoletes: str) -> None:
    attrs = {"name": name, "unique": "0", "required": "0"}
    if deprecated:
        attrs["deprecated"] = "1"
    if obsoletes:
        attrs["obsoletes"] = obsoletes
    param = element(parent, "parameter", attrs)
    element(param, "getopt", {"mixed": opt.getopt()})
    content = element(param, "content", {"type": _content_type(opt)})
    if opt.default is not None:
        content.set("default", opt.default)
    for choice in opt.kind.options():
        element(content, "option", {"value": choice})
    element(param, "shortdesc", {"lang": "en"}, opt.shortdesc)


def build(agent: FenceAgent) -> str:
    """The ``-o metadata`` document."""
    root = ET.Element("resource-agent", {"name": agent.name, "shortdesc": agent.shortdesc})
    for name, desc in agent.symlinks:
        element(root, "symlink", {"name": name, "shortdesc": desc})
    element(root, "longdesc", text=agent.longdesc)
    element(root, "vendor-url", text=agent.vendor_url)
    params = element(root, "parameters")
    for opt in agent.advertised_options():
        # fence-agents names one obsoleted spelling per parameter; the first alias is it.
        _parameter(params, opt, opt.name, deprecated=False,
                   obsoletes=opt.aliases[0] if opt.aliases else "")
        for alias in opt.aliases:
            _parameter(params, opt, alias, deprecated=True, obsoletes="")
    actions = element(root, "actions")
    attrs = _UNFENCING_ATTRS if agent.fabric else _ACTION_ATTRS
    for action in agent.actions():
        element(actions, "action", {"name": action, **attrs.get(action, {})})
    return write(root, '<?xml version="1.0" ?>\n', "\t")


def manpage(agent: FenceAgent) -> str:
    """A troff man page (section 8) with every option and action."""

    def esc(text: str) -> str:
        text = text.replace("\\", "\\e").replace("-", "\\-")
        return "\\&" + text if text.startswith((".", "'")) else text

    lines = [
        f'.TH {agent.name.upper()} 8 "" "hakit {agent.version}" "System Administration"',
        ".SH NAME", f"{esc(agent.name)} \\- {esc(agent.shortdesc)}",
        ".SH SYNOPSIS", f".B {esc(agent.name)}", "[\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION", esc(agent.longdesc),
        ".P", "Options are read from the command line or, with none given, as",
        "\\fIname\\fR=\\fIvalue\\fR lines on standard input (as pacemaker\\-fenced sends them).",
        ".SH OPTIONS",
    ]
    for opt in agent.advertised_options():
        names = ", ".join(opt.names())
        lines += [".TP", f"\\fB{esc(opt.getopt())}\\fR", esc(opt.longdesc)]
        extra = []
        if opt.default is not None:
            extra.append(f"Default: {opt.default}.")
        if opt.kind.options():
            extra.append(f"One of: {', '.join(opt.kind.options())}.")
        extra.append(f"On stdin: {names}.")
        lines.append(esc(" ".join(extra)))
    lines += [".SH ACTIONS"]
    for action in agent.actions():
        lines += [".TP", f"\\fB{esc(action)}\\fR"]
    lines += [".SH EXIT STATUS",
              "0 on success (status: powered on), 1 on failure, 2 for status when powered off.",
              ".SH SEE ALSO", "fence_ipmilan(8), stonith_admin(8)"]
    return "\n".join(lines) + "\n"
