"""Resources through the real CLI with the local provider: create, update, replace, drift, destroy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "zplan/plan/plan.schema.json").read_text())

HCL = """
variable "v" {
  default = 1
}

variable "dir" {
  default = "out/data"
}

resource "local_directory" "data" {
  path          = var.dir
  force_destroy = true
}

resource "local_directory" "store" {
  path          = "out/store"
  force_destroy = true
}

resource "local_file" "config" {
  path    = "${resource.local_directory.data.id}/config.json"
  content = "{\\"v\\": ${var.v}}"
}

stack "local" {
  artifact_store = "file://${resource.local_directory.store.id}"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "read" {
    source = "steps.py:read"
    params = { config = resource.local_file.config.id }
  }
}

output "v" {
  value = step.read.outputs.output
}
"""

STEPS = """
import json


def read(config: str) -> int:
    with open(config) as f:
        return json.load(f)["v"]
"""


def zplan(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "ZPLAN_NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "zplan.cli.app", *args], cwd=project, capture_output=True, text=True, env=full_env, stdin=subprocess.DEVNULL
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "main.zp.hcl").write_text(HCL)
    (tmp_path / "steps.py").write_text(STEPS)
    return tmp_path


def plan_json(project: Path, *args: str) -> dict:
    proc = zplan(project, "plan", "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return doc


def actions(doc: dict) -> dict[str, str]:
    return {r["address"]: r["action"] for r in doc["resources"]} | {s["address"]: s["action"] for s in doc["steps"]}


def test_lifecycle_create_update_replace_drift_destroy(project: Path) -> None:
    doc = plan_json(project)
    assert actions(doc) == {
        "resource.local_directory.data": "create",
        "resource.local_directory.store": "create",
        "resource.local_file.config": "create",
        "pipeline.p.step.read": "run",
    }
    file_plan = next(r for r in doc["resources"] if r["type"] == "local_file")
    assert "id" in file_plan["after_unknown"] and file_plan["after"]["path"] is None  # known after apply
    assert "resource.local_directory.data" in file_plan["depends_on"]

    applied = zplan(project, "apply", "-auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert json.loads((project / "out/data/config.json").read_text()) == {"v": 1}
    assert any((project / "out/store").iterdir()), "the stack's artifact store is the provisioned folder"
    assert json.loads(zplan(project, "output", "v").stdout) == 1

    quiet = zplan(project, "plan", "-detailed-exitcode")
    assert quiet.returncode == 0, quiet.stdout

    # a change of content is an in-place update; the step that reads the file reruns
    text = zplan(project, "plan", "-var", "v=2")
    assert "~ resource.local_file.config" in text.stdout and "will be updated in place" in text.stdout
    assert '~ content = "{\\"v\\": 1}" -> "{\\"v\\": 2}"' in text.stdout
    assert "unchanged attribute" in text.stdout
    assert zplan(project, "apply", "-auto-approve", "-var", "v=2").returncode == 0
    assert json.loads((project / "out/data/config.json").read_text()) == {"v": 2}

    # a new path forces replacement, and what references the folder follows it
    doc = plan_json(project, "-var", "v=2", "-var", "dir=out/moved")
    moved = next(r for r in doc["resources"] if r["address"] == "resource.local_directory.data")
    assert moved["action"] == "replace" and moved["replace_because"] == ["path"]
    text = zplan(project, "plan", "-var", "v=2", "-var", "dir=out/moved").stdout
    assert "-/+ resource.local_directory.data" in text and "(path forces replacement)" in text
    assert zplan(project, "apply", "-auto-approve", "-var", "v=2", "-var", "dir=out/moved").returncode == 0
    assert not (project / "out/data").exists() and (project / "out/moved/config.json").exists()

    # drift: deleted by hand -> the next plan creates it again, saying why
    shutil.rmtree(project / "out/moved")
    doc = plan_json(project, "-var", "v=2", "-var", "dir=out/moved")
    gone = next(r for r in doc["resources"] if r["address"] == "resource.local_directory.data")
    assert gone["action"] == "create" and gone["reasons"][0]["code"] == "deleted_outside_zplan"

    destroyed = zplan(project, "destroy", "-auto-approve", "-var", "v=2", "-var", "dir=out/moved")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not (project / "out/store").exists()
    assert zplan(project, "state", "list").stdout.split() == ["pipeline.p.step.read"]  # step records stay; resources are gone


def test_prevent_destroy_refuses(project: Path) -> None:
    (project / "main.zp.hcl").write_text(HCL.replace('path          = "out/store"', 'path          = "out/store"\n  lifecycle {\n    prevent_destroy = true\n  }'))
    assert zplan(project, "apply", "-auto-approve").returncode == 0
    refused = zplan(project, "destroy", "-auto-approve")
    assert refused.returncode == 1
    assert "resource.local_directory.store has lifecycle.prevent_destroy set" in refused.stderr
    assert (project / "out/store").exists() and (project / "out/data").exists(), "nothing was destroyed"


def test_unknown_resource_type_and_attribute(project: Path) -> None:
    (project / "extra.zp.hcl").write_text('resource "nosuch_bucket" "b" {\n  name = "x"\n}\n')
    proc = zplan(project, "validate")
    assert proc.returncode == 1 and 'extra.zp.hcl:1:' in proc.stderr and 'unknown resource type "nosuch_bucket"' in proc.stderr
    (project / "extra.zp.hcl").write_text('resource "local_directory" "b" {\n  path = "x"\n  colour = "red"\n}\n')
    proc = zplan(project, "validate")
    assert proc.returncode == 1 and "extra.zp.hcl:3" in proc.stderr and 'unsupported attribute "colour"' in proc.stderr


def test_import_adopts_an_existing_directory(project: Path) -> None:
    (project / "out/data").mkdir(parents=True)
    proc = zplan(project, "import", "local_directory.data", "out/data")
    assert proc.returncode == 0, proc.stderr
    assert "resource.local_directory.data" in zplan(project, "state", "list").stdout
    doc = plan_json(project)
    data = next(r for r in doc["resources"] if r["address"] == "resource.local_directory.data")
    # the folder is adopted as it is; only zplan's own setting differs from the configuration
    assert data["action"] == "update" and data["reasons"][0]["message"] == "force_destroy changed"


@pytest.mark.parametrize("id_", ["", "  "])
def test_an_empty_import_id_is_refused(project: Path, id_: str) -> None:
    # an empty id was read as the local provider's path "": the project folder itself was adopted
    proc = zplan(project, "import", "local_directory.data", id_)
    assert proc.returncode == 1 and "the import ID cannot be empty" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "resource.local_directory.data" not in zplan(project, "state", "list").stdout


def test_an_import_by_absolute_or_relative_path_plans_no_change_to_the_path(project: Path) -> None:
    """The local provider resolves a path against the project folder: every spelling of the configured
    folder adopts it as configured, so the next plan does not replace what was adopted."""
    (project / "out/data").mkdir(parents=True)
    (project / "out/store").mkdir(parents=True)
    assert zplan(project, "import", "local_directory.data", str(project / "out/data")).returncode == 0
    assert zplan(project, "import", "local_directory.store", "out/../out/store").returncode == 0
    doc = plan_json(project)
    for address in ("resource.local_directory.data", "resource.local_directory.store"):
        adopted = next(r for r in doc["resources"] if r["address"] == address)
        assert adopted["action"] == "update" and adopted["replace_because"] == [], adopted  # force_destroy alone differs
        assert adopted["before"]["path"] == adopted["after"]["path"] and adopted["before"]["id"] == str(project / adopted["after"]["path"])
    (project / "elsewhere").mkdir()
    zplan(project, "state", "rm", "local_directory.store")
    assert zplan(project, "import", "local_directory.store", str(project / "elsewhere")).returncode == 0
    moved = next(r for r in plan_json(project)["resources"] if r["address"] == "resource.local_directory.store")
    assert moved["action"] == "replace" and moved["replace_because"] == ["path"], moved  # another folder is no match


def test_an_imported_file_holding_a_secret_of_the_configuration_is_sealed_in_state(tmp_path: Path) -> None:
    # The import reads the file into content; the configuration writes it from a sensitive variable.
    (tmp_path / "main.zp.hcl").write_text(
        'variable "pw" {\n  sensitive = true\n}\n\n'
        'resource "local_file" "s" {\n  path              = "secret.txt"\n  sensitive_content = var.pw\n}\n'
    )
    (tmp_path / "secret.txt").write_text("hunter2-topsecret")
    env = {"ZPLAN_VAR_pw": "hunter2-topsecret"}
    assert zplan(tmp_path, "import", "local_file.s", "secret.txt", env=env).returncode == 0
    assert "hunter2-topsecret" not in (tmp_path / ".zplan/state.json").read_text()
    shown = zplan(tmp_path, "state", "show", "local_file.s", env=env)
    assert shown.returncode == 0 and "hunter2-topsecret" not in shown.stdout and '"content": "(sensitive)"' in shown.stdout


def test_a_resource_removed_from_state_and_imported_again_keeps_its_readers_cached(project: Path) -> None:
    # the import recorded inputs the configuration does not set (the file's mode, a null
    # sensitive_content): the step reading the file reran, "changed since the step last ran"
    assert zplan(project, "apply", "-auto-approve").returncode == 0
    assert zplan(project, "state", "rm", "local_file.config").returncode == 0
    assert zplan(project, "import", "local_file.config", "out/data/config.json").returncode == 0
    assert set(actions(plan_json(project)).values()) == {"no-op", "cached"}
    assert zplan(project, "plan", "-detailed-exitcode").returncode == 0


def test_a_directory_removed_from_state_and_imported_again_keeps_its_readers_cached(tmp_path: Path) -> None:
    # the import recorded no created_at (the apply had recorded when it made the folder): the
    # record differed, and the step reading the folder reran, "changed since the step last ran"
    from zplan_provider_local.base import birth_iso

    if birth_iso(tmp_path) is None:
        pytest.skip("this file system keeps no birth time")
    (tmp_path / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path = "out"\n}\n\npipeline "p" {\n  step "read" {\n'
                                          '    source = "steps.py:read"\n    params = { where = resource.local_directory.d.path }\n  }\n}\n')
    (tmp_path / "steps.py").write_text("def read(where: str) -> str:\n    return where\n")
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    assert zplan(tmp_path, "state", "rm", "local_directory.d").returncode == 0
    assert zplan(tmp_path, "import", "local_directory.d", "out").returncode == 0
    assert actions(plan_json(tmp_path)) == {"resource.local_directory.d": "no-op", "pipeline.p.step.read": "cached"}


def test_imported_resources_are_destroyed_dependents_first(tmp_path: Path) -> None:
    # the import recorded no dependencies: destroy took the folder first, while it still held the file
    (tmp_path / "main.zp.hcl").write_text(MOVING_FOLDER.replace("var.dir", '"out"'))
    (tmp_path / "out").mkdir()
    (tmp_path / "out/config.json").write_text("{}")
    assert zplan(tmp_path, "import", "local_directory.data", "out").returncode == 0
    assert zplan(tmp_path, "import", "local_file.inside", "out/config.json").returncode == 0
    destroyed = zplan(tmp_path, "destroy", "-auto-approve")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not (tmp_path / "out").exists()


def test_import_into_a_block_with_count_names_an_instance_to_give(project: Path) -> None:
    (project / "more.zp.hcl").write_text('resource "local_directory" "shard" {\n  count = 2\n  path  = "out/shard${count.index}"\n}\n')
    (project / "out/shard1").mkdir(parents=True)
    refused = zplan(project, "import", "local_directory.shard", "out/shard1")
    assert refused.returncode == 1
    assert "resource.local_directory.shard has 2 instances: import into one of them" in refused.stderr
    assert "zplan import 'resource.local_directory.shard[0]' ID" in refused.stderr
    assert zplan(project, "import", "local_directory.shard[1]", "out/shard1").returncode == 0
    assert "resource.local_directory.shard[1]" in zplan(project, "state", "list").stdout


def test_import_of_a_step_says_it_adopts_resources_only_and_how_a_step_is_recorded(project: Path) -> None:
    # it said the step "is not declared in the configuration: add its resource block first"
    refused = zplan(project, "import", "pipeline.p.step.read", "anything")
    assert refused.returncode == 1
    assert "Error: pipeline.p.step.read is a step: `zplan import` adopts resources only" in refused.stderr
    assert "zplan apply -target pipeline.p.step.read" in refused.stderr
    assert "pipeline.p.step.read" not in zplan(project, "state", "list").stdout


def test_gcp_example_plans_offline_and_apply_fails_fast_without_pulumi(tmp_path: Path) -> None:
    project = tmp_path / "gcp"
    shutil.copytree(ROOT / "examples/gcp-training", project)
    doc = plan_json(project, "-stack", "gcp")
    kinds = actions(doc)
    assert kinds["resource.gcp_storage_bucket.artifacts[0]"] == "create"
    assert kinds["resource.gcp_sql_database.meta[0]"] == "create"
    assert kinds["pipeline.training.step.train"] == "run"
    deploy = next(s for s in doc["steps"] if s["address"] == "pipeline.training.step.deploy")
    assert deploy["action"] == "run" and deploy["params"]["endpoint"] == "wine-classifier-dev"
    assert deploy["inputs"]["model"]["step"] == "pipeline.training.step.train"
    user = next(r for r in doc["resources"] if r["address"] == "resource.gcp_sql_user.zplan[0]")
    assert user["after"]["password"] == "(sensitive)"

    no_pulumi = {"PATH": os.path.dirname(sys.executable)}  # python, but no pulumi binary
    proc = zplan(project, "apply", "-stack", "gcp", "-auto-approve", env=no_pulumi)
    assert proc.returncode == 1
    assert "Pulumi CLI" in proc.stderr and "nothing was changed" in proc.stderr
    state = project / ".zplan/state.json"
    assert not state.exists() or json.loads(state.read_text())["resources"] == {}



def test_aws_example_plans_offline_and_apply_fails_fast_without_pulumi(tmp_path: Path) -> None:
    project = tmp_path / "aws"
    shutil.copytree(ROOT / "examples/aws-training", project)
    assert zplan(project, "validate").returncode == 0
    doc = plan_json(project)
    assert doc["stack"] == "aws"
    kinds = actions(doc)
    for kind in ("sagemaker_model", "sagemaker_endpoint_configuration", "sagemaker_endpoint"):
        assert kinds[f"resource.aws_{kind}.classifier"] == "create"
    assert kinds["pipeline.training.step.train"] == "run"
    model = next(r for r in doc["resources"] if r["address"] == "resource.aws_sagemaker_model.classifier")
    assert "model" in model["after_unknown"]  # the train step's artifact, known once it has run
    # through the train step, whose artifacts go to the bucket and whose metadata to the database
    assert {"resource.aws_s3_bucket.artifacts", "resource.aws_db_instance.meta"} <= set(model["depends_on"])
    endpoint = next(r for r in doc["resources"] if r["address"] == "resource.aws_sagemaker_endpoint.classifier")
    assert "resource.aws_sagemaker_endpoint_configuration.classifier" in endpoint["depends_on"]

    no_pulumi = {"PATH": os.path.dirname(sys.executable)}
    proc = zplan(project, "apply", "-auto-approve", env=no_pulumi)
    assert proc.returncode == 1
    assert "Pulumi CLI" in proc.stderr and proc.stderr.lower().count("nothing was changed") == 1, proc.stderr
    state = project / ".zplan/state.json"
    assert not state.exists() or json.loads(state.read_text())["resources"] == {}


MOVING_FOLDER = """
variable "dir" {
  default = "out/one"
}

