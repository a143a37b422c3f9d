"""The package's folders are layers and every import points down (``docs/architecture.md``).

Every ``import`` statement of ``accelsim/`` is parsed, at module level and inside functions:

- an accelsim module imports only modules of its own layer or of layers below it;
- no function imports an accelsim module (the package facade ``accelsim/__init__.py`` resolves
  its lazy entry points through ``importlib``, which is not an import statement);
- the module-level import graph has no cycle;
- ``accelsim/sim/engine.py`` is the only module that imports simpy;
- typer and rich only in ``cli/``, jinja2 only in ``report/`` and ``cli/``;
- no module is over 800 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "accelsim"

#: Bottom up; a module may import its own layer and any layer listed before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "files", "units", "dtypes", "version", "lazy"),
    ("catalog",),
    ("model",),
    ("sim",),
    ("run",),
    ("sweep",),
    ("validate",),
    ("questions",),
    ("report",),
    ("cli",),
    ("__init__",),
)
RANK = {part: i for i, parts in enumerate(LAYERS) for part in parts}
MAX_LINES = 800


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, inside a function, line) for every import statement of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"{path}:{child.lineno}: relative import"
                base = child.module or ""
                found.append((base, in_function, child.lineno))
                # ``from accelsim.x import y`` may name a submodule y
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    if (PKG.parent / Path(*sub.split("."))).with_suffix(".py").is_file():
                        found.append((sub, in_function, child.lineno))
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _violations() -> list[str]:
    bad = []
    for mod, path in MODULES.items():
        own = _layer(mod)
        for target, in_function, line in _imports(path):
            where = f"{path.relative_to(PKG.parent)}:{line}"
            top = target.split(".")[0]
            if top == "accelsim":
                if target == "accelsim":
                    if mod != "accelsim":
                        bad.append(f"{where}: imports the package facade")
                    continue
                if in_function:
                    bad.append(f"{where}: function-level import of {target}")
                if RANK[_layer(target)] > RANK[own]:
                    bad.append(f"{where}: {own}/ imports {target} (a layer above)")
            elif top == "simpy" and mod != "accelsim.sim.engine":
                bad.append(f"{where}: imports simpy (only accelsim/sim/engine.py may)")
            elif top in ("typer", "rich") and own != "cli":
                bad.append(f"{where}: imports {top} below cli/")
            elif top == "jinja2" and own not in ("report", "cli"):
                bad.append(f"{where}: imports jinja2 below report/")
    return bad


def test_every_import_points_down() -> None:
    bad = _violations()
    assert not bad, "\n" + "\n".join(bad)


def test_every_module_is_in_a_layer() -> None:
    assert {_layer(m) for m in MODULES} <= set(RANK)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for target, _, _ in _imports(path):
            if target in MODULES and target != mod and target != "accelsim":
                graph[mod].add(target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            walk(mod)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module}: {lines} lines (at most {MAX_LINES})"


def test_the_rule_is_checked(tmp_path: Path) -> None:
    """The checker itself sees an import inside a function."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    import accelsim.cli\n", encoding="utf-8")
    assert _imports(probe) == [("accelsim.cli", True, 2)]
