"""Lower layers never import upper ones, not even lazily (style: "pass the value in")."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT


def imported(module: str) -> set[str]:
    """Every module ``module`` imports, at the top or inside a function."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("bot.config", "responders"),
        ("bot.triage_cli", "bot.cli"),
    ],
)
def test_no_import_cycle(module, forbidden):
    assert not {m for m in imported(module) if m == forbidden or m.startswith(forbidden + ".")}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "connectors").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_connectors_never_import_the_store(path):
    # What a connector keeps goes through ``connectors.base.PlatformState``, which the bot passes in.
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    assert not {m for m in imported(module) if m == "bot.store" or m.startswith("bot.store.")}
