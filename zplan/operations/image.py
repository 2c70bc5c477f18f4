"""`zplan build-image`: a Dockerfile for the stack's ``container_image``.

The compiled Kubeflow/Vertex pipeline runs ``zplan run-step`` in that image, so it must hold
the same environment as the machine that planned: the Python major.minor running here, the
packages pinned by the project's lock file (``requirements.lock``, found in the project
folder or the nearest folder above it), zplan at this version, and the project's files.
Docker is not needed to write it; ``docker build`` (printed) makes the image.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from zplan import diags
from zplan.config.values import UNKNOWN
from zplan.fsutil import atomic_write_bytes, atomic_write_text
from zplan.operations.opening import ProjectArgs, open_project
from zplan.project import ensure_state_dir

LOCK_NAMES = ("requirements.lock", "requirements.txt")
# Vars files stay out: they may hold secrets, and a task is given every non-sensitive value the apply
# planned with, the sensitive ones in its environment (ZPLAN_VAR_NAME). The git modules `zplan init`
# checked out stay in: each task loads the whole configuration, theirs too.
IGNORED = (".zplan", "!.zplan/image", "!.zplan/modules", ".git", ".venv", "venv", "**/__pycache__", "**/*.zpvars")


@dataclass(frozen=True)
class ImageFiles:
    dockerfile: Path
    lock: Path  # the copy beside the Dockerfile
    image: str  # the stack's container_image ("" when it names none)
    build_command: str


def write_image_files(args: ProjectArgs) -> ImageFiles:
    project = open_project(args)
    lock = find_lock(project.root)
    image = project.static_stack_settings().get("container_image")
    image = "" if image is None or image is UNKNOWN else str(image)
    folder = ensure_state_dir(project) / "image"
    folder.mkdir(exist_ok=True)
    copied = folder / "requirements.lock"
    atomic_write_bytes(copied, lock.read_bytes())
    dockerfile = folder / "Dockerfile"
    atomic_write_text(dockerfile, dockerfile_text(project.stack_name, _zplan_requirement()))
    atomic_write_text(folder / "Dockerfile.dockerignore", "\n".join(IGNORED) + "\n")
    command = f"docker build -f {dockerfile.relative_to(project.root)} -t {image or 'IMAGE'} ."
    return ImageFiles(dockerfile, copied, image, command)


def find_lock(root: Path) -> Path:
    for folder in (root, *root.parents):
        for name in LOCK_NAMES:
            if (folder / name).is_file():
                return folder / name
        if (folder / ".git").exists():
            break
    raise diags.fail("no lock file for the image: requirements.lock or requirements.txt was not found",
                     "pin the project's packages, e.g. `uv pip compile pyproject.toml -o requirements.lock`, "
                     "in the project folder")


def dockerfile_text(stack: str, zplan_requirement: str) -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"""# Written by `zplan build-image` for stack "{stack}": the image its pipeline's steps run in
# (`zplan run-step ADDRESS -stack {stack}`). Build from the project folder:
#   docker build -f .zplan/image/Dockerfile -t IMAGE .
FROM python:{python}-slim
ENV PYTHONUNBUFFERED=1 ZPLAN_NO_COLOR=1
WORKDIR /project
COPY .zplan/image/requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir -r /tmp/requirements.lock "{zplan_requirement}"
COPY . /project
"""


def _zplan_requirement() -> str:
    from importlib.metadata import version

    return f"zplan[remote]=={version('zplan')}"
