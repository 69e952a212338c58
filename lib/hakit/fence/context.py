"""What one fence action works with, made by ``dispatch`` and passed down."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from hakit.deadline import Deadline
from hakit.ocf.params import Values
from hakit.os.runner import Runner


@dataclass(frozen=True)
class FenceContext:
    """One action's inputs: typed options, the overall deadline, logger, runner."""

    action: str  # lower-case, "option" already folded into "action"
    params: Values
    deadline: Deadline  # the one overall deadline of this run
    log: logging.Logger
    runner: Runner
    environ: Mapping[str, str]  # the agent's environment (password_env reads it)
    out: TextIO  # standard output: "Status: ON" and the like

    def say(self, line: str) -> None:
        """One line of the agent's answer on standard output."""
        self.out.write(line + "\n")
