"""`zplan gc` on the local store: what goes (nothing refers to it), what stays (kept runs,
latest step records and their data snapshots, outputs), dry runs, bad input, and a gc
started while another real apply process is running (issue 20 item 3)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import zplan

from tests.cli.helpers import Project, ran, with_store_read_only
from tests.cli.procs import start_zplan
from zplan.artifacts import ArtifactStore


def stored(project: Project) -> dict[str, int]:
    """digest -> size of every complete artifact in the project's store."""
    return {a.digest: a.size for a in ArtifactStore.from_url("file://.zplan/artifacts", project.root).listing()}


def listed(result) -> dict[str, str]:
    """digest -> size text, from gc's lines."""
    return dict(re.findall(r"^  - ([0-9a-f]{32})\s+(\S+ \S+)\s", result.out, re.M))


def outputs_of(project: Project, *steps: str) -> set[str]:
    (store,) = project.state()["stores"].values()
    return {o["digest"] for s in steps for o in store["steps"][f"pipeline.numbers.step.{s}"]["outputs"].values()}


@pytest.fixture
def three_runs(applied: Project) -> tuple[Project, set[str]]:
    """Runs 1 (c=1), 2 (c=2) and 3 (c=3); the outputs of runs 1 and 2 nothing in run 3 has
    (scale with c=1 returns its input unchanged: that one is also load's output)."""
    old = outputs_of(applied, "scale", "total")
    applied.apply("-var", "c=2")
    old |= outputs_of(applied, "scale", "total")
    applied.apply("-var", "c=3")
    old -= outputs_of(applied, "load", "scale", "total", "count")
    assert len(old) == 3
    return applied, old


def test_a_dry_run_lists_what_would_go_with_the_bytes_and_changes_nothing(three_runs) -> None:
    project, old = three_runs
    before, state = stored(project), project.state()
    result = project.ok("gc", "-grace", "0", "-keep-runs", "1", "-dry-run")
    assert set(listed(result)) == old
    freed = sum(before[d] for d in old)
    assert f"Would remove 3 artifact(s), freeing {freed} B; {len(before) - 3} kept. Nothing was changed (dry run)." in result.out
    assert "the 1 newest run(s): 3" in result.out
    assert stored(project) == before and project.state() == state


def test_keeping_the_newest_run_removes_the_older_runs_outputs_and_their_cache_entries(three_runs) -> None:
    project, old = three_runs
    before, serial = stored(project), project.state()["serial"]
    result = project.ok("gc", "-grace", "0", "-keep-runs", "1")
    assert set(listed(result)) == old
    assert f"Removed 3 artifact(s), freed {sum(before[d] for d in old)} B; {len(before) - 3} kept." in result.out
    assert "Dropped 3 cache entries" in result.out  # total of runs 1 and 2, scale of run 2
    assert set(stored(project)) == set(before) - old
    assert project.state()["serial"] == serial + 1  # a plan saved before gc is stale
    # what stays is intact and enough: the current configuration is all cached, the data snapshot kept
    assert project.ok("verify").code == 0
    assert "No changes." in project.ok("plan", "-var", "c=3").out
    doc = project.plan_json("-var", "c=2")  # its cache entries went with the artifacts: it reruns
    assert {s["step"]: s["action"] for s in doc["steps"]} == {"load": "cached", "scale": "run", "total": "run", "count": "cached"}
    assert ran(project.apply("-var", "c=2")) == {"scale", "total"}
    assert "Removed 0 artifact(s)" in project.ok("gc", "-grace", "0").out  # every run kept by default: nothing more to go


def test_a_store_gc_cannot_delete_from_leaves_no_cache_entry_naming_what_it_judged_gone(three_runs) -> None:
    """State is written first: artifacts a delete fails for (a read-only store) are named with the
    reason and what to do, gc exits 1, and the next gc deletes them."""
    project, old = three_runs
    before = stored(project)
    result = with_store_read_only(project, "gc", "-grace", "0", "-keep-runs", "1")
    assert result.code == 1 and "Traceback" not in result.err and "internal error" not in result.err, str(result)
    assert set(re.findall(r"^  could not delete ([0-9a-f]{32}): ", result.out, re.M)) == old, str(result)
    assert "Removed 0 artifact(s), freed 0 B" in result.out and "run `zplan gc` again" in result.out
    assert stored(project) == before
    (store,) = project.state()["stores"].values()
    assert not [e for e in store["cache"].values() if {o["digest"] for o in e["outputs"].values()} & old]
    assert set(listed(project.ok("gc", "-grace", "0", "-keep-runs", "1"))) == old and set(stored(project)) == set(before) - old


