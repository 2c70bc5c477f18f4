"""`zplan fmt` on every example and shipped module: already canonical, idempotent, meaning kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Project, copy_project
from zplan.config import hcl
from zplan.config.fmt import format_text

REPO = Path(__file__).resolve().parents[2]
FOLDERS = sorted(p.parent for top in ("examples", "modules") for p in (REPO / top).glob("**/*.zp.hcl") if ".zplan" not in p.parts)
FOLDERS = sorted(set(FOLDERS))
FILES = sorted(f for folder in FOLDERS for f in folder.glob("*.zp.hcl"))


def meaning(block: hcl.Block) -> tuple:
    """A body as blocks, labels, attribute names and each value's tokens (whitespace and comments aside)."""
    attributes = {name: _tokens(attr.expr.source()) for name, attr in block.attributes.items()}
    return (block.type, tuple(block.labels), attributes, [meaning(nested) for nested in block.blocks])


def _tokens(source: str) -> list:
    return [(t[hcl.KIND], source[t[hcl.START] : t[hcl.END]]) for t in hcl.tokenize(source, "<value>")]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_fmt_is_idempotent_and_keeps_the_meaning(path: Path):
    text = path.read_text()
    once = format_text(text, str(path))
    assert format_text(once, str(path)) == once
    assert meaning(hcl.parse_text(once, str(path))) == meaning(hcl.parse_text(text, str(path)))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_and_module_is_formatted(folder: Path, tmp_path):
    project = copy_project(folder, tmp_path / folder.name)
    result = project.run("fmt", "-check")
    assert result.code == 0, str(result)


def test_fmt_aligns_like_terraform_and_a_second_run_changes_nothing(project: Project):
    project.write(
        "extra.zp.hcl",
        'output "mean" {\n  value = 1\n  description = "the mean"\n  sensitive = false\n}\n',
    )
    result = project.ok("fmt")
    assert "extra.zp.hcl" in result.out
    once = project.read("extra.zp.hcl")
    assert once == 'output "mean" {\n  value       = 1\n  description = "the mean"\n  sensitive   = false\n}\n'
    result = project.ok("fmt")
    assert "extra.zp.hcl" not in result.out and project.read("extra.zp.hcl") == once
