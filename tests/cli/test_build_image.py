"""`zplan build-image`: the Dockerfile for a stack's container_image, checked without Docker:
its content, and that its pinned packages resolve for this Python (uv, offline, from the cache)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.cli.test_modules import repo  # noqa: F401 - a fixture
from tests.integration.test_resources_cli import ROOT, zplan

STACK = """
stack "kubeflow" {
  orchestrator    = "kubeflow"
  artifact_store  = "s3://bucket/artifacts"
  metadata_store  = "mysql://zplan@db/zplan"
  container_image = "registry.example/quickstart:1"
}
"""


def quickstart(tmp_path: Path) -> Path:
    project = tmp_path / "qs"
    shutil.copytree(ROOT / "examples/quickstart", project, ignore=shutil.ignore_patterns(".zplan", "reports"))
    with open(project / "main.zp.hcl", "a") as f:
        f.write(STACK)
    return project


def test_the_dockerfile_pins_the_lock_zplan_and_this_python(tmp_path: Path) -> None:
    project = quickstart(tmp_path)
    shutil.copyfile(ROOT / "requirements.lock", project / "requirements.lock")
    proc = zplan(project, "build-image", "-stack", "kubeflow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "docker build -f .zplan/image/Dockerfile -t registry.example/quickstart:1 ." in proc.stdout
    dockerfile = (project / ".zplan/image/Dockerfile").read_text()
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in dockerfile
    assert f'pip install --no-cache-dir -r /tmp/requirements.lock "zplan[remote]=={version("zplan")}"' in dockerfile
    assert "COPY . /project" in dockerfile and "zplan run-step ADDRESS -stack kubeflow" in dockerfile
    lock = project / ".zplan/image/requirements.lock"
    assert lock.read_bytes() == (ROOT / "requirements.lock").read_bytes()
    ignored = (project / ".zplan/image/Dockerfile.dockerignore").read_text().splitlines()
    assert ignored[:3] == [".zplan", "!.zplan/image", "!.zplan/modules"]
    assert "**/*.zpvars" in ignored  # vars files may hold secrets: tasks get the values from the apply and their environment

    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    resolved = subprocess.run([uv, "pip", "install", "--dry-run", "--offline", "-r", str(lock)],
                              env={**os.environ, "VIRTUAL_ENV": str(venv)}, capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr  # the image's pip install resolves the same pins


def test_without_a_lock_file_it_says_how_to_make_one(tmp_path: Path) -> None:
    project = quickstart(tmp_path)
    (project / ".git").mkdir()  # the search for a lock stops at the repository root
    proc = zplan(project, "build-image", "-stack", "kubeflow")
    assert proc.returncode == 1
    assert "no lock file for the image" in proc.stderr and "uv pip compile" in proc.stderr
    assert not (project / ".zplan/image/Dockerfile").exists()


def _docker_context(project: Path, ignore: list[str], dest: Path) -> None:
    """Copy what `docker build` sends with this .dockerignore: patterns from the context root, `**` any
    folders, a pattern matching a folder matches what it holds, `!` takes back, the last match decides."""
    import re

    def regex(pattern: str) -> re.Pattern:
        text = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.compile(text)

    rules = [(line.startswith("!"), regex(line.lstrip("!"))) for line in ignore if line.strip()]
    for path in sorted(p for p in project.rglob("*") if p.is_file()):
        parts = path.relative_to(project).parts
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        sent = True
        for keep, rule in rules:
            if any(rule.fullmatch(prefix) for prefix in prefixes):
                sent = keep
        if sent:
            (dest / path.relative_to(project)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / path.relative_to(project))


def test_the_image_holds_the_git_modules_init_checked_out(tmp_path: Path, repo) -> None:
    """Each task loads the whole configuration in the image, but the image left out .zplan/modules:
    every task of a project calling a git module failed ('module "m": ... is not installed')."""
    bare, _ = repo
    project = quickstart(tmp_path)
    shutil.copyfile(ROOT / "requirements.lock", project / "requirements.lock")
    (project / "shared.zp.hcl").write_text(f'module "m" {{\n  source = "git::file://{bare}//sub?ref=v1"\n}}\n')
    assert zplan(project, "init").returncode == 0
    assert zplan(project, "build-image", "-stack", "kubeflow").returncode == 0
    image = tmp_path / "image"
    _docker_context(project, (project / ".zplan/image/Dockerfile.dockerignore").read_text().splitlines(), image)
    assert (image / ".zplan/image/Dockerfile").is_file() and not (image / ".zplan/cache").exists()
    proc = zplan(image, "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
