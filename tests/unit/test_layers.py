"""Garde's packages import downwards only, and no import cycle joins them.

`LAYERS` lists Garde's top-level packages and modules from the bottom up (DESIGN.md's
layout, with the run-time assembly of issue 16 item 7 above the composition root). A
module may import its own package and any package of a LOWER layer; never a sibling of
its own layer, never one above. Every import counts: at module level, inside a function
(a lazy import is still a dependency), under ``if TYPE_CHECKING:`` (a type names its
layer too), a textual ``"garde.module:name"`` reference. The sources are parsed with
`ast`, nothing is imported.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import garde

if TYPE_CHECKING:
    from collections.abc import Iterable

LAYERS: tuple[tuple[str, ...], ...] = (
    # The package's root (its version, the NullHandler) and the leaves knowing no Garde:
    # the pure core, the national directory's file format, the log filters.
    ("garde",),
    ("dispatch", "directory", "log_hygiene"),
    ("config",),  # settings: the core's types, the directory's
    # Adapters, each beside the others: SQL store, rosters' formats and CP-SAT, rendering,
    # the night's charts.
    ("store", "rosters", "viewer_export", "reports"),
    ("dicom_gateway",),  # may index into the store (DESIGN.md)
    ("reporting",),  # reports go back through the gateway's SCU and the store's outbox
    ("services",),  # use cases: load, call the core, store, notify
    ("web", "simulation"),  # the HTTP face; nights on a simulated clock; both on services
    ("bootstrap",),  # the one composition root
    ("scheduling",),  # jobs over what bootstrap built
    ("runtime",),  # serve's assembly: server, reload, demo, night
    ("cli",),
    ("__main__",),
)
LAYER = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
ROOT = Path(garde.__file__).parent
_REFERENCE = re.compile(r"(garde(?:\.\w+)+):\w+")


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement of a Garde module naming a Garde module."""

    module: str  # the importing module, e.g. "garde.services.status"
    target: str  # the imported module, e.g. "garde.bootstrap"
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        how = " (under TYPE_CHECKING)" if self.type_only else ""
        return f"{self.module} imports {self.target} (line {self.line}){how}"


