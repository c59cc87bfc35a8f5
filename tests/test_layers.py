"""The package layers: jaxlob -> envs -> agents -> purejaxrl_train -> benchmarks. A module imports
only its own package and packages to its left, never one to its right, not even inside a function
(DESIGN.md). Parsed from the source, so an import hidden in a function body is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS = ("jaxlob", "envs", "agents", "purejaxrl_train", "benchmarks")
ROOT = Path(__file__).resolve().parents[1]


def _imported_packages(tree: ast.AST) -> list[tuple[str, int]]:
    """(top-level package, line) of every absolute import in a module, wherever it stands."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value.split(".")[0], node.lineno))
    return found


def _violations() -> list[str]:
    out = []
    for rank, package in enumerate(LAYERS):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for imported, line in _imported_packages(tree):
                if imported in LAYERS and LAYERS.index(imported) > rank:
                    where = path.relative_to(ROOT)
                    out.append(f"{where}:{line} imports {imported} (a higher layer than {package})")
    return out


def test_no_module_imports_a_higher_layer():
    assert _violations() == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def f():\n    import agents\n", [("agents", 2)]),
        ("from purejaxrl_train.config import X\n", [("purejaxrl_train", 1)]),
        ("importlib.import_module('benchmarks.timing')\n", [("benchmarks", 1)]),
        ("from . import sibling\n", []),
    ],
)
def test_the_parser_sees_every_kind_of_import(source, expected):
    assert _imported_packages(ast.parse(source)) == expected