def test_by_default_only_what_nothing_refers_to_goes(three_runs, tmp_path: Path) -> None:
    project, _ = three_runs
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "weights.bin").write_bytes(b"\0" * 5000)
    orphan = ArtifactStore.from_url("file://.zplan/artifacts", project.root).put(stray)  # e.g. left by a killed step
    before, state = stored(project), project.state()
    project.ok("plan", "-var", "c=2", "-out", "saved.zplan")  # takes scale and total of run 2 from the cache
    result = project.ok("gc", "-grace", "0")
    assert listed(result) == {orphan.digest: "4.9 KiB"}
    assert "Removed 1 artifact(s), freed 4.9 KiB" in result.out and "every run" in result.out
    assert set(stored(project)) == set(before) - {orphan.digest}
    assert "Dropped" not in result.out
    assert project.state() == state  # no entry named the orphan: a plan saved before gc is not stale
    assert ran(project.ok("apply", "saved.zplan")) == set()


def stored_days_ago(project: Project, digests: set[str], days: float) -> None:
    """Date artifacts back: a store's folder mtime is when the artifact was last stored."""
    when = time.time() - days * 86400
    for digest in digests:
        os.utime(project.path(f".zplan/artifacts/{digest[:2]}/{digest}"), (when, when))


def test_what_was_stored_in_the_last_day_stays_by_default_as_a_running_pipeline_may_record_it(three_runs, tmp_path: Path) -> None:
    """A Kubeflow/Vertex task holds no lock while its step runs: an output it stored is referred to
    by nothing until the task records it. gc keeps what nothing refers to for 24h (-grace)."""
    project, old = three_runs
    aged = set(sorted(old)[:2])
    stored_days_ago(project, aged, 2)
    before = stored(project)
    result = project.ok("gc", "-keep-runs", "1")
    assert set(listed(result)) == aged
    assert "and what was stored in the last 24h:" in result.out
    assert f"Removed 2 artifact(s), freed {sum(before[d] for d in aged)} B; {len(before) - 2} kept." in result.out
    assert "Kept 1 artifact(s) nothing refers to for being stored in the last 24h (-grace)" in result.out
    assert set(stored(project)) == set(before) - aged
    assert set(listed(project.ok("gc", "-keep-runs", "1", "-grace", "0", "-dry-run"))) == old - aged
    assert set(listed(project.ok("gc", "-keep-runs", "1", "-grace", "1h30m", "-dry-run"))) == set()
    stored_days_ago(project, old - aged, 0.1)  # 2.4 hours ago
    assert set(listed(project.ok("gc", "-keep-runs", "1", "-grace", "2h", "-dry-run"))) == old - aged


def test_an_old_artifact_stored_again_is_recent_again(applied: Project, tmp_path: Path) -> None:
    """A task whose output is already in the store (an orphan of long ago) writes nothing, then
    records it: storing it again renews its time, so gc does not delete it under the task."""
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "weights.bin").write_bytes(b"\1" * 3000)
    store = ArtifactStore.from_url("file://.zplan/artifacts", applied.root)
    orphan = store.put(stray)
    stored_days_ago(applied, {orphan.digest}, 3)
    assert listed(applied.ok("gc", "-dry-run")) == {orphan.digest: "2.9 KiB"}
    assert store.put(stray) == orphan
    result = applied.ok("gc")
    assert listed(result) == {} and "Kept 1 artifact(s) nothing refers to" in result.out
    assert orphan.digest in stored(applied)


