"""``python3 -m hakit.snippets``: the same as ``hakit-snippet``."""

from __future__ import annotations

import sys

from hakit.snippets.cli import main

sys.exit(main())
