"""The read API on a team stack: artifacts on the S3 test server, metadata and state on MariaDB.
Everything the apply recorded reads back through `zplan.open(..., stack="team")`, in a fresh cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import zplan
from tests.testdata.team.harness import QUICKSTART, Zplan, copy_project, write_stacks
from zplan.api import ArtifactDamaged

pytestmark = pytest.mark.slow

STEPS = ("load", "split", "scale", "train", "evaluate")


def test_team_stack_reads_back_through_the_api(tmp_path: Path, s3_url: str, mysql_url: str, monkeypatch) -> None:
    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    write_stacks(project, f"""
variable "db_password" {{
  type      = string
  sensitive = true
}}

stack "team" {{
  artifact_store    = "{s3_url}"
  metadata_store    = "{mysql_url.replace('zplan:zplan@', 'zplan@')}"
  metadata_password = var.db_password
}}
""")
    zp = Zplan(project, {"ZPLAN_VAR_db_password": "zplan"})
    zp("apply", "-auto-approve", "-stack", "team")
    recorded = json.loads(zp("output", "-json", "-stack", "team").out)
    shutil.rmtree(project / ".zplan" / "cache", ignore_errors=True)  # every load comes from the bucket

    monkeypatch.setenv("ZPLAN_VAR_db_password", "zplan")
    api = zplan.open(project, stack="team")
    (run,) = api.runs()
    assert run.status == "succeeded"
    assert api.output("accuracy") == recorded["accuracy"]["value"] == api.output("accuracy", run=run.number)
    for execution in api.run(run.number).executions:
        for name, view in execution.outputs.items():
            artifact = api.artifact(execution.address, output=name)
            assert artifact.uri == view.uri and artifact.uri.startswith(s3_url + "/")
            assert artifact.load() is not None
    assert {e.step for e in api.run(run.number).executions} == set(STEPS)

    # The bucket's copy of the model altered behind zplan's back: refused, not loaded.
    model = api.artifact("pipeline.training.step.train")
    shutil.rmtree(project / ".zplan" / "cache", ignore_errors=True)
    import boto3

    bucket, _, prefix = s3_url[len("s3://"):].partition("/")
    s3 = boto3.client("s3")
    key = next(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")["Contents"]
               if model.digest in o["Key"] and not o["Key"].endswith(".zplan-complete"))
    s3.put_object(Bucket=bucket, Key=key, Body=b"not the model")
    with pytest.raises(ArtifactDamaged):
        model.load()

