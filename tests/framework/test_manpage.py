"""Man pages made from the agents' metadata: complete, and clean troff for any text."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.ocf import manpage
from tests.harness.ocf import AGENTS, LIB, ROOT

OCF_AGENTS = sorted(p.name for p in AGENTS.iterdir()
                    if not p.name.startswith((".", "fence_")))
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
               max_size=60)


def _groff_warnings(page: str) -> str:
    """groff's warnings (all of them enabled) for ``page``; empty when it is clean."""
    out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page,
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stderr


def _metadata(agent: str) -> str:
    return subprocess.run(["/usr/bin/python3", str(AGENTS / agent), "meta-data"],
                          env={"PYTHONPATH": str(LIB), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30, check=True).stdout


def _unescape(text: str) -> str:
    return text.removeprefix("\\&").replace("\\-", "-").replace("\\e", "\\")


@pytest.mark.parametrize("agent", OCF_AGENTS)
def test_page_of_every_agent(agent: str) -> None:
    meta = _metadata(agent)
    page = manpage.render(meta)
    assert page.startswith(f".TH OCF_HAKIT_{agent.upper()} 7 ")
    assert f"ocf_hakit_{agent} \\- " in page
    root = ET.fromstring(meta)  # noqa: S314 - our own agent's output
    for param in root.iter("parameter"):
        assert f"\\fB{param.get('name', '').replace('-', chr(92) + '-')}\\fR (" in page
    for action in root.iter("action"):
        assert f".TP\n\\fB{action.get('name', '').replace('-', chr(92) + '-')}\\fR" in page
    assert "EXAMPLE CRM SHELL" in page and "EXAMPLE PCS" in page
    assert _groff_warnings(page) == ""


def test_make_man_writes_every_page(tmp_path: Path) -> None:
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "man", f"MANDIR={tmp_path}"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stderr == ""
    written = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted([f"ocf_hakit_{a}.7" for a in OCF_AGENTS]
                      + [f"{p.name}.8" for p in AGENTS.glob("fence_*")])
    assert written == expected


@given(shortdesc=TEXT, longdesc=TEXT, default=TEXT | st.sampled_from([" ", "\t\n"]))
def test_any_text_is_printed_literally(shortdesc: str, longdesc: str, default: str) -> None:
    """Text from metadata never becomes a troff request or escape: each line the page
    prints is the text back after unescaping."""
    root = ET.Element("resource-agent", name="x", version="1")
    ET.SubElement(root, "version").text = "1.1"
    ET.SubElement(root, "longdesc", lang="en").text = longdesc
    ET.SubElement(root, "shortdesc", lang="en").text = shortdesc
    param = ET.SubElement(ET.SubElement(root, "parameters"), "parameter", name="p",
                          required="0")
    ET.SubElement(param, "longdesc", lang="en").text = longdesc
    ET.SubElement(param, "shortdesc", lang="en").text = shortdesc
    ET.SubElement(param, "content", type="string", default=default)
    ET.SubElement(ET.SubElement(root, "actions"), "action", name="start", timeout="20s")
    page = manpage.render(ET.tostring(root, encoding="unicode"))
    lines = page.splitlines()
    description = lines[lines.index(".SH DESCRIPTION") + 1]
    assert _unescape(description) == " ".join(longdesc.split())
    assert f"Default: {' '.join(default.split()) or '(empty)'}." in _unescape(page)
    for line in lines:
        if line.startswith((".", "'")):
            assert line.split()[0] in {".TH", ".SH", ".TP", ".P", ".br", ".nf", ".fi"}, line


def test_not_metadata_is_an_error() -> None:
    with pytest.raises(manpage.MetadataError):
        manpage.render("not xml")
    with pytest.raises(manpage.MetadataError):
        manpage.render("<other/>")
