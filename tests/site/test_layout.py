"""The code's layout stays a map: no import cycle among the project's modules, no module under
jobs/ over 450 lines, nothing webhook-related under accounts/ (issue #16's rules)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "heygem_site", "jobs", "rendering")
MAX_JOBS_MODULE_LINES = 450


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runtime_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules imported when this one is imported: module level, outside `if TYPE_CHECKING`
    (function-local imports run later and cannot make a cycle at import time)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return {t for t in targets if t in known and t != name}


def test_no_import_cycle_among_the_projects_modules() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _runtime_imports(path, name, known) for name, path in modules.items()}
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    assert cycles == []


def test_no_module_under_jobs_is_over_450_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for name, path in _modules().items()
        if name.startswith("jobs")
        and (lines := len(path.read_text().splitlines())) > MAX_JOBS_MODULE_LINES
    }
    assert too_long == {}


def test_nothing_webhook_related_lives_under_accounts() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "accounts").rglob("*")
        if path.is_file() and "webhook" in path.name.lower() and "migrations" not in path.parts
    ]
    assert offenders == []
