"""The import graph of the project's modules: no cycle, and nothing imports a higher layer.

Layers, bottom up (docs/layout.md): the ground floor ``core``; schemas and the
algorithm packages; the common plumbing and the registry; the stages in data-flow
order; then the CLI, the pipeline and the DAG. Every import is counted, also the
ones inside functions (they are how the tree used to hide its loops).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "schemas", "clustering", "prompts", "rules", "jobs", "dags")
# (rank, prefix): a module's layer is the longest matching prefix; ranks are ordered bottom up.
LAYERS = [
    (0, "core"),
    (1, "schemas"), (1.1, "rules"), (1.2, "prompts"), (1.3, "clustering"),
    (2, "jobs.common"), (2.1, "jobs.registry"),
    (3.0, "jobs.generate"), (3.1, "jobs.sample"), (3.2, "jobs.cache"), (3.3, "jobs.analyse"),
    (3.4, "jobs.ontology"), (3.5, "jobs.cluster"), (3.6, "jobs.tools"), (3.7, "jobs.report"),
    (3.8, "jobs.review"),
    (4, "jobs.pipeline"), (4.1, "jobs.demo"), (4.2, "jobs.cli"), (4.3, "dags"),
]
ALLOWED_UPWARD = 0


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in ``path`` (resolved to the longest known name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def layer(module: str) -> float:
    matches = [(len(prefix), rank) for rank, prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"module {module} is in no layer; add its package to LAYERS"
    return max(matches)[1]


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    out = {}
    for name, path in found.items():
        deps = imports(path, known) - {name}
        # a package's own __init__ is not an edge from its submodules
        out[name] = {d for d in deps if not name.startswith(d + ".")}
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle():
    assert cycles(graph()) == []


def test_nothing_imports_a_higher_layer():
    upward = sorted(f"{a} -> {b}" for a, deps in graph().items() for b in deps if layer(b) > layer(a))
    assert len(upward) <= ALLOWED_UPWARD, "\n".join(upward)


def test_the_checks_see_a_loop_and_an_upward_import():
    """The checker itself: a planted loop is a cycle, a stage importing a later one is upward."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("jobs.tools.stage") > layer("jobs.cluster.stage") > layer("jobs.common.storage")
    assert layer("core.errors") < layer("schemas.arrow") < layer("jobs.common.storage")
    edges = graph()
    assert "core.errors" in edges["schemas.arrow"]  # imports are really read
    assert "jobs.cluster.tree" in edges["jobs.tools.groups"]
