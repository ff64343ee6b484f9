"""The house's rules, read from the source with ``ast`` (imports inside functions included).

* Apps depend one way: ``accounts ← social ← scoring ← leaderboards``, all of them on
  ``config.kernel``. The kernel imports no app, not even through another module; only config's
  wiring (settings, urls, asgi, views…) imports apps.
* Inside an app, its sub-packages depend one way too, in the order of ``LAYERS``: a sub-package
  imports only those before it. The app's own modules (``apps``, ``models``, ``admin``, its
  management commands, and social's API and pages) sit on top and may import all of them.
* No import cycle between any two modules.
* An import inside a function says why, in a comment on its line or just above it.
* Receivers are connected in ``receivers.py`` modules only; no directory holds more than 20 modules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ["accounts", "social", "scoring", "leaderboards"]

#: Each app's sub-packages, lowest first: one may import only those before it.
LAYERS: dict[str, list[str]] = {
    "accounts": ["members", "auth", "notifications", "privacy"],
    "social": ["graph", "invitations"],
    "scoring": ["model", "ingestion", "webhooks", "ledger", "contagion", "explain", "progress", "moderation",
                "partners", "demo"],
    "leaderboards": ["live", "boards", "gamification", "sockets"],
}
MAX_MODULES_PER_DIRECTORY = 20


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    local: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_files() -> dict[str, Path]:
    files = {}
    for top in ["config", *APPS]:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" not in path.parts:
                files[_module_name(path)] = path
    return files


FILES = _project_files()


def _resolve(name: str) -> str | None:
    """The project module an imported dotted name lives in (``scoring.ledger.services.x`` →
    ``scoring.ledger.services``), or None for a third-party one."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in FILES:
            return candidate
    return None


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [base] + [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = _resolve(name)
                if target and target != module:
                    found.append(Import(module, target, child.lineno, inside))
            visit(child, inside)

    visit(tree, False)
    return found


IMPORTS = [imp for module, path in FILES.items() for imp in _imports(module, path)]


def _app(module: str) -> str:
    return module.split(".")[0]


def _is_kernel(module: str) -> bool:
    return module == "config.kernel" or module.startswith("config.kernel.")


def _layer(module: str) -> tuple[str, int] | None:
    """(app, index of its sub-package in LAYERS), or None for the app's own top modules."""
    parts = module.split(".")
    if parts[0] in LAYERS and len(parts) > 1 and parts[1] in LAYERS[parts[0]]:
        return parts[0], LAYERS[parts[0]].index(parts[1])
    return None


def test_the_walk_sees_the_whole_house() -> None:
    """The rules below must not pass on an empty graph."""
    assert len(FILES) > 150
    assert any(imp.local for imp in IMPORTS)
    assert any(imp.source.startswith("leaderboards.") and imp.target.startswith("scoring.") for imp in IMPORTS)


def test_apps_import_only_apps_below_them() -> None:
    order = {app: index for index, app in enumerate(APPS)}
    upward = [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
              if _app(i.source) in order and _app(i.target) in order and order[_app(i.target)] > order[_app(i.source)]]
    assert upward == []


def test_apps_import_no_wiring_of_config() -> None:
    wiring = [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
              if _app(i.source) in APPS and _app(i.target) == "config" and not _is_kernel(i.target)]
    assert wiring == []


def test_the_kernel_imports_no_app_even_indirectly() -> None:
    edges: dict[str, set[str]] = {}
    for imp in IMPORTS:
        edges.setdefault(imp.source, set()).add(imp.target)
    offenders = []
    for start in (m for m in FILES if _is_kernel(m)):
        seen, todo = {start}, [start]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        offenders += [f"{start} reaches {m}" for m in sorted(seen) if _app(m) in APPS]
    assert offenders == []


def test_sub_packages_import_only_those_below_them() -> None:
    wrong = []
    for imp in IMPORTS:
        source, target = _layer(imp.source), _layer(imp.target)
        if _app(imp.source) != _app(imp.target) or _app(imp.source) not in LAYERS:
            continue
        if source is None:
            continue  # the app's own modules (apps, models, admin, commands, social's surface) sit on top
        if target is None or target[1] > source[1]:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target}")
    assert wrong == []


def test_no_import_cycles_between_modules() -> None:
    edges: dict[str, set[str]] = {module: set() for module in FILES}
    for imp in IMPORTS:
        edges[imp.source].add(imp.target)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    assert cycles == []


def _says_why(line: str) -> bool:
    """A comment that says something: not only ``noqa`` or ``type:`` markers."""
    if "#" not in line:
        return False
    words = line[line.index("#"):]
    for marker in ("# noqa", "# type:", "# isort:"):
        if words.startswith(marker):
            words = words[len(marker):].lstrip(": ").split("(", 1)[-1] if "(" in words else ""
    return bool(words.strip(" #)"))


def test_an_import_inside_a_function_says_why() -> None:
    """Its own line says why, or the comment above the run of imports it belongs to does."""
    silent = []
    for module, line in sorted({(i.source, i.line) for i in IMPORTS if i.local}):
        lines = FILES[module].read_text().splitlines()
        start = line - 1
        while start > 0 and lines[start - 1].lstrip().startswith(("from ", "import ", "# isort:")):
            start -= 1
        above = lines[start - 1].strip() if start > 0 else ""
        if not _says_why(lines[line - 1]) and not (above.startswith("#") and _says_why(above)):
            silent.append(f"{module}:{line}")
    assert silent == []


def test_a_bare_noqa_does_not_say_why() -> None:
    assert not _says_why("    from x import y  # noqa: F401")
    assert not _says_why("    from x import y")
    assert _says_why("    from x import y  # noqa: F401  (registers the tasks with Celery)")
    assert _says_why("    # apps are not loaded at import time")


@pytest.mark.parametrize("app", ["config", *APPS])
def test_receivers_are_connected_in_receivers_modules(app: str) -> None:
    elsewhere = []
    for module, path in FILES.items():
        if _app(module) != app or path.name == "receivers.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            decorated = isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "receiver" for d in node.decorator_list)
            connected = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                         and node.func.attr == "connect" and not isinstance(node.func.value, ast.Call))
            if decorated or connected:
                elsewhere.append(f"{module}:{node.lineno}")
    assert elsewhere == []


def test_no_directory_holds_more_than_twenty_modules() -> None:
    crowded = {}
    for top in ["config", *APPS, "tests"]:
        for directory in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            modules = [p for p in directory.glob("*.py") if p.name != "__init__.py"]
            if "migrations" not in directory.parts and len(modules) > MAX_MODULES_PER_DIRECTORY:
                crowded[str(directory.relative_to(ROOT))] = len(modules)
    assert crowded == {}
