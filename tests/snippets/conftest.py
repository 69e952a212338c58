"""Fixtures for the snippet tests: the generator, the agent overlay, a fresh CIB."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hakit.snippets.cli import run
from tests.harness.installed import StagedInstall
from tests.snippets.cluster import AgentLayer, empty_cib


def generate(*argv: str) -> str:
    """hakit-snippet ARGV's output (which must succeed)."""
    out, err = io.StringIO(), io.StringIO()
    status = run(argv, out, err)
    assert status == 0, err.getvalue()
    assert err.getvalue() == ""
    return out.getvalue()


@pytest.fixture(scope="session")
def layer(staged_install: StagedInstall) -> AgentLayer:
    """The installed hakit agents, seen by crmsh and pcs (and only by them)."""
    return AgentLayer(staged_install)


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    """An empty three-node CIB file (n1, n2, n3 online, quorate)."""
    return empty_cib(tmp_path / "cib.xml")
