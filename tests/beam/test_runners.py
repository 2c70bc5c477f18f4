"""Runner choice from the stack: option sets built and validated by Beam's own classes."""

from __future__ import annotations

import os

import pytest
from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PortableOptions,
    SparkRunnerOptions,
    StandardOptions,
    WorkerOptions,
)

from zplan.beam.runners import LOCAL_RUNNER, cache_relevant, options_from_stack, pipeline_options
from zplan.diags import DiagnosticError

DATAFLOW = {
    "project": "acme-ml",
    "region": "europe-west1",
    "temp_location": "gs://acme-ml-tmp/beam",
    "staging_location": "gs://acme-ml-tmp/staging",
    "service_account_email": "beam@acme-ml.iam.gserviceaccount.com",
    "machine_type": "n2-standard-4",
    "max_num_workers": 20,
    "sdk_container_image": "europe-docker.pkg.dev/acme-ml/beam/worker:1",
    "experiments": ["use_runner_v2"],
    "use_public_ips": False,
}


def error_text(processing: str, settings: dict) -> str:
    with pytest.raises(DiagnosticError) as info:
        pipeline_options(processing, settings)
    return str(info.value)


def test_direct_runner_defaults_to_fn_api_runner_with_one_process_per_core():
    options = pipeline_options("beam:DirectRunner", {})
    assert options.view_as(StandardOptions).runner == LOCAL_RUNNER
    direct = options.view_as(DirectOptions)
    assert direct.direct_running_mode == "multi_processing"
    assert direct.direct_num_workers == os.cpu_count()


def test_direct_runner_mode_and_workers_can_be_overridden():
    direct = pipeline_options(None, {"direct_running_mode": "in_memory"}).view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == ("in_memory", 1)
    direct = pipeline_options("beam:DirectRunner", {"direct_num_workers": 3}).view_as(DirectOptions)
    assert direct.direct_num_workers == 3


def test_dataflow_options_are_built_and_validated():
    options = pipeline_options("beam:DataflowRunner", DATAFLOW)
    cloud, workers = options.view_as(GoogleCloudOptions), options.view_as(WorkerOptions)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert (cloud.project, cloud.region, cloud.temp_location) == ("acme-ml", "europe-west1", "gs://acme-ml-tmp/beam")
    assert cloud.service_account_email == DATAFLOW["service_account_email"]
    assert (workers.machine_type, workers.max_num_workers) == ("n2-standard-4", 20)
    assert workers.sdk_container_image == DATAFLOW["sdk_container_image"]
    assert workers.use_public_ips is False


def test_dataflow_without_temp_location_names_it():
    settings = {k: v for k, v in DATAFLOW.items() if k not in ("temp_location", "staging_location")}
    text = error_text("beam:DataflowRunner", settings)
    assert "temp_location is required" in text
    assert 'invalid Beam options for "beam:DataflowRunner"' in text


def test_dataflow_rejects_local_paths_bad_projects_and_worker_counts():
    assert "Invalid GCS path (/tmp/beam)" in error_text("beam:DataflowRunner", {**DATAFLOW, "temp_location": "/tmp/beam"})
    assert "project is required" in error_text("beam:DataflowRunner", {k: v for k, v in DATAFLOW.items() if k != "project"})
    assert "Invalid Project ID" in error_text("beam:DataflowRunner", {**DATAFLOW, "project": "Bad_Project"})
    assert "cannot exceed max_num_workers" in error_text("beam:DataflowRunner", {**DATAFLOW, "num_workers": 50})
    assert "region is required" in error_text("beam:DataflowRunner", {k: v for k, v in DATAFLOW.items() if k != "region"})


def test_spark_runner_with_a_master_or_a_job_server():
    options = pipeline_options("beam:SparkRunner", {"spark_master_url": "spark://spark-master:7077"})
    assert options.view_as(StandardOptions).runner == "SparkRunner"
    assert options.view_as(SparkRunnerOptions).spark_master_url == "spark://spark-master:7077"
    portable = pipeline_options("beam:SparkRunner", {"job_endpoint": "jobserver:8099", "environment_type": "LOOPBACK"})
    assert portable.view_as(StandardOptions).runner == "PortableRunner"
    assert portable.view_as(PortableOptions).job_endpoint == "jobserver:8099"


def test_spark_runner_needs_a_valid_master():
    assert "spark_master_url" in error_text("beam:SparkRunner", {})
    assert "is not a Spark master URL" in error_text("beam:SparkRunner", {"spark_master_url": "http://spark:8080"})


def test_flink_runner_options():
    options = pipeline_options("beam:FlinkRunner", {"flink_master": "flink-jobmanager:8081", "parallelism": 8})
    flink = options.view_as(FlinkRunnerOptions)
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    assert (flink.flink_master, flink.parallelism) == ("flink-jobmanager:8081", 8)
    text = error_text("beam:FlinkRunner", {"flink_master": "jobmanager", "parallelism": 0})
    assert "flink_master 'jobmanager' is not host:port" in text and "parallelism must be at least 1" in text
    assert "flink_master" in error_text("beam:FlinkRunner", {})


def test_bad_values_unknown_options_and_runners_are_diagnostics():
    assert "option direct_num_workers: invalid int value: 'two'" in error_text(None, {"direct_num_workers": "two"})
    assert "invalid choice: 'fast'" in error_text(None, {"direct_running_mode": "fast"})
    assert 'did you mean "max_num_workers"' in error_text("beam:DataflowRunner", {**DATAFLOW, "max_num_worker": 3})
    assert "chosen by processing" in error_text(None, {"runner": "DataflowRunner"})
    assert 'did you mean "beam:FlinkRunner"' in error_text("beam:Flink", {})
    assert "is not a Beam runner" in error_text("spark", {})


def test_runner_is_not_part_of_the_cache_key():
    local = cache_relevant("beam:DirectRunner", {"direct_running_mode": "in_memory"})
    remote = cache_relevant("beam:DataflowRunner", DATAFLOW)
    assert local == remote
    flat = repr(local)
    assert "Runner" not in flat and "runner" not in local and "europe-west1" not in flat
    with pytest.raises(DiagnosticError):
        cache_relevant("beam:NoSuchRunner", {})


def test_options_come_from_the_stack_settings():
    stack = {"processing": "beam:FlinkRunner", "beam_options": {"flink_master": "[local]"}, "orchestrator": "local"}
    assert options_from_stack(stack) == ("beam:FlinkRunner", {"flink_master": "[local]"})
    assert options_from_stack({}) == ("beam:DirectRunner", {})
