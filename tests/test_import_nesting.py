"""The layers hold: imports only go downwards (MNE's test_import_nesting.py is the model).

Every ``import`` in every module of the package counts, including lazy ones inside functions.
Layer order (docs/ARCHITECTURE.md):

    base (errors, privatefiles, paths, jsonsafe) < core < board, readers < calibration < assessment < store
    < report < commands, cli < dashboard

A module may import its own layer and any layer below it. Nothing imports the dashboard except the two
commands that start it (``station dashboard``, ``station demo``). A headless import of every module
outside ``station.dashboard`` never loads Qt.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import station

PACKAGE = Path(station.__file__).resolve().parent

LEVELS = {
    "station": 0, "station.errors": 0, "station.privatefiles": 0, "station.paths": 0, "station.jsonsafe": 0,
    "station.core": 1,
    "station.board": 2, "station.readers": 2,
    "station.calibration": 3,
    "station.assessment": 4,
    "station.store": 5,
    "station.report": 6,
    "station.commands": 7, "station.cli": 7, "station.__main__": 7,
    "station.dashboard": 8,
}
#: the commands that start the dashboard: the only importers of station.dashboard outside it
DASHBOARD_LAUNCHERS = {"station.commands.dashboard", "station.commands.demo"}


def layer_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in LEVELS and (k > 1 or len(parts) == 1):
            return key, LEVELS[key]
    raise AssertionError(f"{module} belongs to no layer: add its package to LEVELS and docs/ARCHITECTURE.md")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        if ".migrations." in name + ".":  # Alembic scripts are loaded by Alembic, not imported
            continue
        yield name, path


def station_imports(name: str, path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod
            for alias in node.names:  # `from station import core` imports station.core
                if mod and f"{mod}.{alias.name}".startswith("station."):
                    sub = f"{mod}.{alias.name}"
                    if (PACKAGE.parent / Path(*sub.split("."))).is_dir() or (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists():
                        yield node.lineno, sub


def test_imports_only_go_down_the_layers():
    bad = []
    for name, path in modules():
        own, level = layer_of(name)
        for line, target in station_imports(name, path):
            if target != "station" and not target.startswith("station."):
                continue
            if target == "station":
                continue
            dest, dest_level = layer_of(target)
            if dest == "station.dashboard" and own != "station.dashboard" and name not in DASHBOARD_LAUNCHERS:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} imports {target} (nothing imports the dashboard)")
            elif dest_level > level and not (dest == "station.dashboard" and name in DASHBOARD_LAUNCHERS):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} ({own}) imports {target} ({dest}), a higher layer")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_checker_catches_an_upward_import(tmp_path):
    # the check itself can fail: a core module importing the store is reported
    fake = tmp_path / "station" / "core"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from station.store import Store\n")
    found = list(station_imports("station.core.bad", fake / "bad.py"))
    assert found == [(2, "station.store")]
    assert layer_of("station.store")[1] > layer_of("station.core.bad")[1]


@pytest.mark.timeout(600)
def test_headless_import_of_every_module_never_loads_qt():
    names = [n for n, _ in modules() if not n.startswith("station.dashboard") and n not in DASHBOARD_LAUNCHERS
             and n != "station.__main__"]  # importing __main__ runs the command
    code = (
        "import importlib, sys\n"
        f"names = {names!r}\n"
        "for n in names:\n"
        "    importlib.import_module(n)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6'))\n"
        "print('QT:' + ','.join(qt))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "QT:", out.stdout
