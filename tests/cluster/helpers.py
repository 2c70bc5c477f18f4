"""Projects for the Dask tests: the quickstart with a stack whose steps run on a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.integration.test_resources_cli import ROOT, zplan  # noqa: F401 - re-exported for the tests

DASK_STACK = """
stack "dask" {
  orchestrator         = "dask"
  orchestrator_options = { scheduler = "SCHEDULER" }
  artifact_store       = "ARTIFACTS"
  metadata_store       = "METADATA"
}
"""


def dask_stack(scheduler: str, artifacts: str, metadata: str = "sqlite:///.zplan/metadata.db") -> str:
    """The dask stack block, on ``scheduler`` with those stores."""
    return DASK_STACK.replace("SCHEDULER", scheduler).replace("ARTIFACTS", artifacts).replace("METADATA", metadata)


def quickstart_on(folder: Path, scheduler: str, artifacts: str, metadata: str) -> Path:
    shutil.copytree(ROOT / "examples/quickstart", folder, ignore=shutil.ignore_patterns(".zplan", "reports"))
    with open(folder / "main.zp.hcl", "a") as f:
        f.write(dask_stack(scheduler, artifacts, metadata))
    return folder


def beam_example_on(folder: Path, scheduler: str, artifacts: str, stack_lines: str) -> Path:
    """examples/beam-preprocess with the dask stack, ``stack_lines`` added to it (its processing)."""
    shutil.copytree(ROOT / "examples/beam-preprocess", folder, ignore=shutil.ignore_patterns(".zplan"))
    stack = DASK_STACK.replace("SCHEDULER", scheduler).replace("ARTIFACTS", artifacts)
    with open(folder / "main.zp.hcl", "a") as f:
        f.write(stack.replace("METADATA", "sqlite:///.zplan/metadata.db").rstrip().rstrip("}") + stack_lines + "}\n")
    return folder
