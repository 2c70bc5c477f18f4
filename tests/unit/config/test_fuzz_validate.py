"""Mutated configurations never crash ``zplan validate``: it succeeds, or exits 1 naming file:line.

Valid ``.zp.hcl`` files from the examples and test projects are mutated (spans
deleted, duplicated or moved; HCL's special characters, keywords and white
space HCL rejects inserted) and each result is validated in-process through
the operation the ``zplan validate`` command calls. Anything but a diagnostic
(a Python exception) fails the test with its traceback and the mutated text.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from zplan.diags import DiagnosticError
from zplan.project import Options, Project
from zplan.provider import ProviderRegistry
from zplan.render.console import print_diagnostics
from zplan.operations.validate import validate_project

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = ProviderRegistry()
PROJECTS = ["tests/testdata/pipeline", "tests/testdata/team/tiny", "examples/quickstart", "examples/gcp-training"]
CASES = 2000

# Pieces that exercise every corner of the reader: brackets, templates, heredocs,
# operators, keywords, escapes, comments, and characters HCL does not take as white space.
FRAGMENTS = [
    "{", "}", "[", "]", "(", ")", '"', "${", "%{", "}", "~", "$${", "%%{", "<<EOT\n", "<<-EOT\n", "EOT\n",
    "\n", "\r", "\r\n", "\t", "\v", "\u00a0", "\u2028", "\ufeff", " ", "=", ":", ",", ".", "*", "[*]", ".*",
    "...", "=>", "?", "!", "-", "+", "/", "%", "==", "&&", "||", "<=", "#", "//", "/*", "*/",
    "for", "in", "if", "else", "endif", "endfor", "true", "null", "var", "local", "step", "resource",
    "x", "π", "0", "1.5", "1e400", "-9223372036854775809", '"a"', "\\u00e9", "\\ud800", "\\U00110000", "\\",
    "var.x", "step.s.outputs.o", "local.nope", "upper(", "length(", "range(", "jsondecode(", "f()",
    "[[[[", "]]]]", "{{{{", "}}}}", '"${"${', "[for x in [1] : x]", "{for k, v in {} : k => v}",
    "%{ if true }a%{ endif }", "%{ for x in [] }%{ endfor }", 'x = 1\n', 'step "z" {}\n', "locals {\n",
]


# Values that parse but may not fit where they land: they reach the loader, the
# evaluator and validation rather than stopping at a syntax error.
VALUES = [
    "null", "true", "0", "-1", "1.5", "1e308", '""', '"x"', "[]", "{}", "[1, [2, [3]]]", '{a = {b = [null]}}',
    "var.nope", "local.nope", "step.nope.outputs.x", "resource.nope.x.y", "path.root", "var", "step",
    '"${var.nope}"', '"%{ for x in [1, 2] }${x}%{ endfor }"', "<<-EOT\n  text\n  EOT", "1 / 0", "5 % 0",
    '"a" + 1', "-true", "!1", "true ? 1 : \"a\"", "[for x in 3 : x]", "{for x in [1, 1] : x => x}",
    "upper(1, 2)", "nope()", 'jsondecode("[[")', "range(1e9)", "[1, 2][5]", "{a = 1}.b", "[[1, 2]].*[0]",
    "[{a = 1}][*].a", 'format("%d", "x")', "merge({}, 1)", "concat([1], 2)", "length(null)", 'env("NOPE_NOT_SET")',
    "(((((1)))))", "x[*][*][*]", '"\\U0010FFFF"', "toset([])", "try(1)",
]


def random_change(rnd: random.Random, text_length: int) -> tuple:
    """One mutation: (kind, position, what)."""
    kind = rnd.choice(["insert", "delete", "duplicate", "move", "char", "value", "value"])
    what = {
        "insert": lambda: rnd.choice(FRAGMENTS),
        "delete": lambda: rnd.randint(1, 40),
        "duplicate": lambda: rnd.randint(1, 80),
        "move": lambda: rnd.randint(1, 80),
        "char": lambda: chr(rnd.choice([rnd.randint(0, 127), rnd.randint(128, 0xD7FF), rnd.randint(0xE000, 0x10FFFF)])),
        "value": lambda: rnd.choice(VALUES),
    }[kind]()
    return kind, rnd.randint(0, text_length), what


def mutate(text: str, change: tuple) -> str:
    kind, at, arg = change
    at = min(at, len(text))
    if kind == "insert":
        return text[:at] + arg + text[at:]
    if kind == "delete":
        return text[:at] + text[at + arg :]
    if kind == "duplicate":
        return text[: at + arg] + text[at : at + arg] + text[at + arg :]
    if kind == "move":
        piece, rest = text[at : at + arg], text[:at] + text[at + arg :]
        target = (at * 7 + arg) % (len(rest) + 1)
        return rest[:target] + piece + rest[target:]
    if kind == "value":  # the value of the attribute on one of the lines holding " = "
        lines = text.split("\n")
        assignments = [i for i, line in enumerate(lines) if " = " in line]
        if not assignments:
            return text
        i = assignments[at % len(assignments)]
        lines[i] = lines[i].split(" = ", 1)[0] + " = " + arg
        return "\n".join(lines)
    return text[:at] + arg + text[at + 1 :]


def validate(project: Path) -> tuple[int, str, str]:
    """What ``zplan -chdir PROJECT validate`` does, in this process: (exit code, stdout, stderr).

    The command opens the project, validates it and prints diagnostics with the
    console's own printer; anything but a diagnostic propagates and fails the test.
    Building the typer app per case would cost more than validating, so the
    command body is called directly.
    """
    try:
        validate_project(Project.open(project, Options(), REGISTRY))
    except DiagnosticError as exc:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            print_diagnostics(exc.diagnostics, project)
        return 1, "", err.getvalue()
    return 0, "Success! The configuration is valid.\n", ""


ERROR_AT = re.compile(r"Error: [^\n]*?\.zp\.hcl:\d+(:\d+)?: ")


@pytest.fixture
def projects(tmp_path) -> list[Path]:
    copies = []
    for rel in PROJECTS:
        copy = tmp_path / rel.replace("/", "-")
        shutil.copytree(ROOT / rel, copy, ignore=shutil.ignore_patterns(".zplan", "__pycache__", "reports"))
        assert validate(copy)[0] == 0, f"{rel} must validate before it is mutated"
        copies.append(copy)
    return copies


def test_mutated_configurations_validate_or_fail_with_file_and_line(projects):
    originals = {project: (project / "main.zp.hcl").read_text(encoding="utf-8") for project in projects}

    @settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(project=st.sampled_from(projects), seed=st.integers(0, 2**32 - 1))
    def check(project, seed):
        rnd = random.Random(seed)  # one draw per case: cheaper than drawing every mutation from hypothesis
        text = originals[project]
        for _ in range(rnd.randint(1, 4)):
            text = mutate(text, random_change(rnd, len(text)))
        note(f"mutated {project.name}/main.zp.hcl:\n{text!r}")
        (project / "main.zp.hcl").write_bytes(text.encode("utf-8"))  # every case writes the whole file
        code, out, err = validate(project)
        note(f"exit {code}\n{out}{err}")
        if code == 0:
            assert "Success!" in out
        else:
            assert code == 1
            errors = [line for line in err.splitlines() if line.startswith("Error:")]
            assert errors, "exit 1 without an error message"
            assert all(ERROR_AT.match(line) for line in errors), "an error without file:line"

    check()


@pytest.mark.parametrize("store", ['""', '"file://"'])
def test_found_by_fuzzing_a_malformed_artifact_store_names_the_stack_line(projects, store):
    project = projects[0]
    text = (project / "main.zp.hcl").read_text(encoding="utf-8")
    (project / "main.zp.hcl").write_text(re.sub(r"artifact_store\s*=\s*\"[^\"]*\"", f"artifact_store = {store}", text), encoding="utf-8")
    code, _out, err = validate(project)
    assert code == 1 and ERROR_AT.match(err), err
