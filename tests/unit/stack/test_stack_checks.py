"""Stack settings checked at plan time: components without a flavor, stores pods cannot reach,
Vertex's required options, and Beam runner options (checked by Beam, remembered once valid)."""

from __future__ import annotations

import json

from zplan.cluster.connect import shared_project_dir
from zplan.stack.flavors import problems

LOCAL = {"artifact_store": "file://.zplan/artifacts", "metadata_store": "sqlite:///.zplan/metadata.db"}
REMOTE = {"artifact_store": "s3://bucket/a", "metadata_store": "mysql://zplan@db:3306/zplan", "container_image": "img:1"}


def test_a_component_without_a_flavor_is_reported():
    assert problems({**LOCAL, "orchestrator": "local", "step_operator": "sagemaker"}) == [
        'step_operator "sagemaker" matches no installed flavor (known: )'
    ]


def test_pods_cannot_reach_local_stores():
    found = problems({**LOCAL, "orchestrator": "kubeflow", "container_image": "img:1"})
    assert len(found) == 2 and all("cannot reach" in f for f in found)
    assert problems({**REMOTE, "orchestrator": "kubeflow"}) == []


def test_vertex_needs_project_location_and_root():
    found = problems({**REMOTE, "orchestrator": "vertex", "orchestrator_options": {"project": "p"}})
    assert found == [
        'orchestrator: orchestrator "vertex" needs location, pipeline_root in orchestrator_options '
        '(e.g. project = "my-project", location = "europe-west4", pipeline_root = "gs://bucket/pipelines")'
    ]


def test_beam_runner_options_are_checked_and_remembered_once_valid(tmp_path):
    spark = {**LOCAL, "processing": "beam:SparkRunner"}
    [message] = problems({**spark, "beam_options": {}}, tmp_path)
    assert "spark_master_url" in message
    assert not (tmp_path / "beam-options.json").exists(), "an invalid setting is not remembered"
    good = {**spark, "beam_options": {"spark_master_url": "spark://host:7077"}}
    assert problems(good, tmp_path) == []
    assert len(json.loads((tmp_path / "beam-options.json").read_text())) == 1
    assert problems(good, tmp_path) == []  # answered from the memo


def test_dataflow_needs_project_region_and_temp_location(tmp_path):
    [message] = problems({**LOCAL, "processing": "beam:DataflowRunner", "beam_options": {}}, tmp_path)
    assert "temp_location is required" in message and "region is required" in message and "project is required" in message


def test_variable_defaults_are_checked_against_their_type(tmp_path):
    import pytest

    from zplan import diags
    from zplan.config import loader

    (tmp_path / "main.zp.hcl").write_text(
        'variable "rows" {\n  type = number\n  default = "many"\n}\n'
        'variable "flag" {\n  type    = bool\n  default = true\n}\n'
    )
    with pytest.raises(diags.DiagnosticError) as err:
        loader.load(tmp_path)  # checked when the configuration loads, whatever value is given later
    [problem] = err.value.diagnostics
    assert 'the default of variable "rows" does not fit its type number' in str(problem)
    assert 'var.rows: a number is required, got "many"' in str(problem)
    assert "main.zp.hcl:1" in str(problem)


def test_the_dask_runner_needs_a_scheduler_before_anything_runs():
    dask_runner = {**LOCAL, "orchestrator": "local", "processing": "beam:DaskRunner"}
    [message] = problems(dask_runner)
    assert message.startswith('processing: processing = "beam:DaskRunner" needs a Dask scheduler')
    assert problems({**dask_runner, "beam_options": {"dask_client_address": "tcp://h:8786"}}) == []
    on_dask = {**dask_runner, "artifact_store": "s3://b/a", "orchestrator": "dask", "orchestrator_options": {"scheduler": "tcp://h:8786"}}
    assert problems(on_dask) == []


def test_an_unknown_beam_runner_is_reported_once_with_a_suggestion(tmp_path):
    [message] = problems({**LOCAL, "processing": "beam:FlinRunner"}, tmp_path)
    assert 'unknown Beam runner "FlinRunner"' in message and 'did you mean "FlinkRunner"?' in message


def test_dask_shared_project_dir_must_be_a_bool():
    # "false" (from -var, say) is false, as Terraform converts it; before, any non-empty text counted as true
    dask = {"artifact_store": "s3://b/a", "metadata_store": "sqlite:///m.db", "orchestrator": "dask"}
    [message] = problems({**dask, "orchestrator_options": {"scheduler": "tcp://h:8786", "shared_project_dir": "no"}})
    assert message == 'orchestrator: shared_project_dir must be true or false, got "no"'
    assert problems({**dask, "orchestrator_options": {"scheduler": "tcp://h:8786", "shared_project_dir": "false"}}) == []
    assert shared_project_dir({"orchestrator_options": {"shared_project_dir": "false"}}) is False


def test_orchestrator_options_the_orchestrator_does_not_read_are_named():
    dask = {"artifact_store": "s3://b/a", "metadata_store": "sqlite:///m.db", "orchestrator": "dask"}
    [message] = problems({**dask, "orchestrator_options": {"scheduler": "tcp://h:8786", "conect_timeout": "5s"}})
    assert message == ('orchestrator: orchestrator "dask" does not read orchestrator_options.conect_timeout '
                       '(did you mean "connect_timeout"?; it reads: connect_timeout, scheduler, shared_project_dir)')
    [message] = problems({**LOCAL, "orchestrator": "local", "orchestrator_options": {"scheduler": "tcp://h:8786"}})
    assert message.startswith('orchestrator: orchestrator "local" does not read orchestrator_options.scheduler')


def test_kubeflow_and_vertex_name_the_options_they_do_not_read():
    """A misspelt host (``hots``) was ignored: apply wrote the spec and said no host was configured."""
    [message] = problems({**REMOTE, "orchestrator": "kubeflow", "orchestrator_options": {"hots": "http://kfp:8888"}})
    assert message == ('orchestrator: orchestrator "kubeflow" does not read orchestrator_options.hots '
                       '(did you mean "host"?; it reads: experiment, host, namespace)')
    assert problems({**REMOTE, "orchestrator": "kubeflow",
                     "orchestrator_options": {"host": "http://kfp:8888", "namespace": "ml", "experiment": "e"}}) == []
    vertex = {"project": "p", "location": "europe-west4", "pipeline_root": "gs://b/p", "service_account": "sa@p"}
    assert problems({**REMOTE, "orchestrator": "vertex", "orchestrator_options": vertex}) == []
    [message] = problems({**REMOTE, "orchestrator": "vertex", "orchestrator_options": {**vertex, "servce_account": "x"}})
    assert 'does not read orchestrator_options.servce_account (did you mean "service_account"?' in message


def test_vertex_pipeline_root_is_a_cloud_storage_folder():
    """Vertex AI takes a pipeline root in Cloud Storage only (its gcs_output_directory): an s3:// or local one planned."""
    vertex = {"project": "p", "location": "europe-west4"}
    for root in ("s3://bucket/pipelines", "/tmp/pipelines"):
        [message] = problems({**REMOTE, "orchestrator": "vertex", "orchestrator_options": {**vertex, "pipeline_root": root}})
        assert message == f'orchestrator: orchestrator "vertex": pipeline_root "{root}" must be a Cloud Storage folder, e.g. "gs://bucket/pipelines"'
    assert problems({**REMOTE, "orchestrator": "vertex", "orchestrator_options": {**vertex, "pipeline_root": "gs://b/p"}}) == []
