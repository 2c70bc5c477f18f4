"""Damaged state, lock, key, plan and metadata files: a clear message naming the file and what to do,
never "internal error", never a traceback, and never a damaged file taken for an empty one."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import zplan

from tests.cli.helpers import TESTDATA, Project, copy_project, with_full_disk, with_read_only

SENSITIVE_OUTPUT = """
variable "pw" {
  default   = "hunter2"
  sensitive = true
}

output "pw" {
  value     = var.pw
  sensitive = true
}
"""


@pytest.fixture(scope="module")
def applied_twice(tmp_path_factory) -> Project:
    """The small pipeline with a sensitive output, applied twice (so apply kept a state backup)."""
    project = copy_project(TESTDATA / "pipeline", tmp_path_factory.mktemp("damaged") / "pipeline")
    project.write("secret.zp.hcl", SENSITIVE_OUTPUT)
    project.apply()
    project.apply("-var", "c=2")
    return project


@pytest.fixture
def project(applied_twice: Project, tmp_path: Path) -> Project:
    return applied_twice.clone(tmp_path / "pipeline")


def refused(result, *phrases: str) -> str:
    """The command failed cleanly with every phrase in its error output."""
    assert result.code == 1, str(result)
    assert "Traceback" not in result.err and "internal error" not in result.err, str(result)
    for phrase in phrases:
        assert phrase in result.err, str(result)
    return result.err


STATE_DAMAGE = {
    "truncated": lambda good: good[: len(good) // 2],
    "random bytes": lambda good: bytes(range(256)) * 4,
    "empty object": lambda good: b"{}",
    "null": lambda good: b"null",
    "a list": lambda good: b"[1, 2]",
    "resources not an object": lambda good: json.dumps({**json.loads(good), "resources": []}).encode(),
}


@pytest.mark.parametrize("damage", sorted(STATE_DAMAGE))
def test_a_damaged_state_file_is_refused_naming_it_and_the_backup(project: Project, damage: str) -> None:
    state = project.path(".zplan/state.json")
    good = state.read_bytes()
    damaged = STATE_DAMAGE[damage](good)
    state.write_bytes(damaged)
    for command in (["plan"], ["apply", "-auto-approve", "-var", "c=3"], ["state", "list"]):
        err = refused(project.run(*command), f"state file {state} is damaged", f"cp {state}.backup {state}")
    assert state.read_bytes() == damaged  # nothing was written over it
    assert "every resource" in err or damage != "null"


def _damage_entry(edit):
    """A damage of one entry: ``edit(doc, store)`` changes the parsed state, returns the address it names."""
    def damage(good: bytes) -> tuple[bytes, str]:
        doc = json.loads(good)
        named = edit(doc, next(iter(doc["stores"].values())))
        return json.dumps(doc).encode(), named
    return damage


def _put(table: dict, key: str, value) -> str:
    table[key] = value
    return key


ENTRY_DAMAGE = {
    "attributes null": _damage_entry(lambda doc, store: _put(doc["resources"], "resource.local_directory.d",
                                                              {"type": "local_directory", "provider": "local", "inputs": {}, "attributes": None})),
    "resource a number": _damage_entry(lambda doc, store: _put(doc["resources"], "resource.local_directory.d", 5)),
    "step record a string": _damage_entry(lambda doc, store: _put(store["steps"], next(iter(store["steps"])), "x")),
    "cache entry without outputs": _damage_entry(lambda doc, store: next(k for k, e in store["cache"].items() if e.pop("outputs"))),
    "output record a number": _damage_entry(lambda doc, store: next(a for a, r in store["steps"].items() if r["outputs"].update(output=1) is None)),
}


@pytest.mark.parametrize("damage", sorted(ENTRY_DAMAGE))
def test_a_damaged_entry_is_refused_naming_it_and_the_backup(project: Project, damage: str) -> None:
    state = project.path(".zplan/state.json")
    damaged, address = ENTRY_DAMAGE[damage](state.read_bytes())
    state.write_bytes(damaged)
    for command in (["plan"], ["apply", "-auto-approve"], ["destroy", "-auto-approve"], ["state", "list"], ["output"]):
        refused(project.run(*command), f"state file {state} is damaged: ", address, f"cp {state}.backup {state}")
    assert state.read_bytes() == damaged  # nothing was written over it


def test_null_state_is_not_taken_for_an_empty_one(project: Project) -> None:
    project.path(".zplan/state.json").write_text("null\n")
    err = refused(project.run("apply", "-auto-approve"), "it holds null")
    assert "would be forgotten" in err


def test_restoring_the_backup_apply_keeps_recovers(project: Project) -> None:
    state = project.path(".zplan/state.json")
    backup = project.path(".zplan/state.json.backup")
    assert json.loads(backup.read_bytes())["serial"] == json.loads(state.read_bytes())["serial"] - 1
    state.write_bytes(b"\x00\xff garbage")
    shutil.copy(backup, state)
    plan = project.plan_json()
    assert {s["action"] for s in plan["steps"]} == {"cached"}  # the backup recorded the c=1 run
    assert project.path(".zplan/state.json.backup").exists()


def test_a_state_file_that_is_a_folder_is_refused(project: Project) -> None:
    state = project.path(".zplan/state.json")
    state.unlink()
    state.mkdir()
    refused(project.run("plan"), f"state file {state} is damaged: it is a folder")


def test_a_binary_lock_file_blocks_neither_apply_nor_force_unlock(project: Project) -> None:
    lock = project.path(".zplan/state.json.lock")
    lock.write_bytes(bytes(range(256)))
    result = project.run("apply", "-auto-approve", "-var", "c=4")
    assert result.code == 0, str(result)
    assert "ignoring unreadable lock info" in result.err
    lock.write_bytes(bytes(range(256)))
    result = project.run("force-unlock", "-force", "some-id")
    refused(result, "no lock with ID some-id", "the state is not locked")


def test_a_lock_file_that_is_a_folder_is_named_and_nothing_is_done(project: Project) -> None:
    lock = project.path(".zplan/state.json.lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()
    before = project.path(".zplan/state.json").read_bytes()
    refused(project.run("apply", "-auto-approve", "-var", "c=4"), f"cannot lock the state: the lock file {lock} is a folder", "move the folder away")
    assert project.path(".zplan/state.json").read_bytes() == before
    lock.rmdir()
    assert project.run("apply", "-auto-approve", "-var", "c=4").code == 0


@pytest.mark.parametrize("damage", ["binary", "folder"])
def test_a_damaged_stack_selection_is_named_and_stack_select_rewrites_it(project: Project, damage: str) -> None:
    chosen = project.path(".zplan/stack")
    if damage == "folder":
        chosen.mkdir()
        why = "it is a folder"
    else:
        chosen.write_bytes(b"\xff\xfe\x00")
        why = "it is not text (damaged)"
    for command in (["plan"], ["state", "list"]):
        refused(project.run(*command), f"cannot read the selected stack from {chosen}: {why}", "-stack NAME", "zplan stack select NAME")
    assert project.run("state", "list", "-stack", "local").code == 0  # -stack reads no selection
    if damage == "folder":
        refused(project.run("stack", "select", "local"), f"cannot select the stack: {chosen} is a folder", "move the folder away")
        chosen.rmdir()
    assert project.run("stack", "select", "local").code == 0 and chosen.read_text() == "local\n"
    assert project.run("plan").code == 0


def test_stack_select_on_a_read_only_state_folder_is_named_and_changes_nothing(project: Project) -> None:
    project.run("stack", "select", "local")
    result = with_read_only(project, ".zplan", "stack", "select", "local")
    refused(result, f"cannot select the stack: writing {project.path('.zplan/stack')} failed", "make", "writable")
    assert project.path(".zplan/stack").read_text() == "local\n"
    assert not [p.name for p in project.path(".zplan").iterdir() if p.name.endswith(".tmp")]


def test_stack_select_on_a_full_disk_says_to_free_space_and_changes_nothing(project: Project) -> None:
    project.run("stack", "select", "local")
    result = with_full_disk(project, ".zplan", "stack", "select", "local", free_kib=0)
    refused(result, f"cannot select the stack: writing {project.path('.zplan/stack')} failed: No space left on device",
            "free some space on the disk holding")
    assert project.path(".zplan/stack").read_text() == "local\n"
    assert not [p.name for p in project.path(".zplan").iterdir() if p.name.endswith(".tmp")]


def test_a_deleted_state_key_is_explained_and_never_replaced(project: Project) -> None:
    key = project.path(".zplan/state.key")
    key.unlink()
    for command in (["plan"], ["apply", "-auto-approve", "-var", "c=5"], ["output", "-raw", "-show-sensitive", "pw"]):
        result = project.run(*command)
        if result.code == 0:
            continue  # a command that needs no sealed value may go on
        refused(result, f"the state key {key} is missing", "sensitive values sealed with it", "ZPLAN_STATE_KEY")
    assert not key.exists()  # no new key written over the loss
    refused(project.run("apply", "-auto-approve", "-var", "c=5"), "is missing")


@pytest.mark.slow
def test_a_deleted_state_key_with_state_on_mysql_is_explained_and_never_replaced(tmp_path: Path, mysql_url: str) -> None:
    """As with state in a file: the sealed values are in the server's row, not in .zplan/state.json."""
    project = copy_project(TESTDATA / "pipeline", tmp_path / "pipeline")
    project.replace("main.zp.hcl", "sqlite:///.zplan/metadata.db", mysql_url)
    project.write("secret.zp.hcl", SENSITIVE_OUTPUT)
    project.apply()
    key = project.path(".zplan/state.key")
    key.unlink()
    for command in (["plan"], ["apply", "-auto-approve", "-var", "c=5"], ["output", "-raw", "-show-sensitive", "pw"]):
        refused(project.run(*command), f"the state key {key} is missing", "sensitive values sealed with it", "ZPLAN_STATE_KEY")
        assert not key.exists()  # no new key made, which could never open what the server holds


