"""The pull-request workflow in examples/ci: its structure, its shell steps run against a real project,
and its github-script steps run under Node.js against a stand-in for GitHub's API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli.helpers import cli_env
from zplan.render.plan_markdown import GITHUB_LIMIT, render

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples/ci/.github/workflows/zplan.yml"
PLAN_COMMAND = 'zplan -chdir "$ZPLAN_PROJECT" plan -out plan.zplan -detailed-exitcode --format markdown > plan.md'
MARKER = "<!-- zplan-plan -->"

PROJECT_HCL = """
variable "n" {
  default = 3
}

resource "local_directory" "out" {
  path = "out"
}

pipeline "p" {
  step "count" {
    source = "steps.py:count"
    params = { n = var.n }
  }
}
"""
PROJECT_STEPS = "def count(n: int) -> list:\n    return list(range(n))\n"


@pytest.fixture(scope="module")
def wf() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step_named(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name") == name)


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


# -- structure ------------------------------------------------------------------------------------------


def test_triggers_are_pull_requests_and_pushes_to_main(wf):
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert on["push"] == {"branches": ["main"]}
    assert wf["jobs"]["plan"]["if"] == "github.event_name == 'pull_request'"
    assert wf["jobs"]["apply"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_permissions_are_least_privilege(wf):
    assert wf["permissions"] == {"contents": "read"}
    assert wf["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    apply = wf["jobs"]["apply"]["permissions"]
    assert apply["actions"] == "read" and apply["pull-requests"] == "read" and "write" not in apply.values()


def test_both_jobs_set_up_python_and_bootstrap(wf):
    for job in wf["jobs"].values():
        assert uses(job, "actions/setup-python") and uses(job, "actions/checkout")
        assert step_named(job, "Install zplan")["run"] == "scripts/bootstrap"


def test_plan_job_runs_the_ci_plan_and_reads_its_exit_code(wf):
    run = step_named(wf["jobs"]["plan"], "Plan")["run"]
    assert f".venv/bin/{PLAN_COMMAND} 2> plan.err" in run
    assert "set +e" in run and "code=$?" in run
    assert '0) echo "changes=false"' in run and '2) echo "changes=true"' in run and "*)" in run
    fail = step_named(wf["jobs"]["plan"], "Fail when the plan failed")
    assert fail["run"] == "exit 1" and "exitcode != '2'" in fail["if"]


def test_plan_job_comments_with_a_marker_and_uploads_the_plan_file(wf):
    job = wf["jobs"]["plan"]
    (comment,) = uses(job, "actions/github-script")
    assert MARKER in comment["with"]["script"] and "updateComment" in comment["with"]["script"]
    (upload,) = uses(job, "actions/upload-artifact")
    assert "${{ env.ZPLAN_PROJECT }}/plan.zplan" in upload["with"]["path"].splitlines()  # where -chdir put it
    assert upload["with"]["name"] == "zplan-plan-pr-${{ github.event.pull_request.number }}"
    assert "exitcode == '2'" in upload["if"]


def test_apply_job_applies_the_saved_plan_file(wf):
    job = wf["jobs"]["apply"]
    find = step_named(job, "Find the reviewed plan")
    assert "`zplan-plan-pr-${pr.number}`" in find["with"]["script"]
    (download,) = uses(job, "actions/download-artifact")
    assert download["with"]["run-id"] == "${{ steps.reviewed.outputs.run-id }}"
    assert download["if"] == "steps.reviewed.outputs.run-id != ''"
    again = step_named(job, "Plan again (no reviewed plan)")
    assert again["if"] == "steps.reviewed.outputs.run-id == ''" and "plan -out plan.zplan" in again["run"]
    apply = job["steps"][-1]
    assert apply["name"] == "Apply"
    assert apply["run"] == '.venv/bin/zplan -chdir "$ZPLAN_PROJECT" apply -lock-timeout 10m plan.zplan'
    assert "auto-approve" not in WORKFLOW.read_text()
    assert job["concurrency"] == {"group": "zplan-apply", "cancel-in-progress": False}


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_actionlint_finds_nothing():
    result = subprocess.run(["actionlint", str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shell_steps_pass_shellcheck(wf):
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                script = "#!/bin/bash\nset -e\n" + step["run"]
                result = subprocess.run(["shellcheck", "-s", "bash", "-"], input=script, capture_output=True, text=True)
                assert result.returncode == 0, f"{step.get('name')}:\n{result.stdout}"


# -- the shell steps, run for real ---------------------------------------------------------------------------


class Runner:
    """A checkout with the project in proj/, where the workflow's `run:` steps execute as on a runner."""

    def __init__(self, root: Path, wf: dict) -> None:
        self.root, self.wf = root, wf
        (root / "proj").mkdir(parents=True)
        (root / "proj/main.zp.hcl").write_text(PROJECT_HCL)
        (root / "proj/steps.py").write_text(PROJECT_STEPS)
        (root / ".venv").symlink_to(ROOT / ".venv")
        self.outputs = root / "github_output"
        self.summary = root / "step_summary"

    def run(self, job: str, name: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
        self.outputs.write_text("")
        plain = {k: str(v) for k, v in self.wf["env"].items() if "${{" not in str(v)}  # secrets are unset here
        env = cli_env(**{**plain, "ZPLAN_PROJECT": "proj"}, GITHUB_OUTPUT=str(self.outputs), GITHUB_STEP_SUMMARY=str(self.summary))
        script = step_named(self.wf["jobs"][job], name)["run"]
        # GitHub's default shell for `run:` on Linux.
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", script], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=180)
        outputs = dict(line.split("=", 1) for line in self.outputs.read_text().splitlines())
        return proc, outputs


@pytest.fixture
def runner(tmp_path, wf) -> Runner:
    return Runner(tmp_path / "checkout", wf)


def test_plan_step_records_changes_and_writes_markdown_and_plan_file(runner):
    proc, outputs = runner.run("plan", "Plan")
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"exitcode": "2", "changes": "true"}
    md = (runner.root / "plan.md").read_text()
    assert md.startswith("### zplan plan — stack `local`") and "Saved the plan" not in md
    assert (runner.root / "proj/plan.zplan").exists() and md in runner.summary.read_text()

    proc, _ = runner.run("apply", "Apply")
    assert proc.returncode == 0, proc.stderr
    assert (runner.root / "proj/out").is_dir()

    proc, outputs = runner.run("plan", "Plan")
    assert proc.returncode == 0 and outputs == {"exitcode": "0", "changes": "false"}


