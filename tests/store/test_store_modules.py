"""The modules of station.store import one another in one direction.

No circle, and none hidden by an import inside a function: the facade (``database``) sits on the
repositories, which sit on the router, the outbox, the copier and the SQL helpers.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import station.store

STORE = Path(station.store.__file__).resolve().parent
PACKAGE = "station.store"


def _imports(path: Path, folder: Path) -> tuple[set[str], set[str]]:
    """The modules of ``folder`` (as ``station.store``) that ``path`` imports: at module level, inside functions."""

    def module(name: str) -> str | None:
        if not name.startswith(PACKAGE + "."):
            return None
        stem = name[len(PACKAGE) + 1:].split(".")[0]
        return stem if (folder / f"{stem}.py").is_file() else None

    tree = ast.parse(path.read_text(), str(path))
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    top, lazy = set(), set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found = {m for m in map(module, names) if m is not None} - {path.stem}
        (lazy if id(node) in inner else top).update(found)
    return top, lazy


def _graph(folder: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``module -> store modules it imports`` at module level, and the same for imports inside functions."""
    graph, lazy = {}, {}
    for path in sorted(folder.glob("*.py")):
        if path.stem != "__init__":
            graph[path.stem], inside = _imports(path, folder)
            if inside:
                lazy[path.stem] = inside
    return graph, lazy


def _order(graph: dict[str, set[str]]) -> list[str]:
    """Modules, each after the ones it imports; AssertionError naming the circle if there is one."""
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


def test_store_modules_form_no_circle():
    graph, lazy = _graph(STORE)
    assert lazy == {}, f"store modules imported inside functions: {lazy}"
    position = {name: k for k, name in enumerate(_order(graph))}
    for low, high in [("sql", "outbox"), ("copying", "outbox"), ("outbox", "routing"), ("validation", "patients"),
                      ("routing", "patients"), ("patients", "sessions"), ("calibrations", "trials"),
                      ("trials", "database"), ("backup", "database"), ("recovery", "database")]:
        assert position[low] < position[high], f"{low} should come before {high}"
    assert graph["sql"] == graph["blobs"] == graph["tables"] == set()
    assert not any("database" in imported for imported in graph.values())  # nothing leans on the facade


def test_a_circle_hidden_by_a_lazy_import_is_caught(tmp_path):
    (tmp_path / "a.py").write_text("from station.store.b import g\n\ndef f():\n    return g()\n")
    (tmp_path / "b.py").write_text("def g():\n    from station.store import a\n    return a\n")
    (tmp_path / "c.py").write_text("import station.store.a\nfrom station.store import b, numpy_name\n")
    graph, lazy = _graph(tmp_path)
    assert graph == {"a": {"b"}, "b": set(), "c": {"a", "b"}} and lazy == {"b": {"a"}}
    graph["b"] |= lazy["b"]  # made a module-level import, the circle shows
    try:
        _order(graph)
    except AssertionError as exc:
        assert "import circle" in str(exc) and "a" in str(exc) and "b" in str(exc)
    else:
        raise AssertionError("the circle a -> b -> a went unnoticed")