def test_a_wrong_or_garbled_state_key_is_explained(project: Project) -> None:
    key = project.path(".zplan/state.key")
    key.write_text("not a key\n")
    refused(project.run("output", "-raw", "-show-sensitive", "pw"), f"the state key in {key} is not a key")
    from cryptography.fernet import Fernet

    key.write_bytes(Fernet.generate_key())
    refused(project.run("output", "-raw", "-show-sensitive", "pw"), "cannot be unsealed with the key in", "not the one it was sealed with")


@pytest.mark.parametrize(
    "edit, phrase",
    [
        (lambda d: d["plan"].pop("state"), "plan.state is missing"),
        (lambda d: d.pop("code"), "code is missing"),
        (lambda d: d["plan"]["steps"].__setitem__(0, {"x": 1}), "plan.steps[0] has no address"),
        (lambda d: d["plan"]["steps"][0].pop("params"), "plan.steps[0] has no params (a JSON object)"),
        (lambda d: d["plan"]["steps"][1].__setitem__("reasons", None), "plan.steps[1] has no reasons (a JSON array)"),
        (lambda d: d.__setitem__("sensitive_digests", []), "sensitive_digests is not a JSON object"),
        (lambda d: d["plan"].__setitem__("summary", None), "plan.summary is missing or not a JSON object"),
        (lambda d: d["plan"]["options"].__setitem__("targets", "all"), "plan.options.targets is missing or not a JSON array"),
        # what the views and the apply read inside them: each was an internal error
        (lambda d: d["plan"]["options"].__setitem__("targets", [5]), "plan.options.targets[0] is not a JSON string"),
        (lambda d: d["plan"].__setitem__("summary", {}), "plan.summary.add is missing or not a JSON number"),
        (lambda d: d["plan"].__setitem__("outputs", {"x": 5}), "plan.outputs.x is not a JSON object with known, sensitive"),
        (lambda d: d["plan"].__setitem__("checkouts", 5), "plan.checkouts is not a JSON array"),
        (lambda d: d["plan"].__setitem__("moved", [{"from": "a"}]), "plan.moved[0] has no to (a JSON string)"),
    ],
)
def test_a_malformed_plan_file_is_refused_naming_it(project: Project, edit, phrase: str) -> None:
    project.ok("plan", "-out", "saved.plan")
    doc = json.loads(project.read("saved.plan"))
    edit(doc)
    project.write("saved.plan", json.dumps(doc))
    for command in (["apply", "saved.plan"], ["show", "saved.plan"]):
        refused(project.run(*command), "plan file saved.plan is damaged", phrase, "zplan plan -out FILE")


