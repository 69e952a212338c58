"""Fixtures for the snippet tests: the generator, the agent overlay, a fresh CIB."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakit.snippets.cli import run
from tests.snippets.cluster import AgentLayer, empty_cib


def generate(*argv: str) -> str:
    """hakit-snippet ARGV's output (which must succeed)."""
    out, err = io.StringIO(), io.StringIO()
    status = run(argv, out, err)
    assert status == 0, err.getvalue()
    assert err.getvalue() == ""
    return out.getvalue()


@pytest.fixture(scope="session")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentLayer]:
    """The hakit agents (real ones from agents/ where present, else metadata stubs), to be
    overlaid in a private mount namespace while crmsh or pcs runs."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a private mount namespace for the agents)")
    yield AgentLayer.build(tmp_path_factory.mktemp("agents"))


@pytest.fixture
def cib(tmp_path: Path) -> Path:
    """An empty three-node CIB file (n1, n2, n3 online, quorate)."""
    return empty_cib(tmp_path / "cib.xml")
