"""``orchestrator = "dask"``: steps run as tasks on a real cluster (a scheduler and two worker
processes in their own folders), artifacts on the S3 test server, metadata on MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.helpers import beam_example_on, dask_stack, quickstart_on, zplan

pytestmark = pytest.mark.slow

STEPS = [f"pipeline.training.step.{s}" for s in ("load", "split", "scale", "train", "evaluate")]


def test_quickstart_runs_on_the_cluster_and_another_checkout_sees_it_cached(tmp_path: Path, dask_cluster, s3_url: str, mysql_url: str) -> None:
    project = quickstart_on(tmp_path / "a", dask_cluster.address, s3_url, mysql_url)
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout
    assert not (project / ".zplan/artifacts").exists(), "no artifact went through this machine's store"
    shipped = [p for w in dask_cluster.worker_folders() for p in w.glob("**/zplan-projects/*/steps/train.py")]
    assert shipped, "the workers ran the steps from the shipped project files"

    other = quickstart_on(tmp_path / "b", dask_cluster.address, s3_url, mysql_url)
    plan = zplan(other, "plan", "-stack", "dask")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for address in STEPS[:-1]:
        assert any(address in line and "cached" in line for line in plan.stdout.splitlines()), plan.stdout
    # the reports folder is local to each checkout (as a local_file is in Terraform): this one has none yet,
    # so it is created and the step writing into it reruns, saying so
    assert "pipeline.training.step.evaluate    will rerun: resource.local_directory.reports changes (create)" in plan.stdout, plan.stdout


def test_the_beam_example_runs_on_the_cluster(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    project = beam_example_on(tmp_path / "beam", dask_cluster.address, s3_url,
                              '  processing     = "beam:DirectRunner"\n  beam_options   = { direct_running_mode = "in_memory" }\n')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve", "-var", "rows=2000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pipeline.events.step.preprocess: done" in proc.stdout and "purchases" in proc.stdout


def test_a_shared_project_folder_is_used_in_place(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    project = tmp_path / "shared"
    project.mkdir()
    (project / "steps.py").write_text("import os\n\n\ndef where() -> str:\n    return os.getcwd()\n")
    (project / "main.zp.hcl").write_text(f'''
stack "dask" {{
  orchestrator         = "dask"
  orchestrator_options = {{ scheduler = "{dask_cluster.address}", shared_project_dir = true }}
  artifact_store       = "{s3_url}"
  metadata_store       = "sqlite:///.zplan/metadata.db"
}}

pipeline "p" {{
  step "where" {{
    source = "steps.py:where"
  }}
}}

output "where" {{
  value = step.where.outputs.output
}}
''')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert str(project) in zplan(project, "output", "where").stdout


def test_a_map_of_instance_outputs_reaches_a_step_on_the_cluster_as_a_map(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    # { for k, s in step.train : k => s.outputs.output } came to the step as a list on a Dask worker (a map on this machine)
    project = tmp_path / "fanin"
    project.mkdir()
    (project / "steps.py").write_text("def train(c: float) -> float:\n    return c * 2\n\n\n"
                                      "def best(scores):\n    return {'type': type(scores).__name__, 'best': max(scores, key=scores.get)}\n")
    (project / "main.zp.hcl").write_text(f'''
{dask_stack(dask_cluster.address, s3_url)}
pipeline "sweep" {{
  step "train" {{
    for_each = {{ small = 0.1, large = 0.9 }}
    source   = "steps.py:train"
    params   = {{ c = each.value }}
  }}
  step "best" {{
    source = "steps.py:best"
    inputs = {{ scores = {{ for k, s in step.train : k => s.outputs.output }} }}
  }}
}}

output "best" {{
  value = step.best.outputs.output
}}
''')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert zplan(project, "output", "-json", "best").stdout.split() == ['{"best":', '"large",', '"type":', '"dict"}'], proc.stdout



EDITS_B = "from pathlib import Path\n\n\ndef edit(where: str, file: str) -> int:\n" \
          "    path = Path(where) / file\n    path.write_text(path.read_text().replace('OLD', 'NEW!'))\n    return 1\n"


@pytest.mark.parametrize("edited, b", [
    ("steps/b.py", 'source = "steps/b.py:version"\n    inputs = { x = step.a.outputs.output }'),
    ("data/ref.txt", 'source = "steps/b.py:read"\n    inputs = { x = step.a.outputs.output, f = { path = "data/ref.txt", snapshot = "reference" } }'),
])
def test_what_is_edited_before_its_step_starts_is_what_runs_on_the_cluster(tmp_path: Path, dask_cluster, s3_url: str, edited: str, b: str) -> None:
    """The project is shipped as the run starts; a step re-planned at its start with its code or a
    reference input edited since (an editor saving it: here step a, on a worker, writing the client's
    file) must run with that, or what the old files gave is cached under the new files' key and the
    next plan says nothing changed."""
    project = tmp_path / "edited"
    (project / "steps").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "steps/a.py").write_text(EDITS_B)
    (project / "steps/b.py").write_text('def version(x: int) -> str:\n    return "OLD"\n\n\n'
                                        'def read(x: int, f) -> str:\n    return f.read_text().strip()\n')
    (project / "data/ref.txt").write_text("OLD\n")
    (project / "main.zp.hcl").write_text(f'''
{dask_stack(dask_cluster.address, s3_url)}
pipeline "p" {{
  step "a" {{
    source = "steps/a.py:edit"
    params = {{ where = "{project}", file = "{edited}" }}
  }}
  step "b" {{
    {b}
  }}
}}

output "version" {{
  value = step.b.outputs.output
}}
''')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NEW!" in (project / edited).read_text()
    assert zplan(project, "output", "version").stdout.strip() == '"NEW!"'
    assert "No changes" in zplan(project, "plan", "-stack", "dask").stdout


def test_a_file_read_undeclared_on_a_worker_reruns_its_step_when_edited(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    """The worker notes what the step's code read of the shipped project; the plan compares it with the client's files."""
    project = tmp_path / "reads"
    (project / "conf").mkdir(parents=True)
    (project / "conf/settings.json").write_text('{"scale": 2}\n')
    (project / "steps.py").write_text("import json\nfrom pathlib import Path\n\n\n"
                                      "def scaled(x: int) -> int:\n    return x * json.loads(Path('conf/settings.json').read_text())['scale']\n")
    (project / "main.zp.hcl").write_text(f'''
{dask_stack(dask_cluster.address, s3_url)}
pipeline "p" {{
  step "scaled" {{
    source = "steps.py:scaled"
    params = {{ x = 3 }}
  }}
}}
''')
    proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert zplan(project, "plan", "-stack", "dask", "-detailed-exitcode").returncode == 0
    (project / "conf/settings.json").write_text('{"scale": 5}\n')
    plan = zplan(project, "plan", "-stack", "dask", "-no-color")
    assert "will rerun: conf/settings.json changed since the step read it" in plan.stdout, plan.stdout + plan.stderr
