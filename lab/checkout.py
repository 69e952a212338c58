"""The source checkout the lab runs from, and the PYTHONPATH its child processes need.

The lab is not installed: it runs as ``python3 -m lab`` from a checkout (``make demo`` sets
PYTHONPATH), and the processes it starts (BMC power commands, the writer, the split-brain
sampler, hakit-snippet) find hakit and the lab in the same checkout.
"""

from __future__ import annotations

from pathlib import Path

from hakit.os.runner import SYSTEM_PATH


def root() -> Path:
    """The checkout this lab was imported from (it holds the Makefile, agents/ and lib/)."""
    return Path(__file__).resolve().parent.parent


def pythonpath() -> str:
    """PYTHONPATH for a child: the checkout's library, then the lab package itself."""
    return f"{root() / 'lib'}:{root()}"


def child_env() -> dict[str, str]:
    """The environment of a Python process the lab starts (BMC power commands, the writer,
    the split-brain sampler): the system PATH, and the checkout's hakit and lab."""
    return {"PATH": SYSTEM_PATH, "LC_ALL": "C", "PYTHONPATH": pythonpath()}
