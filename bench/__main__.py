"""``python -m bench`` (``make bench``): run every ``bench/bench_*.py`` module's ``main()`` and print its figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    """Run the benchmarks named on the command line (e.g. ``report``), or all of them."""
    wanted = set(sys.argv[1:])
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        if wanted and path.stem.removeprefix("bench_") not in wanted:
            continue
        importlib.import_module(f"bench.{path.stem}").main()


if __name__ == "__main__":
    main()
