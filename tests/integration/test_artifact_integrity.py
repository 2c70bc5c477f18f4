"""Stored data is verified before it is used: damaged or missing artifacts are rerun, never served,
`zplan verify` finds damage nobody loads, and data snapshots stay immutable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project, ran, reasons, steps_by_action, with_store_read_only


@pytest.fixture(scope="module")
def applied_module(tmp_path_factory) -> Project:
    project = copy_project(TESTDATA / "pipeline", tmp_path_factory.mktemp("integrity") / "pipeline")
    project.apply("-var", "c=2")  # c=2: scale's output differs from load's (one artifact each)
    return project


@pytest.fixture
def project(applied_module: Project, tmp_path: Path) -> Project:
    return applied_module.clone(tmp_path / "pipeline")


def output_folder(project: Project, step: str) -> Path:
    digest = project.step_records()[step]["outputs"]["output"]["digest"]
    return project.path(f".zplan/artifacts/{digest[:2]}/{digest}")


def flip_a_byte_keeping_mtime(folder: Path) -> None:
    """Silent corruption: same size, same mtime, one bit different."""
    (path,) = [p for p in folder.rglob("*") if p.is_file()]
    st = path.stat()
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[1] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(path, 0o444)


def test_a_flipped_byte_in_an_input_is_found_and_its_producer_rerun(project: Project) -> None:
    flip_a_byte_keeping_mtime(output_folder(project, "scale"))
    project.replace("steps/stats.py", "round(sum(values), 6)", "round(sum(values), 5)")  # total must load scale's output
    result = project.apply("-var", "c=2")
    assert "input values: artifact damaged (digest mismatch)" in result.out, str(result)
    assert "rerunning pipeline.numbers.step.scale" in result.out
    assert ran(result) >= {"scale", "total"}
    assert "FAILED" not in result.out
    assert project.step_records()["total"]["outputs"]["output"]["value"] == 21.0  # 2 * 10.5: computed on sound data
    assert steps_by_action(project.plan_json("-var", "c=2"))["run"] == set()


def test_a_missing_file_in_an_artifact_folder_is_found_before_use(project: Project) -> None:
    folder = output_folder(project, "load")
    os.chmod(folder, 0o755)
    for p in folder.iterdir():
        p.unlink()
    project.replace("steps/stats.py", "return len(values)", "return len(list(values))")  # count loads load's output
    result = project.apply("-var", "c=2")
    assert "artifact damaged (digest mismatch)" in result.out, str(result)
    assert "rerunning pipeline.numbers.step.load" in result.out
    assert project.step_records()["count"]["outputs"]["output"]["value"] == 4


def test_plan_claims_a_cache_hit_only_for_artifacts_that_are_there(project: Project) -> None:
    folder = output_folder(project, "total")
    os.chmod(folder, 0o755)
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    doc = project.plan_json("-var", "c=2")
    assert steps_by_action(doc)["run"] == {"total"}
    (message,) = reasons(doc)["total"]
    assert message.startswith("artifact missing from the store (rerun): output output")
    assert [r["code"] for s in doc["steps"] for r in s["reasons"]] == ["artifact_missing"]
    project.apply("-var", "c=2")
    assert steps_by_action(project.plan_json("-var", "c=2"))["run"] == set()


def test_verify_finds_a_damaged_final_output_and_repair_makes_apply_rerun_it(project: Project) -> None:
    assert "0 damaged, 0 missing" in project.ok("verify").out
    flip_a_byte_keeping_mtime(output_folder(project, "total"))
    assert steps_by_action(project.plan_json("-var", "c=2"))["run"] == set()  # plan never hashes contents
    result = project.run("verify")
    assert result.code == 1 and "damaged" in result.out and "pipeline.numbers.step.total.output" in result.out, str(result)
    result = project.ok("verify", "-repair")
    assert "the next apply reruns: pipeline.numbers.step.total" in result.out
    assert steps_by_action(project.plan_json("-var", "c=2"))["run"] == {"total"}
    # verify again before that apply: the output is missing now, and the same step reruns, not "nothing"
    assert "the next apply reruns: pipeline.numbers.step.total" in project.ok("verify", "-repair").out
    project.apply("-var", "c=2")
    assert "0 damaged, 0 missing" in project.ok("verify").out


@pytest.mark.parametrize("left", ["link", "fifo"])
def test_a_copy_that_left_a_link_to_nothing_or_a_pipe_in_an_artifact_is_found_damaged(project: Project, left: str) -> None:
    """A broken copy of the store (a link to a file not copied, a named pipe) is damage as any
    other: verify names it without an internal error or a hang, and repair makes apply rerun it."""
    strange = output_folder(project, "total") / "extra"
    os.symlink(project.path("not-copied"), strange) if left == "link" else os.mkfifo(strange)
    result = project.run("verify", timeout=60)
    assert result.code == 1 and "internal error" not in result.err and "Traceback" not in result.err, str(result)
    assert "damaged" in result.out and "pipeline.numbers.step.total.output" in result.out, str(result)
    assert "the next apply reruns: pipeline.numbers.step.total" in project.ok("verify", "-repair", timeout=60).out
    assert ran(project.apply("-var", "c=2")) == {"total"}
    assert "0 damaged, 0 missing" in project.ok("verify").out


def test_a_repair_that_cannot_delete_a_damaged_artifact_still_drops_the_cache_entries_naming_it(project: Project) -> None:
    """State is written before the store is touched: a delete that fails leaves no cache entry naming
    the damaged artifact (the next apply reruns its step), and says how to delete it."""
    folder = output_folder(project, "total")
    flip_a_byte_keeping_mtime(folder)
    result = with_store_read_only(project, "verify", "-repair")
    assert result.code == 1 and "Traceback" not in result.err and "internal error" not in result.err, str(result)
    assert f"could not delete the damaged artifact {folder.name}" in result.out, str(result)
    assert "run `zplan verify -repair` again" in result.out and "the next apply reruns: pipeline.numbers.step.total" in result.out
    assert folder.is_dir()
    (store,) = project.state()["stores"].values()
    assert not [e for e in store["cache"].values() if folder.name in str(e.get("outputs"))]
    assert reasons(project.plan_json("-var", "c=2"))["total"] == ["its cached result was dropped (zplan gc or zplan verify -repair)"]
    project.ok("verify", "-repair")  # the store writable again: the damaged artifact goes
    assert not folder.exists()
    assert ran(project.apply("-var", "c=2")) == {"total"}
    assert "0 damaged, 0 missing" in project.ok("verify").out


def test_a_reference_input_is_read_in_place_and_lineage_says_so(project: Project) -> None:
    project.replace("main.zp.hcl", 'inputs = { raw = "data/numbers.txt" }', 'inputs = { raw = { path = "data/numbers.txt", snapshot = "reference" } }')
    project.ok("plan")
    project.write("data/numbers.txt", project.read("data/numbers.txt") + "5\n")
    result = project.apply("-var", "c=2")
    assert "load" in ran(result)
    lineage = project.ok("lineage", "pipeline.numbers.step.total").out
    assert "data reference data/numbers.txt (read in place, not snapshotted" in lineage, lineage
    project.replace("main.zp.hcl", 'snapshot = "reference"', 'snapshot = "link"')
    result = project.run("plan")
    assert result.code == 1 and 'snapshot = "copy" | "reference"' in result.err and "main.zp.hcl:" in result.err, str(result)


def test_a_damaged_data_snapshot_is_taken_again_from_the_input(project: Project) -> None:
    (snapshot_file,) = project.path(".zplan/artifacts").rglob("numbers.txt")
    flip_a_byte_keeping_mtime(snapshot_file.parent)
    project.replace("steps/data.py", "return [float(clean(line))", "return [1.0 * float(clean(line))")
    result = project.apply("-var", "c=2")
    assert "input raw: artifact damaged (digest mismatch)" in result.out, str(result)
    assert "snapshotting the data again" in result.out
    assert project.step_records()["load"]["outputs"]["output"]["value"] == [1.0, 2.0, 3.5, 4.0]  # not 7, 2, ...
    (fresh,) = project.path(".zplan/artifacts").rglob("numbers.txt")
    assert fresh.read_bytes() == project.path("data/numbers.txt").read_bytes()


def test_verify_checks_data_snapshots_and_repair_makes_apply_store_them_again(project: Project) -> None:
    (snapshot_file,) = project.path(".zplan/artifacts").rglob("numbers.txt")
    flip_a_byte_keeping_mtime(snapshot_file.parent)
    result = project.run("verify")
    assert result.code == 1 and "damaged" in result.out, str(result)
    assert "pipeline.numbers.step.load input raw (data/numbers.txt)" in result.out, str(result)
    assert "the next apply reruns: pipeline.numbers.step.load" in project.ok("verify", "-repair").out
    assert reasons(project.plan_json("-var", "c=2"))["load"] == ["its cached result was dropped (zplan gc or zplan verify -repair)"]
    assert "load" in ran(project.apply("-var", "c=2"))
    (fresh,) = project.path(".zplan/artifacts").rglob("numbers.txt")
    assert fresh.read_bytes() == project.path("data/numbers.txt").read_bytes()
    assert "0 damaged, 0 missing" in project.ok("verify").out


def test_a_step_that_adds_a_file_to_its_folder_snapshot_fails_and_no_step_reads_the_file(tmp_path: Path) -> None:
    """The snapshot's own files keep their stamps: the new one beside them is what the check must see."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "w" {\n  step "writer" {\n    source = "steps.py:writer"\n    inputs = { d = "data/fold" }\n  }\n'
                           '  step "reader" {\n    source = "steps.py:reader"\n    inputs = { d = "data/fold" }\n  }\n}\n')
    p.write("steps.py", 'def writer(d):\n    (d / "extra.txt").write_text("not in the data")\n    return 1\n\n\n'
                        'def reader(d):\n    return sorted(f.name for f in d.iterdir())\n')
    p.write("data/fold/a.txt", "1\n")
    result = p.run("apply", "-auto-approve", "-parallelism", "1", "-target", "pipeline.w.step.writer")
    assert result.code == 1 and "the step wrote into its input snapshot data/fold" in result.out, str(result)
    assert "0 damaged, 0 missing" in p.ok("verify").out
    p.apply("-target", "pipeline.w.step.reader")
    assert p.step_records()["reader"]["outputs"]["output"]["value"] == ["a.txt"]


def test_a_step_that_writes_into_its_data_snapshot_fails_and_the_snapshot_is_stored_again(project: Project) -> None:
    original = project.read("steps/data.py")
    project.replace("steps/data.py", '    """One number per line; blank lines are skipped."""\n',
                    '    """One number per line; blank lines are skipped."""\n    import os; os.chmod(raw, 0o644); raw.write_text("9\\n")\n')
    result = project.run("apply", "-auto-approve", "-var", "c=2")
    assert result.code == 1 and "the step wrote into its input snapshot data/numbers.txt" in result.out, str(result)
    assert "it was stored again from the data" in result.out
    (fresh,) = project.path(".zplan/artifacts").rglob("numbers.txt")
    assert fresh.read_bytes() == project.path("data/numbers.txt").read_bytes()
    assert "0 damaged, 0 missing" in project.ok("verify").out
    project.write("steps/data.py", original)
    assert steps_by_action(project.plan_json("-var", "c=2"))["run"] == set()  # its earlier outputs came from intact data
    assert "0 damaged, 0 missing" in project.ok("verify").out
