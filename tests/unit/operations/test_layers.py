"""The command layer calls down only: commands -> operations -> core -> views' inputs."""

from __future__ import annotations

import ast
from pathlib import Path

ZPLAN = Path(__file__).resolve().parents[3] / "zplan"


def imports_of(package: str) -> dict[str, set[str]]:
    """module file -> the zplan modules it imports (at any depth in the file)."""
    out: dict[str, set[str]] = {}
    for path in sorted((ZPLAN / package).rglob("*.py")) if (ZPLAN / package).is_dir() else [ZPLAN / f"{package}.py"]:
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        out[path.relative_to(ZPLAN).as_posix()] = {m for m in found if m.split(".")[0] in ("zplan", "typer", "click", "rich")}
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{file} imports {m}" for file, mods in imports_of(package).items() for m in sorted(mods)
            if any(m == f or m.startswith(f + ".") for f in forbidden)]


def test_operations_never_import_the_cli_or_a_terminal_library():
    assert offenders("operations", ("zplan.cli", "zplan.render", "typer", "click", "rich")) == []


def test_views_never_import_commands_or_operations():
    assert offenders("render", ("zplan.cli", "zplan.operations")) == []


def test_state_never_imports_the_planner_and_apply_never_imports_views():
    assert offenders("state", ("zplan.plan", "zplan.apply", "zplan.operations", "zplan.cli")) == []
    assert offenders("apply", ("zplan.render", "zplan.operations", "zplan.cli")) == []


def test_commands_keep_no_process_global_folder():
    for path in (ZPLAN / "cli").glob("*.py"):
        assert "CHDIR" not in path.read_text(), path