def test_an_artifact_a_broken_copy_left_a_link_to_nothing_in_is_listed_and_removed(three_runs) -> None:
    """gc reads sizes only: a link to nothing in an artifact (damage, for verify) is no error."""
    project, old = three_runs
    (damaged, *_) = sorted(old)
    os.symlink(project.path("not-copied"), project.path(f".zplan/artifacts/{damaged[:2]}/{damaged}/extra"))
    assert set(listed(project.ok("gc", "-keep-runs", "1", "-grace", "0", "-dry-run"))) == old
    assert "Removed 3 artifact(s)" in project.ok("gc", "-keep-runs", "1", "-grace", "0").out
    assert damaged not in stored(project)


def test_a_bad_grace_is_one_clear_error(applied: Project) -> None:
    for bad in ("-1h", "soon"):
        result = applied.run("gc", "-grace", bad)
        assert result.code == 1 and "Traceback" not in result.err
        assert f"Error: invalid -grace '{bad}'" in result.err and "like 24h" in result.err


def test_keeping_no_run_still_keeps_the_latest_records_their_snapshots_and_the_outputs(three_runs) -> None:
    project, old = three_runs
    result = project.ok("gc", "-grace", "0", "-keep-runs", "0")
    assert set(listed(result)) == old  # the load step's data snapshot is from run 1: kept, as its latest record's input
    (load,) = [e for e in zplan.open(project.root).run(1).executions if e.step == "load"]
    assert load.inputs["raw"].record.kind == "snapshot" and load.inputs["raw"].digest in stored(project)
    assert project.ok("verify").code == 0
    assert json.loads(project.ok("output", "-json").out)["total"]["value"] == 3 * 10.5
    assert "No changes." in project.ok("plan", "-var", "c=3").out


def test_a_negative_keep_runs_is_one_clear_error(applied: Project) -> None:
    result = applied.run("gc", "-keep-runs", "-2")
    assert result.code == 1 and "Traceback" not in result.err
    assert "Error: -keep-runs must be 0 or more, got -2" in result.err


def test_gc_never_runs_beside_an_apply_it_waits_for_the_state_lock(applied: Project) -> None:
    """A real apply process whose step is still running holds the state lock: gc gives up at
    once (or waits with -lock-timeout), and what that apply wrote and read is all there after."""
    project = applied
    project.write("steps/slow.py", SLOW_STEP)
    project.replace("main.zp.hcl", '  step "count" {', SLOW_BLOCK + '  step "count" {')
    before = stored(project)
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", "c=5")
    try:
        deadline = time.monotonic() + 120
        while not project.path("slow-started").exists():
            assert apply.poll() is None and time.monotonic() < deadline, apply.communicate()
            time.sleep(0.1)
        refused = project.run("gc", "-keep-runs", "0")
        assert refused.code == 1 and "Traceback" not in refused.err
        assert "Error: state is locked" in refused.err and "apply by" in refused.err
        during = stored(project)
        assert set(before) < set(during)  # nothing removed; the apply has written its scale output already
        waiting = start_zplan(project.root, "gc", "-grace", "0", "-keep-runs", "0", "-lock-timeout", "120s")
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting for the apply
        project.write("slow-release", "")
        out, err = apply.communicate(timeout=120)
        assert apply.returncode == 0, out + err
        gc_out, gc_err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, gc_out + gc_err
    finally:
        for proc in (apply, locals().get("waiting")):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Removed 1 artifact(s)" in gc_out  # run 1's total (c=1): nothing refers to it any more
    assert set(during) - set(before) <= set(stored(project))  # what the apply had written while gc was refused
    # the apply's own artifacts (c=5) all stay; run 1's scale/total (c=1) are what went
    assert outputs_of(project, "scale", "total", "slow") <= set(stored(project))
    assert project.ok("verify").code == 0
    assert "No changes." in project.ok("plan", "-var", "c=5").out


SLOW_STEP = '''"""Holds its apply open until the test releases it."""

import time
from pathlib import Path


def slow(values: list) -> int:
    Path("slow-started").write_text("")
    deadline = time.monotonic() + 120
    while not Path("slow-release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(values)
'''

SLOW_BLOCK = '''  step "slow" {
    source = "steps/slow.py:slow"
    inputs = { values = step.scale.outputs.output }
  }

'''


LOCAL_STACK = '''stack "local" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/metadata.db"
}'''