def test_a_plan_file_of_another_zplan_version_is_shown_but_not_applied(project: Project) -> None:
    project.ok("plan", "-var", "c=7", "-out", "saved.plan")
    doc = json.loads(project.read("saved.plan"))
    assert doc["zplan_version"] == zplan.__version__
    project.write("saved.plan", json.dumps(doc | {"zplan_version": "0.0.1"}))
    refused(project.run("apply", "saved.plan"), f"plan file saved.plan was made by zplan v0.0.1, and this is zplan v{zplan.__version__}",
            "make a new plan with this version")
    assert "Steps: 2 to run, 2 cached." in project.ok("show", "saved.plan").out


def test_a_plan_file_that_is_a_folder_or_binary_is_refused(project: Project) -> None:
    project.path("folder.plan").mkdir()
    refused(project.run("apply", "folder.plan"), "plan file folder.plan is a folder")
    project.path("binary.plan").write_bytes(bytes(range(256)))
    refused(project.run("show", "binary.plan"), "binary.plan is not a zplan plan file")


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_corrupt_metadata_db_is_reported_as_such(project: Project, damage: str) -> None:
    db = project.path(".zplan/metadata.db")
    good = db.read_bytes()
    db.write_bytes(os.urandom(4096) if damage == "random bytes" else good[:5000])
    for command in (["runs"], ["apply", "-auto-approve", "-var", "c=6"]):
        err = refused(project.run(*command), f"metadata store {db} is damaged")
        assert "No runs recorded" not in err and f"mv {db} {db}.damaged" in err


