"""The house's rules: vocab ← federation ← node, and inside node each room imports only the rooms below it; no
import cycle, counting imports inside functions and under TYPE_CHECKING; no module over 400 lines; no folder of
more than 20 modules; each room of node says what it may import."""

import ast
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("vocab", "federation", "node")
BASE = {"vocab", "federation"}
# Each room, and the rooms it may import besides its own (vocab may import only itself).
ROOMS = {
    "vocab": set(),
    "federation": {"vocab"},
    "node.config": {"vocab"},
    "node.urls": {"vocab"},
    "node.store": BASE | {"node.config", "node.urls"},
    "node.services": BASE | {"node.config", "node.urls", "node.store"},
    "node.commons": BASE | {"node.config", "node.urls", "node.store", "node.services"},
    "node.runtime": BASE | {"node.config", "node.urls", "node.store", "node.services", "node.commons"},
    "node.web": BASE | {"node.config", "node.urls", "node.store", "node.services", "node.commons", "node.runtime"},
    "node.cli": BASE | {"node.config", "node.urls", "node.store", "node.services", "node.commons", "node.runtime",
                        "node.web"},
    "node.__main__": {"node.cli"},
    "node": set(),  # node/__init__.py
}
MAX_LINES = 400
MAX_MODULES_PER_FOLDER = 20


def module_name(path: Path) -> str:
    parts = path.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (REPOSITORY / package).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that a module imports anywhere in its text: at the top, inside functions, under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def room_of(module: str) -> str:
    return max((room for room in ROOMS if module == room or module.startswith(room + ".")), key=len)


def test_every_import_goes_to_the_same_room_or_one_it_may_import():
    modules = our_modules()
    wrong = []
    for module, path in sorted(modules.items()):
        room = room_of(module)
        for imported in sorted(imports_of(path, modules)):
            target = room_of(imported)
            if target != room and target not in ROOMS[room]:
                wrong.append(f"{module} ({room}) imports {imported} ({target})")
    assert wrong == []


def test_there_is_no_import_cycle():
    modules = our_modules()
    graph = {module: imports_of(path, modules) - {module} for module, path in modules.items()}
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                components.append(sorted(component))
    return components


def test_the_cycle_finder_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def python_files() -> list[Path]:
    return sorted(path for folder in (*PACKAGES, "tests", "bench") for path in (REPOSITORY / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files(), ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_no_folder_of_the_packages_has_more_than_20_modules():
    folders = {}
    for path in our_modules().values():
        if path.name != "__init__.py":
            folders.setdefault(path.parent.relative_to(REPOSITORY), []).append(path.name)
    assert {str(folder): len(names) for folder, names in folders.items() if len(names) > MAX_MODULES_PER_FOLDER} == {}


@pytest.mark.parametrize("room", sorted(room for room in ROOMS if (REPOSITORY / room.replace(".", "/")).is_dir()))
def test_each_room_says_what_it_owns_and_what_it_may_import(room):
    docstring = ast.get_docstring(ast.parse((REPOSITORY / room.replace(".", "/") / "__init__.py").read_text()))
    assert docstring and (room in ("vocab", "federation", "node") or "May import:" in docstring)