TWO_STACKS = '''stack "dev" {
  orchestrator   = "local"
  artifact_store = "file://.zplan/artifacts"
  metadata_store = "sqlite:///.zplan/dev.db"
}

stack "prod" {
  orchestrator   = "local"
  artifact_store = ".zplan/artifacts/"
  metadata_store = "sqlite:///.zplan/prod.db"
}'''


def test_gc_keeps_what_another_stack_on_the_same_store_refers_to(project: Project) -> None:
    """dev and prod share one artifact store (spelled differently) but not their ML Metadata: gc on
    dev keeps the data snapshot only prod's latest executions read, so prod stays intact and cached."""
    project.replace("main.zp.hcl", LOCAL_STACK, TWO_STACKS)
    data = project.read("data/numbers.txt")
    project.ok("apply", "-auto-approve", "-stack", "prod")
    project.write("data/numbers.txt", data + "7\n")  # dev reads other data: prod's snapshot is only prod's
    project.ok("apply", "-auto-approve", "-stack", "dev")
    before = stored(project)
    dry = project.ok("gc", "-grace", "0", "-stack", "dev", "-keep-runs", "0", "-dry-run")
    assert listed(dry) == {} and "also those of stack prod" in dry.out
    assert "Removed 0 artifact(s)" in project.ok("gc", "-grace", "0", "-stack", "dev", "-keep-runs", "0").out
    assert stored(project) == before
    assert project.ok("verify", "-stack", "prod").code == 0
    project.write("data/numbers.txt", data)
    assert "No changes." in project.ok("plan", "-stack", "prod").out
    # left out on purpose: what only prod's ML Metadata names (its data snapshot) goes, and only that
    ignored = project.ok("gc", "-grace", "0", "-stack", "dev", "-keep-runs", "0", "-ignore-stack", "prod", "-dry-run")
    assert len(listed(ignored)) == 1 and "not reading stack prod (-ignore-stack)" in ignored.out
    refused = project.run("gc", "-stack", "dev", "-ignore-stack", "staging")
    assert refused.code == 1 and "Error: -ignore-stack staging: no such stack" in refused.err


def test_keep_runs_removes_this_stack_s_old_outputs_when_another_stack_shares_the_store_and_the_state_file(three_runs) -> None:
    """prod's records are in the same state file as local's: its own cache entries all count, local's are
    judged by -keep-runs as without prod (they were all kept, so gc never freed anything)."""
    project, old = three_runs
    project.write("prod.zp.hcl", 'stack "prod" {\n  artifact_store = ".zplan/artifacts/"\n  metadata_store = "sqlite:///.zplan/prod.db"\n}\n')
    project.ok("apply", "-auto-approve", "-stack", "prod", "-var", "c=5")
    result = project.ok("gc", "-grace", "0", "-stack", "local", "-keep-runs", "1")
    assert set(listed(result)) == old and "also those of stack prod" in result.out
    assert project.ok("verify", "-stack", "prod").code == 0
    assert "No changes." in project.ok("plan", "-stack", "prod", "-var", "c=5").out
    assert "No changes." in project.ok("plan", "-stack", "local", "-var", "c=3").out


def test_a_stack_on_the_same_store_that_cannot_be_read_stops_gc_naming_it(applied: Project) -> None:
    """Its metadata store reads a variable without a value: gc cannot know what it refers to, so it
    refuses with that stack's own error and place, and goes on only when told to leave it out."""
    project = applied
    project.write("team.zp.hcl", 'variable "meta" {\n  type = string\n}\n\nstack "team" {\n  artifact_store = ".zplan/artifacts"\n'
                                 '  metadata_store = var.meta\n}\n')
    before = stored(project)
    refused = project.run("gc", "-stack", "local", "-keep-runs", "0")
    assert refused.code == 1 and "Traceback" not in refused.err
    assert ('Error: team.zp.hcl:1:1: stack "team" may share the artifact store file://.zplan/artifacts, and its records '
            'cannot be read: no value for variable "meta"') in refused.err
    assert "ZPLAN_VAR_meta" in refused.err and "-ignore-stack team" in refused.err
    assert stored(project) == before
    assert "not reading stack team" in project.ok("gc", "-stack", "local", "-ignore-stack", "team").out