def test_plan_step_turns_an_error_into_the_comment(runner):
    (runner.root / "proj/main.zp.hcl").write_text(PROJECT_HCL.replace("default = 3", "default = 3\n  bogus = 1"))
    proc, outputs = runner.run("plan", "Plan")
    assert proc.returncode == 0, proc.stderr  # the job fails in its last step, after commenting
    assert outputs == {"exitcode": "1"}
    md = (runner.root / "plan.md").read_text()
    assert md.startswith("### zplan plan failed") and "main.zp.hcl:" in md and "Traceback" not in md


def test_apply_step_refuses_a_stale_plan(runner):
    runner.run("plan", "Plan")
    (runner.root / "proj/main.zp.hcl").write_text(PROJECT_HCL.replace("default = 3", "default = 4"))
    proc, _ = runner.run("apply", "Apply")
    assert proc.returncode == 1 and "saved plan is stale" in proc.stderr
    assert not (runner.root / "proj/out").exists()


def test_plan_again_step_makes_the_plan_file_apply_uses(runner):
    proc, _ = runner.run("apply", "Plan again (no reviewed plan)")
    assert proc.returncode == 0, proc.stderr
    assert (runner.root / "proj/plan.zplan").exists() and "### zplan plan" in runner.summary.read_text()
    proc, _ = runner.run("apply", "Apply")
    assert proc.returncode == 0, proc.stderr


# -- the github-script steps, under Node.js ------------------------------------------------------------------

