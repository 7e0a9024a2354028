"""The packages import downward only: no import cycle between packages or sub-packages.

Every module under colored/, export/ and batch/ is parsed (ast, so imports inside function
bodies count: they are still a dependency, only a later one). Each module belongs to the node of
its package: the top-level modules of a package are that package's node, a sub-package is a node
of its own (batch/watch/ is "batch.watch"). A cycle between nodes means two layers that cannot be
understood, tested or moved apart; the test names every cycle it finds.

Imports by string (importlib.import_module, as colored/__init__'s lazy public names and the
console-script launchers in colored/extras.py do) are not dependencies of the importing module's
code and are not counted.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("colored", "export", "batch")


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the roots (a package by its __init__)."""
    out = {}
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def is_package(name: str) -> bool:
    return (REPO / Path(*name.split(".")) / "__init__.py").is_file()


def node_of(module: str) -> str:
    """The package a module is part of: itself for a package, else the package holding the file."""
    return module if is_package(module) else module.rpartition(".")[0]


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules that `module` imports anywhere in its file."""
    package = module if is_package(module) else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b`: the module a.b if there is one, else the name b of module a
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import a.b.c` of a name in a module: its module
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    """Node -> the nodes it imports (itself left out)."""
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        here = node_of(module)
        edges[here] |= {node_of(m) for m in imported(module, path, known)} - {here}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return sorted(groups)


def describe(group: list[str], edges: dict[str, set[str]]) -> str:
    """'a -> b (batch/x.py), b -> a (...)': which files make the cycle."""
    known = modules()
    parts = []
    for a in group:
        for b in sorted(edges[a] & set(group)):
            files = sorted(str(p.relative_to(REPO)) for m, p in known.items()
                           if node_of(m) == a and any(node_of(t) == b for t in imported(m, p, known)))
            parts.append(f"{a} -> {b} ({', '.join(files)})")
    return "; ".join(parts)


def test_no_import_cycle_between_packages() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(describe(g, edges) for g in found)


def test_the_checker_sees_cycles_and_function_body_imports(tmp_path, monkeypatch) -> None:
    """The test above can fail: a two-package cycle through an import inside a function is found."""
    import test_layers as me

    for pkg, body in (("colored", "def f():\n    from batch import x\n"), ("batch", "from colored.y import z\n")):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "colored" / "y.py").write_text("def f():\n    from batch import x\n")
    (tmp_path / "batch" / "x.py").write_text("from colored.y import f\n")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "__init__.py").write_text("from . import tools\n")
    (tmp_path / "export" / "tools.py").write_text("")
    monkeypatch.setattr(me, "REPO", tmp_path)
    edges = me.graph()
    assert me.cycles(edges) == [["batch", "colored"]]
    assert "colored -> batch (colored/y.py)" in me.describe(["batch", "colored"], edges)


def test_the_network_modules_import_downward() -> None:
    """colored.model (config, backbone, seed net) knows nothing of the architectures built on it:
    the registry (colored.architectures) sits above colored.model and colored.unet."""
    known = modules()
    assert imported("colored.model", known["colored.model"], known) & {"colored.unet", "colored.architectures"} == set()
    assert "colored.architectures" not in imported("colored.unet", known["colored.unet"], known)
    assert {"colored.model", "colored.unet"} <= imported("colored.architectures", known["colored.architectures"], known)


def test_no_command_module_imports_another() -> None:
    """colored-watch takes the options it shares with colored-batch from a neutral module, not
    from colored-batch's command module."""
    known = modules()
    assert "batch.cli" not in imported("batch.watch.daemon", known["batch.watch.daemon"], known)
