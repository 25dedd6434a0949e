"""Only the lifecycle table moves a study: in both stores, the one function that writes a
study's state is `move`, and it asks the table (`lifecycle.walk` or `lifecycle.path`)."""

from __future__ import annotations

import ast
from pathlib import Path

import garde.store

STORE = Path(garde.store.__file__).parent


def _functions_writing_state() -> dict[tuple[str, str], ast.FunctionDef]:
    """(module, function) of every function that assigns ``x.state`` or builds a dict
    with a ``"state"`` key (the values of a conditional UPDATE), in the store's code.
    Creating a study (RECEIVING, by intake) passes ``state=`` and is not a move."""
    found: dict[tuple[str, str], ast.FunctionDef] = {}
    for path in sorted(STORE.rglob("*.py")):
        if "migrations" in path.parts or path.name == "records.py":  # read models only
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            for node in ast.walk(func):
                writes = (
                    isinstance(node, ast.Assign)
                    and any(
                        isinstance(t, ast.Attribute) and t.attr == "state" for t in node.targets
                    )
                ) or (
                    isinstance(node, ast.Dict)
                    and any(isinstance(k, ast.Constant) and k.value == "state" for k in node.keys)
                )
                if writes:
                    found[str(path.relative_to(STORE)), func.name] = func
    return found


def _asks_the_table(func: ast.FunctionDef) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr in {"walk", "path"}
        and isinstance(node.value, ast.Name)
        and node.value.id == "lifecycle"
        for node in ast.walk(func)
    )


def test_only_move_writes_a_studys_state_and_it_asks_the_lifecycle_table() -> None:
    writers = _functions_writing_state()
    # The SQL store's two moves (optimistic and conditional) and the memory store's.
    assert {module for module, _ in writers} >= {
        "repositories/study.py",
        "repositories/claim.py",
    }
    assert {name for _, name in writers} == {"move"}, sorted(writers)
    for key, func in writers.items():
        assert _asks_the_table(func), key
