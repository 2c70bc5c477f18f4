"""The package import graph calls down only, has no loop, and every module stays small.

Imports are read statically (ast), at any depth in a file: an import inside a
function is as much a dependency as one at the top. ``LAYERS`` is the map:
a unit may import units of its own row (without a loop) or of any row below.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ZPLAN = ROOT / "zplan"
MAX_LINES = 450

# Highest first. A unit is a subpackage of zplan (``plan``) or a top-level module (``diags``);
# ``zplan`` is the package's own __init__, the small public API step code imports.
LAYERS: list[tuple[str, ...]] = [
    ("__main__",),  # `python -m zplan`: the zplan command
    ("cli", "zplan"),  # entry points: the commands, the public step API
    ("ui",),  # the read-only web dashboard: reads through api, like the commands
    ("operations",),  # what each command does
    ("api",),  # the read API (zplan.open): recorded runs, artifacts and outputs, for notebooks and commands
    ("apply",),  # the applier: resources, step workers, records
    ("plan",),  # code fingerprints, step and resource planning, saved plans
    ("project",),  # a project on disk: configuration, variables, chosen stack, state backend
    ("graph", "state", "stack", "render"),
    ("config", "metadata", "artifacts", "beam", "kubeflow", "tfx", "cluster", "backends"),  # readers, stores and remote back ends
    ("provider", "testing", "hooks", "secrets"),  # provider API and core contracts
    ("actions", "addrs", "diags", "hashing", "fsutil", "durations", "processes", "stdio", "runtime", "steps", "_record_code", "pickled"),  # leaves
]
RANK = {unit: rank for rank, row in enumerate(LAYERS) for unit in row}


def unit_of(module: str) -> str:
    """``zplan.plan.steps`` -> ``plan``; ``zplan.diags`` -> ``diags``; ``zplan`` -> ``zplan``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "zplan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, zplan module) for every import in the file, at any depth."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from zplan import diags` imports the module zplan.diags, not the package's __init__
            subs = [f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")]
            found += [(node.lineno, m) for m in subs] or [(node.lineno, base)]
    return [(line, m) for line, m in found if m == "zplan" or m.startswith("zplan.")]


def zplan_files() -> list[Path]:
    return sorted(ZPLAN.rglob("*.py"))


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, as 'file:line module'."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in zplan_files():
        source = unit_of(module_name(path))
        for line, module in imported_modules(path):
            target = unit_of(module)
            if target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return edges


def test_every_unit_has_a_place_in_the_table():
    units = {unit_of(module_name(p)) for p in zplan_files()}
    assert sorted(units - set(RANK)) == [], "add the new package or module to LAYERS"
    assert sorted(set(RANK) - units) == [], "LAYERS names a unit that no longer exists"


def test_no_package_imports_upward():
    upward = [where for (source, target), places in package_edges().items() if RANK[target] < RANK[source] for where in places]
    assert upward == []


def test_no_loop_between_packages():
    graph: dict[str, set[str]] = {}
    for source, target in package_edges():
        graph.setdefault(source, set()).add(target)
    loops: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            if state.get(nxt) == 1:
                loops.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert loops == []


def test_providers_use_only_the_provider_api_and_leaves():
    lowest = RANK["provider"]
    for path in sorted((ROOT / "providers").rglob("*.py")):
        for line, module in imported_modules(path):
            assert RANK[unit_of(module)] >= lowest, f"{path.relative_to(ROOT)}:{line} imports {module}"


def test_no_module_is_over_the_size_limit():
    files = zplan_files() + sorted(p for p in (ROOT / "providers").rglob("*.py") if ".egg-info" not in str(p))
    too_long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}, f"split these by responsibility (limit {MAX_LINES} lines)"


def test_the_core_hands_results_to_views_and_never_imports_them():
    core = {"operations", "apply", "plan"}
    assert [w for (source, target), places in package_edges().items() if source in core and target == "render" for w in places] == []


def test_operations_never_import_a_terminal_library():
    terminal = ("typer", "click", "rich")
    for path in sorted((ZPLAN / "operations").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.split(".")[0] in terminal], f"{path.relative_to(ROOT)}:{node.lineno}"


def test_commands_keep_no_process_global_folder():
    for path in (ZPLAN / "cli").glob("*.py"):
        assert "CHDIR" not in path.read_text(), path
