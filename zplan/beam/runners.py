"""Beam pipeline options from a stack's ``processing`` setting and its ``beam_options``.

The same step runs on this machine or on a cluster: ``processing =
"beam:DirectRunner"`` (the default), ``"beam:DaskRunner"``, ``"beam:DataflowRunner"``,
``"beam:SparkRunner"`` or ``"beam:FlinkRunner"``; the stack's ``beam_options``
map holds Beam's own option names (``temp_location``, ``max_num_workers``...).

Options are parsed and validated by Beam's option classes, before anything
runs, and every failure becomes a diagnostic naming the option. Beam's own
Dataflow validation is called piece by piece, skipping the parts that talk to
Cloud Storage, so validating a plan never needs the network.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
from functools import lru_cache
from typing import Any, Callable, Mapping

from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    WorkerOptions,
    _BeamArgumentParser,
)
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator

from zplan.diags import fail

PREFIX = "beam:"
DEFAULT = "beam:DirectRunner"

# Named explicitly: Beam's default runner first tries to download the Prism
# binary, which fails without network, before falling back to this one.
LOCAL_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
# Beam's DaskRunner behind a check of the pipeline (see zplan.beam.dask_runner).
DASK_RUNNER = "zplan.beam.dask_runner.CheckedDaskRunner"


def options_from_stack(stack: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(processing, beam_options)`` from a stack's settings."""
    return str(stack.get("processing") or DEFAULT), dict(stack.get("beam_options") or {})


def runner_name(processing: str | None) -> str:
    """``"beam:SparkRunner"`` -> ``"SparkRunner"``; anything else is a diagnostic."""
    processing = processing or DEFAULT
    known = ", ".join(PREFIX + name for name in _BUILDERS)
    if not processing.startswith(PREFIX):
        raise fail(f'processing "{processing}" is not a Beam runner', f"a Beam step runs on one of: {known}")
    name = processing[len(PREFIX):]
    if name not in _BUILDERS:
        hint = difflib.get_close_matches(name, list(_BUILDERS), n=1)
        did_you_mean = f'did you mean "{PREFIX}{hint[0]}"? ' if hint else ""
        raise fail(f'unknown Beam runner "{processing}"', f"{did_you_mean}known runners: {known}")
    return name


def pipeline_options(processing: str | None, settings: Mapping[str, Any]) -> PipelineOptions:
    """Validated ``PipelineOptions`` for the runner named by ``processing``."""
    runner = runner_name(processing)
    _check_known(settings, processing or DEFAULT)
    values = _BUILDERS[runner](dict(settings))
    options = PipelineOptions(_flags(values))
    _parse_all(options, processing or DEFAULT)
    problems = PipelineOptionsValidator(options, None).validate() + _CHECKS[runner](options)
    if problems:
        raise fail(
            f'invalid Beam options for "{processing or DEFAULT}": ' + "; ".join(problems),
            "set them in the stack's beam_options map",
        )
    return options


def default_dask_address(settings: dict[str, Any], stack: Mapping[str, Any], range=None) -> None:
    """On the DaskRunner, use the dask orchestrator's scheduler unless beam_options names one."""
    if settings.get("dask_client_address"):
        return
    options = stack.get("orchestrator_options")
    scheduler = options.get("scheduler") if isinstance(options, Mapping) else None
    if stack.get("orchestrator") == "dask" and isinstance(scheduler, str) and scheduler:
        settings["dask_client_address"] = scheduler
        return
    raise fail('processing = "beam:DaskRunner" needs a Dask scheduler',
               'use orchestrator = "dask" (its scheduler is used) or set beam_options = { dask_client_address = "tcp://HOST:8786" }',
               range)


