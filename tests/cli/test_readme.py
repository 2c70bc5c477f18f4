"""README's console transcripts are true: run each command on a copy of the quickstart and compare
every line that is not a timing, a date or a digest.

In a transcript, a line ``...`` stands for any number of lines, and a line ending in ``...`` for any
line that starts with the text before it. Blank lines are not compared.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.cli.helpers import QUICKSTART, copy_project

README = Path(__file__).resolve().parents[2] / "README.md"
VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d)?"), "DATE"),  # dates and start times
    (re.compile(r" *\b\d+(\.\d+)?s\b"), " Ns"),  # durations, with the padding their width moves
    (re.compile(r"\b[0-9a-f]{12,}\b"), "HEX"),  # digests and code hashes
]


def transcripts(text: str) -> list[list[tuple[str, list[str]]]]:
    """Each ```console block as [(command, expected output lines)]."""
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        steps: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((re.sub(r"\s+#.*$", "", line[2:]).strip(), []))
            elif steps:
                steps[-1][1].append(line)
        out.append(steps)
    return out


def normal(line: str) -> str:
    for pattern, placeholder in VOLATILE:
        line = pattern.sub(placeholder, line)
    return line.rstrip()


def line_matches(expected: str, actual: str) -> bool:
    if expected.endswith("...") and expected.strip() != "...":
        return actual.startswith(expected[:-3])
    return expected == actual


def assert_transcript(command: str, expected: list[str], actual: list[str]) -> None:
    """Chunks between ``...`` lines appear in order, each as consecutive lines; the output starts
    with the first chunk and ends with the last unless a ``...`` stands there."""
    expected = [normal(x) for x in expected if x.strip()]
    actual = [normal(x) for x in actual if x.strip()]
    chunks: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    at = 0
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        anchored = i == 0
        starts = [at] if anchored else range(at, len(actual) - len(chunk) + 1)
        found = next((s for s in starts if all(line_matches(e, a) for e, a in zip(chunk, actual[s:s + len(chunk)]))
                      and len(actual[s:]) >= len(chunk)), None)
        assert found is not None, f"`{command}`: README lines\n  " + "\n  ".join(chunk) + "\nnot in its output:\n  " + "\n  ".join(actual)
        at = found + len(chunk)
    if chunks[-1]:
        assert at == len(actual), f"`{command}` printed more than README shows:\n  " + "\n  ".join(actual[at:])


def test_readme_quickstart_transcript(tmp_path):
    (steps,) = [t for t in transcripts(README.read_text()) if t and t[0][0] == "cd examples/quickstart"]
    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    for command, expected in steps[1:]:
        argv = shlex.split(command)
        assert argv[0] == "zplan", command
        result = project.ok(*argv[1:])
        assert_transcript(command, expected, (result.out + result.err).splitlines())


def test_readme_layout_names_every_package():
    layout = README.read_text().split("## Layout", 1)[1].split("```")[1]
    zplan = README.parent / "zplan"
    names = [p.name + "/" for p in zplan.iterdir() if (p / "__init__.py").exists()]
    names += [p.name for p in zplan.glob("*.py") if p.name != "__init__.py"]
    missing = [n for n in names if n not in layout]
    assert not missing, f"README's Layout section does not say what these are for: {missing}"