def test_a_metadata_store_zplan_cannot_write_its_types_into_is_named(project: Project) -> None:
    from ml_metadata import metadata_store as ms
    from ml_metadata.proto import metadata_store_pb2 as pb

    db = project.path(".zplan/metadata.db")
    db.unlink()
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri, config.sqlite.connection_mode = str(db), 3  # read-write-create
    run_type = pb.ContextType(name="zplan.Run")
    run_type.properties["number"] = pb.STRING  # another tool's type of that name (zplan's number is an INT)
    ms.MetadataStore(config).put_context_type(run_type)
    err = refused(project.run("apply", "-auto-approve", "-var", "c=6"), "Type already exists with different properties")
    assert "no run None" not in err, err


def test_nan_never_reaches_state(project: Project) -> None:
    before = project.read(".zplan/state.json")
    refused(project.run("apply", "-auto-approve", "-var", "c=nan"), 'var.c: a number is required, got "nan"')  # as Terraform
    assert project.read(".zplan/state.json") == before
    project.replace("main.zp.hcl", "params = { c = var.c }", "params = { c = var.c * 1e308 * 10 }")
    refused(project.run("apply", "-auto-approve"), "main.zp.hcl:23:20: the result of var.c * 1e308 * 10 is too large")
    assert project.read(".zplan/state.json") == before
    project.replace("main.zp.hcl", "params = { c = var.c * 1e308 * 10 }", "params = { c = var.c }")
    project.write("steps/nan.py", "def make() -> float:\n    return float('nan')\n")
    project.write("nan.zp.hcl", 'pipeline "odd" {\n  step "make" { source = "steps/nan.py:make" }\n}\n')
    result = project.run("apply", "-auto-approve")
    assert result.code == 1 and "output output is NaN or infinite" in result.text, str(result)
    json.loads(project.read(".zplan/state.json"), parse_constant=lambda c: pytest.fail(f"{c} in state"))


def test_a_plan_file_made_with_another_provider_version_is_not_applied(project: Project) -> None:
    project.write("dir.zp.hcl", 'resource "local_directory" "out" {\n  path = "out"\n}\n')
    project.ok("plan", "-out", "saved.plan")
    doc = json.loads(project.read("saved.plan"))
    installed = doc["providers"]["local"]
    assert installed
    project.write("saved.plan", json.dumps(doc | {"providers": {"local": "0.0.1"}}))
    refused(project.run("apply", "saved.plan"), f'plan file saved.plan was made with provider "local" v0.0.1, and v{installed} is installed now',
            "reinstall that version")
    assert not project.path("out").exists()
    project.write("saved.plan", json.dumps(doc))
    project.ok("apply", "saved.plan")
    assert project.path("out").is_dir()