def cache_relevant(processing: str | None, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the processing settings that belongs in a step's cache key.

    The runner is deliberately absent, as are worker counts, machine types,
    regions and temp locations: they decide where and how fast a step runs, not
    what it produces (outputs are written deterministically, so a step run on
    the DirectRunner and on Dataflow yields the same artifact). Moving a stack
    from one runner to another must not rerun every Beam step. What remains is
    the SDK's minor version, whose transforms could change results.
    """
    runner_name(processing)  # a typo in the runner still fails at plan time
    import apache_beam

    return {"engine": "apache_beam", "sdk": ".".join(apache_beam.__version__.split(".")[:2])}


# --- per-runner defaults -------------------------------------------------------


def _direct(values: dict[str, Any]) -> dict[str, Any]:
    values["runner"] = LOCAL_RUNNER
    mode = values.setdefault("direct_running_mode", "multi_processing")
    # One worker is all in_memory can use; asking for more only logs a warning.
    values.setdefault("direct_num_workers", 1 if mode == "in_memory" else (os.cpu_count() or 1))
    return values


def _dataflow(values: dict[str, Any]) -> dict[str, Any]:
    values["runner"] = "DataflowRunner"  # without staging_location, Beam stages under temp_location
    return values


def _spark(values: dict[str, Any]) -> dict[str, Any]:
    # With a running job server, submit to it; otherwise Beam starts one for the master URL.
    values["runner"] = "PortableRunner" if values.get("job_endpoint") else "SparkRunner"
    return values


def _flink(values: dict[str, Any]) -> dict[str, Any]:
    values["runner"] = "PortableRunner" if values.get("job_endpoint") else "FlinkRunner"
    return values


def _dask(values: dict[str, Any]) -> dict[str, Any]:
    try:
        import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers the dask_* options
        import distributed  # noqa: F401
    except ImportError:
        raise fail('processing = "beam:DaskRunner" needs Dask', "install the dask extra: pip install 'zplan[dask]'") from None
    values["runner"] = DASK_RUNNER
    return values


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "DirectRunner": _direct,
    "DaskRunner": _dask,
    "DataflowRunner": _dataflow,
    "SparkRunner": _spark,
    "FlinkRunner": _flink,
}


# --- per-runner checks (each returns a list of problems) ----------------------


def _check_direct(options: PipelineOptions) -> list[str]:
    workers = options.get_all_options()["direct_num_workers"]
    return [] if workers >= 1 else [f"direct_num_workers must be at least 1 (got {workers})"]


def _check_dataflow(options: PipelineOptions) -> list[str]:
    validator = PipelineOptionsValidator(options, None)
    cloud = options.view_as(GoogleCloudOptions)
    workers = options.view_as(WorkerOptions)
    problems = []
    if not cloud.temp_location:
        problems.append("temp_location is required (a gs:// folder for temporary files)")
    else:
        problems += validator.validate_gcs_path(cloud, "temp_location")
    if cloud.staging_location:
        problems += validator.validate_gcs_path(cloud, "staging_location")
    if not cloud.region:
        problems.append("region is required (e.g. europe-west1)")
    problems += validator.validate_cloud_options(cloud)  # project, job_name
    problems += validator.validate_num_workers(workers)
    problems += validator.validate_worker_region_zone(workers)
    return [p.replace("Missing required option: project.", "project is required (the GCP project id)") for p in problems]


_SPARK_MASTER = re.compile(r"^(local(\[(\d+|\*)\])?|spark://\S+|yarn|k8s://\S+|mesos://\S+)$")


def _check_spark(options: PipelineOptions) -> list[str]:
    portable = options.view_as(PortableOptions)
    if portable.job_endpoint:
        return []
    given = options.get_all_options(drop_default=True)
    if "spark_master_url" not in given:
        return ["spark_master_url (e.g. spark://host:7077) or job_endpoint (a running Beam job server) is required"]
    url = given["spark_master_url"]
    return [] if _SPARK_MASTER.match(url) else [f"spark_master_url {url!r} is not a Spark master URL (spark://host:port, local[N], yarn, k8s://...)"]


_FLINK_MASTER = re.compile(r"^(\[(auto|local|collection)\]|(https?://)?[\w.-]+:\d+)$")


def _check_flink(options: PipelineOptions) -> list[str]:
    if options.view_as(PortableOptions).job_endpoint:
        return []
    flink = options.view_as(FlinkRunnerOptions)
    given = options.get_all_options(drop_default=True)
    problems = []
    if "flink_master" not in given:
        problems.append("flink_master (host:port of the JobManager, or [local]) or job_endpoint is required")
    elif not _FLINK_MASTER.match(flink.flink_master):
        problems.append(f"flink_master {flink.flink_master!r} is not host:port, [local], [auto] or [collection]")
    if flink.parallelism != -1 and flink.parallelism < 1:
        problems.append(f"parallelism must be at least 1 (got {flink.parallelism})")
    return problems


_CHECKS: dict[str, Callable[[PipelineOptions], list[str]]] = {
    "DirectRunner": _check_direct,
    "DaskRunner": lambda options: [],
    "DataflowRunner": _check_dataflow,
    "SparkRunner": _check_spark,
    "FlinkRunner": _check_flink,
}


# --- settings -> Beam flags ----------------------------------------------------


@lru_cache(maxsize=1)
def _parser() -> _BeamArgumentParser:
    """Every option Beam knows, as Beam itself collects them."""
    with contextlib.suppress(ImportError):  # its options (dask_client_address...) join the known ones
        import apache_beam.runners.dask.dask_runner  # noqa: F401
    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - the way Beam builds its own parser
    return parser


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    names = set()
    for action in _parser()._actions:  # noqa: SLF001
        names.add(action.dest)
        names.update(s.lstrip("-") for s in action.option_strings if s.startswith("--"))
    return frozenset(names)


def _check_known(settings: Mapping[str, Any], processing: str) -> None:
    unknown = [k for k in settings if k not in _known_names() or k == "runner"]
    if not unknown:
        return
    details = []
    for key in unknown:
        if key == "runner":
            details.append('"runner" is chosen by processing = "beam:<Runner>", not in beam_options')
            continue
        hint = difflib.get_close_matches(key, sorted(_known_names()), n=1)
        details.append(f'"{key}"' + (f' (did you mean "{hint[0]}"?)' if hint else ""))
    raise fail(f'unknown Beam option {", ".join(details)} for "{processing}"', "beam_options takes Beam's pipeline option names")


_NEGATIONS = {"use_public_ips": "no_use_public_ips", "save_main_session": "no_save_main_session"}


def _flags(values: Mapping[str, Any]) -> list[str]:
    flags = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                flags.append(f"--{key}")
            elif key in _NEGATIONS:
                flags.append(f"--{_NEGATIONS[key]}")
        elif isinstance(value, (list, tuple)):
            flags.extend(f"--{key}={item}" for item in value)
        elif isinstance(value, dict):
            flags.append(f"--{key}={json.dumps(value)}")
        else:
            flags.append(f"--{key}={value}")
    return flags


def _parse_all(options: PipelineOptions, processing: str) -> None:
    """Parse every flag now, turning argparse's exit into a diagnostic."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            options.get_all_options()
    except SystemExit:
        message = errors.getvalue().strip().splitlines()[-1:] or ["invalid option"]
        text = re.sub(r"^\S+: error: ", "", message[0]).replace("argument --", "option ")
        raise fail(f'invalid Beam option for "{processing}": {text}', "fix the value in the stack's beam_options map") from None


__all__ = ["DEFAULT", "cache_relevant", "options_from_stack", "pipeline_options", "runner_name"]
