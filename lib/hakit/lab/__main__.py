"""``python3 -m hakit.lab up|status|crash|hang|boot|partition NODE|heal|down``."""

from __future__ import annotations

import sys

from hakit.lab.cli import main

sys.exit(main(sys.argv[1:]))