def test_stores_named_after_a_resource_are_read_as_state_records_it(project: Project) -> None:
    """Stores computed from a resource are unknown before the first apply; after it, runs, verify,
    gc and artifact list read them where apply wrote, instead of asking for an apply again."""
    project.replace("main.zp.hcl", 'artifact_store = "file://.zplan/artifacts"', 'artifact_store = "file://${resource.local_directory.store.id}"')
    project.replace("main.zp.hcl", 'metadata_store = "sqlite:///.zplan/metadata.db"', 'metadata_store = "sqlite:///${resource.local_directory.store.id}.db"')
    project.write("store.zp.hcl", 'resource "local_directory" "store" {\n  path = "store"\n}\n')
    before = project.run("runs")
    assert before.code == 1 and "Error: stack local: its metadata store is known only after apply" in before.err
    project.ok("apply", "-auto-approve")
    assert re.search(r"^\s+1\s.*succeeded", project.ok("runs").out, re.M)
    assert "4 intact, 0 damaged, 0 missing" in project.ok("verify").out
    assert "Removed 0 artifact(s)" in project.ok("gc", "-grace", "0", "-keep-runs", "0").out
    assert str(project.path("store")) in project.ok("artifact", "list").out


def test_state_show_on_a_stack_with_stores_named_after_a_resource_shows_its_own_record(project: Project) -> None:
    """Another stack's record of the same step (other stores) is never shown as this stack's."""
    project.write("res.zp.hcl", 'stack "res" {\n  artifact_store = "file://${resource.local_directory.store.id}"\n'
                                '  metadata_store = "sqlite:///${resource.local_directory.store.id}.db"\n}\n\n'
                                'resource "local_directory" "store" {\n  path = "store"\n}\n')
    project.ok("apply", "-auto-approve", "-stack", "res", "-var", "c=5")
    project.ok("apply", "-auto-approve", "-stack", "local", "-var", "c=2")
    shown = {stack: json.loads(project.ok("state", "show", "pipeline.numbers.step.total", "-stack", stack).out)["outputs"]["output"]["uri"]
             for stack in ("res", "local")}
    assert shown["res"].startswith(project.path("store").as_uri() + "/")
    assert shown["local"].startswith(project.path(".zplan/artifacts").as_uri() + "/")


def test_keep_runs_counts_the_runs_of_this_stack_only(applied: Project) -> None:
    """review records its runs in the same metadata store, with its own artifact store: its newer run
    is not one of local's N newest, so local still keeps its own two newest runs."""
    project = applied
    project.write("review.zp.hcl", 'stack "review" {\n  artifact_store = "file://.zplan/review-artifacts"\n'
                                   '  metadata_store = "sqlite:///.zplan/metadata.db"\n}\n')
    project.apply("-stack", "local", "-var", "c=2")
    project.apply("-stack", "local", "-var", "c=3")
    project.apply("-stack", "review", "-var", "c=4")  # run 4
    result = project.ok("gc", "-grace", "0", "-stack", "local", "-keep-runs", "2")
    assert "the 2 newest run(s): 3, 2" in result.out
    assert "Removed 1 artifact(s)" in result.out  # total of run 1 (c=1; its scale is load's output) only
    assert {s["action"] for s in project.plan_json("-stack", "local", "-var", "c=2")["steps"]} == {"cached"}


def test_a_stack_whose_stores_come_from_a_resource_not_applied_yet_does_not_stop_gc(applied: Project) -> None:
    """Nothing was ever stored by it, so there is nothing of its own to keep (as on the gcp stack of a
    project only ever applied locally)."""
    project = applied
    project.write("res.zp.hcl", 'stack "res" {\n  artifact_store = "file://${resource.local_directory.store.id}"\n'
                                '  metadata_store = "sqlite:///.zplan/res.db"\n}\n\n'
                                'resource "local_directory" "store" {\n  count = zplan.stack == "res" ? 1 : 0\n  path  = "store"\n}\n')
    project.replace("res.zp.hcl", "resource.local_directory.store.id", "resource.local_directory.store[0].id")
    result = project.ok("gc", "-grace", "0", "-stack", "local", "-dry-run")
    assert "Would remove 0 artifact(s)" in result.out and "stack res" not in result.out
