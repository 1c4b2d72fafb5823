"""The layout rules: a core that names no platform, adapters that never import each other,
and no import cycle anywhere."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
BOTS = ROOT / "bots"
SDKS = ("discord", "slack_bolt", "slack_sdk")
ADAPTER_PACKAGES = sorted(p.name for p in BOTS.iterdir() if (p / "__init__.py").exists())


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports, at any depth, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text("utf-8"))
    if package is None:
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _project_files() -> list[Path]:
    return sorted([*SHARED.rglob("*.py"), *BOTS.rglob("*.py")])


def _core_files() -> list[Path]:
    return [p for p in sorted(SHARED.rglob("*.py")) if "migrations" not in p.parts]


@pytest.mark.parametrize("path", sorted(SHARED.rglob("*.py")), ids=lambda p: str(p.relative_to(SHARED)))
def test_core_module_imports_no_platform_code(path):
    imported = {name.split(".")[0] for name in _imports(path)}
    assert not imported & {*SDKS, "bots"}


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(SHARED)))
def test_the_core_names_no_platform(path):
    lines = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"slack|discord", line, re.IGNORECASE)
    ]
    assert lines == []


@pytest.mark.parametrize("package", ADAPTER_PACKAGES)
def test_an_adapter_imports_no_other_adapter(package):
    others = {f"bots.{name}" for name in ADAPTER_PACKAGES if name != package}
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (BOTS / package).rglob("*.py")
        for name in _imports(path)
        if any(name == other or name.startswith(other + ".") for other in others)
    }
    assert offending == set()


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return cycles


def test_there_is_no_import_cycle():
    modules = {_module_name(p): p for p in _project_files()}
    graph = {
        name: {
            target
            for imported in _imports(path)
            for target in (imported, imported.rpartition(".")[0])
            # a package's __init__ importing its own submodules is how packages work
            if target in modules and target != name and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }
    assert _cycles(graph) == []


def test_the_cycle_rule_can_fail(tmp_path):
    """Two modules that import each other, one of them inside a function, are a cycle."""
    (tmp_path / "a.py").write_text("from b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    import a\n")
    graph = {"a": {"b"} & _imports(tmp_path / "a.py", ""), "b": {"a"} & _imports(tmp_path / "b.py", "")}
    assert _cycles(graph) == ["a -> b -> a"]


def test_the_command_line_and_reports_import_no_platform_sdk():
    code = (
        "import sys, bots.cli, bots.reports, bots.registry; bots.registry.plugins(); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(SDKS)!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"
