"""Agents are declarations over library steps (issue 18, item 2).

An agent module declares its parameters (kept with its kind in ``hakit.steps.<kind>.config``),
its actions and metadata, and binds its typed configuration record to library steps with
``hakit.ocf.agent.configured``.  Two properties keep it that way:

- steps never read ``ctx.params``: they take the record, which is what lets the container
  agent compose the records of its layers instead of rebuilding parameter values;
- an agent module reads in one screen (issue 18 aims at about 150 lines).
"""

from __future__ import annotations

import ast

from tests.harness.imports import package_sources
from tests.harness.ocf import LIB

#: "About 150 lines", with room for a long description or one more action.
AGENT_MODULE_MAX_LINES = 180


def test_steps_take_records_not_parameter_values() -> None:
    found = []
    for source in package_sources(LIB, "hakit"):
        if not source.module.startswith("hakit.steps."):
            continue
        for node in ast.walk(ast.parse(source.path.read_bytes())):
            if (isinstance(node, ast.Attribute) and node.attr == "params"
                    and isinstance(node.value, ast.Name) and node.value.id == "ctx"):
                found.append(f"{source.path}:{node.lineno}")
    assert found == [], "a step reads ctx.params: give it the kind's configuration record"


def test_every_agent_module_reads_in_one_screen() -> None:
    long = {}
    for source in package_sources(LIB, "hakit"):
        if source.module.startswith("hakit.agents."):
            lines = len(source.path.read_text(encoding="utf-8").splitlines())
            if lines > AGENT_MODULE_MAX_LINES:
                long[source.module] = lines
    assert long == {}, "an agent module holds logic: move it to its kind in hakit.steps"
