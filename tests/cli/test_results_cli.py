"""`zplan artifact list`, `artifact export` and `runs diff` through the real command line, on the quickstart
applied twice: run 1 as shipped, run 2 with c=0.001, one more data row and evaluate's body edited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zplan.hashing import hash_tree

from .helpers import QUICKSTART, Project, copy_project

TRAIN = "pipeline.training.step.train"
EVALUATE = "pipeline.training.step.evaluate"


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Project:
    project = copy_project(QUICKSTART, tmp_path_factory.mktemp("results") / "quickstart")
    project.apply()
    last_row = project.read("data/wine.csv").splitlines()[-1]
    project.write("data/wine.csv", project.read("data/wine.csv") + last_row + "\n")
    project.replace("steps/train.py", "return round(accuracy, 4)", "return round(accuracy, 3)")
    project.apply("-var", "c=0.001")
    return project


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()[1:]]


# -- artifact list ---------------------------------------------------------------------------------


def test_list_shows_every_step_output_of_the_latest_run(applied):
    records = applied.step_records()
    rows = _rows(applied.ok("artifact", "list").out)
    listed = {(r[0], r[1]): r for r in rows}
    expected = {(f"pipeline.training.step.{s}", name): out for s, rec in records.items() for name, out in rec["outputs"].items()}
    assert set(listed) == set(expected)
    for key, out in expected.items():
        address, output, run, digest, size, materializer, uri = listed[key]
        assert (run, uri) == ("2", out["uri"]) and out["digest"].startswith(digest) and int(size) > 0
    assert listed[(TRAIN, "output")][5] == "sklearn.pickle" and listed[(EVALUATE, "output")][5] == "json"


def test_list_of_one_step_in_an_earlier_run(applied):
    rows = _rows(applied.ok("artifact", "list", TRAIN, "-run", "1").out)
    assert [(r[0], r[1], r[2]) for r in rows] == [(TRAIN, "output", "1")]
    assert rows[0][3] != _rows(applied.ok("artifact", "list", TRAIN).out)[0][3]  # c changed: another model


# -- artifact export -------------------------------------------------------------------------------


def test_export_copies_the_verified_files_and_refuses_to_overwrite(applied, tmp_path):
    digest = applied.step_records()["train"]["outputs"]["output"]["digest"]
    done = applied.ok("artifact", "export", TRAIN, str(tmp_path / "model"))
    assert (tmp_path / "model" / "model.pkl").stat().st_size > 0 and "verified" in done.out
    assert hash_tree(tmp_path / "model") == digest
    again = applied.run("artifact", "export", TRAIN, str(tmp_path / "model"))
    assert again.code == 1 and "already exists" in again.err and "-force" in again.err and "Traceback" not in again.err
    applied.ok("artifact", "export", TRAIN, str(tmp_path / "model"), "-force")


def test_export_of_a_named_output_of_an_earlier_run(applied, tmp_path):
    applied.ok("artifact", "export", "pipeline.training.step.split.outputs.test", str(tmp_path / "t"), "-run", "1")
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["frame.arrow"]  # read by a step: Arrow IPC


def test_export_refuses_a_damaged_artifact_and_writes_nothing(applied, tmp_path):
    project = applied.clone(tmp_path / "p")
    uri = project.step_records()["train"]["outputs"]["output"]["uri"].replace(str(applied.root), str(project.root))
    model = Path(uri.removeprefix("file://")) / "model.pkl"
    model.write_bytes(model.read_bytes()[:-8] + b"damaged!")
    result = project.run("artifact", "export", TRAIN, str(tmp_path / "out"))
    assert result.code == 1 and "Traceback" not in result.err
    assert "Error:" in result.err and "zplan verify" in result.err
    assert not (tmp_path / "out").exists()


def test_export_never_puts_a_file_in_a_folder_s_place_nor_under_a_file_and_writes_nothing(applied, tmp_path):
    (tmp_path / "model" / "model.pkl").mkdir(parents=True)  # a folder of the user's where the model's file would go
    (tmp_path / "notes").write_text("mine")
    for dest in (tmp_path / "model", tmp_path / "notes" / "sub"):
        result = applied.run("artifact", "export", TRAIN, str(dest), "-force")
        assert result.code == 1 and "internal error" not in result.err and "Error:" in result.err, result
        assert "-force overwrites files only" in result.err or "is not a folder" in result.err, result
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["model.pkl"] and (tmp_path / "model" / "model.pkl").is_dir()
    assert (tmp_path / "notes").read_text() == "mine"


# -- runs diff -------------------------------------------------------------------------------------


def test_diff_json_names_params_code_data_and_metric_deltas(applied):
    doc = json.loads(applied.ok("runs", "diff", "-format", "json").out)
    assert (doc["run_a"], doc["run_b"]) == (1, 2)
    changes = {(c["kind"], c["address"].rsplit(".", 1)[1], c["name"]): c for c in doc["changes"]}
    assert changes[("param", "train", "c")] == {"kind": "param", "address": TRAIN, "name": "c", "before": 1.0, "after": 0.001,
                                                    "delta": pytest.approx(-0.999)}
    assert ("param", "split", "seed") not in changes  # unchanged params are left out
    assert {k[1] for k in changes if k[0] == "code"} == {"evaluate"}  # the edited body; train's code is the same
    assert ("data", "load", "data/wine.csv") in changes
    accuracy = changes[("output", "evaluate", "output")]
    assert accuracy["after"] == json.loads(applied.ok("output", "-json").out)["accuracy"]["value"]
    assert accuracy["delta"] == pytest.approx(accuracy["after"] - accuracy["before"])
    assert changes[("output", "train", "output")]["after"] == applied.step_records()["train"]["outputs"]["output"]["digest"]


def test_diff_with_explicit_runs_as_text_and_markdown(applied):
    text = applied.ok("runs", "diff", "1", "2").out
    assert text.startswith("Run 1 -> run 2") and "~ pipeline.training.step.train c: 1 -> 0.001 (-0.999)" in text
    markdown = applied.ok("runs", "diff", "1", "2", "-format", "markdown").out
    assert "| params | `pipeline.training.step.train` | `c` | `1` | `0.001` | -0.999 |" in markdown
    assert "|---|---|---|---|---|---|" in markdown
    same = applied.ok("runs", "diff", "2", "2").out
    assert "No differences" in same


def test_diff_to_a_failed_run_names_what_the_failed_step_was_given(applied, tmp_path):
    project = applied.clone(tmp_path / "failing")
    assert project.run("apply", "-auto-approve", "-var", "c=-1").code == 1  # the classifier refuses C < 0
    doc = json.loads(project.ok("runs", "diff", "-format", "json").out)
    changes = {(c["kind"], c["address"].rsplit(".", 1)[1], c["name"]): c for c in doc["changes"]}
    assert (changes[("param", "train", "c")]["before"], changes[("param", "train", "c")]["after"]) == (0.001, -1)
    assert ("code", "train", "") not in changes  # it ran the same code, and failed
    assert changes[("output", "train", "output")]["after"] is None  # a failed step made no output
    assert changes[("code", "evaluate", "")]["after"] is None  # skipped: never executed


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("artifact", "list", "pipeline.training.step.nope"), "no step pipeline.training.step.nope"),
        (("artifact", "list", "-run", "99"), "no run 99"),
        (("artifact", "export", f"{TRAIN}.outputs.nope", "x"), "no recorded artifact"),
        # a step of several outputs has no "output": the hint names those it has, not "run apply"
        (("artifact", "export", "pipeline.training.step.split", "x"), "its recorded outputs: test, train"),
        (("lineage", "pipeline.training.step.split"), "its recorded outputs: test, train"),
        (("lineage", "pipeline.training.step.trian"), "no step pipeline.training.step.trian is declared in the configuration or recorded"),
        (("artifact", "export", "resource.local_directory.reports", "x"), "is not a step output"),
        (("artifact", "export", TRAIN, "x", "-run", "99"), "no run 99"),
        (("runs", "diff", "1", "99"), "no run 99"),
        (("runs", "diff", "1"), "two run numbers"),
        (("runs", "diff", "-format", "html"), "unknown diff format"),
        (("runs", "-limit", "0"), "-limit must be a positive number of runs, not 0"),
        (("runs", "-limit", "-3"), "-limit must be a positive number of runs, not -3"),
    ],
)
def test_bad_input_is_one_clear_error(applied, args, message):
    result = applied.run(*args)
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert result.err.startswith("Error:") and message in result.err, str(result)
    assert not (applied.root / "x").exists()


def test_unreachable_store_is_one_clear_error(applied, tmp_path):
    project = applied.clone(tmp_path / "p")
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', 'artifact_store = "nope://bucket/artifacts"')
    result = project.run("artifact", "export", TRAIN, "out")
    assert result.code == 1 and "Traceback" not in result.err and result.err.startswith("Error:"), str(result)


def test_a_damaged_metadata_store_is_named_once_as_runs_names_it(applied, tmp_path):
    """`artifact list` and `runs diff` said "metadata store: metadata store ... is damaged"."""
    project = applied.clone(tmp_path / "p")
    project.write(".zplan/metadata.db", "not a database\n")
    expected = project.run("runs").err.splitlines()[0]
    assert expected.startswith("Error: metadata store ") and "is damaged" in expected, expected
    for command in (("artifact", "list"), ("runs", "diff"), ("artifact", "export", TRAIN, "out")):
        result = project.run(*command)
        assert result.code == 1 and result.err.splitlines()[0] == expected, (command, str(result))


def test_lineage_of_an_output_no_step_computes_says_it_has_none(applied, tmp_path):
    project = applied.clone(tmp_path / "quickstart")
    project.write("echo.zp.hcl", 'output "c_echo" {\n  value = var.c\n}\n')
    result = project.run("lineage", "c_echo")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "Error: output 'c_echo' is not computed from a step output, so it has no lineage" in result.err
    assert "zplan output c_echo" in result.err


def test_lineage_of_a_resource_takes_terraforms_short_address_too(applied):
    for address in ("resource.local_directory.reports", "local_directory.reports"):
        result = applied.run("lineage", address)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        assert "Error: resource.local_directory.reports was given no step output" in result.err, str(result)
    assert "local_directory.nope is not in the state" in applied.run("lineage", "local_directory.nope").err


def test_lineage_of_a_step_neither_declared_nor_recorded_says_so_rather_than_to_apply(applied):
    result = applied.run("lineage", "pipeline.training.step.trian")
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert "no step pipeline.training.step.trian is declared in the configuration or recorded" in result.err
    assert "zplan apply" not in result.err and "zplan state list" in result.err
    declared = applied.run("lineage", "pipeline.training.step.split")  # declared, recorded: its outputs are named
    assert "its recorded outputs: test, train" in declared.err, str(declared)


def test_lineage_of_an_artifact_id_no_store_could_hold_says_there_is_none(applied):
    # past the store's 64-bit ids it was an internal error (ValueError: Value out of range)
    for number in ("99999999999999999999", "9223372036854775808", "0"):
        result = applied.run("lineage", number)
        assert result.code == 1 and "internal error" not in result.err and "Traceback" not in result.err, str(result)
        assert f"Error: no artifact {number} in the metadata store" in result.err, str(result)


LINEAGE_HCL = """
variable "n" {
  default = 3
}

