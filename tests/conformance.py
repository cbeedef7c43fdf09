"""Holding a fake's answers to the shapes the real platform sent (recorded fixtures under ``tests/fixtures/``).

A shape is the JSON with its values replaced by their types. A fake conforms when every field it serves is one the
recording has, at the same place, with a type the recording shows there: a field the real API does not send fails,
and so does a string where the platform sends a number. The recording may have more fields than the fake serves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"

Shape = dict[str, Any] | list[Any] | set[str]


def fixture(platform: str, name: str) -> Any:
    """The recorded JSON ``tests/fixtures/<platform>/<name>``."""
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__  # str, dict, list


def merge(shape: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """Fold ``value`` into ``shape``: per type seen, the merged shape of what that type holds."""
    shape = dict(shape or {})
    kind = type_name(value)
    if kind == "dict":
        fields = dict(shape.get("dict") or {})
        for key, item in value.items():
            fields[key] = merge(fields.get(key), item)
        shape["dict"] = fields
    elif kind == "list":
        items = shape.get("list")
        for item in value:
            items = merge(items, item)
        shape["list"] = items if items is not None else {}
    else:
        shape[kind] = True
    return shape


def shape_of(*recordings: Any) -> dict[str, Any]:
    """The merged shape of one or more recorded answers (e.g. every item of every recorded page)."""
    shape: dict[str, Any] | None = None
    for recording in recordings:
        shape = merge(shape, recording)
    return shape or {}


def mismatches(served: Any, recorded: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``served`` departs from the recorded shape: unknown fields and unexpected types, by JSON path."""
    kind = type_name(served)
    if kind not in recorded:
        if kind == "null":  # an optional value the recording happened to have filled in
            return []
        seen = ", ".join(sorted(recorded)) or "nothing"
        return [f"{path}: the fake sends {kind}, the platform sent {seen}"]
    if kind == "dict":
        fields = recorded["dict"]
        out = []
        for key, value in served.items():
            if key not in fields:
                out.append(f"{path}.{key}: a field the platform does not send")
            else:
                out.extend(mismatches(value, fields[key], f"{path}.{key}"))
        return out
    if kind == "list":
        out = []
        for i, item in enumerate(served):
            if recorded["list"]:
                out.extend(mismatches(item, recorded["list"], f"{path}[{i}]"))
        return out
    return []


def assert_conforms(served: Any, *recordings: Any) -> None:
    """Fail with every place where ``served`` (a fake's answer) departs from the recorded answers' shape."""
    problems = mismatches(served, shape_of(*recordings))
    assert not problems, "the fake departs from the recording:\n" + "\n".join(problems)