def part_of(module: str) -> str:
    """The top-level part a Garde module belongs to: "garde.services.status" -> "services"."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def garde_modules() -> dict[str, Path]:
    """Every module of the package by dotted name (migration scripts included)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        names = list(relative.parts)
        if names[-1] == "__init__":
            names.pop()
        found[".".join(names)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(
    module: str, source: str, known: set[str], *, is_package: bool = False
) -> list[Import]:
    """The Garde modules ``source`` imports, wherever the statement stands.

    ``from a.b import c`` names the module ``a.b.c`` when it is one (``from garde import
    log_hygiene``), else ``a.b``; relative imports are resolved against ``module``.
    """
    found: list[Import] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, *([node.module] if node.module else [])])
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, type_only=True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.extend(
                Import(module, target, node.lineno, type_only)
                for target in targets(node)
                if target == "garde" or target.startswith("garde.")
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A textual reference ("garde.cli.roster_commands:roster", a job's
            # "garde.scheduling.jobs:check_sla") is imported when it is first used.
            reference = _REFERENCE.fullmatch(node.value)
            if reference:
                found.append(Import(module, reference[1], node.lineno, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source), type_only=False)
    return found


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import of a Garde module by a Garde module."""
    modules = garde_modules()
    known = set(modules)
    return tuple(
        found
        for name, path in modules.items()
        for found in imports_of(
            name, path.read_text(), known, is_package=path.name == "__init__.py"
        )
    )


def layer_violations(imports: Iterable[Import]) -> list[str]:
    """The imports that reach a part of the same layer or of a higher one."""
    wrong = []
    for found in imports:
        here, there = part_of(found.module), part_of(found.target)
        if here != there and LAYER[there] >= LAYER[here]:
            where = "the same layer as" if LAYER[there] == LAYER[here] else "a layer above"
            wrong.append(f"{found}: {there} is in {where} {here}")
    return wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(edges.get(node, ())):
            if after not in index:
                connect(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_every_part_of_garde_has_a_layer() -> None:
    parts = {part_of(name) for name in garde_modules()}
    assert not parts - set(LAYER), f"place {sorted(parts - set(LAYER))} in LAYERS"
    assert not set(LAYER) - parts, f"LAYERS names parts that are gone: {sorted(set(LAYER) - parts)}"


def test_every_import_points_down_the_layers() -> None:
    imports = all_imports()
    assert any(
        i.module == "garde.bootstrap" and i.target.startswith("garde.services.") for i in imports
    )
    wrong = layer_violations(imports)
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycle_between_garde_parts() -> None:
    edges: dict[str, set[str]] = {}
    for found in all_imports():
        here, there = part_of(found.module), part_of(found.target)
        if here != there:
            edges.setdefault(here, set()).add(there)
    found = cycles(edges)
    assert not found, "parts importing each other: " + "; ".join(" <-> ".join(c) for c in found)


def module_edges(imports: Iterable[Import]) -> dict[str, set[str]]:
    """Module -> the Garde modules it imports, every kind of import counted."""
    edges: dict[str, set[str]] = {}
    for found in imports:
        if found.target != found.module:
            edges.setdefault(found.module, set()).add(found.target)
    return edges


def test_no_import_cycle_between_modules() -> None:
    """A lazy import counts (the roster importer loads its readers on demand, so they must
    not import it back), and so does a type-only one: ``if TYPE_CHECKING:`` hides a cycle
    from the interpreter, not from the reader (the dispatcher and the night watch, the
    reading and reporting services named each other so until issue 16 item 1)."""
    loops = cycles(module_edges(all_imports()))
    assert not loops, "modules importing each other: " + "; ".join(" <-> ".join(c) for c in loops)


def test_a_type_only_import_back_is_a_cycle() -> None:
    known = {"garde.services.dispatcher", "garde.services.night_watch"}
    imports = [
        *imports_of(
            "garde.services.dispatcher",
            "from garde.services.night_watch import announce_unassigned\n",
            known,
        ),
        *imports_of(
            "garde.services.night_watch",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from garde.services.dispatcher import DispatchService\n",
            known,
        ),
    ]
    assert cycles(module_edges(imports)) == [sorted(known)]


def test_a_service_naming_the_composition_root_is_caught() -> None:
    known = {"garde.bootstrap", "garde.scheduling.jobs", "garde.services.status"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from garde.scheduling import jobs\n"
        "if TYPE_CHECKING:\n"
        "    from garde.bootstrap import Runtime\n"
        "def later():\n"
        "    from ..bootstrap import Runtime\n"
    )
    wrong = layer_violations(imports_of("garde.services.status", source, known))
    assert [w.partition(": ")[0] for w in wrong] == [
        "garde.services.status imports garde.scheduling.jobs (line 2)",
        "garde.services.status imports garde.bootstrap (line 4) (under TYPE_CHECKING)",
        "garde.services.status imports garde.bootstrap (line 6)",
    ]
    assert wrong[0].endswith(": scheduling is in a layer above services")


def test_a_textual_reference_counts_as_an_import() -> None:
    source = 'JOB = "garde.scheduling.jobs:check_sla"\nNOTE = "garde.scheduling is above"\n'
    assert [str(i) for i in imports_of("garde.services.clock", source, set())] == [
        "garde.services.clock imports garde.scheduling.jobs (line 1)"
    ]


def test_siblings_of_one_layer_do_not_import_each_other() -> None:
    wrong = layer_violations(
        imports_of("garde.web.app", "import garde.simulation.metrics\n", set())
    )
    assert wrong == [
        (
            "garde.web.app imports garde.simulation.metrics (line 1): "
            "simulation is in the same layer as web"
        )
    ]


def test_a_lazy_import_back_is_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
