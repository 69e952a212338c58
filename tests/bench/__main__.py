"""``make bench``: run every ``tests/bench/bench_*.py`` module's ``main()`` and print its
markdown; copy the figures into BENCHMARKS.md with the machine and date."""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    wanted = set(argv[1:])
    print(f"# hakit benchmarks, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
          f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs\n")
    here = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        if wanted and info.name[len("bench_"):] not in wanted:
            continue
        module = importlib.import_module(f"tests.bench.{info.name}")
        print(module.main())
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
