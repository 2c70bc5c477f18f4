"""A step's plan reasons and who applied a run, recorded with the run; stores written before
either was kept still read (their runs show no applier, their steps no reasons)."""

from __future__ import annotations

from pathlib import Path

from .scenario import GIT1, T0, art
from zplan.metadata import Applier, MetadataStore, StepReason, applier
from zplan.metadata import schema, writer

URL = "sqlite:///.zplan/metadata.db"
REASONS = (StepReason("params_changed", "params.c: 1.0 -> 0.5"), StepReason("upstream_reruns", "upstream reruns: split"))


def _record(store: MetadataStore, run: int, name: str, state: str, **kw) -> None:
    store.record_execution(run, address=f"pipeline.p.step.{name}", pipeline="p", step=name, cache_key=f"k-{name}",
                           params={}, code_hash="c", state=state, started_at=T0, finished_at=T0 + 1, error=None,
                           outputs={"output": art(name)}, **kw)


def test_reasons_cached_from_and_applier_read_back(tmp_path: Path) -> None:
    store = MetadataStore.from_url(URL, tmp_path)
    who = Applier("alice", "GitHub Actions", "https://github.com/o/r/actions/runs/7")
    run = store.start_run("p", "local", GIT1, T0, who)
    _record(store, run, "train", "complete", reasons=REASONS)
    _record(store, run, "load", "cached", cached_from=3)
    _record(store, run, "score", "complete")
    store.close()
    again = MetadataStore.from_url(URL, tmp_path)
    assert again.runs()[0].applier == who
    train, load, score = again.run_detail(run).executions
    assert train.reasons == REASONS and train.cached_from is None
    assert load.reasons == () and load.cached_from == 3
    assert score.reasons == ()  # recorded with no reason: empty, not unknown


def test_a_store_written_before_reasons_and_appliers_still_reads(tmp_path: Path, monkeypatch) -> None:
    old_step = {k: v for k, v in schema._STEP_PROPS.items() if k not in ("reasons", "cached_from")}
    old_run = {k: v for k, v in schema._RUN_PROPS.items() if k not in ("user", "ci", "ci_url")}
    monkeypatch.setattr(schema, "_STEP_PROPS", old_step)
    monkeypatch.setattr(schema, "_RUN_PROPS", old_run)
    monkeypatch.setattr(writer.cv, "reasons_json", lambda reasons: None)  # the older writer set no such property
    old = MetadataStore.from_url(URL, tmp_path)
    _record(old, old.start_run("p", "local", GIT1, T0), "train", "complete")
    old.close()
    monkeypatch.undo()

    store = MetadataStore.from_url(URL, tmp_path)
    [summary] = store.runs()
    assert summary.applier == Applier() and summary.host
    [train] = store.run_detail(1).executions
    assert train.reasons is None and train.cached_from is None
    run = store.start_run("p", "local", GIT1, T0 + 10, Applier("bob"))  # the newer writer adds the properties
    _record(store, run, "train", "complete", reasons=REASONS[:1])
    assert [r.applier.user for r in store.runs()] == ["bob", None]
    assert store.run_detail(2).executions[0].reasons == REASONS[:1]
    assert store.run_detail(1).executions[0].reasons is None


def test_applier_names_the_ci_and_its_run_page() -> None:
    github = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_SERVER_URL": "https://github.com",
              "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "4242"}
    assert applier(github).ci == "GitHub Actions"
    assert applier(github).ci_url == "https://github.com/acme/models/actions/runs/4242"
    gitlab = applier({"GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab.example/g/p/-/jobs/9"})
    assert (gitlab.ci, gitlab.ci_url) == ("GitLab CI", "https://gitlab.example/g/p/-/jobs/9")
    buildkite = applier({"BUILDKITE": "true", "BUILDKITE_BUILD_URL": "https://buildkite.com/o/p/builds/3"})
    assert (buildkite.ci, buildkite.ci_url) == ("Buildkite", "https://buildkite.com/o/p/builds/3")
    assert (applier({"CI": "true"}).ci, applier({"CI": "true"}).ci_url) == ("CI", None)
    assert applier({"CI": "false"}).ci is None and applier({}).ci is None
    assert applier({"BUILDKITE": "true", "BUILDKITE_BUILD_URL": "javascript:alert(1)"}).ci_url is None
    assert applier({}).user  # the OS user


def test_a_store_a_newer_zplan_added_properties_to_is_still_written(tmp_path: Path, monkeypatch) -> None:
    newer_step = {**schema._STEP_PROPS, "a_later_property": "STRING"}
    monkeypatch.setattr(schema, "_STEP_PROPS", newer_step)
    newer = MetadataStore.from_url(URL, tmp_path)
    _record(newer, newer.start_run("p", "local", GIT1, T0), "train", "complete")
    newer.close()
    monkeypatch.undo()

    store = MetadataStore.from_url(URL, tmp_path)  # this zplan declares fewer properties than the store has
    run = store.start_run("p", "local", GIT1, T0 + 10)
    _record(store, run, "train", "complete")
    assert [e.address for e in store.run_detail(run).executions] == ["pipeline.p.step.train"]