HARNESS = r"""
// Runs a github-script body the way actions/github-script does (an async function of
// github, context, core, require), against recorded stand-ins for GitHub's REST API.
const fs = require('fs');
const [scriptFile, fixtureFile] = process.argv.slice(2);
const fx = JSON.parse(fs.readFileSync(fixtureFile, 'utf8'));
const calls = [], outputs = {}, notices = [];
let nextId = 900;
const github = {
  paginate: async (fn, args) => (await fn(args)).data,
  rest: {
    issues: {
      listComments: async () => ({ data: fx.comments || [] }),
      createComment: async a => { calls.push({ op: 'create', issue: a.issue_number, body: a.body }); return { data: { id: nextId++ } }; },
      updateComment: async a => { calls.push({ op: 'update', id: a.comment_id, body: a.body }); },
      deleteComment: async a => { calls.push({ op: 'delete', id: a.comment_id }); },
    },
    repos: { listPullRequestsAssociatedWithCommit: async a => ({ data: (fx.pulls || {})[a.commit_sha] || [] }) },
    actions: { listArtifactsForRepo: async a => ({ data: { artifacts: (fx.artifacts || []).filter(x => x.name === a.name) } }) },
  },
};
const context = { repo: { owner: 'acme', repo: 'ml' }, issue: { number: 7 }, sha: fx.sha || 'merge1' };
const core = { setOutput: (k, v) => { outputs[k] = v; }, notice: m => notices.push(m) };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('github', 'context', 'core', 'require', fs.readFileSync(scriptFile, 'utf8'))(github, context, core, require)
  .then(() => console.log(JSON.stringify({ calls, outputs, notices })))
  .catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture
def node(tmp_path, wf):
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("Node.js is not installed")
    (tmp_path / "harness.js").write_text(HARNESS)

    def run(job: str, step: str, fixture: dict, plan_md: str | None = None) -> dict:
        (tmp_path / "script.js").write_text(step_named(wf["jobs"][job], step)["with"]["script"])
        (tmp_path / "fixture.json").write_text(json.dumps(fixture))
        if plan_md is not None:
            (tmp_path / "plan.md").write_text(plan_md)
        proc = subprocess.run([exe, "harness.js", "script.js", "fixture.json"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


def big_plan_markdown(n: int = 1200) -> str:
    steps = [{"address": f"pipeline.p.step.s{i}", "action": "run", "source": "steps.py:f",
              "reasons": [{"code": "params_changed", "message": f"params.c: {i} -> {i + 1}; " + "x" * 60}]} for i in range(n)]
    doc = {"stack": "local", "destroy": False, "resources": [], "steps": steps, "outputs": {},
           "summary": {"add": 0, "change": 0, "destroy": 0, "steps_run": n, "steps_cached": 0}}
    return render(doc)


def comment(id_: int, part: int | None, text: str = "old plan") -> dict:
    body = f"{MARKER}\n<!-- part {part} -->\n{text}" if part is not None else text
    return {"id": id_, "body": body}


def test_first_plan_creates_one_comment_per_part(node):
    md = big_plan_markdown()
    result = node("plan", "Comment on the pull request", {"comments": []}, md)
    creates = [c for c in result["calls"] if c["op"] == "create"]
    assert len(creates) == len(result["calls"]) >= 2
    for i, c in enumerate(creates, 1):
        assert c["issue"] == 7 and c["body"].startswith(f"{MARKER}\n<!-- part {i} -->\n### zplan plan")
        assert f"_Part {i} of {len(creates)}._" in c["body"] and len(c["body"]) <= 65_536
    assert "".join(c["body"].split("\n", 2)[2] for c in creates).count("<details>") == 1200


def test_a_new_plan_updates_its_comments_and_removes_leftover_parts(node):
    md = "### zplan plan — stack `local`\n\nno changes\n"
    earlier = [comment(11, 1), comment(12, 2), comment(13, 3), comment(14, None, "LGTM, ship it")]
    result = node("plan", "Comment on the pull request", {"comments": earlier}, md)
    assert result["calls"] == [
        {"op": "update", "id": 11, "body": f"{MARKER}\n<!-- part 1 -->\n{md}"},
        {"op": "delete", "id": 12},
        {"op": "delete", "id": 13},
    ]


def test_a_longer_plan_updates_the_first_part_and_adds_the_rest(node):
    md = big_plan_markdown()
    result = node("plan", "Comment on the pull request", {"comments": [comment(11, 1)]}, md)
    ops = [(c["op"], c.get("id")) for c in result["calls"]]
    assert ops[0] == ("update", 11) and all(op == ("create", None) for op in ops[1:]) and len(ops) >= 2


def test_a_failed_plan_is_posted_as_it_is(node):
    md = "### zplan plan failed\n\n```\nError: main.zp.hcl:3:3: unsupported argument\n```\n"
    result = node("plan", "Comment on the pull request", {"comments": []}, md)
    assert result["calls"] == [{"op": "create", "issue": 7, "body": f"{MARKER}\n<!-- part 1 -->\n{md}"}]


def artifact(run_id: int, head_sha: str, created: str, expired: bool = False, pr: int = 5) -> dict:
    return {"name": f"zplan-plan-pr-{pr}", "expired": expired, "created_at": created,
            "workflow_run": {"id": run_id, "head_sha": head_sha}}


MERGED = {"merge1": [{"number": 5, "merged_at": "2026-11-23T10:00:00Z", "base": {"ref": "main"}, "head": {"sha": "head2"}}]}


def test_apply_finds_the_newest_plan_of_the_merged_head(node):
    artifacts = [
        artifact(101, "head1", "2026-11-22T09:00:00Z"),                 # an earlier commit of the PR
        artifact(102, "head2", "2026-11-22T10:00:00Z"),
        artifact(103, "head2", "2026-11-22T11:00:00Z"),                 # re-run: newest wins
        artifact(104, "head2", "2026-11-22T12:00:00Z", expired=True),
        artifact(105, "head2", "2026-11-22T13:00:00Z", pr=6),           # another pull request
    ]
    result = node("apply", "Find the reviewed plan", {"pulls": MERGED, "artifacts": artifacts})
    assert result["outputs"] == {"artifact": "zplan-plan-pr-5", "run-id": "103"}


def test_apply_plans_again_without_a_merged_pull_request_or_artifact(node):
    direct = node("apply", "Find the reviewed plan", {"pulls": {}, "artifacts": []})
    assert direct["outputs"] == {} and "No merged pull request" in direct["notices"][0]
    expired = node("apply", "Find the reviewed plan", {"pulls": MERGED, "artifacts": [artifact(104, "head2", "2026-11-22T12:00:00Z", expired=True)]})
    assert expired["outputs"] == {} and "No plan artifact of pull request #5" in expired["notices"][0]
    open_pr = {"merge1": [{"number": 9, "merged_at": None, "base": {"ref": "main"}, "head": {"sha": "x"}}]}
    assert node("apply", "Find the reviewed plan", {"pulls": open_pr})["outputs"] == {}