resource "local_directory" "data" {
  path = var.dir
}

resource "local_file" "inside" {
  path    = "${resource.local_directory.data.path}/config.json"
  content = "{}"
}
"""


@pytest.mark.parametrize("create_before_destroy", [False, True], ids=["destroy-first", "create-before-destroy"])
def test_moving_a_folder_that_holds_a_file_replaces_the_file_too(tmp_path: Path, create_before_destroy: bool) -> None:
    # no force_destroy: the old folder can only go once the file inside it is gone
    lifecycle = "\n  lifecycle {\n    create_before_destroy = true\n  }\n" if create_before_destroy else ""
    (tmp_path / "main.zp.hcl").write_text(MOVING_FOLDER.replace("path = var.dir\n", "path = var.dir\n" + lifecycle))
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    doc = plan_json(tmp_path, "-var", "dir=out/two")
    assert actions(doc) == {"resource.local_directory.data": "replace", "resource.local_file.inside": "replace"}
    moved = zplan(tmp_path, "apply", "-auto-approve", "-var", "dir=out/two")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert not (tmp_path / "out/one").exists() and (tmp_path / "out/two/config.json").read_text() == "{}"
    assert zplan(tmp_path, "plan", "-detailed-exitcode", "-var", "dir=out/two").returncode == 0
    assert "resource.local_file.inside" in zplan(tmp_path, "state", "list").stdout


def test_attribute_values_reach_the_provider_converted_to_their_type(tmp_path: Path) -> None:
    # As Terraform converts them: "false" is the bool false, so a folder holding files is kept.
    (tmp_path / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path          = "data"\n  force_destroy = "false"\n}\n')
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "data/keep.txt").write_text("precious")
    down = zplan(tmp_path, "destroy", "-auto-approve")
    assert down.returncode == 1 and "not empty" in down.stdout + down.stderr
    assert (tmp_path / "data/keep.txt").exists()


def test_prevent_destroy_of_a_removed_block_says_how_to_let_go(tmp_path: Path) -> None:
    # The recorded prevent_destroy still guards a resource whose block was removed: the message says what to do then.
    (tmp_path / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path = "data"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n')
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "main.zp.hcl").write_text("")
    refused = zplan(tmp_path, "plan")
    assert refused.returncode == 1 and "resource.local_directory.d was applied with lifecycle.prevent_destroy" in refused.stderr
    assert "prevent_destroy = false" in refused.stderr and "zplan state rm resource.local_directory.d" in refused.stderr
    assert (tmp_path / "data").is_dir()


def test_prevent_destroy_added_or_removed_alone_is_recorded_by_the_next_apply(tmp_path: Path) -> None:
    # The flag changes no resource (the plan shows none), yet the apply records it: the removed block stays guarded,
    # and the way out the refusal gives (apply with prevent_destroy = false, then remove the block) works.
    hcl = 'resource "local_directory" "d" {\n  path = "data"\n%s}\n'
    (tmp_path / "main.zp.hcl").write_text(hcl % "")
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    for flag in ("true", "false"):
        (tmp_path / "main.zp.hcl").write_text(hcl % f"  lifecycle {{\n    prevent_destroy = {flag}\n  }}\n")
        assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0
        applied = zplan(tmp_path, "apply", "-auto-approve")
        assert applied.returncode == 0 and "No changes." in applied.stdout
        (tmp_path / "main.zp.hcl").write_text("")
        removed = zplan(tmp_path, "plan")
        if flag == "true":
            assert removed.returncode == 1 and "was applied with lifecycle.prevent_destroy" in removed.stderr
        else:
            assert removed.returncode == 0 and "1 to destroy" in removed.stdout
    assert (tmp_path / "data").is_dir()


def test_setting_an_attribute_to_the_value_the_provider_chose_changes_nothing(tmp_path: Path) -> None:
    # As in Terraform: mode was left to the provider (0755); writing that value into the configuration is no
    # change, while another value, or the folder's mode changed by hand, is an update.
    hcl = 'resource "local_directory" "d" {\n  path = "data"\n%s}\n'
    (tmp_path / "main.zp.hcl").write_text(hcl % "")
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "data").chmod(0o755)
    (tmp_path / "main.zp.hcl").write_text(hcl % '  mode = "0755"\n')
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0
    (tmp_path / "data").chmod(0o700)
    assert actions(plan_json(tmp_path)) == {"resource.local_directory.d": "update"}
    (tmp_path / "main.zp.hcl").write_text(hcl % '  mode = "0700"\n')
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0


def test_ignore_changes_keeps_an_attribute_changed_outside_zplan_or_in_the_configuration(tmp_path: Path) -> None:
    # As in Terraform: the ignored content is neither restored after a hand edit nor rewritten from
    # the configuration, not even by the update another attribute asks for.
    hcl = 'resource "local_file" "f" {\n  path    = "a.txt"\n  content = "%s"\n%s  lifecycle {\n    ignore_changes = [content]\n  }\n}\n'
    (tmp_path / "main.zp.hcl").write_text(hcl % ("made by zplan", ""))
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "a.txt").write_text("edited by hand")
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0
    (tmp_path / "main.zp.hcl").write_text(hcl % ("new in the configuration", ""))
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0
    (tmp_path / "main.zp.hcl").write_text(hcl % ("new in the configuration", '  mode    = "0600"\n'))
    doc = plan_json(tmp_path)
    assert actions(doc) == {"resource.local_file.f": "update"}
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    assert (tmp_path / "a.txt").read_text() == "edited by hand" and (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o600
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0


def test_a_depends_on_added_without_other_change_orders_the_destroy(tmp_path: Path) -> None:
    # the apply of the depends_on changed nothing, so no record names it: destroy reads the configuration too
    nested = 'resource "local_directory" "outer" {\n  path = "out"\n}\n\nresource "local_directory" "inner" {\n  path = "out/in"\n%s}\n'
    (tmp_path / "main.zp.hcl").write_text(nested % "")
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "main.zp.hcl").write_text(nested % "  depends_on = [resource.local_directory.outer]\n")
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    targeted = plan_json(tmp_path, "-destroy", "-target", "local_directory.outer")
    assert actions(targeted) == {"resource.local_directory.outer": "delete", "resource.local_directory.inner": "delete"}
    destroyed = zplan(tmp_path, "destroy", "-auto-approve")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert not (tmp_path / "out").exists()


def test_a_provider_plugin_that_cannot_be_imported_is_named_at_the_block_that_needs_it(tmp_path: Path) -> None:
    # an installed plugin whose import fails (a dependency missing): a user error, not an internal one
    site = tmp_path / "site"
    (site / "brokenprov-0.1.dist-info").mkdir(parents=True)
    (site / "brokenprov-0.1.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: brokenprov\nVersion: 0.1\n")
    (site / "brokenprov-0.1.dist-info/entry_points.txt").write_text("[zplan.providers]\nbroken = broken_plugin:Provider\n")
    (site / "broken_plugin.py").write_text("import a_dependency_not_installed\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path = "d"\n}\n\nresource "broken_thing" "x" {\n  size = 1\n}\n')
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    for command in ("plan", "validate"):
        proc = zplan(project, command, env=env)
        assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
        assert 'main.zp.hcl:5:1: provider plugin "broken" cannot be loaded: ModuleNotFoundError' in proc.stderr
        assert "broken_plugin:Provider (package brokenprov 0.1)" in proc.stderr


@pytest.mark.parametrize("target, named", [("wrong_plugin", "module 'wrong_plugin'"), ("wrong_plugin:Helper", "class 'Helper'"),
                                            ("wrong_plugin:make", "function 'make'")])
def test_a_provider_plugin_whose_entry_point_is_no_provider_class_is_named_at_the_block_that_needs_it(
        tmp_path: Path, target: str, named: str) -> None:
    # the entry point imports but names something else: a user error naming it, not an internal error at first use
    site = tmp_path / "site"
    (site / "wrongprov-0.1.dist-info").mkdir(parents=True)
    (site / "wrongprov-0.1.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: wrongprov\nVersion: 0.1\n")
    (site / "wrongprov-0.1.dist-info/entry_points.txt").write_text(f"[zplan.providers]\nwrong = {target}\n")
    (site / "wrong_plugin.py").write_text("class Helper:\n    pass\n\n\ndef make():\n    return Helper\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.zp.hcl").write_text('resource "wrong_thing" "x" {\n  size = 1\n}\n')
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    for command in ("plan", "validate", "providers"):
        proc = zplan(project, command, env=env)
        assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
        assert f'provider plugin "wrong" cannot be loaded: its entry point {target} (package wrongprov 0.1)' in proc.stderr
        assert f"it names {named}, not a subclass of zplan.provider.Provider" in proc.stderr
    assert "main.zp.hcl:1:1: " in zplan(project, "plan", env=env).stderr
    assert not (project / ".zplan" / "state.json").exists()


def test_a_provider_two_packages_install_is_refused_naming_both(tmp_path: Path) -> None:
    # which one would serve depends on the order of the path: refused, as Terraform refuses an ambiguous provider
    site = tmp_path / "site"
    for package in ("dupprov_a", "dupprov_b"):
        (site / f"{package}-1.0.dist-info").mkdir(parents=True)
        (site / f"{package}-1.0.dist-info/METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
        (site / f"{package}-1.0.dist-info/entry_points.txt").write_text(f"[zplan.providers]\ndup = {package}:Provider\n")
        (site / f"{package}.py").write_text("from zplan.provider import Provider\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.zp.hcl").write_text('resource "dup_thing" "x" {\n  size = 1\n}\n')
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    for command in ("plan", "validate"):
        proc = zplan(project, command, env=env)
        assert proc.returncode == 1 and "internal error" not in proc.stderr, proc.stderr
        assert ('main.zp.hcl:1:1: provider "dup" is installed by more than one package: '
                "dupprov_a 1.0 (dupprov_a:Provider), dupprov_b 1.0 (dupprov_b:Provider)") in proc.stderr, proc.stderr
        assert "uninstall all but the one to use" in proc.stderr


@pytest.mark.parametrize("with_file", [False, True], ids=["alone", "with-a-file-inside"])
def test_replacing_a_folder_before_destroying_it_at_the_same_path_keeps_it(tmp_path: Path, with_file: bool) -> None:
    # the new folder is the old one (created again at its path): deleting "the old one" deleted it,
    # while state recorded it as there
    hcl = ('resource "local_directory" "d" {\n  path          = "out"\n  force_destroy = true\n\n'
           '  lifecycle {\n    create_before_destroy = true\n  }\n}\n')
    if with_file:
        hcl += '\nresource "local_file" "f" {\n  path    = "${resource.local_directory.d.id}/f.txt"\n  content = "x"\n}\n'
    (tmp_path / "main.zp.hcl").write_text(hcl)
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    replaced = zplan(tmp_path, "apply", "-auto-approve", "-replace", "local_directory.d")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert (tmp_path / "out").is_dir() and (tmp_path / "out/f.txt").exists() == with_file
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0


def test_replacing_a_folder_replaces_the_files_inside_it_and_says_so(tmp_path: Path) -> None:
    # deleting the folder deleted the file too, while the plan left the file alone and state
    # recorded it as there (the next plan said "deleted outside zplan")
    hcl = ('resource "local_directory" "d" {\n  path          = "out"\n  force_destroy = true\n}\n\n'
           'resource "local_file" "f" {\n  path    = "${resource.local_directory.d.path}/f.txt"\n  content = "x"\n}\n')
    (tmp_path / "main.zp.hcl").write_text(hcl)
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    doc = plan_json(tmp_path, "-replace", "local_directory.d")
    assert actions(doc) == {"resource.local_directory.d": "replace", "resource.local_file.f": "replace"}
    file_plan = next(r for r in doc["resources"] if r["address"] == "resource.local_file.f")
    assert [r["message"] for r in file_plan["reasons"]] == ["resource.local_directory.d is replaced, and deleting it deletes this too"]
    replaced = zplan(tmp_path, "apply", "-auto-approve", "-replace", "local_directory.d")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert (tmp_path / "out/f.txt").read_text() == "x"
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0


@pytest.mark.parametrize("narrowing", [["-target", "local_directory.d"], ["-exclude", "local_file.f"]], ids=["target", "exclude"])
def test_a_narrowed_plan_that_would_delete_a_file_with_its_folder_is_refused(tmp_path: Path, narrowing: list[str]) -> None:
    # the folder replaced alone deleted the file left out of the plan, which state kept as there
    hcl = ('resource "local_directory" "d" {\n  path          = "out"\n  force_destroy = true\n}\n\n'
           'resource "local_file" "f" {\n  path    = "${resource.local_directory.d.path}/f.txt"\n  content = "x"\n}\n')
    (tmp_path / "main.zp.hcl").write_text(hcl)
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    for command in ("plan", "apply"):
        args = [command, *(["-auto-approve"] if command == "apply" else []), "-replace", "local_directory.d", *narrowing]
        refused = zplan(tmp_path, *args)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert ("resource.local_directory.d is replaced, and deleting it deletes resource.local_file.f too, "
                "which this plan leaves out") in refused.stderr, refused.stderr
    assert (tmp_path / "out/f.txt").read_text() == "x"
    assert zplan(tmp_path, "plan", "-detailed-exitcode").returncode == 0


def test_removing_a_folder_that_holds_a_file_the_configuration_keeps_is_refused(tmp_path: Path) -> None:
    # the folder's delete took the file with it, which the plan kept and state recorded as there
    folder = 'resource "local_directory" "d" {\n  path          = "out"\n  force_destroy = true\n}\n\n'
    file = 'resource "local_file" "f" {\n  path    = "out/f.txt"\n  content = "x"\n}\n'
    (tmp_path / "main.zp.hcl").write_text(folder + file)
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    (tmp_path / "main.zp.hcl").write_text(file)
    refused = zplan(tmp_path, "apply", "-auto-approve")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "resource.local_directory.d is destroyed, and deleting it deletes resource.local_file.f too, which this plan keeps" in refused.stderr
    assert (tmp_path / "out/f.txt").read_text() == "x"


def test_a_removed_resource_whose_provider_is_not_installed_still_plans_its_destroy(tmp_path: Path) -> None:
    (tmp_path / "main.zp.hcl").write_text('resource "local_directory" "d" {\n  path = "d"\n}\n')
    assert zplan(tmp_path, "apply", "-auto-approve").returncode == 0
    state = json.loads((tmp_path / ".zplan/state.json").read_text())
    record = state["resources"]["resource.local_directory.d"]
    state["resources"]["resource.gone_thing.x"] = {**record, "type": "gone_thing", "provider": "gone"}
    (tmp_path / ".zplan/state.json").write_text(json.dumps(state))
    doc = plan_json(tmp_path)
    assert actions(doc) == {"resource.local_directory.d": "no-op", "resource.gone_thing.x": "delete"}