pipeline "p" {
  step "rows" {
    source = "s.py:rows"
    params = { n = var.n }
  }
  step "score" {
    source = "s.py:score"
    inputs = { rows = step.rows.outputs.output }
  }
}

output "score" {
  value = step.score.outputs.output
}
"""


def test_lineage_of_a_value_several_runs_made_traces_the_run_that_made_it_then(tmp_path):
    """The score is the same in every run, so every run's score is one artifact. Its lineage was always
    that of the first run that made it: `zplan lineage score` after `-var n=4` showed the rows of n = 3, and
    so did the lineage of run 2's score on the dashboard, and `project.artifact(...).lineage()`."""
    import zplan

    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", LINEAGE_HCL)
    p.write("s.py", "def rows(n: int) -> list:\n    return list(range(n))\n\ndef score(rows: list) -> float:\n    return 1.0\n")
    p.apply()
    p.apply("-var", "n=4")
    assert "<- pipeline.p.step.score (run 2, complete" in p.ok("lineage", "score").out
    assert 'params {"n": 4}' in p.ok("lineage", "pipeline.p.step.score.outputs.output").out
    project = zplan.open(p.root)
    latest = project.artifact("pipeline.p.step.score")
    assert latest.produced_by.run == 2 and latest.lineage().produced_by.run == 2
    assert latest.lineage().inputs["rows"].produced_by.params == {"n": 4}
    first = project.artifact("pipeline.p.step.score", run=1).lineage()
    assert first.produced_by.run == 1 and first.inputs["rows"].produced_by.params == {"n": 3}
    p.ok("ui", "-export", "site")
    for run, n in ((1, 3), (2, 4)):
        page = p.read(f"site/run-{run}-pipeline.p.step.score.html")
        link = page.split('<h3>Outputs</h3>')[1].split('class="lineage-link" href="')[1].split('"')[0]
        assert f"params <code>{{&#34;n&#34;: {n}}}</code>" in p.read(f"site/{link}"), (run, link)
    p.apply("-var", "n=3")  # both steps cached from run 1: that is the run that made the score now
    assert "<- pipeline.p.step.score (run 1, complete" in p.ok("lineage", "score").out


def test_artifact_list_shows_a_step_whose_newest_execution_is_older_than_the_runs_it_scans(tmp_path):
    """`artifact list` looked for each step's newest execution in the last 20 runs only: after 20 applies of
    another pipeline, pipeline a's step was left out, and `artifact list pipeline.a.step.x` said to apply first."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'variable "n" {\n  default = 0\n}\n\npipeline "a" {\n  step "x" {\n    source = "s.py:x"\n  }\n}\n\n'
                           'pipeline "b" {\n  step "y" {\n    source = "s.py:y"\n    params = { n = var.n }\n  }\n}\n')
    p.write("s.py", "def x() -> int:\n    return 1\n\n\ndef y(n: int) -> int:\n    return n\n")
    p.apply()
    for n in range(1, 21):
        p.apply("-target", "pipeline.b", "-var", f"n={n}")
    assert [row[:3] for row in _rows(p.ok("artifact", "list").out)] == [
        ["pipeline.a.step.x", "output", "1"], ["pipeline.b.step.y", "output", "21"]]
    assert [row[:3] for row in _rows(p.ok("artifact", "list", "pipeline.a.step.x").out)] == [["pipeline.a.step.x", "output", "1"]]
