"""``python3 -m lab up|status|crash|hang|boot|partition NODE|heal|down``."""

from __future__ import annotations

import sys

from lab.cli import main

sys.exit(main(sys.argv[1:]))
