"""The layout rules of docs/architecture.md, checked on the source: what each folder may import,
no import cycle, and the seams the data flow depends on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "jumpup": ROOT / "jumpup",
    "jumpup.intake": ROOT / "jumpup" / "intake",
    "jumpup.synthetic": ROOT / "jumpup" / "synthetic",
    "jumpup.features": ROOT / "features",
    "jumpup.models": ROOT / "models",
    "jumpup.step1": ROOT / "jumpup" / "step1",
    "jumpup.step2": ROOT / "jumpup" / "step2",
    "jumpup.review": ROOT / "jumpup" / "review",
    "jumpup.monitor": ROOT / "jumpup" / "monitor",
    "jumpup.rendering": ROOT / "jumpup" / "rendering",
    "jumpup.pipelines": ROOT / "pipelines",
}
CORE = "jumpup"
# What each folder may import, besides itself (the table in docs/architecture.md).
MAY_IMPORT = {
    "jumpup": set(),
    "jumpup.intake": {CORE},
    "jumpup.synthetic": {CORE, "jumpup.intake"},
    "jumpup.features": {CORE},
    "jumpup.models": {CORE, "jumpup.intake", "jumpup.features"},
    "jumpup.step1": {CORE, "jumpup.intake", "jumpup.features", "jumpup.models"},
    "jumpup.step2": {CORE, "jumpup.intake", "jumpup.features", "jumpup.models", "jumpup.step1"},
    "jumpup.review": {CORE, "jumpup.intake", "jumpup.features", "jumpup.models", "jumpup.step1", "jumpup.step2"},
    "jumpup.monitor": {CORE, "jumpup.intake", "jumpup.features", "jumpup.models"},
    "jumpup.rendering": {
        CORE,
        "jumpup.intake",
        "jumpup.features",
        "jumpup.models",
        "jumpup.step1",
        "jumpup.step2",
        "jumpup.review",
        "jumpup.monitor",
    },
    "jumpup.pipelines": set(FOLDERS),
}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    """Every jumpup module a file imports, at any depth (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n == "jumpup" or n.startswith("jumpup.")}


def folder_of(module: str) -> str:
    for package in sorted(FOLDERS, key=len, reverse=True):
        if package != CORE and (module == package or module.startswith(package + ".")):
            return package
    return CORE


def test_each_folder_imports_only_what_the_architecture_allows():
    known = modules()
    breaches = []
    for name, path in known.items():
        own = folder_of(name)
        for imported in imports_of(path):
            if imported not in known:
                continue  # a name imported from a module, not a module
            other = folder_of(imported)
            if other != own and other not in MAY_IMPORT[own]:
                breaches.append(f"{name} imports {imported} ({own} may import {sorted(MAY_IMPORT[own])})")
    assert not breaches, "\n".join(breaches)


def test_there_is_no_import_cycle():
    known = modules()
    graph = {name: {i for i in imports_of(path) if i in known and i != name} for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " → ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_pipelines_neither_render_nor_read_raw_files():
    """Stages wire; rendering lives in jumpup.rendering and raw-file reading in jumpup.intake."""
    for path in sorted(FOLDERS["jumpup.pipelines"].glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module} | {
            a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
        }
        assert not imported & {"jinja2", "matplotlib", "matplotlib.pyplot"}, f"{path.name} renders"
        assert "<svg" not in source and "<html" not in source, f"{path.name} writes markup"
        readers = {"read_raw_table", "find_input", "ingest_directory"}
        called = {
            node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        if path.stem not in ("ingest", "demo", "cli"):
            assert not called & readers, f"{path.name} reads raw files itself: {sorted(called & readers)}"
            # An input table (firms, financials, applications, audits) is read only through
            # jumpup.intake, never by a stage's own pandas call; the stages' own outputs may be.
            inputs = [
                ast.unparse(node)
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") in ("read_csv", "read_excel")
                and any(name in ast.unparse(node) for name in ("firms", "financials", "applications", "audits"))
            ]
            assert not inputs, f"{path.name} reads input tables itself: {inputs}"


def test_no_pickle_is_committed():
    """A committed pickle would run code when loaded; the product refuses them (docs/trust_model.md)."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no committed files to list")
    files = (
        subprocess.run(["git", "--no-optional-locks", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode("utf-8", "replace")
        .split("\0")
    )
    assert [f for f in files if f.lower().endswith((".pkl", ".pickle"))] == []
