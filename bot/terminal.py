"""What a person reads in the terminal: the two consoles, and times in the brand's zone."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Piped output (scripts, tests, logs) gets wide lines instead of tables squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 200))
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)
