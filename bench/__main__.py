"""Run every benchmark: each ``bench/bench_*.py`` module's ``main()``; ``python -m bench NAME…`` runs only those."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    """Discover the benchmark modules and run them in name order."""
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = {a.removeprefix("bench_") for a in argv}
    for name in names:
        if wanted and name.removeprefix("bench_") not in wanted:
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
