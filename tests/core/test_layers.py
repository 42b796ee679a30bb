"""The floors the package docstrings promise, read from the source (every import,
including those inside functions): core <- plugins, core <- harness, the harness
never imports a plugin, plugins import only ``claimferry.api``, and the claim
model never imports the 837P reader that imports it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
CORE = REPO / "core" / "claimferry"
PLUGINS = sorted(p for p in (REPO / "plugins").iterdir() if (p / "__init__.py").exists())
HARNESS = REPO / "harness" / "claimferry_harness"


def _imports(path: Path) -> Iterator[str]:
    """Every module a file names in an import, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _module(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _roots(names: Iterator[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


PLUGIN_PACKAGES = {p.name for p in PLUGINS}


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_imports_no_plugin_and_not_the_harness(path: Path) -> None:
    assert not _roots(_imports(path)) & (PLUGIN_PACKAGES | {"claimferry_harness"})


@pytest.mark.parametrize("path", sorted(HARNESS.rglob("*.py")), ids=lambda p: p.name)
def test_the_harness_imports_no_plugin(path: Path) -> None:
    assert not _roots(_imports(path)) & PLUGIN_PACKAGES


@pytest.mark.parametrize(
    "path", sorted(f for p in PLUGINS for f in p.rglob("*.py")), ids=lambda p: p.name
)
def test_plugins_import_claimferry_only_through_its_api(path: Path) -> None:
    core = {name for name in _imports(path) if name.split(".")[0] == "claimferry"}
    assert {name for name in core if not name.startswith("claimferry.api")} == set()


def test_the_claim_model_never_imports_its_readers() -> None:
    """``claimferry.x12.read837`` reads into the model; the model must not need it back."""
    graph: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        graph[_module(path, CORE)] = set(_imports(path))
    seen: set[str] = set()
    todo = ["claimferry.claims"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(name for name in graph.get(module, ()) if name in graph)
    assert "claimferry.x12.read837" not in seen
    assert "claimferry.claims_input" not in seen
